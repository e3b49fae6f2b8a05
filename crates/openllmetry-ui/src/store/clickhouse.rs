//! The ClickHouse store: the same ingest and queries as SQLite over ClickHouse's HTTP interface,
//! so several stateless `ui` instances can share one ClickHouse.
//!
//! Written for the oldest ClickHouse still packaged by Debian (`clickhouse-server` 18.16) and
//! current releases alike: plain columns, `Nullable`, `Array(String)`, `MergeTree` engines, no
//! `DateTime64`, no `Map`, no JSON functions; timestamps are `UInt64` Unix nanoseconds.
//!
//! **Values never reach SQL text unescaped.** Rows are sent in the request body as
//! `FORMAT JSONEachRow` (serialised by `serde_json`); the few string values a query filters on
//! (service, model, search text, ...) go through one function, [`quote`], which writes a
//! ClickHouse string literal with every quote, backslash and control character escaped. Numbers
//! are formatted from integer types. Identifiers (the database name) are checked against
//! `[A-Za-z_][A-Za-z0-9_]*` and back-quoted. (ClickHouse's `param_` query parameters would be
//! nicer but 18.16 does not have them.)
//!
//! **Schema migrations** are numbered, recorded in table `openllmetry_schema`, and each
//! statement is idempotent (`IF NOT EXISTS`), so several instances starting at once against one
//! database are safe.
//!
//! **Duplicates**: spans live in a `ReplacingMergeTree` keyed by `(trace_id, span_id)` with the
//! insert time as version, and every read uses `FINAL`, so a span delivered twice (an exporter
//! retrying) counts once and the last write wins, as with SQLite's `INSERT OR REPLACE`.
//!
//! **Retention by age** drops whole daily partitions older than the cut-off day, then deletes the
//! remaining older rows with one `ALTER TABLE ... DELETE` mutation per table (only when such rows
//! exist) and waits at most [`MUTATION_WAIT`] for it. **By size**: when the active parts of the
//! database exceed the cap, one pass deletes the oldest tenth of the traces (by start).
//!
//! Every call blocks (a blocking HTTP client); call it from a blocking thread
//! (`tokio::task::spawn_blocking` or the writer thread), never from async code.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde_json::Value;

use super::{
    DashboardRow, FaultCount, FaultReport, MAX_DASHBOARD_SPANS, MAX_PAGE_SIZE, RetentionOutcome,
    SessionKey, SessionSummary, Split, Store, StoreError, StoreStats, TraceQuery, TraceSummary,
};
use crate::extract::{LogRecordRow, SpanRecord, log_content};

/// Port of ClickHouse's HTTP interface when the URL has none.
pub const DEFAULT_HTTP_PORT: u16 = 8123;
/// Database when the URL has no path.
pub const DEFAULT_DATABASE: &str = "default";
/// Environment variable with the user, when the URL has none.
pub const ENV_USER: &str = "OPENLLMETRY_CLICKHOUSE_USER";
/// Environment variable with the password, when the URL has none.
pub const ENV_PASSWORD: &str = "OPENLLMETRY_CLICKHOUSE_PASSWORD";
/// Longest time one HTTP request to ClickHouse may take (connect, query, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time to establish the TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time a retention pass waits for its delete mutations to finish; past it the pass
/// returns and ClickHouse completes them in the background.
pub const MUTATION_WAIT: Duration = Duration::from_secs(10);
/// Largest part of a ClickHouse error message kept in a [`StoreError`] (its first line only;
/// a message can quote the query, so it is never logged whole).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 300;

