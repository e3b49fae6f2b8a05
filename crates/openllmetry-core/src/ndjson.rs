//! Incremental, bounded parser of newline-delimited JSON streams (`application/x-ndjson`,
//! Ollama's streaming responses).
//!
//! Bytes are pushed as they arrive, in any chunking; every complete non-blank line is handed
//! out as an [`SseEvent`] with no `event` name and the line as its `data`, so stream
//! accumulators read NDJSON and SSE streams through one interface. A line longer than the
//! cap ([`DEFAULT_MAX_LINE_BYTES`] unless set) is skipped up to its end and reported once as
//! [`FaultKind::EventTooLarge`]; a line that is not UTF-8 is skipped and reported as
//! [`FaultKind::InvalidJson`]. Nothing here panics, and the buffer never holds more than
//! the cap plus one pushed chunk.

use std::borrow::Cow;

use crate::fault::FaultKind;
use crate::sse::SseEvent;

/// Cap on the bytes of one NDJSON line kept while it is incomplete: 4 MiB (the same as the
/// SSE event cap, [`crate::sse::DEFAULT_MAX_EVENT_BYTES`]).
pub const DEFAULT_MAX_LINE_BYTES: usize = crate::sse::DEFAULT_MAX_EVENT_BYTES;

/// Incremental NDJSON line splitter. See the [module docs](self).
#[derive(Debug)]
pub struct NdjsonParser {
    buf: Vec<u8>,
    max_line_bytes: usize,
    /// True while skipping the rest of an oversized line.
    skipping: bool,
}

impl Default for NdjsonParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl NdjsonParser {
    /// A parser that buffers at most `max_line_bytes` of one incomplete line.
    pub fn new(max_line_bytes: usize) -> Self {
        NdjsonParser {
            buf: Vec::new(),
            max_line_bytes,
            skipping: false,
        }
    }

    /// Feeds `chunk`, calling `on_line` for every complete, non-blank line (without its
    /// `\n` / `\r\n`). Faults go to `faults`; never an error, never a panic.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(SseEvent<'_>),
        faults: &mut Vec<FaultKind>,
    ) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (head, tail) = (&rest[..i], &rest[i + 1..]);
                    rest = tail;
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    if self.buf.len() + head.len() > self.max_line_bytes {
                        faults.push(FaultKind::EventTooLarge);
                        self.buf.clear();
                        continue;
                    }
                    if self.buf.is_empty() {
                        dispatch(head, &mut on_line, faults);
                    } else {
                        self.buf.extend_from_slice(head);
                        let line = std::mem::take(&mut self.buf);
                        dispatch(&line, &mut on_line, faults);
                        self.buf = line;
                        self.buf.clear();
                    }
                }
                None => {
                    if !self.skipping {
                        if self.buf.len() + rest.len() > self.max_line_bytes {
                            faults.push(FaultKind::EventTooLarge);
                            self.skipping = true;
                            self.buf = Vec::new();
                        } else {
                            self.buf.extend_from_slice(rest);
                        }
                    }
                    rest = &[];
                }
            }
        }
    }

    /// The last line when the stream ends without a trailing newline (Ollama ends every
    /// line with one, but a proxy may not).
    pub fn finish(&mut self, mut on_line: impl FnMut(SseEvent<'_>), faults: &mut Vec<FaultKind>) {
        if !self.skipping && !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            dispatch(&line, &mut on_line, faults);
        }
        self.skipping = false;
    }

    /// Bytes currently buffered (an incomplete line).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

fn dispatch(line: &[u8], on_line: &mut impl FnMut(SseEvent<'_>), faults: &mut Vec<FaultKind>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match std::str::from_utf8(line) {
        Ok(s) => on_line(SseEvent {
            event: None,
            data: Cow::Borrowed(s),
        }),
        Err(_) => faults.push(FaultKind::InvalidJson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]], cap: usize) -> (Vec<String>, Vec<FaultKind>) {
        let mut p = NdjsonParser::new(cap);
        let mut out = Vec::new();
        let mut faults = Vec::new();
        for c in chunks {
            p.push(c, |e| out.push(e.data.into_owned()), &mut faults);
        }
        p.finish(|e| out.push(e.data.into_owned()), &mut faults);
        (out, faults)
    }

    #[test]
    fn splits_lines_across_chunks() {
        let (out, faults) = lines(&[b"{\"a\":1}\n{\"b\"", b":2}\r\n\n", b"{\"c\":3}"], 64);
        assert_eq!(out, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert!(faults.is_empty());
    }

    #[test]
    fn oversized_line_is_skipped_and_reported() {
        let (out, faults) = lines(&[b"0123456789", b"0123456789\n{}\n"], 8);
        assert_eq!(out, ["{}"]);
        assert_eq!(faults, [FaultKind::EventTooLarge]);
        let (out, faults) = lines(&[b"0123456789abc\n{}\n"], 8);
        assert_eq!(out, ["{}"]);
        assert_eq!(faults, [FaultKind::EventTooLarge]);
    }

    #[test]
    fn non_utf8_line_is_a_fault() {
        let (out, faults) = lines(&[b"\xff\xfe\n{}\n"], 64);
        assert_eq!(out, ["{}"]);
        assert_eq!(faults, [FaultKind::InvalidJson]);
    }
}
