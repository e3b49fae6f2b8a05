//! The gate: every combination of builder × TRACELOOP_TELEMETRY × DO_NOT_TRACK × CI, the one
//! parser, the config lookup, and the state before install. Nothing here calls `install`.

mod telemetry_support;

use openllmetry::telemetry::{
    self, DEFAULT_ENDPOINT, Switch, TelemetryConfig, TelemetryError, TelemetryLevel, decide,
    decide_lossy,
};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use telemetry_support::{env, fault, telemetry_threads};

use TelemetryLevel::{Debug, Local, Off, On};

/// What each raw `TRACELOOP_TELEMETRY` value means, written out by hand.
fn env_meaning(raw: Option<&str>) -> Option<TelemetryLevel> {
    match raw? {
        "off" | "FALSE" | "0" | " no " => Some(Off),
        "local" | "Local" => Some(Local),
        "on" | "true" | "1" | "YES" => Some(On),
        "debug" | "DEBUG" => Some(Debug),
        _ => None, // unset, empty, or invalid
    }
}

/// `DO_NOT_TRACK` / `CI` values that switch telemetry off, written out by hand.
fn flag_means_off(raw: Option<&str>) -> bool {
    matches!(raw, Some("1" | "true" | "TRUE" | "yes" | "github-actions"))
}

/// The expected decision as a precedence ladder (a different formulation from the
/// implementation's "most restrictive wins" fold).
fn expected(
    builder: Option<TelemetryLevel>,
    env_raw: Option<&str>,
    dnt: Option<&str>,
    ci: Option<&str>,
) -> (TelemetryLevel, Switch) {
    let env_level = env_meaning(env_raw);
    let ladder: [(bool, TelemetryLevel, Switch); 10] = [
        (builder == Some(Off), Off, Switch::Builder),
        (env_level == Some(Off), Off, Switch::TraceloopTelemetry),
        (flag_means_off(dnt), Off, Switch::DoNotTrack),
        (flag_means_off(ci), Off, Switch::Ci),
        (builder == Some(Local), Local, Switch::Builder),
        (env_level == Some(Local), Local, Switch::TraceloopTelemetry),
        (builder == Some(Debug), Debug, Switch::Builder),
        (env_level == Some(Debug), Debug, Switch::TraceloopTelemetry),
        (builder == Some(On), On, Switch::Builder),
        (env_level == Some(On), On, Switch::TraceloopTelemetry),
    ];
    ladder
        .iter()
        .find(|(hit, _, _)| *hit)
        .map(|(_, level, switch)| (*level, *switch))
        .unwrap_or((Local, Switch::Default))
}

