//! Transport settings of the telemetry module (used only at levels `on` and `debug`).

use std::time::Duration;

use super::gate::{ENV_TELEMETRY_ENDPOINT, TelemetryError};
use super::transport::Endpoint;

/// The documented default endpoint (see TELEMETRY.md). `TRACELOOP_TELEMETRY_ENDPOINT`
/// overrides it.
pub const DEFAULT_ENDPOINT: &str = "https://telemetry.openllmetry-rs.dev/v1/reports";
/// Default minimum time between two uploads: one hour.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Default cap on uploads per process.
pub const DEFAULT_MAX_UPLOADS: u32 = 20;
/// Default hard timeout of one upload attempt (connect, TLS, request and status line).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default wait after the first fault before the first report, so that a burst of faults
/// becomes one report.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_secs(30);
/// Default bound on how long [`shutdown`](super::shutdown) waits for a pending upload.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest accepted duration setting (longer values are clamped to it), so that adding a
/// setting to an `Instant` can never overflow.
const MAX_SETTING: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Where and how often reports are sent. Only used at level `on` (`debug` uses the schedule
/// but prints instead of sending).
///
/// ```
/// use std::time::Duration;
/// use openllmetry::telemetry::TelemetryConfig;
/// let config = TelemetryConfig::default().with_interval(Duration::from_secs(600));
/// assert_eq!(config.max_uploads(), 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    endpoint: String,
    interval: Duration,
    max_uploads: u32,
    timeout: Duration,
    batch_delay: Duration,
    shutdown_timeout: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            interval: DEFAULT_INTERVAL,
            max_uploads: DEFAULT_MAX_UPLOADS,
            timeout: DEFAULT_TIMEOUT,
            batch_delay: DEFAULT_BATCH_DELAY,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl TelemetryConfig {
    /// The defaults with `TRACELOOP_TELEMETRY_ENDPOINT` (read through `env`) applied; an
    /// invalid endpoint is an error.
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        match Self::from_lookup_lossy(env) {
            (_, Some(err)) => Err(err),
            (config, None) => Ok(config),
        }
    }

    /// Like [`from_lookup`](Self::from_lookup), but an invalid endpoint is ignored (the
    /// default is kept) and returned beside the config, to be shown as a warning.
    pub fn from_lookup_lossy(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Self, Option<TelemetryError>) {
        let mut config = TelemetryConfig::default();
        match env(ENV_TELEMETRY_ENDPOINT) {
            Some(raw) if !raw.trim().is_empty() => {
                let raw = raw.trim();
                if Endpoint::parse(raw).is_some() {
                    config.endpoint = raw.to_owned();
                    (config, None)
                } else {
                    let err = TelemetryError::InvalidEndpoint {
                        variable: ENV_TELEMETRY_ENDPOINT,
                    };
                    (config, Some(err))
                }
            }
            _ => (config, None),
        }
    }

    /// Sets the upload endpoint (an `http://` or `https://` URL). An endpoint that does not
    /// parse disables uploading (nothing is sent; counting goes on).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Sets the minimum time between two uploads (default one hour). Durations passed to the
    /// setters are clamped to ten years.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.min(MAX_SETTING);
        self
    }

    /// Sets the cap on uploads per process (default 20).
    pub fn with_max_uploads(mut self, max_uploads: u32) -> Self {
        self.max_uploads = max_uploads;
        self
    }

    /// Sets the hard timeout of one upload attempt (default 3 s). There is at most one retry.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(MAX_SETTING);
        self
    }

    /// Sets the wait between the first fault and the first report (default 30 s).
    pub fn with_batch_delay(mut self, batch_delay: Duration) -> Self {
        self.batch_delay = batch_delay.min(MAX_SETTING);
        self
    }

    /// Sets the bound on how long [`shutdown`](super::shutdown) waits (default 1 s).
    pub fn with_shutdown_timeout(mut self, shutdown_timeout: Duration) -> Self {
        self.shutdown_timeout = shutdown_timeout.min(MAX_SETTING);
        self
    }

    /// The upload endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Minimum time between two uploads.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Cap on uploads per process.
    pub fn max_uploads(&self) -> u32 {
        self.max_uploads
    }

    /// Hard timeout of one upload attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Wait between the first fault and the first report.
    pub fn batch_delay(&self) -> Duration {
        self.batch_delay
    }

    /// Bound on how long [`shutdown`](super::shutdown) waits.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}
