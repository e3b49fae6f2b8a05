//! An incremental, bounded Server-Sent Events parser.
//!
//! Bytes are pushed as they arrive, in chunks of any size; each complete event is handed
//! to a callback with its `event` name and `data`. Memory is bounded: a single event
//! longer than the cap is dropped (and reported) instead of being buffered.

use std::borrow::Cow;

use crate::fault::FaultKind;

/// Default cap on the bytes of one buffered, incomplete SSE event: 4 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// One SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, if any.
    pub event: Option<&'a str>,
    /// The `data:` lines, joined with `\n`.
    pub data: Cow<'a, str>,
}

impl<'a> SseEvent<'a> {
    /// An event with only a `data` field (handy in tests and benches).
    pub fn data(data: &'a str) -> Self {
        SseEvent {
            event: None,
            data: Cow::Borrowed(data),
        }
    }
}

/// Incremental SSE parser. See the [module docs](self).
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    max_event_bytes: usize,
    /// True while skipping the rest of an oversized event.
    skipping: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser that buffers at most `max_event_bytes` of one incomplete event.
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            max_event_bytes,
            skipping: false,
        }
    }

    /// Feeds `chunk`, calling `on_event` for every event it completes. Returns the faults
    /// met (an oversized event, data that is not UTF-8), never an error.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>),
        faults: &mut Vec<FaultKind>,
    ) {
        self.buf.extend_from_slice(chunk);
        let mut pos = 0;
        let mut event_start = 0;
        let len = self.buf.len();
        while pos < len {
            let Some(rel) = self.buf[pos..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
            else {
                break;
            };
            let end = pos + rel;
            let next = if self.buf[end] == b'\r' {
                if end + 1 == len {
                    // A lone CR at the end: it may be the first half of CRLF; wait.
                    break;
                }
                if self.buf[end + 1] == b'\n' {
                    end + 2
                } else {
                    end + 1
                }
            } else {
                end + 1
            };
            if end == pos {
                // Blank line: the event spanning event_start..pos is complete.
                if self.skipping {
                    self.skipping = false;
                } else if pos > event_start {
                    dispatch(&self.buf[event_start..pos], &mut on_event, faults);
                }
                event_start = next;
            }
            pos = next;
        }
        self.buf.drain(..event_start);
        if self.buf.len() > self.max_event_bytes {
            if !self.skipping {
                faults.push(FaultKind::EventTooLarge);
            }
            self.skipping = true;
            // Keep only the tail that could hold the start of the terminating blank line.
            let keep = self.buf.len().min(2);
            self.buf.drain(..self.buf.len() - keep);
        }
    }

    /// Bytes currently buffered (an incomplete event).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

fn dispatch(block: &[u8], on_event: &mut impl FnMut(SseEvent<'_>), faults: &mut Vec<FaultKind>) {
    let Ok(text) = std::str::from_utf8(block) else {
        faults.push(FaultKind::InvalidJson);
        return;
    };
    let mut event = None;
    let mut data: Option<Cow<'_, str>> = None;
    for line in text.split(['\n', '\r']) {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = Some(value),
            "data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(prev) => {
                        let mut s = prev.into_owned();
                        s.push('\n');
                        s.push_str(value);
                        Cow::Owned(s)
                    }
                })
            }
            _ => {}
        }
    }
    if let Some(data) = data {
        on_event(SseEvent { event, data });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> (Vec<(Option<String>, String)>, Vec<FaultKind>) {
        let mut p = SseParser::new(64);
        let mut out = Vec::new();
        let mut faults = Vec::new();
        for c in chunks {
            p.push(
                c,
                |e| out.push((e.event.map(str::to_owned), e.data.into_owned())),
                &mut faults,
            );
        }
        (out, faults)
    }

    #[test]
    fn parses_events_split_anywhere() {
        let text = b"event: message_start\ndata: {\"a\":1}\n\n: comment\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        let whole = collect(&[text]).0;
        assert_eq!(
            whole,
            vec![
                (Some("message_start".into()), "{\"a\":1}".into()),
                (None, "x\ny".into()),
                (None, "[DONE]".into())
            ]
        );
        for split in 0..text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(collect(&[a, b]).0, whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(collect(&bytes).0, whole);
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let (ev, _) = collect(&[b"data: a\r\n\r\ndata: b\r\rdata: c\r", b"\n\r\n"]);
        let data: Vec<_> = ev.into_iter().map(|e| e.1).collect();
        assert_eq!(data, vec!["a", "b", "c"]);
    }

    #[test]
    fn oversized_event_is_dropped_and_reported_once() {
        let big = format!("data: {}\n\ndata: ok\n\n", "x".repeat(200));
        let chunks: Vec<&[u8]> = big.as_bytes().chunks(16).collect();
        let (ev, faults) = collect(&chunks);
        assert_eq!(ev, vec![(None, "ok".to_string())]);
        assert_eq!(faults, vec![FaultKind::EventTooLarge]);
    }

    #[test]
    fn incomplete_trailing_event_is_not_dispatched() {
        let (ev, _) = collect(&[b"data: a\n\ndata: partial"]);
        assert_eq!(ev.len(), 1);
    }
}
