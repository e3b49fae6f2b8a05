//! A bounded skim of a JSON object: the top-level members whose value is small, nothing else.
//!
//! This is the middle tier of observation under memory pressure. When the process-wide
//! [observation budget](crate::budget) cannot hold a body, the body is skimmed instead of being
//! kept and parsed whole: [`Skim`] reads it once, chunk by chunk, keeps each top-level member
//! whose raw value is at most [`MAX_SKIM_VALUE_BYTES`] (`"model"`, `"stream"`,
//! `"temperature"`, `"max_tokens"`, a response's `"id"` and `"usage"`, ...) and skips the
//! others (`"messages"`, `"choices"`, `"input"`, ...) without storing them. The kept members
//! form a small JSON object that the provider's ordinary parser then reads, so the span still
//! carries the model, the parameters and the token usage, without the content (which is
//! dropped in this tier whatever the content switch says).
//!
//! Bounds: at most [`MAX_SKIM_BYTES`] of output per body, plus one value of at most
//! [`MAX_SKIM_VALUE_BYTES`] and one key of at most [`MAX_SKIM_KEY_BYTES`] being read; every
//! input byte is looked at most once (linear time, whatever the chunking), and inside a long
//! string being skipped (a prompt) `memchr` jumps to the next quote or backslash: about
//! 880 MiB/s on a 1 MiB chat request (BENCHMARKS.md, `skim/`). The skim does not
//! validate JSON: what it keeps is handed to the provider parser, which records a fault if it
//! cannot read it.

/// Largest raw value (bytes of JSON text) a kept member may have; larger values are skipped.
pub const MAX_SKIM_VALUE_BYTES: usize = 2 * 1024;

/// Largest key (bytes between the quotes, escapes included) of a kept member.
pub const MAX_SKIM_KEY_BYTES: usize = 128;

/// Largest skim output (the JSON object of the kept members); members past it are skipped.
pub const MAX_SKIM_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// After `{` or `,`: a key or (after `{`) the closing `}`.
    Key,
    /// Inside a key's quotes.
    InKey { escaped: bool },
    /// After a key: the `:`.
    Colon,
    /// After the `:`: the first byte of the value.
    ValueStart,
    /// Inside a value; `depth` counts open brackets, `string` whether a string is open.
    Value {
        depth: u32,
        string: bool,
        escaped: bool,
    },
    /// The object is closed; the rest is ignored.
    Done,
    /// Not a JSON object; everything is ignored.
    Invalid,
}

/// An incremental skim of one JSON object body (see the [module docs](self)).
#[derive(Debug)]
pub struct Skim {
    state: State,
    out: Vec<u8>,
    key: Vec<u8>,
    key_too_long: bool,
    value: Vec<u8>,
    value_too_long: bool,
    skipped: usize,
}

impl Default for Skim {
    fn default() -> Self {
        Skim::new()
    }
}

impl Skim {
    /// An empty skim.
    pub fn new() -> Skim {
        Skim {
            state: State::Start,
            out: Vec::new(),
            key: Vec::new(),
            key_too_long: false,
            value: Vec::new(),
            value_too_long: false,
            skipped: 0,
        }
    }

    /// Reads the next chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            if self.value_too_long
                && let State::Value {
                    string: true,
                    escaped: false,
                    ..
                } = self.state
            {
                // Inside a string of a value already too long to keep (a prompt, a
                // completion): only a quote or a backslash can change anything, so jump to
                // the next one (memchr: many bytes per step).
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    Some(at) => i += at,
                    None => return,
                }
            }
            self.byte(chunk[i]);
            i += 1;
            if matches!(self.state, State::Done | State::Invalid) {
                return;
            }
        }
    }

    /// Top-level members skipped so far (value or key too large, or the output full).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The kept members as a JSON object text, or `None` if the body did not start as a JSON
    /// object. A body cut short gives the members completed before the cut.
    pub fn finish(self) -> Option<Vec<u8>> {
        self.snapshot()
    }

    /// What [`Skim::finish`] would give now, leaving the skim usable.
    pub fn snapshot(&self) -> Option<Vec<u8>> {
        if matches!(self.state, State::Start | State::Invalid) {
            return None;
        }
        let mut out = Vec::with_capacity(self.out.len() + 2);
        out.extend_from_slice(&self.out);
        if out.is_empty() {
            out.push(b'{');
        }
        out.push(b'}');
        Some(out)
    }

    fn byte(&mut self, b: u8) {
        match self.state {
            State::Start => match b {
                b'{' => self.state = State::Key,
                _ if b.is_ascii_whitespace() => {}
                _ => self.state = State::Invalid,
            },
            State::Key => match b {
                b'"' => {
                    self.key.clear();
                    self.key_too_long = false;
                    self.state = State::InKey { escaped: false };
                }
                b'}' => self.state = State::Done,
                _ if b.is_ascii_whitespace() => {}
                _ => self.state = State::Invalid,
            },
            State::InKey { escaped } => {
                if !escaped && b == b'"' {
                    self.state = State::Colon;
                    return;
                }
                if self.key.len() < MAX_SKIM_KEY_BYTES {
                    self.key.push(b);
                } else {
                    self.key_too_long = true;
                }
                self.state = State::InKey {
                    escaped: !escaped && b == b'\\',
                };
            }
            State::Colon => match b {
                b':' => self.state = State::ValueStart,
                _ if b.is_ascii_whitespace() => {}
                _ => self.state = State::Invalid,
            },
            State::ValueStart => {
                if b.is_ascii_whitespace() {
                    return;
                }
                self.value.clear();
                self.value_too_long = false;
                self.state = State::Value {
                    depth: 0,
                    string: false,
                    escaped: false,
                };
                self.value_byte(b);
            }
            State::Value { .. } => self.value_byte(b),
            State::Done | State::Invalid => {}
        }
    }

    fn value_byte(&mut self, b: u8) {
        let State::Value {
            mut depth,
            mut string,
            mut escaped,
        } = self.state
        else {
            return;
        };
        if string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                string = false;
            }
        } else {
            match b {
                b'"' => string = true,
                b'{' | b'[' => depth = depth.saturating_add(1),
                b'}' | b']' if depth > 0 => depth -= 1,
                b',' | b'}' if depth == 0 => {
                    self.end_member();
                    self.state = if b == b',' { State::Key } else { State::Done };
                    return;
                }
                _ => {}
            }
        }
        if self.value.len() < MAX_SKIM_VALUE_BYTES {
            self.value.push(b);
        } else {
            self.value_too_long = true;
        }
        self.state = State::Value {
            depth,
            string,
            escaped,
        };
    }

    fn end_member(&mut self) {
        let value = self.value.trim_ascii_end();
        let needed = self.key.len() + value.len() + 4;
        if self.key_too_long
            || self.value_too_long
            || value.is_empty()
            || self.out.len() + needed + 1 > MAX_SKIM_BYTES
        {
            self.skipped += 1;
            return;
        }
        self.out.push(if self.out.is_empty() { b'{' } else { b',' });
        self.out.push(b'"');
        self.out.extend_from_slice(&self.key);
        self.out.extend_from_slice(b"\":");
        self.out.extend_from_slice(value);
    }
}

