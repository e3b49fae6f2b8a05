//! The store: a trait ([`Store`]) with the types its queries answer with, so several backends
//! (SQLite in [`sqlite`], ClickHouse) serve the same ingest and views. Backends keep their SQL in
//! their own module; nothing here builds SQL.

use serde::Serialize;
use serde_json::Value;

use crate::extract::{LogRecordRow, SpanRecord};

pub mod clickhouse;
pub mod sqlite;

pub use sqlite::SqliteStore;

/// Rows deleted per retention statement, so one pass never holds the writer for long.
pub const RETENTION_CHUNK_ROWS: i64 = 2_000;
/// Most traces the size cap deletes per step (a tenth of the traces, at least one).
pub const RETENTION_CHUNK_TRACES: i64 = 200;
/// Most size-cap steps per retention pass (the next pass continues).
pub const RETENTION_MAX_STEPS: usize = 64;
/// Largest page size the traces list answers with.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A lock was poisoned by a panic elsewhere.
    #[error("store lock poisoned")]
    Poisoned,
    /// Another backend failed (its message; never contains credentials).
    #[error("store backend: {0}")]
    Backend(String),
}

/// Filters and paging of the traces list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct TraceQuery {
    /// Traces starting at or after this Unix nanosecond time.
    pub from_ns: Option<i64>,
    /// Traces starting before this Unix nanosecond time.
    pub to_ns: Option<i64>,
    /// Some span has this service.
    pub service: Option<String>,
    /// Some span has this provider.
    pub provider: Option<String>,
    /// Some span has this model.
    pub model: Option<String>,
    /// `error`: some span failed; `ok`: none failed.
    pub status: Option<String>,
    /// Some span has this entity or workflow name.
    pub entity: Option<String>,
    /// Some span has this conversation id.
    pub conversation: Option<String>,
    /// With `assoc_value`: some span has this association property (e.g. `user_id`).
    pub assoc_key: Option<String>,
    /// The association property's value.
    pub assoc_value: Option<String>,
    /// Full-text (substring) search over prompts and completions, spans and log records.
    pub q: Option<String>,
    /// Page size (default 50, at most [`MAX_PAGE_SIZE`]).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// One row of the traces list.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TraceSummary {
    /// Trace id.
    pub trace_id: String,
    /// Earliest span start.
    pub start_ns: i64,
    /// Latest span end minus earliest start.
    pub duration_ns: i64,
    /// Name of the root span (or of the earliest span when the root is missing).
    pub root_name: String,
    /// Service of that span.
    pub service: String,
    /// Spans in the trace.
    pub spans: i64,
    /// LLM spans in the trace.
    pub llm_calls: i64,
    /// Sum of input tokens.
    pub input_tokens: i64,
    /// Sum of output tokens.
    pub output_tokens: i64,
    /// Sum of the known costs; `None` when no LLM span has a known cost.
    pub cost: Option<f64>,
    /// LLM spans whose cost is unknown.
    pub unknown_cost_calls: i64,
    /// Spans with error status.
    pub errors: i64,
}

/// Counters of the store.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct StoreStats {
    /// Spans stored.
    pub spans: i64,
    /// Log records stored.
    pub logs: i64,
    /// Bytes used by live pages.
    pub bytes: i64,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetentionOutcome {
    /// Spans deleted.
    pub spans_deleted: u64,
    /// Log records deleted.
    pub logs_deleted: u64,
}

/// A store of spans and log records.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Writes a batch.
    fn insert(&self, spans: &[SpanRecord], logs: &[LogRecordRow]) -> Result<(), StoreError>;
    /// The traces list.
    fn list_traces(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError>;
    /// All spans of a trace, ordered by start.
    fn trace_spans(&self, trace_id: &str) -> Result<Vec<Value>, StoreError>;
    /// One span with its log records, or `None`.
    fn span(&self, trace_id: &str, span_id: &str) -> Result<Option<Value>, StoreError>;
    /// Deletes data older than `min_start_ns`, then the oldest data until the store is at most
    /// `max_bytes` (when given), in chunks of [`RETENTION_CHUNK_ROWS`].
    fn retain(
        &self,
        min_start_ns: Option<i64>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionOutcome, StoreError>;
    /// Sessions, most recent first.
    fn sessions(
        &self,
        by: &SessionKey,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<SessionSummary>, StoreError>;
    /// Counters.
    fn stats(&self) -> Result<StoreStats, StoreError>;
    /// The schema version (number of migrations applied).
    fn schema_version(&self) -> Result<i64, StoreError>;
    /// The rows the dashboard aggregates: one per LLM span starting in `[from_ns, to_ns)`, at
    /// most [`MAX_DASHBOARD_SPANS`] (the most recent), grouped by `split`.
    fn dashboard_rows(
        &self,
        from_ns: i64,
        to_ns: i64,
        split: Split,
    ) -> Result<Vec<DashboardRow>, StoreError>;
    /// Stores one validated SDK fault report received at `received_ns` (no peer address).
    fn insert_fault_report(&self, received_ns: i64, report: &FaultReport)
    -> Result<(), StoreError>;
    /// Fault counts summed per time bucket (`bucket_ns` wide, aligned on multiples of it), SDK
    /// version, component, operation and kind, for reports received in `[from_ns, to_ns)`.
    fn fault_counts(
        &self,
        from_ns: i64,
        to_ns: i64,
        bucket_ns: i64,
    ) -> Result<Vec<FaultCount>, StoreError>;
}

/// Most LLM spans one dashboard query aggregates (the most recent in the range); the answer says
/// when it was cut (`truncated`).
pub const MAX_DASHBOARD_SPANS: usize = 2_000_000;
/// Most groups (models, providers or services) the dashboard splits into; the rest is `other`.
pub const MAX_DASHBOARD_GROUPS: usize = 12;
/// Default and largest number of time buckets of the dashboard.
pub const DEFAULT_DASHBOARD_BUCKETS: u32 = 30;
/// Largest number of time buckets of the dashboard.
pub const MAX_DASHBOARD_BUCKETS: u32 = 500;

/// What the dashboard splits its series by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Split {
    /// One series.
    #[default]
    None,
    /// By model.
    Model,
    /// By provider.
    Provider,
    /// By service.
    Service,
}

/// One LLM span as the dashboard sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DashboardRow {
    /// Span start, Unix nanoseconds.
    pub start_ns: i64,
    /// Duration in nanoseconds.
    pub duration_ns: i64,
    /// Time to first token/chunk in nanoseconds, when recorded.
    pub ttft_ns: Option<i64>,
    /// The split value (model, provider or service; empty for [`Split::None`] or unknown).
    pub group: String,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost, when known.
    pub cost: Option<f64>,
    /// Error status.
    pub error: bool,
}

