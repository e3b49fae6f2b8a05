//! Incremental decoder of the AWS event-stream binary framing
//! (`application/vnd.amazon.eventstream`), as Bedrock's `ConverseStream` and
//! `InvokeModelWithResponseStream` send it.
//!
//! A message is
//!
//! ```text
//! total_len:u32be | headers_len:u32be | prelude_crc:u32be | headers | payload | message_crc:u32be
//! ```
//!
//! where `prelude_crc` is the CRC-32 of the first 8 bytes and `message_crc` the CRC-32 of
//! everything before it. A header is `name_len:u8 | name | type:u8 | value`, the value's
//! length given by its type (strings and byte arrays carry a `u16be` length).
//!
//! The decoder takes bytes in chunks of any size and calls back once per complete, verified
//! message. It keeps at most one partial message, and never more than
//! [`MAX_FRAME_BYTES`]: a prelude announcing a larger message, a CRC mismatch or malformed
//! headers stop decoding for good ([`EventStreamError`]); the caller's bytes are never
//! touched (the decoder only reads them).

/// Bytes of the prelude (total length, headers length, prelude CRC).
pub const PRELUDE_BYTES: usize = 12;

/// Smallest possible message: the prelude plus the message CRC (no headers, no payload).
pub const MIN_FRAME_BYTES: usize = 16;

/// Largest message the decoder accepts (and so the most it ever buffers): 16 MiB plus
/// 128 KiB of headers and framing, AWS's documented payload limit for one event-stream
/// message. A prelude announcing more is [`EventStreamError::FrameTooLarge`].
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024 + 128 * 1024;

/// Why decoding stopped. Decoding never resumes after an error (the framing is lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventStreamError {
    /// The prelude's CRC does not match its first 8 bytes.
    PreludeCrc,
    /// The message CRC does not match the message.
    MessageCrc,
    /// The prelude's lengths are impossible (total below 16, headers past the end).
    BadLength,
    /// The prelude announces a message larger than [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// A header is truncated or has an unknown value type.
    BadHeaders,
}

/// A header value of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderValue<'a> {
    /// Type 0/1: boolean.
    Bool(bool),
    /// Types 2, 3, 4, 5: byte, short, int, long (widened).
    Int(i64),
    /// Type 6: byte array.
    Bytes(&'a [u8]),
    /// Type 7: UTF-8 string (`None` when the bytes are not UTF-8).
    Str(Option<&'a str>),
    /// Type 8: timestamp, milliseconds since the epoch.
    Timestamp(i64),
    /// Type 9: UUID.
    Uuid(&'a [u8]),
}

/// One decoded, CRC-checked message, borrowing the decoder's input.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    headers: &'a [u8],
    /// The payload bytes.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// All headers in order (the header block was validated when the message was decoded).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, HeaderValue<'a>)> + 'a {
        let mut rest = self.headers;
        std::iter::from_fn(move || {
            let (name, value, tail) = next_header(rest).ok()??;
            rest = tail;
            Some((name, value))
        })
    }

    /// A string header's value by name (`:event-type`, `:message-type`, `:exception-type`,
    /// `:content-type`).
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        // Names are compared as bytes: only the value found is checked as UTF-8 (the block
        // was validated when the message was decoded).
        let mut rest = self.headers;
        while let Ok(Some(h)) = next_raw(rest) {
            rest = h.tail;
            if h.ty == 7
                && h.name == name.as_bytes()
                && let Ok(v) = std::str::from_utf8(h.value)
            {
                return Some(v);
            }
        }
        None
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// One header's parts, lengths checked: name bytes, value type, value bytes (the fixed-size
/// bytes, or a byte array's / string's content after its length), and what follows.
struct RawHeader<'a> {
    name: &'a [u8],
    ty: u8,
    value: &'a [u8],
    tail: &'a [u8],
}

