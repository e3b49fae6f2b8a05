//! A misbehaving upstream on loopback: real HTTP/1.1 over TCP, written by hand so that it can
//! break the protocol in the ways a broken or hostile provider does (malformed JSON, a body
//! shorter than announced, a decompression bomb, a stall, oversized headers, an event that
//! never ends, a connection closed without an answer).
//!
//! Each [`HostileServer`] answers every request with one [`Hostile`] behaviour. It reads the
//! request (head, then a `Content-Length` or chunked body), records it, and misbehaves. It runs
//! on its own threads (one per connection) and stops when dropped.
//!
//! The gzip bomb is generated on the fly, one repeated compressed unit at a time: a 5 GiB bomb
//! costs about 5 MB on the wire and a few hundred KiB of memory here.
//! [`gzip_bomb_chunks`] yields exactly the bytes sent, so a test can compare what its client
//! received.
//!
//! ```no_run
//! use openllmetry_testkit::hostile::{Hostile, HostileServer};
//! let server = HostileServer::start(Hostile::GzipBomb { inflated_mib: 5 * 1024 });
//! // point a gateway's upstream at server.base_url() ...
//! assert!(server.requests() <= 1);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Invalid JSON sent by [`Hostile::MalformedJson`]: an object cut in the middle of a string.
pub const MALFORMED_JSON: &str = r#"{"id":"hostile","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"unterminated"#;

/// How a [`HostileServer`] answers every request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// `200 application/json` whose body is [`MALFORMED_JSON`].
    MalformedJson,
    /// `200 application/json` announcing `Content-Length: announced`, sending `sent` bytes of
    /// a JSON prefix, then closing the connection.
    TruncatedBody {
        /// The `Content-Length` value.
        announced: usize,
        /// Bytes actually sent before the close (must be less than `announced`).
        sent: usize,
    },
    /// A gzip-compressed body (`Content-Encoding: gzip`, chunked) that inflates to
    /// `inflated_mib` MiB of zero bytes, produced as it is sent. `text/event-stream` when the
    /// request's JSON body has `"stream": true`, else `application/json`. The gzip trailer's
    /// CRC is left zero: nothing should inflate that far.
    GzipBomb {
        /// Size of the inflated body in MiB.
        inflated_mib: usize,
    },
    /// Sends the head of a `text/event-stream` response and one event, then sends nothing
    /// for `stall` (the connection stays open), then closes.
    Stall {
        /// How long to stay silent.
        stall: Duration,
    },
    /// A `200` whose head carries one header of `bytes` bytes.
    HugeHeaders {
        /// Size of the oversized header value.
        bytes: usize,
    },
    /// A `text/event-stream` whose first event never ends: `data: ` followed by `x`s (no
    /// newline), `total_bytes` in all (sent in 16 KiB chunks), then the connection is closed.
    NeverEndingEvent {
        /// Bytes of the event body sent before the close.
        total_bytes: usize,
    },
    /// Reads the request and closes the connection without writing a byte.
    ImmediateClose,
}

/// The misbehaving server. See the [module docs](self).
#[derive(Debug)]
pub struct HostileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
}