impl DashboardRow {
    /// A row.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        start_ns: i64,
        duration_ns: i64,
        ttft_ns: Option<i64>,
        group: String,
        input_tokens: i64,
        output_tokens: i64,
        cost: Option<f64>,
        error: bool,
    ) -> Self {
        DashboardRow {
            start_ns,
            duration_ns,
            ttft_ns,
            group,
            input_tokens,
            output_tokens,
            cost,
            error,
        }
    }
}

/// Dashboard request (the API's query string).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct DashboardQuery {
    /// Start of the range (default: 24 h before `to_ns`).
    pub from_ns: Option<i64>,
    /// End of the range (default: now).
    pub to_ns: Option<i64>,
    /// Number of time buckets (default [`DEFAULT_DASHBOARD_BUCKETS`], at most
    /// [`MAX_DASHBOARD_BUCKETS`]).
    pub buckets: Option<u32>,
    /// Split series by model, provider or service.
    #[serde(default)]
    pub split: Split,
}

/// One point of a dashboard series (or a group's total when `bucket_start_ns` is the range start
/// and the point is in `totals`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct DashboardPoint {
    /// Bucket start, Unix nanoseconds.
    pub bucket_start_ns: i64,
    /// The group (model, provider, service, `other`, or empty when not split).
    pub group: String,
    /// LLM calls.
    pub calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Sum of known costs (`None` when none is known).
    pub cost: Option<f64>,
    /// Calls whose cost is unknown.
    pub unknown_cost_calls: i64,
    /// Calls with error status.
    pub errors: i64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Median latency, milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency, milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// Median time to first token, milliseconds (streamed calls only).
    pub ttft_p50_ms: Option<f64>,
    /// 95th percentile time to first token, milliseconds.
    pub ttft_p95_ms: Option<f64>,
}

/// The dashboard: series over time and totals per group.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Dashboard {
    /// Range start.
    pub from_ns: i64,
    /// Range end.
    pub to_ns: i64,
    /// Bucket width.
    pub bucket_ns: i64,
    /// The split.
    pub split: Split,
    /// Groups, largest first.
    pub groups: Vec<String>,
    /// Points, by bucket then group; buckets without calls are absent.
    pub points: Vec<DashboardPoint>,
    /// One point per group over the whole range.
    pub totals: Vec<DashboardPoint>,
    /// Whether [`MAX_DASHBOARD_SPANS`] cut the rows (the oldest were left out).
    pub truncated: bool,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1] as f64 / 1e6)
}

fn point(bucket_start_ns: i64, group: &str, rows: &[&DashboardRow]) -> DashboardPoint {
    let mut lat: Vec<i64> = rows.iter().map(|r| r.duration_ns).collect();
    let mut ttft: Vec<i64> = rows.iter().filter_map(|r| r.ttft_ns).collect();
    lat.sort_unstable();
    ttft.sort_unstable();
    let calls = rows.len() as i64;
    let errors = rows.iter().filter(|r| r.error).count() as i64;
    let known: Vec<f64> = rows.iter().filter_map(|r| r.cost).collect();
    DashboardPoint {
        bucket_start_ns,
        group: group.to_string(),
        calls,
        input_tokens: rows.iter().map(|r| r.input_tokens).sum(),
        output_tokens: rows.iter().map(|r| r.output_tokens).sum(),
        cost: (!known.is_empty()).then(|| known.iter().sum()),
        unknown_cost_calls: calls - known.len() as i64,
        errors,
        error_rate: if calls > 0 {
            errors as f64 / calls as f64
        } else {
            0.0
        },
        latency_p50_ms: percentile(&lat, 0.5),
        latency_p95_ms: percentile(&lat, 0.95),
        ttft_p50_ms: percentile(&ttft, 0.5),
        ttft_p95_ms: percentile(&ttft, 0.95),
    }
}

