//! The one gate: the telemetry level, decided once from every switch by a pure function.

use std::fmt;
use std::str::FromStr;

/// `TRACELOOP_TELEMETRY`: the telemetry level (`off`, `local`, `on`, `debug`; see
/// [`TelemetryLevel::from_str`] for the accepted spellings).
pub const ENV_TELEMETRY: &str = crate::env_vars::TRACELOOP_TELEMETRY;
/// `TRACELOOP_TELEMETRY_ENDPOINT`: overrides the upload endpoint (used only at level `on`).
pub const ENV_TELEMETRY_ENDPOINT: &str = crate::env_vars::TRACELOOP_TELEMETRY_ENDPOINT;
/// `DO_NOT_TRACK` (<https://consoledonottrack.com>): any non-empty value other than `0` or
/// `false` turns telemetry off.
pub const ENV_DO_NOT_TRACK: &str = crate::env_vars::DO_NOT_TRACK;
/// `CI`: any non-empty value other than `0` or `false` turns telemetry off.
pub const ENV_CI: &str = crate::env_vars::CI;

/// How much the telemetry module does.
///
/// Ordered from the most to the least restrictive: `Off`, `Local`, `Debug`, `On`. When several
/// switches give a level, the most restrictive one wins (see [`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TelemetryLevel {
    /// Nothing is recorded; no thread, task, socket or file is ever created.
    Off,
    /// The default: faults are counted in this process and visible through
    /// [`preview`](super::preview); nothing leaves the process.
    Local,
    /// Like `Local`, and the aggregated reports are uploaded. Only by explicit opt-in.
    On,
    /// Like `On`, but each report is printed to stderr instead of being sent.
    Debug,
}

impl TelemetryLevel {
    /// Every level, from the most to the least restrictive.
    pub const ALL: [TelemetryLevel; 4] = [
        TelemetryLevel::Off,
        TelemetryLevel::Local,
        TelemetryLevel::Debug,
        TelemetryLevel::On,
    ];

    /// The canonical name: `off`, `local`, `on` or `debug`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TelemetryLevel::Off => "off",
            TelemetryLevel::Local => "local",
            TelemetryLevel::On => "on",
            TelemetryLevel::Debug => "debug",
        }
    }

    /// 0 is the most restrictive. Upload needs every switch to allow it, so the lowest rank
    /// among the switches that say something wins.
    const fn restrictiveness(self) -> u8 {
        match self {
            TelemetryLevel::Off => 0,
            TelemetryLevel::Local => 1,
            TelemetryLevel::Debug => 2,
            TelemetryLevel::On => 3,
        }
    }

    /// Whether faults are recorded at all (every level but `Off`).
    pub const fn records(self) -> bool {
        !matches!(self, TelemetryLevel::Off)
    }

    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            TelemetryLevel::Off => 0,
            TelemetryLevel::Local => 1,
            TelemetryLevel::On => 2,
            TelemetryLevel::Debug => 3,
        }
    }

    pub(crate) const fn from_u8(v: u8) -> TelemetryLevel {
        match v {
            1 => TelemetryLevel::Local,
            2 => TelemetryLevel::On,
            3 => TelemetryLevel::Debug,
            _ => TelemetryLevel::Off,
        }
    }
}

impl fmt::Display for TelemetryLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `telemetry_enabled(true)` means `On`, `false` means `Off` (the upstream option's meaning).
impl From<bool> for TelemetryLevel {
    fn from(enabled: bool) -> Self {
        if enabled {
            TelemetryLevel::On
        } else {
            TelemetryLevel::Off
        }
    }
}

/// The one parser shared by `TRACELOOP_TELEMETRY` and the builder.
///
/// Case-insensitive, surrounding whitespace ignored:
///
/// | value | level |
/// |---|---|
/// | `off`, `false`, `0`, `no` | [`Off`](TelemetryLevel::Off) |
/// | `local` | [`Local`](TelemetryLevel::Local) |
/// | `on`, `true`, `1`, `yes` | [`On`](TelemetryLevel::On) |
/// | `debug` | [`Debug`](TelemetryLevel::Debug) |
///
/// ```
/// use openllmetry::telemetry::TelemetryLevel;
/// assert_eq!(" TRUE ".parse::<TelemetryLevel>().unwrap(), TelemetryLevel::On);
/// assert!("maybe".parse::<TelemetryLevel>().is_err());
/// ```
impl FromStr for TelemetryLevel {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = s.trim().to_ascii_lowercase();
        match v.as_str() {
            "off" | "false" | "0" | "no" => Ok(TelemetryLevel::Off),
            "local" => Ok(TelemetryLevel::Local),
            "on" | "true" | "1" | "yes" => Ok(TelemetryLevel::On),
            "debug" => Ok(TelemetryLevel::Debug),
            _ => Err(ParseLevelError {
                value: truncate(s.trim(), 64),
            }),
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// A string that is not a telemetry level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLevelError {
    value: String,
}

impl ParseLevelError {
    /// The rejected value (trimmed, at most 64 characters).
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid telemetry level {:?}: expected off, local, on or debug \
             (also false/0/no, true/1/yes)",
            self.value
        )
    }
}

