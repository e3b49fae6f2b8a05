//! Small helpers shared by the providers in this folder: bounded text accumulation for
//! stream accumulators and JSON-text conversion of tool arguments.

use serde_json::Value;

use crate::FaultKind;
use crate::json::ReportedOnce;
use crate::record::MAX_STREAM_CONTENT_BYTES;

/// Content bytes kept by one stream accumulator, capped at [`MAX_STREAM_CONTENT_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct Budget {
    used: usize,
}

impl Budget {
    /// Appends `text` to `out` while the budget allows (cut at a char boundary); past the cap
    /// reports [`FaultKind::StreamContentTruncated`] once.
    pub(crate) fn append(
        &mut self,
        out: &mut String,
        text: &str,
        reported: &mut ReportedOnce,
        faults: &mut Vec<FaultKind>,
    ) {
        let room = MAX_STREAM_CONTENT_BYTES.saturating_sub(self.used);
        if text.len() <= room {
            out.push_str(text);
            self.used += text.len();
            return;
        }
        let mut cut = room;
        while cut > 0 && !text.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&text[..cut]);
        self.used += cut;
        reported.report(faults, FaultKind::StreamContentTruncated);
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