/// One idempotent step of a migration.
enum Step {
    /// A statement that is idempotent itself (`CREATE ... IF NOT EXISTS`); `{db}` is replaced
    /// by the quoted database name.
    Sql(&'static str),
    /// `ALTER TABLE table ADD COLUMN column type`, skipped when the column exists (18.16 has no
    /// `ADD COLUMN IF NOT EXISTS`).
    AddColumn(&'static str, &'static str, &'static str),
}

/// The schema migrations; `MIGRATIONS[i]` moves the schema from version `i` to `i + 1`. Every
/// step is idempotent, so instances starting at once against one database are safe.
const MIGRATIONS: &[&[Step]] = &[
    &[
        Step::Sql(
            "CREATE TABLE IF NOT EXISTS {db}.spans (
        trace_id String, span_id String, parent_span_id Nullable(String), name String,
        kind Int32, service String, start_ns UInt64, end_ns UInt64, status_code Int32,
        status_message String, provider Nullable(String), model Nullable(String),
        operation Nullable(String), input_tokens Nullable(Int64), output_tokens Nullable(Int64),
        cache_read_tokens Nullable(Int64), cache_write_tokens Nullable(Int64),
        reasoning_tokens Nullable(Int64), cost Nullable(Float64), workflow_name Nullable(String),
        entity_name Nullable(String), conversation_id Nullable(String),
        assoc_keys Array(String), assoc_values Array(String), association String,
        attributes String, events String, content String, is_llm UInt8, inserted_ns UInt64
     ) ENGINE = ReplacingMergeTree(inserted_ns)
     PARTITION BY toYYYYMMDD(toDateTime(intDiv(start_ns, 1000000000)))
     ORDER BY (trace_id, span_id)",
        ),
        Step::Sql(
            "CREATE TABLE IF NOT EXISTS {db}.logs (
        trace_id String, span_id String, time_ns UInt64, seq UInt64, event_name String,
        body String, attributes String, service String, content String
     ) ENGINE = MergeTree()
     PARTITION BY toYYYYMMDD(toDateTime(intDiv(time_ns, 1000000000)))
     ORDER BY (trace_id, span_id, time_ns, seq)",
        ),
    ],
    &[
        Step::AddColumn("spans", "ttft_ns", "Nullable(Int64)"),
        Step::Sql(
            "CREATE TABLE IF NOT EXISTS {db}.faults (
        received_ns UInt64, sdk_version String, os String, arch String, component String,
        operation String, kind String, count Int64
     ) ENGINE = MergeTree()
     PARTITION BY toYYYYMMDD(toDateTime(intDiv(received_ns, 1000000000)))
     ORDER BY (received_ns, sdk_version, component, operation, kind)",
        ),
    ],
];

/// The schema version this build migrates to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Where and as whom to connect.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClickHouseConfig {
    /// `http://host:port/` of the HTTP interface.
    pub endpoint: Url,
    /// Database (created when missing).
    pub database: String,
    /// User (`None`: ClickHouse's `default`).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn config_error(msg: impl Into<String>) -> StoreError {
    StoreError::Backend(format!("clickhouse: {}", msg.into()))
}

/// A valid unquoted identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most 64 bytes.
fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| config_error("bad percent-encoding in the store URL"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| config_error("store URL credentials are not UTF-8"))
}

impl ClickHouseConfig {
    /// Parses `clickhouse://[user[:password]@]host[:port][/database]`; the user and password
    /// come from [`ENV_USER`] / [`ENV_PASSWORD`] when the URL has none.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        Self::from_url_with_env(url, |k| std::env::var(k).ok())
    }

    /// As [`from_url`](Self::from_url), reading the environment through `env`.
    pub fn from_url_with_env(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StoreError> {
        // The error never repeats the URL: it may hold a password.
        let parsed = Url::parse(url).map_err(|e| config_error(format!("bad store URL: {e}")))?;
        if parsed.scheme() != "clickhouse" {
            return Err(config_error("the store URL must start with clickhouse://"));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| config_error("the store URL has no host"))?;
        let port = parsed.port().unwrap_or(DEFAULT_HTTP_PORT);
        let path = parsed.path().trim_matches('/');
        let database = if path.is_empty() {
            DEFAULT_DATABASE.to_string()
        } else {
            path.to_string()
        };
        if !valid_identifier(&database) {
            return Err(config_error(
                "the database name must match [A-Za-z_][A-Za-z0-9_]* (at most 64 bytes)",
            ));
        }
        let user = match parsed.username() {
            "" => env(ENV_USER).filter(|u| !u.is_empty()),
            u => Some(percent_decode(u)?),
        };
        let password = match parsed.password() {
            Some(p) => Some(percent_decode(p)?),
            None => env(ENV_PASSWORD),
        };
        let endpoint = Url::parse(&format!("http://{host}:{port}/"))
            .map_err(|e| config_error(format!("bad store URL host: {e}")))?;
        Ok(ClickHouseConfig {
            endpoint,
            database,
            user,
            password,
        })
    }
}