/// Splits one header from the front of `b`: `Ok(None)` at the end, `Err` when truncated or
/// of an unknown type. Nothing is checked as UTF-8 here.
fn next_raw(b: &[u8]) -> Result<Option<RawHeader<'_>>, EventStreamError> {
    let Some((&name_len, rest)) = b.split_first() else {
        return Ok(None);
    };
    let name_len = usize::from(name_len);
    let bad = EventStreamError::BadHeaders;
    if name_len == 0 || rest.len() < name_len + 1 {
        return Err(bad);
    }
    let (name, ty, rest) = (&rest[..name_len], rest[name_len], &rest[name_len + 1..]);
    let fixed = match ty {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 => 4,
        5 | 8 => 8,
        9 => 16,
        6 | 7 => {
            if rest.len() < 2 {
                return Err(bad);
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            if rest.len() < 2 + len {
                return Err(bad);
            }
            return Ok(Some(RawHeader {
                name,
                ty,
                value: &rest[2..2 + len],
                tail: &rest[2 + len..],
            }));
        }
        _ => return Err(bad),
    };
    if rest.len() < fixed {
        return Err(bad);
    }
    let (value, tail) = rest.split_at(fixed);
    Ok(Some(RawHeader {
        name,
        ty,
        value,
        tail,
    }))
}

/// Parses one header from the front of `b`: `Ok(None)` at the end, `Err` when malformed.
#[allow(clippy::type_complexity)]
fn next_header(b: &[u8]) -> Result<Option<(&str, HeaderValue<'_>, &[u8])>, EventStreamError> {
    let Some(RawHeader {
        name,
        ty,
        value: v,
        tail,
    }) = next_raw(b)?
    else {
        return Ok(None);
    };
    let name = std::str::from_utf8(name).map_err(|_| EventStreamError::BadHeaders)?;
    let value = match ty {
        0 => HeaderValue::Bool(true),
        1 => HeaderValue::Bool(false),
        2 => HeaderValue::Int(i64::from(v[0] as i8)),
        3 => HeaderValue::Int(i64::from(i16::from_be_bytes([v[0], v[1]]))),
        4 => HeaderValue::Int(i64::from(be32(v) as i32)),
        5 | 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(v);
            let n = i64::from_be_bytes(a);
            if ty == 5 {
                HeaderValue::Int(n)
            } else {
                HeaderValue::Timestamp(n)
            }
        }
        6 => HeaderValue::Bytes(v),
        7 => HeaderValue::Str(std::str::from_utf8(v).ok()),
        // 9 (`next_raw` refuses any other type).
        _ => HeaderValue::Uuid(v),
    };
    Ok(Some((name, value, tail)))
}

/// A header name is UTF-8 (ASCII in practice: checked first, it is the cheaper test).
fn valid_name(name: &[u8]) -> bool {
    name.is_ascii() || std::str::from_utf8(name).is_ok()
}

/// Checks a prelude (at least [`PRELUDE_BYTES`] long); returns the message's total length.
fn check_prelude(p: &[u8]) -> Result<usize, EventStreamError> {
    let total = be32(&p[0..4]) as usize;
    let headers = be32(&p[4..8]) as usize;
    if crc32fast::hash(&p[0..8]) != be32(&p[8..12]) {
        return Err(EventStreamError::PreludeCrc);
    }
    if total < MIN_FRAME_BYTES || headers > total - MIN_FRAME_BYTES {
        return Err(EventStreamError::BadLength);
    }
    if total > MAX_FRAME_BYTES {
        return Err(EventStreamError::FrameTooLarge);
    }
    Ok(total)
}

