//! The `openllmetry ui` command line (parsed by the `openllmetry` binary).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::server::{DEFAULT_QUEUE_CAPACITY, UiConfig, UiError};

/// Arguments of `openllmetry ui`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct UiArgs {
    /// Address of the web UI, the JSON API and OTLP/HTTP ingest. A non-loopback address needs a
    /// bearer token.
    #[arg(long, default_value = crate::server::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// An extra OTLP/HTTP listener (`/v1/traces`, `/v1/logs`), e.g. 127.0.0.1:4318.
    #[arg(long)]
    pub otlp_http: Option<SocketAddr>,
    /// An OTLP/gRPC listener, e.g. 127.0.0.1:4317.
    #[arg(long)]
    pub otlp_grpc: Option<SocketAddr>,
    /// Store: `sqlite:PATH`, a path (default: `ui.sqlite` in the user's data directory) or
    /// `clickhouse://[user[:password]@]host[:port]/db` (credentials also from
    /// `OPENLLMETRY_CLICKHOUSE_USER` / `OPENLLMETRY_CLICKHOUSE_PASSWORD`).
    #[arg(long)]
    pub store: Option<String>,
    /// Delete data older than this many days.
    #[arg(long)]
    pub retention_days: Option<u32>,
    /// Keep the store under this size, dropping the oldest data (e.g. `500MB`, `2GiB`).
    #[arg(long, value_parser = parse_size)]
    pub max_store_size: Option<u64>,
    /// Bearer token required on every request (needed for a non-loopback address).
    #[arg(long, env = "OPENLLMETRY_UI_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Capacity of the ingest queue, in export requests; beyond it producers get HTTP 429.
    #[arg(long, default_value_t = DEFAULT_QUEUE_CAPACITY)]
    pub queue_capacity: usize,
}

/// Errors of the command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A `--store` URL this build cannot use.
    #[error("unsupported --store {0:?}: use sqlite:PATH, a file path or clickhouse://host:port/db")]
    UnsupportedStore(String),
    /// No data directory could be found for the default store.
    #[error("no data directory (set HOME or XDG_DATA_HOME, or pass --store sqlite:PATH)")]
    NoDataDir,
    /// The viewer failed.
    #[error(transparent)]
    Ui(#[from] UiError),
}

/// Parses sizes like `1048576`, `500MB`, `2GiB`, `64k`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mul: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// The store path for `--store`.
pub fn store_path(store: Option<&str>) -> Result<PathBuf, CliError> {
    match store {
        Some(s) if s.starts_with("sqlite:") => Ok(PathBuf::from(&s["sqlite:".len()..])),
        Some(s) if s.contains("://") => Err(CliError::UnsupportedStore(s.to_string())),
        Some(s) => Ok(PathBuf::from(s)),
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
                })
                .ok_or(CliError::NoDataDir)?;
            Ok(base.join("openllmetry").join("ui.sqlite"))
        }
    }
}

/// A viewer configuration with the defaults over the store `--store` names: `sqlite:PATH`, a
/// path, the default SQLite file (`None`), or `clickhouse://...`.
pub fn store_config(store: Option<&str>) -> Result<UiConfig, CliError> {
    match store {
        Some(url) if url.starts_with("clickhouse://") => {
            let ch =
                crate::store::clickhouse::ClickHouseConfig::from_url(url).map_err(UiError::from)?;
            let mut c = UiConfig::new(PathBuf::new());
            c.clickhouse = Some(ch);
            Ok(c)
        }
        other => Ok(UiConfig::new(store_path(other)?)),
    }
}

impl UiArgs {
    /// The viewer configuration these arguments describe.
    pub fn config(&self) -> Result<UiConfig, CliError> {
        let mut c = store_config(self.store.as_deref())?
            .with_listen(self.listen)
            .with_auth_token(self.auth_token.clone())
            .with_queue_capacity(self.queue_capacity)
            .with_retention(self.retention_days, self.max_store_size);
        c.otlp_http = self.otlp_http;
        c.otlp_grpc = self.otlp_grpc;
        Ok(c)
    }
}

/// Runs `openllmetry ui` until Ctrl-C.
pub async fn run(args: UiArgs) -> Result<(), CliError> {
    crate::server::run(args.config()?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn store_urls() {
        assert_eq!(
            store_path(Some("sqlite:/x/y.db")).unwrap(),
            PathBuf::from("/x/y.db")
        );
        assert!(matches!(
            store_path(Some("clickhouse://h:8123/db")),
            Err(CliError::UnsupportedStore(_))
        ));
        let c = store_config(Some("clickhouse://h:8123/db")).unwrap();
        let ch = c.clickhouse.expect("clickhouse store");
        assert_eq!(
            (ch.endpoint.as_str(), ch.database.as_str()),
            ("http://h:8123/", "db")
        );
        assert!(
            store_config(Some("sqlite:/x/y.db"))
                .unwrap()
                .clickhouse
                .is_none()
        );
        assert!(store_config(Some("clickhouse://h/bad-name")).is_err());
    }
}
