//! The one table of environment variables the SDK reads (names, defaults, meanings).
//!
//! A leaf module: [`crate::config`] re-exports everything here and resolves the variables;
//! the telemetry module and the console exporter take their variable names from here too, so
//! every name is written once. `docs/configuration.md` is kept equal to [`ENV_VARS`] by a test.

/// One environment variable the SDK reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// Variable name.
    pub name: &'static str,
    /// Default when unset, as documented.
    pub default: &'static str,
    /// What it does.
    pub description: &'static str,
}

macro_rules! env_vars {
    ($($ident:ident = $name:literal, $default:literal, $desc:literal;)*) => {
        $(
            #[doc = concat!("`", $name, "`: ", $desc, " Default: ", $default, ".")]
            pub const $ident: &str = $name;
        )*
        /// Every environment variable the SDK reads, with its documented default.
        pub const ENV_VARS: &[EnvVar] = &[
            $(EnvVar { name: $name, default: $default, description: $desc },)*
        ];
    };
}

env_vars! {
    TRACELOOP_BASE_URL = "TRACELOOP_BASE_URL", "unset (console output; `https://api.traceloop.com` when an API key is set)", "OTLP base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended. A `grpc://`/`grpcs://` scheme selects gRPC.";
    TRACELOOP_API_KEY = "TRACELOOP_API_KEY", "unset", "API key sent as `Authorization: Bearer <key>` to the OTLP endpoint.";
    TRACELOOP_HEADERS = "TRACELOOP_HEADERS", "unset", "Extra exporter headers, `k=v,k2=v2`, URL-decoded.";
    TRACELOOP_TRACING_ENABLED = "TRACELOOP_TRACING_ENABLED", "true", "Boolean; false turns the whole SDK off (nothing is recorded or exported).";
    TRACELOOP_TRACE_CONTENT = "TRACELOOP_TRACE_CONTENT", "true", "Boolean; whether prompts, completions, tool arguments and definitions, embedding inputs and entity input/output are recorded.";
    TRACELOOP_METRICS_ENABLED = "TRACELOOP_METRICS_ENABLED", "true", "Boolean; GenAI metrics pipeline.";
    TRACELOOP_METRICS_ENDPOINT = "TRACELOOP_METRICS_ENDPOINT", "unset (the trace endpoint)", "OTLP base URL for metrics (`/v1/metrics` is appended; a `grpc://`/`grpcs://` scheme selects gRPC); wins over `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.";
    TRACELOOP_METRICS_HEADERS = "TRACELOOP_METRICS_HEADERS", "unset (the trace headers)", "Metrics exporter headers, `k=v,k2=v2`; they replace the trace headers (the API key's `Authorization` included) for metrics, as upstream does; win over `OTEL_EXPORTER_OTLP_METRICS_HEADERS`.";
    TRACELOOP_LOGGING_ENDPOINT = "TRACELOOP_LOGGING_ENDPOINT", "unset (the trace endpoint)", "OTLP base URL for logs (`/v1/logs` is appended); wins over `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.";
    TRACELOOP_LOGGING_HEADERS = "TRACELOOP_LOGGING_HEADERS", "unset (the trace headers)", "Logs exporter headers, `k=v,k2=v2`; they replace the trace headers for logs; win over `OTEL_EXPORTER_OTLP_LOGS_HEADERS`.";
    TRACELOOP_LOGGING_ENABLED = "TRACELOOP_LOGGING_ENABLED", "false", "Boolean; logs pipeline (always on with the `events` flavour).";
    TRACELOOP_OUTPUT_FLAVOUR = "TRACELOOP_OUTPUT_FLAVOUR", "current", "`current` (GenAI semconv JSON attributes), `legacy` (indexed `gen_ai.prompt.N.*` attributes), `events` (content as log events) or `semconv` (the latest experimental GenAI conventions, see `OTEL_SEMCONV_STABILITY_OPT_IN`).";
    TRACELOOP_DISABLE_BATCH = "TRACELOOP_DISABLE_BATCH", "false", "Boolean; export each span as it ends (simple processor) instead of in batches.";
    TRACELOOP_TRACE_CONTEXT_PROPAGATION = "TRACELOOP_TRACE_CONTEXT_PROPAGATION", "true", "Boolean; add a W3C `traceparent` (the LLM span) to outgoing LLM requests.";
    TRACELOOP_INSTRUMENTS = "TRACELOOP_INSTRUMENTS", "all", "Comma-separated allow-list of provider instrumentations (`openai`, `anthropic`).";
    TRACELOOP_BLOCK_INSTRUMENTS = "TRACELOOP_BLOCK_INSTRUMENTS", "none", "Comma-separated block-list of provider instrumentations.";
    TRACELOOP_MASK_SECRETS = "TRACELOOP_MASK_SECRETS", "false", "Boolean; mask API keys, bearer tokens and e-mail addresses inside recorded content.";
    TRACELOOP_TELEMETRY = "TRACELOOP_TELEMETRY", "local", "SDK fault telemetry level: `off`, `local`, `on` or `debug` (see TELEMETRY.md).";
    TRACELOOP_TELEMETRY_ENDPOINT = "TRACELOOP_TELEMETRY_ENDPOINT", "see TELEMETRY.md", "Where `on`-level telemetry reports are posted.";
    OPENLLMETRY_CONSOLE_STREAM = "OPENLLMETRY_CONSOLE_STREAM", "stderr", "Where the console exporter prints traces: `stderr` or `stdout`.";
    DO_NOT_TRACK = "DO_NOT_TRACK", "unset", "`1`/`true` forces SDK telemetry off.";
    CI = "CI", "unset", "When set (to anything but `false`/`0`), SDK telemetry is off.";
    OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED", "false", "Boolean; true turns the whole SDK off.";
    OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME", "the executable's name", "`service.name` resource attribute.";
    OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES", "unset", "Extra resource attributes, `k=v,k2=v2`, URL-decoded.";
    OTEL_PROPAGATORS = "OTEL_PROPAGATORS", "tracecontext,baggage", "Global text-map propagators, comma-separated: `tracecontext`, `baggage`, or `none` (no propagation, and no `traceparent` on LLM requests unless `TRACELOOP_TRACE_CONTEXT_PROPAGATION` says so); other values are ignored with one warning.";
    OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER", "parentbased_always_on", "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`.";
    OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG", "1.0", "Ratio for the `*traceidratio` samplers, 0.0 to 1.0.";
    OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT", "unset", "OTLP base URL (used when `TRACELOOP_BASE_URL` is unset).";
    OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "`http/protobuf`, `http/json` or `grpc`.";
    OTEL_EXPORTER_OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS", "unset", "Exporter headers, `k=v,k2=v2`, URL-decoded (merged under `TRACELOOP_HEADERS`).";
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "unset", "Full URL for traces (used as is).";
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "unset", "Full URL for metrics (used as is).";
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "unset", "Full URL for logs (used as is).";
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "unset", "Protocol for traces.";
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "unset", "Protocol for metrics.";
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "unset", "Protocol for logs.";
    OTEL_EXPORTER_OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "unset", "Headers for traces.";
    OTEL_EXPORTER_OTLP_METRICS_HEADERS = "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "unset", "Headers for metrics.";
    OTEL_EXPORTER_OTLP_LOGS_HEADERS = "OTEL_EXPORTER_OTLP_LOGS_HEADERS", "unset", "Headers for logs.";
    OTEL_EXPORTER_OTLP_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT", "10000", "Timeout of each OTLP export, in milliseconds (every signal).";
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "unset", "Timeout of each trace export, in milliseconds (takes precedence over `OTEL_EXPORTER_OTLP_TIMEOUT`).";
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "unset", "Timeout of each metric export, in milliseconds.";
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "unset", "Timeout of each log export, in milliseconds.";
    OTEL_BSP_MAX_QUEUE_SIZE = "OTEL_BSP_MAX_QUEUE_SIZE", "2048", "Maximum number of spans waiting for export; past it, new spans are dropped (counted in `openllmetry::diagnostics()`).";
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "unset (no limit)", "Maximum length, in characters, of string attribute values (and of each string in an array) of spans and span events; longer values are truncated and the span marked `openllmetry.truncated`.";
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "unset (no limit)", "Like `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, for spans only; takes precedence over it.";
    TRACELOOP_EXPORT_MAX_REQUEST_BYTES = "TRACELOOP_EXPORT_MAX_REQUEST_BYTES", "4194304", "Maximum encoded size in bytes of one span export request; batches are split to fit and a span too large on its own is exported with its largest attribute values truncated (marked `openllmetry.truncated`).";
    TRACELOOP_EXPORT_QUEUE_MAX_BYTES = "TRACELOOP_EXPORT_QUEUE_MAX_BYTES", "67108864", "Byte budget of the spans waiting for export; past it, new spans are exported with their largest attribute values truncated (marked `openllmetry.truncated`).";
    TRACELOOP_METRICS_CARDINALITY_LIMIT = "TRACELOOP_METRICS_CARDINALITY_LIMIT", "500", "Maximum number of attribute sets (series) per metric instrument; further ones are aggregated into the overflow series `otel.metric.overflow=true`.";
    OTEL_SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN", "unset", "Comma-separated list of semantic-convention opt-ins; `gen_ai_latest_experimental` selects the `semconv` flavour (the latest experimental GenAI conventions) when `TRACELOOP_OUTPUT_FLAVOUR` is unset (the Traceloop variable wins); other entries are ignored.";
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "unset", "Boolean; the OpenTelemetry GenAI instrumentations' content switch, read when `TRACELOOP_TRACE_CONTENT` is unset (the Traceloop variable wins, as `TRACELOOP_BASE_URL` wins over `OTEL_EXPORTER_OTLP_ENDPOINT`).";
}