/// Verifies and splits one complete message (`frame.len()` is its total length).
fn decode_frame(frame: &[u8]) -> Result<Message<'_>, EventStreamError> {
    let n = frame.len();
    if crc32fast::hash(&frame[..n - 4]) != be32(&frame[n - 4..]) {
        return Err(EventStreamError::MessageCrc);
    }
    let headers_len = be32(&frame[4..8]) as usize;
    let headers = &frame[PRELUDE_BYTES..PRELUDE_BYTES + headers_len];
    // The structure and the names' UTF-8 are checked once here; string values are checked
    // only when read (`HeaderValue::Str(None)` when they are not UTF-8).
    let mut rest = headers;
    while let Some(h) = next_raw(rest)? {
        if !valid_name(h.name) {
            return Err(EventStreamError::BadHeaders);
        }
        rest = h.tail;
    }
    Ok(Message {
        headers,
        payload: &frame[PRELUDE_BYTES + headers_len..n - 4],
    })
}

/// The incremental decoder. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Decoder {
    /// The partial message carried over between chunks (< its total length, which is at
    /// most [`MAX_FRAME_BYTES`]).
    buf: Vec<u8>,
    failed: Option<EventStreamError>,
}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// The error that stopped decoding, if any.
    pub fn error(&self) -> Option<EventStreamError> {
        self.failed
    }

    /// Bytes of a partial message held (0 between messages).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds a chunk; calls `on_message` for each message it completes, in order. After an
    /// error nothing more is decoded and every call returns that error.
    pub fn push(
        &mut self,
        data: &[u8],
        mut on_message: impl FnMut(&Message<'_>),
    ) -> Result<(), EventStreamError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.push_inner(data, &mut on_message);
        if let Err(e) = r {
            self.failed = Some(e);
            self.buf = Vec::new();
        }
        r
    }

    fn push_inner(
        &mut self,
        mut data: &[u8],
        on_message: &mut impl FnMut(&Message<'_>),
    ) -> Result<(), EventStreamError> {
        if !self.buf.is_empty() {
            if self.buf.len() < PRELUDE_BYTES {
                let take = (PRELUDE_BYTES - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.buf.len() < PRELUDE_BYTES {
                    return Ok(());
                }
            }
            let total = check_prelude(&self.buf[..PRELUDE_BYTES])?;
            let take = (total - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < total {
                return Ok(());
            }
            on_message(&decode_frame(&self.buf)?);
            self.buf.clear();
        }
        // Whole messages straight from the caller's chunk, without copying.
        while data.len() >= PRELUDE_BYTES {
            let total = check_prelude(&data[..PRELUDE_BYTES])?;
            if data.len() < total {
                break;
            }
            on_message(&decode_frame(&data[..total])?);
            data = &data[total..];
        }
        // Less than one message (whose prelude, when complete, was checked above).
        self.buf.extend_from_slice(data);
        Ok(())
    }
}

/// Encodes one message with string headers (tests, benches and the replayer's fixtures).
pub fn encode_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        h.push(7);
        let value = &value.as_bytes()[..value.len().min(usize::from(u16::MAX))];
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value);
    }
    let total = (MIN_FRAME_BYTES + h.len() + payload.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Decoded = (Vec<(Option<String>, Vec<u8>)>, Option<EventStreamError>);

    fn decode_all(chunks: &[&[u8]]) -> Decoded {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let mut err = None;
        for c in chunks {
            if let Err(e) = d.push(c, |m| {
                out.push((
                    m.header_str(":event-type").map(str::to_owned),
                    m.payload.to_vec(),
                ))
            }) {
                err = Some(e);
            }
        }
        (out, err)
    }

    /// The encoder's layout, checked byte by byte against the format description.
    #[test]
    fn known_frame_bytes() {
        let frame = encode_message(&[(":a", "b")], b"{}");
        // header: len 2, ":a", type 7, len 0x0001, "b" = 7 bytes; total 16 + 7 + 2 = 25.
        assert_eq!(&frame[0..4], &25u32.to_be_bytes());
        assert_eq!(&frame[4..8], &7u32.to_be_bytes());
        // CRC-32 (IEEE) of the first 8 bytes, big-endian, as the prelude CRC.
        assert_eq!(
            u32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]),
            crc32fast::hash(&[0, 0, 0, 25, 0, 0, 0, 7])
        );
        let (msgs, err) = decode_all(&[&frame]);
        assert_eq!(err, None);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].1, b"{}");
    }

    /// The CRC-32 used is IEEE 802.3 (`crc32("123456789") = 0xCBF43926`), which is what
    /// the event-stream spec names.
    #[test]
    fn crc_is_ieee() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn corrupt_prelude_and_message_crc_are_errors() {
        let frame = encode_message(&[(":event-type", "chunk")], b"{\"a\":1}");
        let mut bad = frame.clone();
        bad[9] ^= 1;
        assert_eq!(decode_all(&[&bad]).1, Some(EventStreamError::PreludeCrc));
        let mut bad = frame.clone();
        let n = bad.len();
        bad[n - 6] ^= 1;
        assert_eq!(decode_all(&[&bad]).1, Some(EventStreamError::MessageCrc));
        // After an error nothing more is decoded.
        let (msgs, err) = decode_all(&[&bad, &frame]);
        assert!(msgs.is_empty());
        assert_eq!(err, Some(EventStreamError::MessageCrc));
    }

    #[test]
    fn oversized_prelude_is_refused_before_buffering() {
        let total = (MAX_FRAME_BYTES + 1) as u32;
        let mut p = Vec::new();
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        let mut d = Decoder::new();
        assert_eq!(d.push(&p, |_| {}), Err(EventStreamError::FrameTooLarge));
        assert_eq!(d.buffered(), 0);
        // Split prelude: same verdict.
        let mut d = Decoder::new();
        assert_eq!(d.push(&p[..5], |_| {}), Ok(()));
        assert_eq!(
            d.push(&p[5..], |_| {}),
            Err(EventStreamError::FrameTooLarge)
        );
    }

    /// A frame around a raw header block (correct lengths and CRCs).
    fn raw_frame(h: &[u8], payload: &[u8]) -> Vec<u8> {
        let total = (MIN_FRAME_BYTES + h.len() + payload.len()) as u32;
        let mut out = total.to_be_bytes().to_vec();
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(h);
        out.extend_from_slice(payload);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    fn header(h: &mut Vec<u8>, name: &[u8], ty: u8, value: &[u8]) {
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        h.push(ty);
        if ty == 6 || ty == 7 {
            h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        }
        h.extend_from_slice(value);
    }

    fn one_message<T>(frame: &[u8], f: impl Fn(&Message<'_>) -> T) -> Result<T, EventStreamError> {
        let mut d = Decoder::new();
        let mut out = None;
        d.push(frame, |m| out = Some(f(m)))?;
        Ok(out.expect("one message"))
    }

    #[test]
    fn every_header_type_and_lookup_by_name() {
        let mut h = Vec::new();
        header(&mut h, b":flag", 0, b"");
        header(&mut h, b"off", 1, b"");
        header(&mut h, b"i8", 2, &[0xfe]);
        header(&mut h, b"n", 3, &(-2i16).to_be_bytes());
        header(&mut h, b"i32", 4, &7i32.to_be_bytes());
        header(&mut h, b"i64", 5, &(-9i64).to_be_bytes());
        header(&mut h, b"bytes", 6, b"\x00\xff");
        header(&mut h, b":event-type", 7, b"\xff\xfe");
        header(&mut h, b"ts", 8, &1_700_000_000_000i64.to_be_bytes());
        header(&mut h, b"id", 9, &[7u8; 16]);
        header(&mut h, b":event-type", 7, b"chunk");
        let frame = raw_frame(&h, b"{}");
        let (all, found, none, missing) = one_message(&frame, |m| {
            (
                m.headers()
                    .map(|(n, v)| (n.to_owned(), format!("{v:?}")))
                    .collect::<Vec<_>>(),
                m.header_str(":event-type").map(str::to_owned),
                m.header_str("n").map(str::to_owned),
                m.header_str(":missing").map(str::to_owned),
            )
        })
        .unwrap();
        let want: Vec<(String, String)> = [
            (":flag", "Bool(true)"),
            ("off", "Bool(false)"),
            ("i8", "Int(-2)"),
            ("n", "Int(-2)"),
            ("i32", "Int(7)"),
            ("i64", "Int(-9)"),
            ("bytes", "Bytes([0, 255])"),
            (":event-type", "Str(None)"),
            ("ts", "Timestamp(1700000000000)"),
            (
                "id",
                "Uuid([7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7])",
            ),
            (":event-type", "Str(Some(\"chunk\"))"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(all, want);
        // The first `:event-type` is not UTF-8: the lookup goes on to the next one.
        assert_eq!(found.as_deref(), Some("chunk"));
        assert_eq!(none, None, "not a string header");
        assert_eq!(missing, None);
    }

    #[test]
    fn malformed_header_blocks_are_errors() {
        // A header name that is not UTF-8.
        let mut h = Vec::new();
        header(&mut h, b"\xffa", 7, b"x");
        assert_eq!(
            one_message(&raw_frame(&h, b""), |_| ()),
            Err(EventStreamError::BadHeaders)
        );
        // A fixed-size value cut short (an int32 with two bytes), and a string longer than
        // the block.
        for h in [
            vec![1, b'a', 4, 0, 0],
            vec![1, b'a', 7, 0, 9, b'x'],
            vec![0, 7, 0, 0],
        ] {
            assert_eq!(
                one_message(&raw_frame(&h, b""), |_| ()),
                Err(EventStreamError::BadHeaders),
                "{h:?}"
            );
        }
    }

    #[test]
    fn bad_header_type_is_an_error() {
        let mut frame = encode_message(&[(":a", "b")], b"");
        frame[12 + 3] = 42; // the type byte of the first header
        let n = frame.len();
        let crc = crc32fast::hash(&frame[..n - 4]);
        frame[n - 4..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode_all(&[&frame]).1, Some(EventStreamError::BadHeaders));
    }

    fn frames_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
        prop::collection::vec(
            ("[a-zA-Z]{1,12}", prop::collection::vec(any::<u8>(), 0..300)),
            1..8,
        )
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_messages(
            frames in frames_strategy(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut wire = Vec::new();
            for (ev, payload) in &frames {
                wire.extend(encode_message(&[(":event-type", ev), (":message-type", "event")], payload));
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points { chunks.push(&wire[last..p]); last = p; }
            chunks.push(&wire[last..]);
            let (msgs, err) = decode_all(&chunks);
            prop_assert_eq!(err, None);
            let want: Vec<_> = frames.iter().map(|(e, p)| (Some(e.clone()), p.clone())).collect();
            prop_assert_eq!(msgs, want);
        }

        #[test]
        fn corrupt_bytes_never_panic_and_stay_bounded(
            frames in frames_strategy(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
            chunk in 1usize..64,
        ) {
            let mut wire = Vec::new();
            for (ev, payload) in &frames {
                wire.extend(encode_message(&[(":event-type", ev)], payload));
            }
            for (i, x) in &flips {
                let i = i.index(wire.len());
                wire[i] ^= x;
            }
            let mut d = Decoder::new();
            for c in wire.chunks(chunk) {
                let _ = d.push(c, |m| { let _ = m.headers().count(); });
                prop_assert!(d.buffered() <= MAX_FRAME_BYTES);
                prop_assert!(d.buffered() <= wire.len());
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), chunk in 1usize..50) {
            let mut d = Decoder::new();
            for c in bytes.chunks(chunk) {
                let _ = d.push(c, |_| {});
                prop_assert!(d.buffered() <= MAX_FRAME_BYTES);
            }
        }
    }
}
