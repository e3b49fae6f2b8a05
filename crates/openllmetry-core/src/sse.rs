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
///
/// Scanning is linear in the bytes pushed: the parser remembers where its line scan
/// stopped, so an incomplete event is never rescanned when the next chunk arrives, and
/// while it skips an oversized event it keeps at most two bytes.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Start of the incomplete line in `buf`.
    line: usize,
    /// Where the line scan resumes in `buf` (bytes from `line` up to here hold no line end).
    resume: usize,
    max_event_bytes: usize,
    /// True while skipping the rest of an oversized event.
    skipping: bool,
    /// Bytes examined by the line scan so far (proof of linear work in tests).
    scanned: u64,
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
            line: 0,
            resume: 0,
            max_event_bytes,
            skipping: false,
            scanned: 0,
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
        let mut pos = self.line;
        let mut from = self.resume;
        let mut event_start = 0;
        let len = self.buf.len();
        while from < len {
            let rest = &self.buf[from..];
            let Some(rel) = find_line_end(rest) else {
                self.scanned += rest.len() as u64;
                from = len;
                break;
            };
            self.scanned += rel as u64 + 1;
            let end = from + rel;
            let next = if self.buf[end] == b'\r' {
                if end + 1 == len {
                    // A lone CR at the end: it may be the first half of CRLF; wait, and
                    // resume at the CR.
                    from = end;
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
            from = next;
        }
        if self.skipping || len - event_start > self.max_event_bytes {
            if !self.skipping {
                faults.push(FaultKind::EventTooLarge);
                self.skipping = true;
            }
            // Forget the skipped event, keeping only what decides whether the next bytes
            // end a blank line: is the scan at a line start, and is a CR pending?
            let keep: &[u8] = match &self.buf[pos.min(len)..] {
                [] => b"",
                [b'\r'] => b"\r",
                [.., b'\r'] => b"x\r",
                _ => b"x",
            };
            self.buf.clear();
            self.buf.extend_from_slice(keep);
            self.line = 0;
            self.resume = 0;
            return;
        }
        self.buf.drain(..event_start);
        self.line = pos - event_start;
        self.resume = from - event_start;
    }

    /// Bytes examined by the line scan since the parser was made. Each pushed byte is
    /// examined about once, whatever the chunking (tests use it to prove linear work).
    pub fn bytes_scanned(&self) -> u64 {
        self.scanned
    }

    /// Bytes currently buffered (an incomplete event).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Index of the first `\n` or `\r` in `s`, eight bytes at a time (this runs over every
/// byte of a stream, twice).
fn find_line_end(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `w ^ pattern` is zero where `w` has the pattern's byte; the lowest flagged
    // byte of `(x - ONES) & !x & HIGHS` is exactly the first zero byte of `x`.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = s.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let hits =
            zero_bytes(w ^ (ONES * u64::from(b'\n'))) | zero_bytes(w ^ (ONES * u64::from(b'\r')));
        if hits != 0 {
            return Some(offset + (hits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| offset + p)
}

fn dispatch(block: &[u8], on_event: &mut impl FnMut(SseEvent<'_>), faults: &mut Vec<FaultKind>) {
    let Ok(text) = std::str::from_utf8(block) else {
        faults.push(FaultKind::InvalidJson);
        return;
    };
    let mut event = None;
    let mut data: Option<Cow<'_, str>> = None;
    // Lines split at `\n` / `\r` bytes (ASCII, so always at char boundaries).
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = match find_line_end(rest.as_bytes()) {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i + 1..).unwrap_or("")),
            None => (rest, ""),
        };
        rest = tail;
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
    fn line_end_search_matches_a_plain_scan() {
        let naive = |s: &[u8]| s.iter().position(|&b| b == b'\n' || b == b'\r');
        for len in 0..40 {
            for at in 0..=len {
                for (first, second) in [(b'\n', b'\r'), (b'\r', b'\n')] {
                    let mut s = vec![b'a'; len];
                    // Neighbours of the pattern bytes (0x09, 0x0b, 0x0c, 0x0e, 0x8a, 0x8d)
                    // must not match.
                    for (i, b) in s.iter_mut().enumerate() {
                        *b = [b'a', 0x09, 0x0b, 0x0c, 0x0e, 0x8a, 0x8d, 0xff][i % 8];
                    }
                    if at < len {
                        s[at] = first;
                    }
                    if at + 3 < len {
                        s[at + 3] = second;
                    }
                    assert_eq!(find_line_end(&s), naive(&s), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn multibyte_text_and_comments_survive_line_splitting() {
        let (ev, faults) = collect(&["event: é\r\n: note\ndata: ünï\ndata:çødé\n\n".as_bytes()]);
        assert!(faults.is_empty());
        assert_eq!(ev, vec![(Some("é".into()), "ünï\nçødé".into())]);
    }

    #[test]
    fn scanning_is_linear_for_a_large_event_in_small_writes() {
        // A 3 MB event in 64-byte writes (issue 10, item 7): each byte examined about once.
        let mut p = SseParser::default();
        let mut faults = Vec::new();
        let mut n = 0;
        let body = format!("data: {}\n\n", "y".repeat(3_000_000));
        for c in body.as_bytes().chunks(64) {
            p.push(c, |_| n += 1, &mut faults);
        }
        assert_eq!(n, 1);
        assert!(faults.is_empty());
        let total = body.len() as u64;
        assert!(
            p.bytes_scanned() <= total + 64,
            "{} > {total}",
            p.bytes_scanned()
        );
    }

    #[test]
    fn skipping_a_never_ending_event_is_linear_and_bounded() {
        let mut p = SseParser::new(4096);
        let mut faults = Vec::new();
        let piece = [b'z'; 64];
        let mut pushed = 0u64;
        for _ in 0..100_000 {
            p.push(&piece, |_| {}, &mut faults);
            pushed += 64;
            assert!(p.buffered() <= 4096 + 64);
        }
        assert_eq!(faults, vec![FaultKind::EventTooLarge]);
        // Linear: at most the pushed bytes plus the one retained byte per push.
        assert!(
            p.bytes_scanned() <= pushed + 100_000,
            "{}",
            p.bytes_scanned()
        );
        // The stream recovers after the oversized event ends.
        let mut got = Vec::new();
        p.push(
            b"\n\ndata: ok\n\n",
            |e| got.push(e.data.into_owned()),
            &mut faults,
        );
        assert_eq!(got, vec!["ok"]);
    }

    #[test]
    fn skipping_ends_only_at_a_real_blank_line() {
        // The event's last content line ends with CRLF right at the cap: that line end
        // must not count as a blank line.
        let mut p = SseParser::new(8);
        let mut faults = Vec::new();
        let mut got = Vec::new();
        for c in [
            &b"data: 0123456789\r\n"[..],
            b"data: hidden\n",
            b"\n",
            b"data: ok\n\n",
        ] {
            p.push(c, |e| got.push(e.data.into_owned()), &mut faults);
        }
        assert_eq!(got, vec!["ok"]);
    }

    #[test]
    fn any_chunking_gives_the_same_events() {
        let text = b"data: a\r\n\r\nevent: e\rdata: b\r\r: c\ndata: d\ndata: e\n\n";
        let whole = collect(&[text]).0;
        for size in 1..text.len() {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(collect(&chunks).0, whole, "chunks of {size}");
        }
    }

    #[test]
    fn incomplete_trailing_event_is_not_dispatched() {
        let (ev, _) = collect(&[b"data: a\n\ndata: partial"]);
        assert_eq!(ev.len(), 1);
    }
}
