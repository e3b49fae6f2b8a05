//! The uploader: one HTTP/1.1 `POST` of a JSON body, over TCP or TLS (rustls), with a hard
//! deadline per attempt and at most one retry.
//!
//! Hand-written on purpose: a request line, five headers and a status line are all it needs,
//! and doing it here keeps every byte of I/O on the telemetry thread (no hidden runtime
//! thread, no connection pool, no redirects, no proxy discovery, no cookies) and adds no
//! logging of its own.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, TcpStream, ToSocketAddrs};
#[cfg(feature = "otlp")]
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "otlp")]
use rustls_platform_verifier::BuilderVerifierExt;

use super::gate::UploadToken;

/// Pause before the single retry.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Longest status line read from the server.
const MAX_STATUS_LINE: usize = 512;

/// A parsed `http://` or `https://` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    tls: bool,
    /// Host name or IP address, without brackets.
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
    /// The `Host` header value (authority as written).
    authority: String,
}

impl Endpoint {
    /// Parses an endpoint URL; `None` for anything but `http(s)://host[:port][/path][?query]`
    /// (no user info, no fragment).
    pub(crate) fn parse(url: &str) -> Option<Endpoint> {
        let (scheme, rest) = url.split_once("://")?;
        let tls = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') || tail.contains('#') {
            return None;
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (ip, after) = bracketed.split_once(']')?;
            ip.parse::<Ipv6Addr>().ok()?;
            let port = match after {
                "" => default_port,
                p => p.strip_prefix(':')?.parse().ok()?,
            };
            (ip.to_owned(), port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (authority, default_port),
            };
            let valid = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !valid {
                return None;
            }
            (host.to_owned(), port)
        };
        if port == 0 || tail.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return None;
        }
        let path = if tail.starts_with('/') {
            tail.to_owned()
        } else {
            format!("/{tail}")
        };
        Some(Endpoint {
            tls,
            host,
            port,
            path,
            authority: authority.to_owned(),
        })
    }
}

/// How an upload attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// 2xx.
    Accepted,
    /// 4xx: the request itself is wrong; retrying cannot help.
    Rejected,
    /// Anything else (connect error, timeout, TLS error, 5xx, garbage): worth one retry.
    Failed,
}

/// Sends reports. Can only be built with an [`UploadToken`], i.e. from a `Decision` at level
/// `on`; nothing else in the crate opens a socket for telemetry.
pub(crate) struct Uploader {
    endpoint: Option<Endpoint>,
    timeout: Duration,
    #[cfg(feature = "otlp")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Uploader {
    /// The token proves the gate allowed uploads; it is consumed. `timeout` bounds each
    /// attempt (the telemetry config's `timeout`).
    pub(crate) fn new(_token: UploadToken, endpoint: &str, timeout: Duration) -> Uploader {
        Uploader {
            endpoint: Endpoint::parse(endpoint),
            timeout,
            #[cfg(feature = "otlp")]
            tls: None,
        }
    }