impl HostileServer {
    /// Binds `127.0.0.1:0` and serves `mode` on a background thread.
    pub fn start(mode: Hostile) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let mode = mode.clone();
                let requests = requests2.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &mode, &requests);
                });
            }
        });
        HostileServer {
            addr,
            stop,
            requests,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests read so far (complete heads and bodies).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// The request as read: whether its JSON body asked for a stream.
struct RequestSeen {
    stream: bool,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<RequestSeen>> {
    let mut content_length = 0usize;
    let mut chunked = false;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if first {
            first = false;
            continue;
        }
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "content-length" {
                content_length = value.parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
            if n == 0 {
                break;
            }
        }
    } else {
        body.resize(content_length, 0);
        reader.read_exact(&mut body)?;
    }
    let stream = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    Ok(Some(RequestSeen { stream }))
}

fn chunk(out: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\r\n")
}

fn serve(stream: TcpStream, mode: &Hostile, requests: &AtomicUsize) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    // One request per connection: every answer ends with a close.
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    requests.fetch_add(1, Ordering::SeqCst);
    match mode {
        Hostile::MalformedJson => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                MALFORMED_JSON.len()
            )?;
            out.write_all(MALFORMED_JSON.as_bytes())?;
        }
        Hostile::TruncatedBody { announced, sent } => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {announced}\r\nconnection: close\r\n\r\n"
            )?;
            let prefix: Vec<u8> = MALFORMED_JSON
                .bytes()
                .chain(std::iter::repeat(b' '))
                .take(*sent.min(announced))
                .collect();
            out.write_all(&prefix)?;
        }
        Hostile::GzipBomb { inflated_mib } => {
            let ct = if req.stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: {ct}\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            )?;
            for piece in gzip_bomb_chunks(*inflated_mib) {
                chunk(&mut out, piece)?;
            }
            out.write_all(b"0\r\n\r\n")?;
        }
        Hostile::Stall { stall } => {
            out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")?;
            chunk(&mut out, b"data: {\"id\":\"stall\"}\n\n")?;
            out.flush()?;
            std::thread::sleep(*stall);
        }
        Hostile::HugeHeaders { bytes } => {
            let value = "h".repeat(*bytes);
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-huge: {value}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            )?;
        }
        Hostile::NeverEndingEvent { total_bytes } => {
            out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")?;
            chunk(&mut out, b"data: ")?;
            let piece = vec![b'x'; 16 * 1024];
            let mut left = *total_bytes;
            while left > 0 {
                let n = left.min(piece.len());
                chunk(&mut out, &piece[..n])?;
                left -= n;
            }
            // Closed without the terminating chunk: the event never ended.
        }
        Hostile::ImmediateClose => {}
    }
    out.flush()?;
    let _ = out.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// The units a gzip bomb is made of: a gzip header + the first compressed MiB of zeros, the
/// repeated compressed MiB, and the trailer. After a full flush the deflate state is reset,
/// so each further MiB of zeros compresses to the same bytes.
fn bomb_units() -> &'static (Vec<u8>, Vec<u8>) {
    static UNITS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    UNITS.get_or_init(|| {
        use flate2::{Compress, Compression, FlushCompress};
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let unit = |c: &mut Compress| {
            let mut out = Vec::with_capacity(64 * 1024);
            let before = c.total_in();
            while c.total_in() - before < zeros.len() as u64 {
                let done = (c.total_in() - before) as usize;
                if c.compress_vec(&zeros[done..], &mut out, FlushCompress::Full)
                    .is_err()
                {
                    break;
                }
                if out.len() == out.capacity() {
                    out.reserve(64 * 1024);
                }
            }
            let _ = c.compress_vec(&[], &mut out, FlushCompress::Full);
            out
        };
        let mut first = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        first.extend_from_slice(&unit(&mut c));
        let repeated = unit(&mut c);
        (first, repeated)
    })
}

/// The exact bytes [`Hostile::GzipBomb`] sends (body only, before chunked framing), as
/// slices: one per MiB of inflated zeros, then the 8-byte trailer.
pub fn gzip_bomb_chunks(inflated_mib: usize) -> impl Iterator<Item = &'static [u8]> {
    const TRAILER: [u8; 8] = [0; 8];
    let (first, repeated) = bomb_units();
    std::iter::once(first.as_slice())
        .chain(std::iter::repeat_n(
            repeated.as_slice(),
            inflated_mib.saturating_sub(1),
        ))
        .chain(std::iter::once(TRAILER.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bomb_inflates_to_zeros_and_is_small() {
        let body: Vec<u8> = gzip_bomb_chunks(8).flatten().copied().collect();
        assert!(body.len() < 8 * 1024 * 10, "{}", body.len());
        // The deflate data between the 10-byte gzip header and the 8-byte trailer (whose CRC
        // is wrong on purpose, and which the stream never reaches: no final block).
        let mut input = &body[10..body.len() - 8];
        let mut d = flate2::Decompress::new(false);
        let mut out = vec![0u8; 64 * 1024];
        loop {
            let (in0, out0) = (d.total_in(), d.total_out());
            d.decompress(input, &mut out, flate2::FlushDecompress::Sync)
                .expect("valid deflate data");
            let produced = (d.total_out() - out0) as usize;
            assert!(out[..produced].iter().all(|b| *b == 0));
            input = &input[(d.total_in() - in0) as usize..];
            if produced == 0 && input.is_empty() {
                break;
            }
        }
        assert_eq!(d.total_out(), 8 << 20);
    }
}
