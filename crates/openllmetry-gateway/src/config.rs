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
    /// On SIGINT/SIGTERM, how long in-flight requests and streams may take to finish.
    pub drain_timeout: Duration,
}

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
            drain_timeout: Duration::from_secs(30),
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
                    "{name} must be an http(s) URL, got {url:?}"
                )));
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

#[cfg(test)]
mod tests {
    use super::*;

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
                "#,
            )
            .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.openai_upstream, "http://127.0.0.1:1/v1");
        assert_eq!(c.body_limit_bytes, 1024);
        assert_eq!(c.read_timeout, Duration::from_secs(2));
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
