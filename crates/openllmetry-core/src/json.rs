//! Lenient typed access to `serde_json` values, shared by the provider parsers: every
//! wrong type becomes a [`FaultKind`] (each kind reported once per body), never an error.

use serde_json::{Map, Value};

use crate::FaultKind;

/// Fault sink of one body parse: each kind is pushed at most once.
pub(crate) struct Faults<'f> {
    out: &'f mut Vec<FaultKind>,
    start: usize,
}

impl<'f> Faults<'f> {
    pub(crate) fn new(out: &'f mut Vec<FaultKind>) -> Self {
        let start = out.len();
        Faults { out, start }
    }

    pub(crate) fn push(&mut self, kind: FaultKind) {
        let seen = self
            .out
            .get(self.start..)
            .is_some_and(|mine| mine.contains(&kind));
        if !seen {
            self.out.push(kind);
        }
    }
}

/// The fault for a body that `serde_json` rejected: a syntax error (or truncation) is
/// `InvalidJson`; a type mismatch is `UnexpectedShape` only when `text` is JSON at all.
pub(crate) fn json_error_kind(e: &serde_json::Error, text: &[u8]) -> FaultKind {
    if e.is_data() && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok() {
        FaultKind::UnexpectedShape
    } else {
        FaultKind::InvalidJson
    }
}

pub(crate) type Obj = Map<String, Value>;

/// The body as a JSON object; anything else is a fault.
pub(crate) fn parse_object(body: &[u8], f: &mut Faults<'_>) -> Option<Obj> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        Ok(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
        Err(e) => {
            f.push(json_error_kind(&e, body));
            None
        }
    }
}

/// `obj[key]` as a string; absent or `null` → `None`; another type → fault.
pub(crate) fn get_str<'v>(obj: &'v Obj, key: &str, f: &mut Faults<'_>) -> Option<&'v str> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

/// [`get_str`], owned.
pub(crate) fn get_string(obj: &Obj, key: &str, f: &mut Faults<'_>) -> Option<String> {
    get_str(obj, key, f).map(str::to_owned)
}

/// A JSON number as an integer: integers, and integral floats (`1024.0`) within range.
pub(crate) fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                .map(|x| x as i64)
        }),
        _ => None,
    }
}

pub(crate) fn get_i64(obj: &Obj, key: &str, f: &mut Faults<'_>) -> Option<i64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let n = int_of(v);
            if n.is_none() {
                f.push(FaultKind::UnexpectedShape);
            }
            n
        }
    }
}

pub(crate) fn get_f64(obj: &Obj, key: &str, f: &mut Faults<'_>) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

pub(crate) fn get_bool(obj: &Obj, key: &str, f: &mut Faults<'_>) -> Option<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

pub(crate) fn get_obj<'v>(obj: &'v Obj, key: &str, f: &mut Faults<'_>) -> Option<&'v Obj> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

pub(crate) fn get_array<'v>(obj: &'v Obj, key: &str, f: &mut Faults<'_>) -> Option<&'v [Value]> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

/// A list of strings; a single string becomes one entry; non-string entries are faults.
pub(crate) fn get_str_list(obj: &Obj, key: &str, f: &mut Faults<'_>) -> Vec<String> {
    match obj.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => {
                    f.push(FaultKind::UnexpectedShape);
                    None
                }
            })
            .collect(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            Vec::new()
        }
    }
}

/// The fault kinds a stream accumulator already reported: each kind is reported once per
/// stream, so a long malformed stream cannot flood the fault hook.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReportedOnce(u32);

impl ReportedOnce {
    /// Pushes `kind` unless it was reported before.
    pub(crate) fn report(&mut self, faults: &mut Vec<FaultKind>, kind: FaultKind) {
        match 1u32.checked_shl(kind as u32) {
            Some(bit) if self.0 & bit != 0 => {}
            Some(bit) => {
                self.0 |= bit;
                faults.push(kind);
            }
            None => faults.push(kind),
        }
    }
}
