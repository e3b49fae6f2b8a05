//! The typed error of [`start`](crate::start).

use std::fmt;
use std::net::SocketAddr;

use crate::config::ConfigFileError;

/// Why the gateway could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not usable (e.g. an upstream URL that does not parse).
    Config(ConfigFileError),
    /// The listen address could not be bound (or its local address read).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The upstream HTTP client could not be built (e.g. no TLS backend available).
    Client(reqwest::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid gateway configuration: {e}"),
            StartError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartError::Client(e) => write!(f, "cannot build the upstream HTTP client: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Bind { source, .. } => Some(source),
            StartError::Client(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GatewayConfig;

    #[tokio::test]
    async fn start_reports_typed_errors() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = GatewayConfig {
            listen: taken.local_addr().unwrap(),
            ..GatewayConfig::default()
        };
        let err = crate::start(config, std::future::pending())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StartError::Bind { addr, .. } if *addr == taken.local_addr().unwrap()),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());

        let config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            openai_upstream: "not a url".into(),
            ..GatewayConfig::default()
        };
        let err = crate::start(config, std::future::pending())
            .await
            .unwrap_err();
        assert!(matches!(err, StartError::Config(_)), "{err:?}");
    }
}