impl std::error::Error for ParseLevelError {}

/// A telemetry setting that cannot be used. `try_init` returns it; the lossy path reports it
/// as a warning and uses the default instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TelemetryError {
    /// `TRACELOOP_TELEMETRY` holds something that is not a level. Fix or unset the variable.
    InvalidLevel {
        /// The variable that held it.
        variable: &'static str,
        /// Why it was rejected (with the value).
        source: ParseLevelError,
    },
    /// `TRACELOOP_TELEMETRY_ENDPOINT` is not an `http://` or `https://` URL with a host (and
    /// no user info). Fix or unset the variable.
    InvalidEndpoint {
        /// The variable that held it.
        variable: &'static str,
    },
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TelemetryError::InvalidLevel { variable, source } => write!(f, "{variable}: {source}"),
            TelemetryError::InvalidEndpoint { variable } => write!(
                f,
                "{variable}: expected an http:// or https:// URL with a host and no user info"
            ),
        }
    }
}

impl std::error::Error for TelemetryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TelemetryError::InvalidLevel { source, .. } => Some(source),
            TelemetryError::InvalidEndpoint { .. } => None,
        }
    }
}

/// Which switch decided the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Switch {
    /// Nothing was set: the default level, `local`.
    Default,
    /// The builder option (`Config::with_telemetry`).
    Builder,
    /// The `TRACELOOP_TELEMETRY` environment variable.
    TraceloopTelemetry,
    /// The `DO_NOT_TRACK` environment variable.
    DoNotTrack,
    /// The `CI` environment variable.
    Ci,
}

impl Switch {
    /// Every switch, in the order used to break ties (see [`decide`]).
    pub const ALL: [Switch; 5] = [
        Switch::Builder,
        Switch::TraceloopTelemetry,
        Switch::DoNotTrack,
        Switch::Ci,
        Switch::Default,
    ];

    /// `default`, `builder`, `TRACELOOP_TELEMETRY`, `DO_NOT_TRACK` or `CI`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Switch::Default => "default",
            Switch::Builder => "builder",
            Switch::TraceloopTelemetry => ENV_TELEMETRY,
            Switch::DoNotTrack => ENV_DO_NOT_TRACK,
            Switch::Ci => ENV_CI,
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            Switch::Default => 0,
            Switch::Builder => 1,
            Switch::TraceloopTelemetry => 2,
            Switch::DoNotTrack => 3,
            Switch::Ci => 4,
        }
    }

    pub(crate) const fn from_u8(v: u8) -> Switch {
        match v {
            1 => Switch::Builder,
            2 => Switch::TraceloopTelemetry,
            3 => Switch::DoNotTrack,
            4 => Switch::Ci,
            _ => Switch::Default,
        }
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gate: the decided level and the switch that decided it.
///
/// The only way to obtain one is [`decide`] / [`decide_lossy`] (the fields are private), and
/// the only way to obtain the [`UploadToken`] the uploader needs is
/// [`Decision::upload_token`] on a decision whose level is `On`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    level: TelemetryLevel,
    decided_by: Switch,
}

impl Decision {
    /// The decided level.
    pub const fn level(&self) -> TelemetryLevel {
        self.level
    }

    /// The switch that decided it.
    pub const fn decided_by(&self) -> Switch {
        self.decided_by
    }