    /// Uploads one report: at most two attempts, each bounded by the timeout. Returns whether
    /// the receiver accepted it. Never panics on network errors and logs nothing.
    pub(crate) fn upload(&mut self, body: &[u8]) -> bool {
        let Some(endpoint) = self.endpoint.clone() else {
            return false;
        };
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(RETRY_PAUSE);
            }
            match self.attempt(&endpoint, body) {
                Outcome::Accepted => return true,
                Outcome::Rejected => return false,
                Outcome::Failed => {}
            }
        }
        false
    }

    fn attempt(&mut self, endpoint: &Endpoint, body: &[u8]) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        // Everything that can fail without the network is done before connecting.
        #[cfg(not(feature = "otlp"))]
        if endpoint.tls {
            // Built without TLS (the crate's `otlp` feature is off): no retry can help.
            return Outcome::Rejected;
        }
        #[cfg(feature = "otlp")]
        let tls = if endpoint.tls {
            let Some(config) = self.tls_config() else {
                return Outcome::Failed;
            };
            let Ok(name) = rustls::pki_types::ServerName::try_from(endpoint.host.clone()) else {
                return Outcome::Failed;
            };
            let Ok(conn) = rustls::ClientConnection::new(config, name) else {
                return Outcome::Failed;
            };
            Some(conn)
        } else {
            None
        };
        let Ok(tcp) = connect(endpoint, deadline) else {
            return Outcome::Failed;
        };
        let mut stream = DeadlineStream {
            inner: tcp,
            deadline,
        };
        #[cfg(feature = "otlp")]
        let status = match tls {
            Some(conn) => exchange(&mut rustls::StreamOwned::new(conn, stream), endpoint, body),
            None => exchange(&mut stream, endpoint, body),
        };
        #[cfg(not(feature = "otlp"))]
        let status = exchange(&mut stream, endpoint, body);
        match status {
            Ok(200..=299) => Outcome::Accepted,
            Ok(400..=499) => Outcome::Rejected,
            _ => Outcome::Failed,
        }
    }

    #[cfg(feature = "otlp")]
    fn tls_config(&mut self) -> Option<Arc<rustls::ClientConfig>> {
        if self.tls.is_none() {
            // An explicit provider: never depends on (or installs) a process-wide default.
            // The verifier uses the operating system's trust store, so a self-hosted
            // receiver behind a private CA works like any other HTTPS service on the host.
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_platform_verifier()
                .ok()?
                .with_no_client_auth();
            self.tls = Some(Arc::new(config));
        }
        self.tls.clone()
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

fn connect(endpoint: &Endpoint, deadline: Instant) -> io::Result<TcpStream> {
    // Literal IPs skip the resolver; names go through the system resolver (on this thread).
    let addrs: Vec<_> = match endpoint.host.parse::<IpAddr>() {
        Ok(ip) => vec![(ip, endpoint.port).into()],
        Err(_) => (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()?
            .collect(),
    };
    let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Writes the request and reads the status code.
fn exchange<S: Read + Write>(stream: &mut S, endpoint: &Endpoint, body: &[u8]) -> io::Result<u16> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: openllmetry-rs-telemetry\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        endpoint.path,
        endpoint.authority,
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut buf = [0u8; MAX_STATUS_LINE];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    parse_status(&buf[..len]).ok_or_else(|| io::ErrorKind::InvalidData.into())
}

/// `HTTP/1.x NNN ...` → `NNN`.
fn parse_status(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// A TCP stream whose every read and write is bounded by one deadline for the whole attempt
/// (so a server dripping one byte at a time cannot stretch it).
struct DeadlineStream {
    inner: TcpStream,
    deadline: Instant,
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .set_read_timeout(Some(remaining(self.deadline)?))?;
        self.inner.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .set_write_timeout(Some(remaining(self.deadline)?))?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("https://telemetry.example/v1/reports").unwrap();
        assert_eq!(
            (
                e.tls,
                e.host.as_str(),
                e.port,
                e.path.as_str(),
                e.authority.as_str()
            ),
            (
                true,
                "telemetry.example",
                443,
                "/v1/reports",
                "telemetry.example"
            )
        );
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((e.tls, e.port, e.path.as_str()), (false, 8080, "/"));
        let e = Endpoint::parse("HTTP://[::1]:9/x?y=1").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("::1", 9, "/x?y=1")
        );
        for bad in [
            "ftp://x/",
            "https://",
            "https://user:pw@host/",
            "https://host:notaport/",
            "https://host:0/",
            "https://ho st/",
            "https://[zz]/",
            "https://host/#frag",
            "host/path",
            "https://host/a b",
        ] {
            assert_eq!(Endpoint::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.0 500 x\r\n"), Some(500));
        assert_eq!(parse_status(b"SSH-2.0\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20"), None);
    }
}
