//! Incremental splitting of a JSON-array stream (`streamGenerateContent` without
//! `alt=sse`): `[{…},\r\n{…}]` arriving in arbitrary chunks.

use crate::FaultKind;
use crate::json::ReportedOnce;
use crate::sse::DEFAULT_MAX_EVENT_BYTES;

/// Cuts a JSON array of objects into its elements as bytes arrive.
///
/// Scanning is linear in the bytes pushed (each byte is looked at once). At most
/// `max_element_bytes` (default [`DEFAULT_MAX_EVENT_BYTES`], the SSE event cap) of one
/// element are buffered: a larger element is skipped (not buffered) up to its end and
/// reported once as [`FaultKind::EventTooLarge`]. A body that is not an array is reported
/// as [`FaultKind::UnexpectedShape`] and ignored. Never panics.
#[derive(Debug)]
pub struct JsonArraySplitter {
    buf: Vec<u8>,
    max_element_bytes: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    started: bool,
    finished: bool,
    skipping: bool,
    reported: ReportedOnce,
}

impl Default for JsonArraySplitter {
    fn default() -> Self {
        JsonArraySplitter::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl JsonArraySplitter {
    /// A splitter buffering at most `max_element_bytes` of one element.
    pub fn new(max_element_bytes: usize) -> Self {
        JsonArraySplitter {
            buf: Vec::new(),
            max_element_bytes,
            depth: 0,
            in_string: false,
            escaped: false,
            started: false,
            finished: false,
            skipping: false,
            reported: ReportedOnce::default(),
        }
    }

    /// True once the closing `]` of the array was seen (or the body was not an array).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Bytes currently buffered (at most the element cap).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `chunk`, calling `on_element` with each complete top-level element.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_element: impl FnMut(&[u8]),
        faults: &mut Vec<FaultKind>,
    ) {
        for &b in chunk {
            if self.finished {
                return;
            }
            if !self.started {
                match b {
                    b'[' => self.started = true,
                    b if b.is_ascii_whitespace() => {}
                    _ => {
                        self.reported.report(faults, FaultKind::UnexpectedShape);
                        self.finished = true;
                    }
                }
                continue;
            }
            if self.depth == 0 {
                match b {
                    b']' => {
                        self.finished = true;
                        continue;
                    }
                    b',' => continue,
                    b if b.is_ascii_whitespace() => continue,
                    b'{' | b'[' => {}
                    _ => {
                        self.reported.report(faults, FaultKind::UnexpectedShape);
                        continue;
                    }
                }
            }
            if !self.skipping {
                if self.buf.len() >= self.max_element_bytes {
                    self.reported.report(faults, FaultKind::EventTooLarge);
                    self.skipping = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.push(b);
                }
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        if !self.skipping {
                            on_element(&self.buf);
                        }
                        self.buf.clear();
                        self.skipping = false;
                    }
                }
                _ => {}
            }
        }
    }
}
