//! Gateway settings: command-line flags and a TOML file with the same names.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Default listen address (loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Default OpenAI upstream.
pub const DEFAULT_OPENAI_UPSTREAM: &str = "https://api.openai.com/v1";
/// Default Anthropic upstream.
pub const DEFAULT_ANTHROPIC_UPSTREAM: &str = "https://api.anthropic.com";

/// Gateway settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Whether `listen` was given explicitly on the command line (needed for non-loopback).
    pub listen_explicit: bool,
    /// OpenAI (or OpenAI-compatible, or Azure OpenAI) base URL.
    pub openai_upstream: String,
    /// Anthropic (or Anthropic-compatible) base URL.
    pub anthropic_upstream: String,
    /// Largest request body accepted (413 beyond).
    pub body_limit_bytes: usize,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Upstream read timeout (between body chunks).
    pub read_timeout: Duration,
    /// On SIGINT/SIGTERM, how long in-flight requests and streams may take to finish
    /// (default [`DEFAULT_DRAIN_TIMEOUT`]; idle connections never hold it).
    pub drain_timeout: Duration,
    /// HTTP/1: longest time a client may take to send a complete request head, counted from
    /// when the connection starts waiting for it. It also closes idle keep-alive connections:
    /// hyper starts this timer as soon as a connection waits for its next request, so it is
    /// the keep-alive idle timeout too (default [`DEFAULT_HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// Longest pause between two pieces of a request body; past it the request is answered
    /// with 408 and the connection closed (default [`DEFAULT_BODY_IDLE_TIMEOUT`]).
    pub body_idle_timeout: Duration,
    /// Most client connections open at once; further clients wait in the listen backlog
    /// until one closes (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
}

/// Default [`GatewayConfig::header_read_timeout`] (also the keep-alive idle timeout).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`GatewayConfig::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`GatewayConfig::max_connections`] (keep the process's file-descriptor limit
/// above it: each connection also opens an upstream socket).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default [`GatewayConfig::drain_timeout`]: with the final telemetry flush (at most 8 s)
/// the gateway exits within a 30 s kill grace period.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8787))),
            listen_explicit: false,
            openai_upstream: DEFAULT_OPENAI_UPSTREAM.into(),
            anthropic_upstream: DEFAULT_ANTHROPIC_UPSTREAM.into(),
            body_limit_bytes: 32 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(600),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The TOML file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    openai_upstream: Option<String>,
    anthropic_upstream: Option<String>,
    body_limit_bytes: Option<usize>,
    connect_timeout_secs: Option<u64>,
    read_timeout_secs: Option<u64>,
    drain_timeout_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    body_idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
}

/// A config file that cannot be read or used.
#[derive(Debug)]
pub struct ConfigFileError(String);

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigFileError {}

