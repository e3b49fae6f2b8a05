//! Stream machinery shared by the provider parsers:
//!
//! * [`ContentBudget`]: bounded accumulation of streamed content (text, reasoning, tool
//!   arguments) under [`MAX_STREAM_CONTENT_BYTES`], cut at a char boundary, with
//!   [`FaultKind::StreamContentTruncated`] reported once;
//! * [`ReportedOnce`]: each fault kind reported at most once per stream;
//! * lenient wire scalars [`WStr`] and [`WInt`]: a field of the wrong type does not fail the
//!   whole event; it reads as absent and the caller records [`FaultKind::UnexpectedShape`]
//!   (once per stream). Integral floats (`1024.0`) are accepted as integers;
//! * [`arguments`] and [`text_of`]: tool arguments and message text from JSON values.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::FaultKind;
pub(crate) use crate::json::ReportedOnce;
use crate::record::MAX_STREAM_CONTENT_BYTES;

/// The largest char boundary of `s` that is `<= max`.
pub(crate) fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------------------------------
// Bounded accumulation
// ---------------------------------------------------------------------------------------

/// The content byte budget of one stream: at most [`MAX_STREAM_CONTENT_BYTES`] bytes of
/// content are kept across all the strings it appends to.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ContentBudget {
    used: usize,
    truncated: bool,
}

impl ContentBudget {
    /// Appends as much of `piece` as fits; the first time the cap is hit,
    /// [`FaultKind::StreamContentTruncated`] is reported through `reported`.
    pub(crate) fn append(
        &mut self,
        dst: &mut String,
        piece: &str,
        reported: &mut ReportedOnce,
        faults: &mut Vec<FaultKind>,
    ) {
        if self.truncated || piece.is_empty() {
            return;
        }
        let room = MAX_STREAM_CONTENT_BYTES.saturating_sub(self.used);
        if piece.len() <= room {
            dst.push_str(piece);
            self.used += piece.len();
        } else {
            let cut = floor_char_boundary(piece, room);
            dst.push_str(piece.get(..cut).unwrap_or(""));
            self.used += cut;
            self.truncated = true;
            reported.report(faults, FaultKind::StreamContentTruncated);
        }
    }

    /// Charges `bytes` of content kept some other way (e.g. a JSON value); false (and the
    /// truncation fault) when it does not fit, in which case nothing was charged.
    pub(crate) fn charge(
        &mut self,
        bytes: usize,
        reported: &mut ReportedOnce,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        if self.truncated {
            return false;
        }
        if bytes <= MAX_STREAM_CONTENT_BYTES.saturating_sub(self.used) {
            self.used += bytes;
            true
        } else {
            self.truncated = true;
            reported.report(faults, FaultKind::StreamContentTruncated);
            false
        }
    }

    /// Bytes kept so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used
    }
}

// ---------------------------------------------------------------------------------------
// Lenient wire scalars
// ---------------------------------------------------------------------------------------

/// A string field that borrows from the event data unless it holds escapes. A value of
/// another type does not fail the whole event: it becomes [`WStr::Wrong`].
#[derive(Debug)]
pub(crate) enum WStr<'a> {
    Str(Cow<'a, str>),
    Wrong,
}

impl<'de: 'a, 'a> Deserialize<'de> for WStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = WStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(WStr::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(WStr::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(WStr::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WStr::Wrong)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(WStr::Wrong)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(WStr::Wrong)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(WStr::Wrong)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(WStr::Wrong)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WStr::Wrong)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(WStr::Wrong)
    }
}

/// An integer field; integral floats are accepted; anything else is [`WInt::Wrong`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum WInt {
    Int(i64),
    Wrong,
}

impl<'de> Deserialize<'de> for WInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = WInt;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(WInt::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(WInt::Wrong, WInt::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(WInt::Int(v as i64))
        } else {
            Ok(WInt::Wrong)
        }
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WInt::Wrong)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(WInt::Wrong)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(WInt::Wrong)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WInt::Wrong)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(WInt::Wrong)
    }
}