/// Skims a whole body at once (see [`Skim`]).
pub fn skim(body: &[u8]) -> Option<Vec<u8>> {
    let mut s = Skim::new();
    s.push(body);
    s.finish()
}

/// A skim shared between the code that streams a request body through (and skims it on the
/// way, [`LateSkim::push`]) and the code that records the call, which reads what has been
/// skimmed when the response head arrives ([`LateSkim::get`],
/// [`LlmCall::set_skimmed_request`](crate::LlmCall::set_skimmed_request)). Cloning shares it.
/// (An HTTP client may stop polling a body once its declared length is sent, so "the body
/// ended" is never waited for: the members completed by then are what the span gets.)
#[derive(Debug, Clone, Default)]
pub struct LateSkim(std::sync::Arc<std::sync::Mutex<Skim>>);

impl LateSkim {
    /// An empty skim.
    pub fn new() -> LateSkim {
        LateSkim::default()
    }

    /// Skims the next chunk of the body.
    pub fn push(&self, chunk: &[u8]) {
        if let Ok(mut skim) = self.0.lock() {
            skim.push(chunk);
        }
    }

    /// The members skimmed so far ([`Skim::snapshot`]).
    pub fn get(&self) -> Option<Vec<u8>> {
        self.0.lock().ok()?.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn skimmed(body: &str) -> Value {
        serde_json::from_slice(&skim(body.as_bytes()).expect("an object")).expect("valid JSON")
    }

    #[test]
    fn keeps_small_members_and_skips_large_ones() {
        let big = "x".repeat(MAX_SKIM_VALUE_BYTES + 1);
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":"{big}"}}],"model":"gpt-4o","stream":true,
               "temperature": 0.5 , "usage":{{"prompt_tokens":3,"completion_tokens":4}},"n":null}}"#
        );
        assert_eq!(
            skimmed(&body),
            json!({"model":"gpt-4o","stream":true,"temperature":0.5,
                   "usage":{"prompt_tokens":3,"completion_tokens":4},"n":null})
        );
    }

    #[test]
    fn strings_with_escaped_quotes_and_brackets_do_not_end_a_value() {
        let body = r#"{"a":"x\"},{[","b\"c":{"d":"]}"},"e":[1,{"f":"}"}],"g":1}"#;
        assert_eq!(
            skimmed(body),
            json!({"a":"x\"},{[","b\"c":{"d":"]}"},"e":[1,{"f":"}"}],"g":1})
        );
    }

    #[test]
    fn not_an_object_gives_none_and_a_cut_body_gives_what_was_complete() {
        assert_eq!(skim(b"[1,2]"), None);
        assert_eq!(skim(b""), None);
        assert_eq!(
            skimmed(r#"{"model":"m","messages":[{"role":"us"#),
            json!({"model":"m"})
        );
        assert_eq!(skimmed("{}"), json!({}));
    }

    #[test]
    fn output_is_bounded_and_skipped_members_are_counted() {
        let mut body = String::from("{");
        for i in 0..1000 {
            body.push_str(&format!(r#""key{i}":"{}","#, "v".repeat(100)));
        }
        body.push_str(r#""last":1}"#);
        let mut s = Skim::new();
        s.push(body.as_bytes());
        let skipped = s.skipped();
        let out = s.finish().unwrap();
        assert!(out.len() <= MAX_SKIM_BYTES, "{}", out.len());
        assert!(skipped > 800, "{skipped}");
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.as_object().unwrap().len() + skipped, 1001);
    }
}