impl GatewayConfig {
    /// Applies a TOML config file over `self`.
    pub fn apply_file(mut self, path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigFileError(format!("cannot read {}: {e}", path.display())))?;
        self = self.apply_toml(&text)?;
        Ok(self)
    }

    /// Applies TOML text over `self`.
    pub fn apply_toml(mut self, text: &str) -> Result<Self, ConfigFileError> {
        let f: FileConfig =
            toml::from_str(text).map_err(|e| ConfigFileError(format!("invalid config: {e}")))?;
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = f.openai_upstream {
            self.openai_upstream = v;
        }
        if let Some(v) = f.anthropic_upstream {
            self.anthropic_upstream = v;
        }
        if let Some(v) = f.body_limit_bytes {
            self.body_limit_bytes = v;
        }
        if let Some(v) = f.connect_timeout_secs {
            self.connect_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.read_timeout_secs {
            self.read_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.drain_timeout_secs {
            self.drain_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.header_read_timeout_secs {
            self.header_read_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.body_idle_timeout_secs {
            self.body_idle_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.max_connections {
            self.max_connections = v;
        }
        Ok(self)
    }

    /// Checks the settings: upstream URLs must be http(s) URLs, and a non-loopback listen
    /// address must come from an explicit `--listen`.
    pub fn validate(&self) -> Result<(), ConfigFileError> {
        for (name, url) in [
            ("openai_upstream", &self.openai_upstream),
            ("anthropic_upstream", &self.anthropic_upstream),
        ] {
            let ok = reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(ConfigFileError(format!(
                    "{name} must be an http(s) URL, got {:?}",
                    redact_url(url)
                )));
            }
        }
        if self.max_connections == 0 {
            return Err(ConfigFileError("max_connections must be at least 1".into()));
        }
        for (name, d) in [
            ("header_read_timeout_secs", self.header_read_timeout),
            ("body_idle_timeout_secs", self.body_idle_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigFileError(format!("{name} must be at least 1")));
            }
        }
        if !self.listen.ip().is_loopback() && !self.listen_explicit {
            return Err(ConfigFileError(format!(
                "refusing to listen on non-loopback address {} unless given explicitly with --listen",
                self.listen
            )));
        }
        Ok(())
    }
}

/// `url` fit for a log line: userinfo (`user:password@`) and every query value replaced by
/// `[REDACTED]`, the fragment dropped. Works on any text that looks like a URL or a request
/// target (`/path?key=v`), parseable or not. Every URL the gateway logs goes through it.
pub fn redact_url(url: &str) -> String {
    const R: &str = "[REDACTED]";
    let url = url.split('#').next().unwrap_or("");
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rfind('@') {
                Some(at) => {
                    out.push_str(R);
                    out.push_str(&authority[at..]);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(q) = query {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={R}"),
                None if pair.is_empty() => String::new(),
                None => R.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("http://user:secret@127.0.0.1:9/v1"),
            "http://[REDACTED]@127.0.0.1:9/v1"
        );
        assert_eq!(
            redact_url("http://u:p@host/x?key=sk-123&b=2#frag"),
            "http://[REDACTED]@host/x?key=[REDACTED]&b=[REDACTED]"
        );
        assert_eq!(redact_url("/v1/x?sk-123"), "/v1/x?[REDACTED]");
        assert_eq!(
            redact_url("https://api.openai.com/v1"),
            "https://api.openai.com/v1"
        );
        // Userinfo may itself hold '@' (percent-encoding aside): everything before the last '@'.
        assert_eq!(redact_url("http://a@b:c@h/"), "http://[REDACTED]@h/");
    }

    #[test]
    fn toml_file_uses_the_flag_names() {
        let c = GatewayConfig::default()
            .apply_toml(
                r#"
                listen = "127.0.0.1:9999"
                openai_upstream = "http://127.0.0.1:1/v1"
                anthropic_upstream = "http://127.0.0.1:2"
                body_limit_bytes = 1024
                connect_timeout_secs = 1
                read_timeout_secs = 2
                drain_timeout_secs = 3
                header_read_timeout_secs = 4
                body_idle_timeout_secs = 5
                max_connections = 6
                "#,
            )
            .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.openai_upstream, "http://127.0.0.1:1/v1");
        assert_eq!(c.body_limit_bytes, 1024);
        assert_eq!(c.read_timeout, Duration::from_secs(2));
        assert_eq!(c.header_read_timeout, Duration::from_secs(4));
        assert_eq!(c.body_idle_timeout, Duration::from_secs(5));
        assert_eq!(c.max_connections, 6);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_upstreams_are_rejected() {
        assert!(
            GatewayConfig::default()
                .apply_toml("lisen = \"x\"")
                .is_err()
        );
        let c = GatewayConfig {
            openai_upstream: "ftp://example.com".into(),
            ..GatewayConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn non_loopback_needs_the_explicit_flag() {
        let c = GatewayConfig::default()
            .apply_toml("listen = \"0.0.0.0:8787\"")
            .unwrap();
        assert!(c.validate().is_err());
        let c = GatewayConfig {
            listen_explicit: true,
            ..c
        };
        assert!(c.validate().is_ok());
    }
}