/// Writes `s` as a ClickHouse single-quoted string literal: `\` and `'` are escaped with a
/// backslash, control characters as `\n`, `\r`, `\t`, `\0` or `\xHH`. The only way a value
/// enters SQL text in this module.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The ClickHouse store.
#[derive(Debug)]
pub struct ClickHouseStore {
    config: ClickHouseConfig,
    /// The database name, back-quoted.
    db: String,
    client: reqwest::blocking::Client,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// An `i64` read from JSON (ClickHouse may quote 64-bit integers).
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn json_text(v: &Value) -> Value {
    v.as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// Column list of span reads; [`span_json`] maps a row back to the SQLite store's shape.
const SPAN_COLUMNS: &str = "trace_id, span_id, parent_span_id, name, kind, service, start_ns, \
    end_ns, status_code, status_message, provider, model, operation, input_tokens, output_tokens, \
    cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, workflow_name, entity_name, \
    conversation_id, association, attributes, events, is_llm, ttft_ns";

fn span_json(r: &Value) -> Value {
    let s = |k: &str| text(&r[k]);
    let os = |k: &str| r[k].as_str().map(|v| Value::String(v.to_string()));
    let oi = |k: &str| int(&r[k]);
    serde_json::json!({
        "trace_id": s("trace_id"),
        "span_id": s("span_id"),
        "parent_span_id": os("parent_span_id"),
        "name": s("name"),
        "kind": oi("kind").unwrap_or(0),
        "service": s("service"),
        "start_ns": oi("start_ns").unwrap_or(0),
        "end_ns": oi("end_ns").unwrap_or(0),
        "status_code": oi("status_code").unwrap_or(0),
        "status_message": s("status_message"),
        "provider": os("provider"),
        "model": os("model"),
        "operation": os("operation"),
        "input_tokens": oi("input_tokens"),
        "output_tokens": oi("output_tokens"),
        "cache_read_tokens": oi("cache_read_tokens"),
        "cache_write_tokens": oi("cache_write_tokens"),
        "reasoning_tokens": oi("reasoning_tokens"),
        "cost": float(&r["cost"]),
        "workflow_name": os("workflow_name"),
        "entity_name": os("entity_name"),
        "conversation_id": os("conversation_id"),
        "association": json_text(&r["association"]),
        "attributes": json_text(&r["attributes"]),
        "events": json_text(&r["events"]),
        "is_llm": oi("is_llm").unwrap_or(0) != 0,
        "ttft_ns": oi("ttft_ns"),
    })
}

/// `(isNotNull(col) AND assumeNotNull(col) = 'value')`: equality on a `Nullable` column that
/// is false (not NULL) for NULL, as aggregate `-If` conditions need.
fn eq_nullable(col: &str, value: &str) -> String {
    format!(
        "(isNotNull({col}) AND assumeNotNull({col}) = {})",
        quote(value)
    )
}

/// The association properties as parallel key / value arrays (string values as they are,
/// others as JSON text), for filters and sessions.
fn assoc_arrays(assoc: &Value) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut values = Vec::new();
    if let Some(m) = assoc.as_object() {
        for (k, v) in m {
            keys.push(k.clone());
            values.push(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    (keys, values)
}

impl ClickHouseStore {
    /// Connects to the store at a `clickhouse://` URL (see [`ClickHouseConfig::from_url`]).
    pub fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::open(ClickHouseConfig::from_url(url)?)
    }

    /// Connects, creates the database when missing and applies the pending migrations.
    /// Blocking: call it from a blocking thread.
    pub fn open(config: ClickHouseConfig) -> Result<Self, StoreError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| config_error(format!("http client: {e}")))?;
        let db = format!("`{}`", config.database);
        let store = ClickHouseStore { config, db, client };
        store.execute_in(None, &format!("CREATE DATABASE IF NOT EXISTS {}", store.db))?;
        store.execute(&format!(
            "CREATE TABLE IF NOT EXISTS {}.openllmetry_schema (version UInt32, applied_ns UInt64) \
             ENGINE = MergeTree() ORDER BY version",
            store.db
        ))?;
        let current = store.schema_version()?.max(0) as usize;
        for (i, statements) in MIGRATIONS.iter().enumerate().skip(current) {
            for step in *statements {
                store.apply(step)?;
            }
            let row = serde_json::json!({"version": i + 1, "applied_ns": now_ns()});
            store.insert_rows("openllmetry_schema", &row.to_string())?;
        }
        Ok(store)
    }

    /// The configuration (its `Debug` hides the password).
    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    fn apply(&self, step: &Step) -> Result<(), StoreError> {
        match step {
            Step::Sql(sql) => self.execute(&sql.replace("{db}", &self.db)),
            Step::AddColumn(table, column, ty) => {
                let exists = self.count(&format!(
                    "SELECT count() AS n FROM system.columns WHERE database = {} AND table = {} AND name = {}",
                    quote(&self.config.database),
                    quote(table),
                    quote(column)
                ))?;
                if exists > 0 {
                    return Ok(());
                }
                match self.execute(&format!(
                    "ALTER TABLE {}.{table} ADD COLUMN {column} {ty}",
                    self.db
                )) {
                    // Another instance added it between the check and the ALTER.
                    Err(e) if e.to_string().contains("already exists") => Ok(()),
                    other => other,
                }
            }
        }
    }

    fn request(
        &self,
        database: Option<&str>,
        query_param: Option<&str>,
        body: String,
    ) -> Result<String, StoreError> {
        let mut url = self.config.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(db) = database {
                q.append_pair("database", db);
            }
            if let Some(sql) = query_param {
                q.append_pair("query", sql);
            }
            q.append_pair("output_format_json_quote_64bit_integers", "0");
        }
        let mut req = self.client.post(url).body(body);
        if let Some(user) = &self.config.user {
            req = req.basic_auth(user, self.config.password.as_deref());
        }
        let resp = req
            .send()
            .map_err(|e| config_error(format!("request failed: {}", e.without_url())))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| config_error(format!("reading the answer: {}", e.without_url())))?;
        if !status.is_success() {
            let first = text.lines().next().unwrap_or_default();
            let mut end = first.len().min(MAX_ERROR_MESSAGE_BYTES);
            while !first.is_char_boundary(end) {
                end -= 1;
            }
            return Err(config_error(format!(
                "HTTP {}: {}",
                status.as_u16(),
                &first[..end]
            )));
        }
        Ok(text)
    }

    fn execute_in(&self, database: Option<&str>, sql: &str) -> Result<(), StoreError> {
        self.request(database, None, sql.to_string()).map(drop)
    }

    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.execute_in(Some(&self.config.database), sql)
    }

    /// Runs a `SELECT` (`FORMAT JSONEachRow` appended) and parses its rows.
    fn select(&self, sql: &str) -> Result<Vec<Value>, StoreError> {
        let text = self.request(
            Some(&self.config.database),
            None,
            format!("{sql} FORMAT JSONEachRow"),
        )?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| config_error(format!("unparseable answer row: {e}")))
            })
            .collect()
    }

    /// `INSERT INTO db.table FORMAT JSONEachRow` with the rows (one JSON object a line) in the
    /// body.
    fn insert_rows(&self, table: &str, rows: &str) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO {}.{table} FORMAT JSONEachRow", self.db);
        self.request(Some(&self.config.database), Some(&sql), rows.to_string())
            .map(drop)
    }

    fn count(&self, sql: &str) -> Result<i64, StoreError> {
        let rows = self.select(sql)?;
        Ok(rows.first().and_then(|r| int(&r["n"])).unwrap_or(0))
    }

    /// Waits (at most [`MUTATION_WAIT`]) until no mutation of this database is pending.
    fn wait_mutations(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + MUTATION_WAIT;
        let sql = format!(
            "SELECT count() AS n FROM system.mutations WHERE database = {} AND is_done = 0",
            quote(&self.config.database)
        );
        while Instant::now() < deadline {
            if self.count(&sql)? == 0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("clickhouse retention: delete mutations still running after the wait");
        Ok(())
    }

    /// Deletes the rows of `table` whose `col` is below `cutoff_ns`: whole daily partitions
    /// before the cut-off day, then a mutation for the rest. Returns the rows counted before.
    fn delete_older(&self, table: &str, col: &str, cutoff_ns: u64) -> Result<u64, StoreError> {
        let n = self.count(&format!(
            "SELECT count() AS n FROM {}.{table} WHERE {col} < {cutoff_ns}",
            self.db
        ))?;
        if n == 0 {
            return Ok(0);
        }
        let day = self.count(&format!(
            "SELECT toYYYYMMDD(toDateTime(intDiv({cutoff_ns}, 1000000000))) AS n"
        ))?;
        let parts = self.select(&format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = {} AND table = {} AND active",
            quote(&self.config.database),
            quote(table)
        ))?;
        for p in parts {
            // Partition values are YYYYMMDD numbers; anything else is left to the mutation.
            let Some(id) = p["partition"]
                .as_str()
                .filter(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if id.parse::<i64>().is_ok_and(|v| v < day) {
                self.execute(&format!(
                    "ALTER TABLE {}.{table} DROP PARTITION {id}",
                    self.db
                ))?;
            }
        }
        let left = self.count(&format!(
            "SELECT count() AS n FROM {}.{table} WHERE {col} < {cutoff_ns}",
            self.db
        ))?;
        if left > 0 {
            self.execute(&format!(
                "ALTER TABLE {}.{table} DELETE WHERE {col} < {cutoff_ns}",
                self.db
            ))?;
            self.wait_mutations()?;
        }
        Ok(n as u64)
    }

    /// Bytes of the active parts of this database.
    fn used_bytes(&self) -> Result<i64, StoreError> {
        self.count(&format!(
            "SELECT sum(bytes_on_disk) AS n FROM system.parts WHERE database = {} AND active",
            quote(&self.config.database)
        ))
    }
}