#[test]
fn every_switch_combination() {
    let builders = [None, Some(Off), Some(Local), Some(On), Some(Debug)];
    let env_values = [
        None,
        Some(""),
        Some("off"),
        Some("FALSE"),
        Some("0"),
        Some(" no "),
        Some("local"),
        Some("Local"),
        Some("on"),
        Some("true"),
        Some("1"),
        Some("YES"),
        Some("debug"),
        Some("DEBUG"),
        Some("banana"),
        Some("2"),
    ];
    let flags = [
        None,
        Some(""),
        Some("1"),
        Some("true"),
        Some("TRUE"),
        Some("yes"),
        Some("github-actions"),
        Some("0"),
        Some("false"),
        Some("False"),
    ];
    let mut checked = 0;
    for builder in builders {
        for env_raw in env_values {
            for dnt in flags {
                for ci in flags {
                    let mut pairs = Vec::new();
                    if let Some(v) = env_raw {
                        pairs.push(("TRACELOOP_TELEMETRY", v));
                    }
                    if let Some(v) = dnt {
                        pairs.push(("DO_NOT_TRACK", v));
                    }
                    if let Some(v) = ci {
                        pairs.push(("CI", v));
                    }
                    let lookup = env(&pairs);
                    let want = expected(builder, env_raw, dnt, ci);
                    let case = format!("builder={builder:?} env={env_raw:?} dnt={dnt:?} ci={ci:?}");

                    let (lossy, warning) = decide_lossy(builder, &lookup);
                    assert_eq!((lossy.level(), lossy.decided_by()), want, "{case}");

                    let invalid = matches!(env_raw, Some("banana" | "2"));
                    assert_eq!(warning.is_some(), invalid, "{case}");
                    match decide(builder, &lookup) {
                        Ok(strict) => {
                            assert!(!invalid, "{case}");
                            assert_eq!(strict, lossy, "{case}");
                        }
                        Err(TelemetryError::InvalidLevel { variable, source }) => {
                            assert!(invalid, "{case}");
                            assert_eq!(variable, "TRACELOOP_TELEMETRY");
                            assert_eq!(Some(source.value()), env_raw.map(str::trim));
                        }
                        Err(other) => panic!("{case}: {other}"),
                    }
                    // Only a decision at `on` can hand out the sender's token.
                    assert_eq!(lossy.upload_token().is_some(), want.0 == On, "{case}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 5 * 16 * 10 * 10);
}

/// Builder option, environment, expected level, expected switch.
type Case = (
    Option<TelemetryLevel>,
    &'static [(&'static str, &'static str)],
    TelemetryLevel,
    Switch,
);

#[test]
fn readable_cases() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (None, &[], Local, Switch::Default),
        (Some(On), &[], On, Switch::Builder),
        (None, &[("TRACELOOP_TELEMETRY", "true")], On, Switch::TraceloopTelemetry),
        // Any off wins, whoever asked for on.
        (Some(On), &[("TRACELOOP_TELEMETRY", "false")], Off, Switch::TraceloopTelemetry),
        (None, &[("TRACELOOP_TELEMETRY", "on"), ("DO_NOT_TRACK", "1")], Off, Switch::DoNotTrack),
        (Some(On), &[("CI", "true")], Off, Switch::Ci),
        (Some(Off), &[("TRACELOOP_TELEMETRY", "on")], Off, Switch::Builder),
        // The builder's off is never ignored (upstream #3175).
        (Some(Off), &[], Off, Switch::Builder),
        // An operator's `local` beats an application's `on`, and the other way round.
        (Some(On), &[("TRACELOOP_TELEMETRY", "local")], Local, Switch::TraceloopTelemetry),
        (Some(Local), &[("TRACELOOP_TELEMETRY", "on")], Local, Switch::Builder),
        // Debug sends nothing, so it beats on.
        (Some(On), &[("TRACELOOP_TELEMETRY", "debug")], Debug, Switch::TraceloopTelemetry),
        (Some(Debug), &[], Debug, Switch::Builder),
        // CI=false and DO_NOT_TRACK=0 are not set.
        (Some(On), &[("CI", "false"), ("DO_NOT_TRACK", "0")], On, Switch::Builder),
    ];
    for (builder, pairs, level, switch) in cases {
        let d = decide(*builder, &env(pairs)).unwrap();
        assert_eq!(
            (d.level(), d.decided_by()),
            (*level, *switch),
            "{builder:?} {pairs:?}"
        );
    }
}

#[test]
fn one_parser_for_builder_and_env() {
    let spellings = [
        ("off", Off),
        ("false", Off),
        ("0", Off),
        ("no", Off),
        ("local", Local),
        ("on", On),
        ("true", On),
        ("1", On),
        ("yes", On),
        ("debug", Debug),
    ];
    for (s, level) in spellings {
        for variant in [s.to_string(), s.to_uppercase(), format!("  {s}\t")] {
            assert_eq!(variant.parse::<TelemetryLevel>(), Ok(level), "{variant:?}");
            let from_builder = decide(Some(variant.parse().unwrap()), &env(&[])).unwrap();
            let from_env = decide(None, &env(&[("TRACELOOP_TELEMETRY", &variant)])).unwrap();
            assert_eq!(from_builder.level(), from_env.level(), "{variant:?}");
        }
    }
    for bad in ["", "enabled", "offf", "2", "-1", "tru e"] {
        let err = bad.parse::<TelemetryLevel>().unwrap_err();
        assert!(
            err.to_string().contains("expected off, local, on or debug"),
            "{err}"
        );
    }
    for level in TelemetryLevel::ALL {
        assert_eq!(level.as_str().parse::<TelemetryLevel>(), Ok(level));
        assert_eq!(level.to_string(), level.as_str());
    }
    assert_eq!(TelemetryLevel::from(true), On);
    assert_eq!(TelemetryLevel::from(false), Off);
    assert_eq!(Switch::DoNotTrack.to_string(), "DO_NOT_TRACK");
}

#[test]
fn endpoint_override() {
    let c = TelemetryConfig::from_lookup(&env(&[])).unwrap();
    assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
    let c = TelemetryConfig::from_lookup(&env(&[(
        "TRACELOOP_TELEMETRY_ENDPOINT",
        " http://10.0.0.5:8080/v1/reports ",
    )]))
    .unwrap();
    assert_eq!(c.endpoint(), "http://10.0.0.5:8080/v1/reports");
    let bad = env(&[("TRACELOOP_TELEMETRY_ENDPOINT", "ftp://x")]);
    assert!(matches!(
        TelemetryConfig::from_lookup(&bad),
        Err(TelemetryError::InvalidEndpoint { .. })
    ));
    let (c, warning) = TelemetryConfig::from_lookup_lossy(&bad);
    assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
    assert!(warning.is_some());
}

#[test]
fn nothing_is_recorded_before_install() {
    let status = telemetry::status();
    assert!(!status.installed());
    let (from_env, _) = decide_lossy(None, &telemetry::std_env);
    assert_eq!(
        (status.level(), status.decided_by()),
        (from_env.level(), from_env.decided_by())
    );
    for _ in 0..100 {
        telemetry::record_fault(&fault(
            ApiFormat::OpenAi,
            Operation::Chat,
            FaultKind::InvalidJson,
        ));
        telemetry::record_sdk_fault(telemetry::Component::SdkInit, telemetry::Kind::InitFailed);
    }
    assert!(telemetry::fault_counts().is_empty());
    assert_eq!(telemetry::preview(), None);
    assert!(!telemetry::__worker_started());
    assert_eq!(telemetry_threads(), 0);
    telemetry::shutdown();
}