    /// Proof that upload is allowed: `Some` only at level `On`.
    pub fn upload_token(&self) -> Option<UploadToken> {
        match self.level {
            TelemetryLevel::On => Some(UploadToken { _private: () }),
            _ => None,
        }
    }

    pub(crate) const fn from_parts(level: TelemetryLevel, decided_by: Switch) -> Decision {
        Decision { level, decided_by }
    }
}

/// Proof that the gate allowed uploads. The type that sends takes one in its (private)
/// constructor, so no code path can build it without a `Decision` at level `On`.
///
/// It cannot be made any other way:
///
/// ```compile_fail
/// let token = openllmetry::telemetry::UploadToken { _private: () };
/// ```
#[derive(Debug)]
pub struct UploadToken {
    _private: (),
}

/// Reads one environment variable (lossily converted to UTF-8); the lookup to pass to
/// [`decide`] and [`TelemetryConfig::from_lookup`](super::TelemetryConfig::from_lookup) in
/// production.
pub fn std_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// `DO_NOT_TRACK` and `CI`: set means any non-empty value other than `0` or `false`.
fn flag_set(value: Option<String>) -> bool {
    match value {
        None => false,
        Some(v) => {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
        }
    }
}

/// Decides the level once, from the builder option and the environment read through `env`.
///
/// The rule:
///
/// 1. Each switch that says something gives a level: the builder option and
///    `TRACELOOP_TELEMETRY` give theirs; `DO_NOT_TRACK` and `CI` give `off` when set to
///    anything non-empty other than `0` or `false`.
/// 2. The most restrictive of them wins: `off` > `local` > `debug` > `on`. So any `off` wins,
///    and uploads happen only when some switch asks for `on` and none asks for less.
/// 3. On a tie, the first switch in this order is reported as deciding: builder,
///    `TRACELOOP_TELEMETRY`, `DO_NOT_TRACK`, `CI`.
/// 4. When no switch says anything, the level is `local` ([`Switch::Default`]).
///
/// An invalid `TRACELOOP_TELEMETRY` is an error here; [`decide_lossy`] ignores it instead.
///
/// ```
/// use openllmetry::telemetry::{decide, Switch, TelemetryLevel};
/// let env = |name: &str| (name == "DO_NOT_TRACK").then(|| "1".to_string());
/// let d = decide(Some(TelemetryLevel::On), &env).unwrap();
/// assert_eq!((d.level(), d.decided_by()), (TelemetryLevel::Off, Switch::DoNotTrack));
/// ```
pub fn decide(
    builder: Option<TelemetryLevel>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Decision, TelemetryError> {
    match decide_lossy(builder, env) {
        (_, Some(err)) => Err(err),
        (decision, None) => Ok(decision),
    }
}

/// Like [`decide`], but an invalid `TRACELOOP_TELEMETRY` is ignored (treated as unset); the
/// error is returned beside the decision so that the caller can show it as a warning.
pub fn decide_lossy(
    builder: Option<TelemetryLevel>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Decision, Option<TelemetryError>) {
    let mut error = None;
    let env_level = match env(ENV_TELEMETRY) {
        Some(raw) if !raw.trim().is_empty() => match raw.parse::<TelemetryLevel>() {
            Ok(level) => Some(level),
            Err(source) => {
                error = Some(TelemetryError::InvalidLevel {
                    variable: ENV_TELEMETRY,
                    source,
                });
                None
            }
        },
        _ => None,
    };
    let off_if = |set: bool| set.then_some(TelemetryLevel::Off);
    let candidates = [
        (builder, Switch::Builder),
        (env_level, Switch::TraceloopTelemetry),
        (off_if(flag_set(env(ENV_DO_NOT_TRACK))), Switch::DoNotTrack),
        (off_if(flag_set(env(ENV_CI))), Switch::Ci),
    ];
    let mut decision = Decision::from_parts(TelemetryLevel::Local, Switch::Default);
    let mut best: Option<u8> = None;
    for (level, switch) in candidates {
        let Some(level) = level else { continue };
        let rank = level.restrictiveness();
        // Strictly lower only: on a tie the earlier switch keeps the credit.
        if best.is_none_or(|b| rank < b) {
            best = Some(rank);
            decision = Decision::from_parts(level, switch);
        }
    }
    (decision, error)
}