impl Store for ClickHouseStore {
    fn insert(&self, spans: &[SpanRecord], logs: &[LogRecordRow]) -> Result<(), StoreError> {
        let inserted = now_ns();
        if !spans.is_empty() {
            let mut body = String::new();
            for s in spans {
                let (keys, values) = assoc_arrays(&s.association);
                let row = serde_json::json!({
                    "trace_id": s.trace_id,
                    "span_id": s.span_id,
                    "parent_span_id": s.parent_span_id,
                    "name": s.name,
                    "kind": s.kind,
                    "service": s.service,
                    "start_ns": s.start_ns.max(0),
                    "end_ns": s.end_ns.max(0),
                    "status_code": s.status_code,
                    "status_message": s.status_message,
                    "provider": s.provider,
                    "model": s.model,
                    "operation": s.operation,
                    "input_tokens": s.input_tokens,
                    "output_tokens": s.output_tokens,
                    "cache_read_tokens": s.cache_read_tokens,
                    "cache_write_tokens": s.cache_write_tokens,
                    "reasoning_tokens": s.reasoning_tokens,
                    "cost": s.cost.filter(|c| c.is_finite()),
                    "workflow_name": s.workflow_name,
                    "entity_name": s.entity_name,
                    "conversation_id": s.conversation_id,
                    "assoc_keys": keys,
                    "assoc_values": values,
                    "association": s.association.to_string(),
                    "attributes": s.attributes.to_string(),
                    "events": s.events.to_string(),
                    "content": s.content,
                    "is_llm": u8::from(s.is_llm),
                    "ttft_ns": s.ttft_ns,
                    "inserted_ns": inserted,
                });
                body.push_str(&row.to_string());
                body.push('\n');
            }
            self.insert_rows("spans", &body)?;
        }
        if !logs.is_empty() {
            let mut body = String::new();
            for (i, l) in logs.iter().enumerate() {
                let row = serde_json::json!({
                    "trace_id": l.trace_id,
                    "span_id": l.span_id,
                    "time_ns": l.time_ns.max(0),
                    "seq": inserted.wrapping_add(i as u64),
                    "event_name": l.event_name,
                    "body": l.body.to_string(),
                    "attributes": l.attributes.to_string(),
                    "service": l.service,
                    "content": log_content(l),
                });
                body.push_str(&row.to_string());
                body.push('\n');
            }
            self.insert_rows("logs", &body)?;
        }
        Ok(())
    }