/// A nested object field: an object is deserialized as `T` (whose fields should be lenient
/// themselves); any other JSON type becomes [`WObj::Wrong`] instead of failing the event.
#[derive(Debug)]
pub(crate) enum WObj<T> {
    Obj(T),
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WObj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(std::marker::PhantomData))
    }
}

struct ObjVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = WObj<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(WObj::Obj)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(WObj::Wrong)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WObj::Wrong)
    }
}

/// Reads an optional lenient object: `Wrong` sets `bad` and reads as absent.
pub(crate) fn obj<T>(v: Option<WObj<T>>, bad: &mut bool) -> Option<T> {
    match v? {
        WObj::Obj(t) => Some(t),
        WObj::Wrong => {
            *bad = true;
            None
        }
    }
}

/// Reads an optional lenient string: `Wrong` sets `bad` and reads as absent.
pub(crate) fn text<'a>(v: Option<WStr<'a>>, bad: &mut bool) -> Option<Cow<'a, str>> {
    match v? {
        WStr::Str(s) => Some(s),
        WStr::Wrong => {
            *bad = true;
            None
        }
    }
}

/// Reads an optional lenient integer: `Wrong` sets `bad` and reads as absent.
pub(crate) fn int(v: Option<WInt>, bad: &mut bool) -> Option<i64> {
    match v? {
        WInt::Int(i) => Some(i),
        WInt::Wrong => {
            *bad = true;
            None
        }
    }
}

/// Tool-call arguments: a JSON string is parsed when it holds JSON, else kept as a string;
/// any other JSON value is kept; `null` → `None`.
pub(crate) fn arguments(v: Option<&Value>) -> Option<Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
        }
        Some(other) => Some(other.clone()),
    }
}

/// A JSON value as message text: strings as they are, anything else as its JSON text.
pub(crate) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON object read as `T`. Serde's derived structs also accept an array (fields by
/// position); the [`Value`](serde_json::Value) read does not, so neither does this.
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MAX_STREAM_CONTENT_BYTES;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        s: Option<WStr<'a>>,
        n: Option<WInt>,
        after: Option<WStr<'a>>,
    }

    #[test]
    fn wrong_types_read_as_absent_and_keep_the_other_fields() {
        let p: Probe<'_> = serde_json::from_str(r#"{"s": 3, "n": "x", "after": "kept"}"#).unwrap();
        let mut bad = false;
        assert_eq!(text(p.s, &mut bad), None);
        assert!(bad);
        let mut bad = false;
        assert_eq!(int(p.n, &mut bad), None);
        assert!(bad);
        let mut bad = false;
        assert_eq!(text(p.after, &mut bad).as_deref(), Some("kept"));
        assert!(!bad);
    }

    #[test]
    fn integral_floats_are_integers() {
        let p: Probe<'_> = serde_json::from_str(r#"{"n": 1024.0}"#).unwrap();
        let mut bad = false;
        assert_eq!(int(p.n, &mut bad), Some(1024));
        assert!(!bad);
        let p: Probe<'_> = serde_json::from_str(r#"{"n": 1.5}"#).unwrap();
        assert_eq!(int(p.n, &mut bad), None);
        assert!(bad);
    }

    #[test]
    fn budget_cuts_at_a_char_boundary_and_reports_once() {
        let mut budget = ContentBudget::default();
        let mut reported = ReportedOnce::default();
        let mut faults = Vec::new();
        let mut dst = String::new();
        let filler = "a".repeat(MAX_STREAM_CONTENT_BYTES - 1);
        budget.append(&mut dst, &filler, &mut reported, &mut faults);
        assert!(faults.is_empty());
        // 'é' is two bytes: only one byte of room left, so nothing of it is kept.
        budget.append(&mut dst, "é", &mut reported, &mut faults);
        budget.append(&mut dst, "more", &mut reported, &mut faults);
        assert_eq!(dst.len(), MAX_STREAM_CONTENT_BYTES - 1);
        assert_eq!(budget.used(), MAX_STREAM_CONTENT_BYTES - 1);
        assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
        assert!(!budget.charge(1, &mut reported, &mut faults));
        assert_eq!(faults.len(), 1);
    }
}