/// Builds the dashboard from a backend's rows; shared by every backend.
pub fn dashboard(
    store: &dyn Store,
    q: &DashboardQuery,
    now_ns: i64,
) -> Result<Dashboard, StoreError> {
    let to_ns = q.to_ns.unwrap_or(now_ns);
    let from_ns = q
        .from_ns
        .unwrap_or(to_ns - 24 * 3_600 * 1_000_000_000)
        .min(to_ns - 1);
    let rows = store.dashboard_rows(from_ns, to_ns, q.split)?;
    let truncated = rows.len() >= MAX_DASHBOARD_SPANS;
    let buckets = i64::from(
        q.buckets
            .unwrap_or(DEFAULT_DASHBOARD_BUCKETS)
            .clamp(1, MAX_DASHBOARD_BUCKETS),
    );
    let bucket_ns = ((to_ns - from_ns) + buckets - 1) / buckets;
    let bucket_ns = bucket_ns.max(1);
    // Groups, largest first; beyond MAX_DASHBOARD_GROUPS folded into "other".
    let mut sizes: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in &rows {
        *sizes.entry(r.group.as_str()).or_default() += 1;
    }
    let mut groups: Vec<(&str, usize)> = sizes.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept: std::collections::HashSet<&str> = groups
        .iter()
        .take(MAX_DASHBOARD_GROUPS)
        .map(|g| g.0)
        .collect();
    let group_of = |r: &DashboardRow| -> String {
        if kept.contains(r.group.as_str()) {
            r.group.clone()
        } else {
            "other".to_string()
        }
    };
    let mut by_bucket: std::collections::BTreeMap<(i64, String), Vec<&DashboardRow>> =
        Default::default();
    let mut by_group: std::collections::BTreeMap<String, Vec<&DashboardRow>> = Default::default();
    for r in &rows {
        let b = from_ns + (r.start_ns - from_ns).div_euclid(bucket_ns) * bucket_ns;
        let g = group_of(r);
        by_bucket.entry((b, g.clone())).or_default().push(r);
        by_group.entry(g).or_default().push(r);
    }
    let mut totals: Vec<DashboardPoint> = by_group
        .iter()
        .map(|(g, rs)| point(from_ns, g, rs))
        .collect();
    totals.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.group.cmp(&b.group)));
    Ok(Dashboard {
        from_ns,
        to_ns,
        bucket_ns,
        split: q.split,
        groups: totals.iter().map(|t| t.group.clone()).collect(),
        points: by_bucket
            .iter()
            .map(|((b, g), rs)| point(*b, g, rs))
            .collect(),
        totals,
        truncated,
    })
}

/// One entry of an SDK fault report (TELEMETRY.md schema version 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultEntry {
    /// Component (provider wire format or SDK part).
    pub component: String,
    /// Operation.
    pub operation: String,
    /// Fault kind.
    pub kind: String,
    /// Count since the previous report (at least 1).
    pub count: u64,
}

/// An SDK fault report (TELEMETRY.md schema version 1), validated by
/// [`crate::faults::parse_report`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultReport {
    /// Always 1.
    pub schema_version: u32,
    /// SDK version.
    pub sdk_version: String,
    /// Always `rust`.
    pub language: String,
    /// Operating system family.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// The counted keys.
    pub entries: Vec<FaultEntry>,
}

/// Summed fault counts of one time bucket and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FaultCount {
    /// Bucket start, Unix nanoseconds.
    pub bucket_start_ns: i64,
    /// SDK version.
    pub sdk_version: String,
    /// Component.
    pub component: String,
    /// Operation.
    pub operation: String,
    /// Fault kind.
    pub kind: String,
    /// Summed count.
    pub count: i64,
}

impl FaultCount {
    /// A count.
    pub fn new(
        bucket_start_ns: i64,
        sdk_version: String,
        component: String,
        operation: String,
        kind: String,
        count: i64,
    ) -> Self {
        FaultCount {
            bucket_start_ns,
            sdk_version,
            component,
            operation,
            kind,
            count,
        }
    }
}

/// How traces are grouped into sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionKey {
    /// By `gen_ai.conversation.id` (else `session.id`).
    Conversation,
    /// By an association property (`traceloop.association.properties.<name>`).
    Association(String),
}

/// One session: traces sharing a conversation id or an association property value.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SessionSummary {
    /// The conversation id or property value.
    pub key: String,
    /// Traces in the session.
    pub traces: i64,
    /// Earliest span start.
    pub first_ns: i64,
    /// Latest span end.
    pub last_ns: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Sum of the known costs (`None` when none is known).
    pub cost: Option<f64>,
    /// LLM calls whose cost is unknown.
    pub unknown_cost_calls: i64,
    /// Spans with error status.
    pub errors: i64,
}