    fn list_traces(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let mut having: Vec<String> = Vec::new();
        if let Some(v) = &q.service {
            having.push(format!("countIf(service = {}) > 0", quote(v)));
        }
        if let Some(v) = &q.provider {
            having.push(format!("countIf({}) > 0", eq_nullable("provider", v)));
        }
        if let Some(v) = &q.model {
            having.push(format!("countIf({}) > 0", eq_nullable("model", v)));
        }
        if let Some(v) = &q.conversation {
            having.push(format!(
                "countIf({}) > 0",
                eq_nullable("conversation_id", v)
            ));
        }
        if let Some(v) = &q.entity {
            having.push(format!(
                "countIf({} OR {}) > 0",
                eq_nullable("entity_name", v),
                eq_nullable("workflow_name", v)
            ));
        }
        if let (Some(k), Some(v)) = (&q.assoc_key, &q.assoc_value) {
            having.push(format!(
                "countIf(arrayExists((ak, av) -> ak = {} AND av = {}, assoc_keys, assoc_values)) > 0",
                quote(k),
                quote(v)
            ));
        }
        if let Some(t) = q.q.as_deref().filter(|t| !t.is_empty()) {
            let needle = quote(t);
            having.push(format!(
                "(countIf(positionCaseInsensitiveUTF8(content, {needle}) > 0) > 0 \
                 OR trace_id IN (SELECT trace_id FROM {}.logs WHERE positionCaseInsensitiveUTF8(content, {needle}) > 0))",
                self.db
            ));
        }
        if let Some(v) = q.from_ns {
            having.push(format!("t_start >= {v}"));
        }
        if let Some(v) = q.to_ns {
            having.push(format!("t_start < {v}"));
        }
        match q.status.as_deref() {
            Some("error") => having.push("t_errors > 0".into()),
            Some("ok") => having.push("t_errors = 0".into()),
            _ => {}
        }
        let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
        let offset = q.offset.unwrap_or(0);
        let sql = format!(
            "SELECT trace_id, min(start_ns) AS t_start, max(end_ns) - min(start_ns) AS t_duration,
                if(countIf(isNull(parent_span_id)) > 0, argMinIf(name, start_ns, isNull(parent_span_id)), argMin(name, start_ns)) AS t_root,
                if(countIf(isNull(parent_span_id)) > 0, argMinIf(service, start_ns, isNull(parent_span_id)), argMin(service, start_ns)) AS t_service,
                count() AS t_spans, sum(is_llm) AS t_llm, sum(ifNull(input_tokens, 0)) AS t_in,
                sum(ifNull(output_tokens, 0)) AS t_out, sum(cost) AS t_cost,
                countIf(is_llm = 1 AND isNull(cost)) AS t_unknown, countIf(status_code = 2) AS t_errors
             FROM {}.spans FINAL GROUP BY trace_id {}
             ORDER BY t_start DESC, trace_id LIMIT {offset}, {limit}",
            self.db,
            if having.is_empty() {
                String::new()
            } else {
                format!("HAVING {}", having.join(" AND "))
            },
        );
        Ok(self
            .select(&sql)?
            .iter()
            .map(|r| TraceSummary {
                trace_id: text(&r["trace_id"]),
                start_ns: int(&r["t_start"]).unwrap_or(0),
                duration_ns: int(&r["t_duration"]).unwrap_or(0),
                root_name: text(&r["t_root"]),
                service: text(&r["t_service"]),
                spans: int(&r["t_spans"]).unwrap_or(0),
                llm_calls: int(&r["t_llm"]).unwrap_or(0),
                input_tokens: int(&r["t_in"]).unwrap_or(0),
                output_tokens: int(&r["t_out"]).unwrap_or(0),
                cost: float(&r["t_cost"]),
                unknown_cost_calls: int(&r["t_unknown"]).unwrap_or(0),
                errors: int(&r["t_errors"]).unwrap_or(0),
            })
            .collect())
    }

    fn trace_spans(&self, trace_id: &str) -> Result<Vec<Value>, StoreError> {
        let rows = self.select(&format!(
            "SELECT {SPAN_COLUMNS} FROM {}.spans FINAL WHERE trace_id = {} ORDER BY start_ns, span_id",
            self.db,
            quote(trace_id)
        ))?;
        Ok(rows.iter().map(span_json).collect())
    }

    fn span(&self, trace_id: &str, span_id: &str) -> Result<Option<Value>, StoreError> {
        let rows = self.select(&format!(
            "SELECT {SPAN_COLUMNS} FROM {}.spans FINAL WHERE trace_id = {} AND span_id = {} LIMIT 1",
            self.db,
            quote(trace_id),
            quote(span_id)
        ))?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let mut span = span_json(row);
        let logs = self.select(&format!(
            "SELECT time_ns, event_name, body, attributes FROM {}.logs \
             WHERE trace_id = {} AND span_id = {} ORDER BY time_ns, seq",
            self.db,
            quote(trace_id),
            quote(span_id)
        ))?;
        let logs = logs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "time_ns": int(&r["time_ns"]).unwrap_or(0),
                    "event_name": text(&r["event_name"]),
                    "body": json_text(&r["body"]),
                    "attributes": json_text(&r["attributes"]),
                })
            })
            .collect();
        span["logs"] = Value::Array(logs);
        Ok(Some(span))
    }

    fn retain(
        &self,
        min_start_ns: Option<i64>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionOutcome, StoreError> {
        let mut out = RetentionOutcome::default();
        if let Some(min) = min_start_ns {
            let cutoff = min.max(0) as u64;
            out.spans_deleted += self.delete_older("spans", "start_ns", cutoff)?;
            out.logs_deleted += self.delete_older("logs", "time_ns", cutoff)?;
            self.delete_older("faults", "received_ns", cutoff)?;
        }
        if let Some(max) = max_bytes
            && self.used_bytes()?.max(0) as u64 > max
        {
            // The start of the last trace of the oldest tenth (at least the oldest trace):
            // every span and log record up to it goes.
            let traces = self.count(&format!(
                "SELECT uniqExact(trace_id) AS n FROM {}.spans",
                self.db
            ))?;
            let skip = (traces / 10).max(1) - 1;
            let edge = self.select(&format!(
                "SELECT t AS n FROM (SELECT min(start_ns) AS t FROM {}.spans GROUP BY trace_id) \
                 ORDER BY t LIMIT {skip}, 1",
                self.db
            ))?;
            if let Some(edge) = edge.first().and_then(|r| int(&r["n"])) {
                let cutoff = (edge.max(0) as u64).saturating_add(1);
                out.spans_deleted += self.delete_older("spans", "start_ns", cutoff)?;
                out.logs_deleted += self.delete_older("logs", "time_ns", cutoff)?;
            }
        }
        Ok(out)
    }

    fn sessions(
        &self,
        by: &SessionKey,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let (key_expr, cond) = match by {
            SessionKey::Conversation => (
                "assumeNotNull(conversation_id)".to_string(),
                "isNotNull(conversation_id)".to_string(),
            ),
            SessionKey::Association(k) => (
                format!("assoc_values[indexOf(assoc_keys, {})]", quote(k)),
                format!("has(assoc_keys, {})", quote(k)),
            ),
        };
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        // Each trace belongs to the session of the smallest key among its spans; totals are
        // over every span of those traces.
        let sql = format!(
            "SELECT s_key, uniqExact(trace_id) AS s_traces, min(start_ns) AS s_first,
                max(end_ns) AS s_last, max(start_ns) AS s_last_start, sum(is_llm) AS s_llm,
                sum(ifNull(input_tokens, 0)) AS s_in, sum(ifNull(output_tokens, 0)) AS s_out,
                sum(cost) AS s_cost, countIf(is_llm = 1 AND isNull(cost)) AS s_unknown,
                countIf(status_code = 2) AS s_errors
             FROM (SELECT trace_id, start_ns, end_ns, is_llm, input_tokens, output_tokens, cost,
                     status_code FROM {db}.spans FINAL)
             ALL INNER JOIN (SELECT trace_id, min({key_expr}) AS s_key FROM {db}.spans FINAL
                     WHERE {cond} GROUP BY trace_id) USING trace_id
             GROUP BY s_key ORDER BY s_last_start DESC, s_key LIMIT {offset}, {limit}",
            db = self.db,
        );
        Ok(self
            .select(&sql)?
            .iter()
            .map(|r| SessionSummary {
                key: text(&r["s_key"]),
                traces: int(&r["s_traces"]).unwrap_or(0),
                first_ns: int(&r["s_first"]).unwrap_or(0),
                last_ns: int(&r["s_last"]).unwrap_or(0),
                llm_calls: int(&r["s_llm"]).unwrap_or(0),
                input_tokens: int(&r["s_in"]).unwrap_or(0),
                output_tokens: int(&r["s_out"]).unwrap_or(0),
                cost: float(&r["s_cost"]),
                unknown_cost_calls: int(&r["s_unknown"]).unwrap_or(0),
                errors: int(&r["s_errors"]).unwrap_or(0),
            })
            .collect())
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        let rows = self.select(&format!(
            "SELECT max(version) AS v FROM {}.openllmetry_schema",
            self.db
        ))?;
        Ok(rows.first().and_then(|r| int(&r["v"])).unwrap_or(0))
    }

    fn dashboard_rows(
        &self,
        from_ns: i64,
        to_ns: i64,
        split: Split,
    ) -> Result<Vec<DashboardRow>, StoreError> {
        let group = match split {
            Split::Model => "ifNull(model, '')",
            Split::Provider => "ifNull(provider, '')",
            Split::Service => "service",
            _ => "''",
        };
        let (from, to) = (from_ns.max(0), to_ns.max(0));
        let rows = self.select(&format!(
            "SELECT start_ns, end_ns - start_ns AS d, ttft_ns, {group} AS g,
                ifNull(input_tokens, 0) AS i, ifNull(output_tokens, 0) AS o, cost,
                status_code = 2 AS e
             FROM {}.spans FINAL WHERE is_llm = 1 AND start_ns >= {from} AND start_ns < {to}
             ORDER BY start_ns DESC LIMIT {MAX_DASHBOARD_SPANS}",
            self.db
        ))?;
        Ok(rows
            .iter()
            .map(|r| {
                DashboardRow::new(
                    int(&r["start_ns"]).unwrap_or(0),
                    int(&r["d"]).unwrap_or(0),
                    int(&r["ttft_ns"]),
                    text(&r["g"]),
                    int(&r["i"]).unwrap_or(0),
                    int(&r["o"]).unwrap_or(0),
                    float(&r["cost"]),
                    int(&r["e"]).unwrap_or(0) != 0,
                )
            })
            .collect())
    }

    fn insert_fault_report(
        &self,
        received_ns: i64,
        report: &FaultReport,
    ) -> Result<(), StoreError> {
        let mut body = String::new();
        for e in &report.entries {
            let row = serde_json::json!({
                "received_ns": received_ns.max(0),
                "sdk_version": report.sdk_version,
                "os": report.os,
                "arch": report.arch,
                "component": e.component,
                "operation": e.operation,
                "kind": e.kind,
                "count": i64::try_from(e.count).unwrap_or(i64::MAX),
            });
            body.push_str(&row.to_string());
            body.push('\n');
        }
        if body.is_empty() {
            return Ok(());
        }
        self.insert_rows("faults", &body)
    }

    fn fault_counts(
        &self,
        from_ns: i64,
        to_ns: i64,
        bucket_ns: i64,
    ) -> Result<Vec<FaultCount>, StoreError> {
        let (from, to, b) = (from_ns.max(0), to_ns.max(0), bucket_ns.max(1));
        let rows = self.select(&format!(
            "SELECT intDiv(toInt64(received_ns), {b}) * {b} AS bucket, sdk_version, component,
                operation, kind, sum(count) AS n
             FROM {}.faults WHERE received_ns >= {from} AND received_ns < {to}
             GROUP BY bucket, sdk_version, component, operation, kind
             ORDER BY bucket, sdk_version, component, operation, kind",
            self.db
        ))?;
        Ok(rows
            .iter()
            .map(|r| {
                FaultCount::new(
                    int(&r["bucket"]).unwrap_or(0),
                    text(&r["sdk_version"]),
                    text(&r["component"]),
                    text(&r["operation"]),
                    text(&r["kind"]),
                    int(&r["n"]).unwrap_or(0),
                )
            })
            .collect())
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let spans = self.count(&format!("SELECT count() AS n FROM {}.spans FINAL", self.db))?;
        let logs = self.count(&format!("SELECT count() AS n FROM {}.logs", self.db))?;
        let bytes = self.used_bytes()?;
        Ok(StoreStats { spans, logs, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_everything_that_could_end_the_literal() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(
            quote(r"\'; DROP TABLE spans; --"),
            r"'\\\'; DROP TABLE spans; --'"
        );
        assert_eq!(quote("l1\nl2\r\t\0"), r"'l1\nl2\r\t\0'");
        assert_eq!(quote("\u{1}\u{7f}"), r"'\x01\x7F'");
        assert_eq!(quote("héllo ✓"), "'héllo ✓'");
    }

    #[test]
    fn url_parsing_takes_credentials_from_url_or_env() {
        let none = |_: &str| None;
        let c = ClickHouseConfig::from_url_with_env("clickhouse://h:9123/traces", none).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://h:9123/");
        assert_eq!(c.database, "traces");
        assert_eq!(c.user, None);
        let c = ClickHouseConfig::from_url_with_env("clickhouse://h", none).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://h:8123/");
        assert_eq!(c.database, "default");
        let c = ClickHouseConfig::from_url_with_env("clickhouse://u%40x:p%3Aw@h/db", none).unwrap();
        assert_eq!(c.user.as_deref(), Some("u@x"));
        assert_eq!(c.password.as_deref(), Some("p:w"));
        let env = |k: &str| match k {
            ENV_USER => Some("envuser".to_string()),
            ENV_PASSWORD => Some("envpass".to_string()),
            _ => None,
        };
        let c = ClickHouseConfig::from_url_with_env("clickhouse://h/db", env).unwrap();
        assert_eq!(c.user.as_deref(), Some("envuser"));
        assert_eq!(c.password.as_deref(), Some("envpass"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("envpass"), "{dbg}");
        for bad in [
            "http://h/db",
            "clickhouse:///db",
            "clickhouse://h/db;drop",
            "clickhouse://h/a`b",
            "clickhouse://h/9db",
        ] {
            assert!(
                ClickHouseConfig::from_url_with_env(bad, none).is_err(),
                "{bad}"
            );
        }
        let err = ClickHouseConfig::from_url_with_env("clickhouse://u:topsecret@h/d;x", none)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("topsecret"), "{err}");
    }
}
