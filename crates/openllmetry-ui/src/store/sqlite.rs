//! The SQLite store: WAL mode, versioned migrations (`PRAGMA user_version`), incremental
//! auto-vacuum, one writer connection and one reader connection. Every statement binds its
//! values as parameters; no value is ever formatted into SQL text. All SQL of the SQLite backend
//! lives in this module.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params, types::Value as Sql};
use serde_json::Value;

use crate::extract::{LogRecordRow, SpanRecord, log_content};

use super::*;

/// Schema migrations; index `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE spans (
        trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, name TEXT NOT NULL,
        kind INTEGER NOT NULL, service TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
        status_code INTEGER NOT NULL, status_message TEXT NOT NULL, provider TEXT, model TEXT,
        operation TEXT, input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER,
        cache_write_tokens INTEGER, reasoning_tokens INTEGER, cost REAL, workflow_name TEXT,
        entity_name TEXT, conversation_id TEXT, association TEXT NOT NULL, attributes TEXT NOT NULL,
        events TEXT NOT NULL, content TEXT NOT NULL, is_llm INTEGER NOT NULL,
        PRIMARY KEY (trace_id, span_id));
     CREATE INDEX spans_start ON spans(start_ns);
     CREATE INDEX spans_conversation ON spans(conversation_id) WHERE conversation_id IS NOT NULL;
     CREATE TABLE logs (
        id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, time_ns INTEGER NOT NULL,
        event_name TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL, service TEXT NOT NULL,
        content TEXT NOT NULL);
     CREATE INDEX logs_span ON logs(trace_id, span_id);
     CREATE INDEX logs_time ON logs(time_ns);",
    "ALTER TABLE spans ADD COLUMN ttft_ns INTEGER;
     CREATE INDEX spans_llm_start ON spans(start_ns) WHERE is_llm = 1;
     CREATE TABLE faults (
        id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, sdk_version TEXT NOT NULL,
        os TEXT NOT NULL, arch TEXT NOT NULL, component TEXT NOT NULL, operation TEXT NOT NULL,
        kind TEXT NOT NULL, count INTEGER NOT NULL);
     CREATE INDEX faults_time ON faults(received_ns);",
];

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut writer = open(path)?;
        let version: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            // Must precede the first table to take effect.
            writer.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = writer.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        let reader = open(path)?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

fn opt_json(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

const SPAN_COLUMNS: &str = "trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns, \
    status_code, status_message, provider, model, operation, input_tokens, output_tokens, \
    cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, workflow_name, entity_name, \
    conversation_id, association, attributes, events, is_llm, ttft_ns";

fn span_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(serde_json::json!({
        "trace_id": r.get::<_, String>(0)?,
        "span_id": r.get::<_, String>(1)?,
        "parent_span_id": r.get::<_, Option<String>>(2)?,
        "name": r.get::<_, String>(3)?,
        "kind": r.get::<_, i64>(4)?,
        "service": r.get::<_, String>(5)?,
        "start_ns": r.get::<_, i64>(6)?,
        "end_ns": r.get::<_, i64>(7)?,
        "status_code": r.get::<_, i64>(8)?,
        "status_message": r.get::<_, String>(9)?,
        "provider": r.get::<_, Option<String>>(10)?,
        "model": r.get::<_, Option<String>>(11)?,
        "operation": r.get::<_, Option<String>>(12)?,
        "input_tokens": r.get::<_, Option<i64>>(13)?,
        "output_tokens": r.get::<_, Option<i64>>(14)?,
        "cache_read_tokens": r.get::<_, Option<i64>>(15)?,
        "cache_write_tokens": r.get::<_, Option<i64>>(16)?,
        "reasoning_tokens": r.get::<_, Option<i64>>(17)?,
        "cost": r.get::<_, Option<f64>>(18)?,
        "workflow_name": r.get::<_, Option<String>>(19)?,
        "entity_name": r.get::<_, Option<String>>(20)?,
        "conversation_id": r.get::<_, Option<String>>(21)?,
        "association": opt_json(r.get(22)?),
        "attributes": opt_json(r.get(23)?),
        "events": opt_json(r.get(24)?),
        "is_llm": r.get::<_, i64>(25)? != 0,
        "ttft_ns": r.get::<_, Option<i64>>(26)?,
    }))
}

/// The JSON path of an association property, the key quoted (inner quotes and backslashes
/// dropped, so a key can never leave its quotes); bound as a parameter like every value.
fn assoc_path(key: &str) -> String {
    let clean: String = key.chars().filter(|c| *c != '"' && *c != '\\').collect();
    format!("$.\"{clean}\"")
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store for SqliteStore {
    fn insert(&self, spans: &[SpanRecord], logs: &[LogRecordRow]) -> Result<(), StoreError> {
        let mut c = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO spans ({SPAN_COLUMNS}, content) VALUES \
                 (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28)"
            ))?;
            for s in spans {
                st.execute(params![
                    s.trace_id,
                    s.span_id,
                    s.parent_span_id,
                    s.name,
                    s.kind,
                    s.service,
                    s.start_ns,
                    s.end_ns,
                    s.status_code,
                    s.status_message,
                    s.provider,
                    s.model,
                    s.operation,
                    s.input_tokens,
                    s.output_tokens,
                    s.cache_read_tokens,
                    s.cache_write_tokens,
                    s.reasoning_tokens,
                    s.cost,
                    s.workflow_name,
                    s.entity_name,
                    s.conversation_id,
                    s.association.to_string(),
                    s.attributes.to_string(),
                    s.events.to_string(),
                    s.is_llm,
                    s.ttft_ns,
                    s.content,
                ])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO logs (trace_id, span_id, time_ns, event_name, body, attributes, service, content) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )?;
            for l in logs {
                st.execute(params![
                    l.trace_id,
                    l.span_id,
                    l.time_ns,
                    l.event_name,
                    l.body.to_string(),
                    l.attributes.to_string(),
                    l.service,
                    log_content(l),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn list_traces(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Sql> = Vec::new();
        let bind = |args: &mut Vec<Sql>, v: Sql| {
            args.push(v);
            format!("?{}", args.len())
        };
        let exists = |args: &mut Vec<Sql>, col: &str, v: &str| {
            let p = bind(args, Sql::Text(v.to_string()));
            format!(
                "EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = s.trace_id AND x.{col} = {p})"
            )
        };
        if let Some(v) = &q.service {
            conds.push(exists(&mut args, "service", v));
        }
        if let Some(v) = &q.provider {
            conds.push(exists(&mut args, "provider", v));
        }
        if let Some(v) = &q.model {
            conds.push(exists(&mut args, "model", v));
        }
        if let Some(v) = &q.conversation {
            conds.push(exists(&mut args, "conversation_id", v));
        }
        if let Some(v) = &q.entity {
            let p = bind(&mut args, Sql::Text(v.clone()));
            conds.push(format!(
                "EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = s.trace_id AND (x.entity_name = {p} OR x.workflow_name = {p}))"
            ));
        }
        if let (Some(k), Some(v)) = (&q.assoc_key, &q.assoc_value) {
            let pk = bind(&mut args, Sql::Text(assoc_path(k)));
            let pv = bind(&mut args, Sql::Text(v.clone()));
            conds.push(format!(
                "EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = s.trace_id AND json_extract(x.association, {pk}) = {pv})"
            ));
        }
        if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
            let p = bind(&mut args, Sql::Text(like_pattern(text)));
            conds.push(format!(
                "(EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = s.trace_id AND x.content LIKE {p} ESCAPE '\\') \
                 OR EXISTS (SELECT 1 FROM logs l WHERE l.trace_id = s.trace_id AND l.content LIKE {p} ESCAPE '\\'))"
            ));
        }
        let mut having = Vec::new();
        if let Some(v) = q.from_ns {
            having.push(format!(
                "MIN(s.start_ns) >= {}",
                bind(&mut args, Sql::Integer(v))
            ));
        }
        if let Some(v) = q.to_ns {
            having.push(format!(
                "MIN(s.start_ns) < {}",
                bind(&mut args, Sql::Integer(v))
            ));
        }
        match q.status.as_deref() {
            Some("error") => having.push("SUM(s.status_code = 2) > 0".into()),
            Some("ok") => having.push("SUM(s.status_code = 2) = 0".into()),
            _ => {}
        }
        let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
        let lp = bind(&mut args, Sql::Integer(limit.into()));
        let op = bind(&mut args, Sql::Integer(q.offset.unwrap_or(0).into()));
        let sql = format!(
            "SELECT s.trace_id, MIN(s.start_ns), MAX(s.end_ns) - MIN(s.start_ns),
                COALESCE((SELECT r.name FROM spans r WHERE r.trace_id = s.trace_id ORDER BY r.parent_span_id IS NOT NULL, r.start_ns LIMIT 1), ''),
                COALESCE((SELECT r.service FROM spans r WHERE r.trace_id = s.trace_id ORDER BY r.parent_span_id IS NOT NULL, r.start_ns LIMIT 1), ''),
                COUNT(*), SUM(s.is_llm), COALESCE(SUM(s.input_tokens), 0), COALESCE(SUM(s.output_tokens), 0),
                SUM(s.cost), SUM(s.is_llm AND s.cost IS NULL), SUM(s.status_code = 2)
             FROM spans s {} GROUP BY s.trace_id {} ORDER BY MIN(s.start_ns) DESC LIMIT {lp} OFFSET {op}",
            if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) },
            if having.is_empty() { String::new() } else { format!("HAVING {}", having.join(" AND ")) },
        );
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(TraceSummary {
                trace_id: r.get(0)?,
                start_ns: r.get(1)?,
                duration_ns: r.get(2)?,
                root_name: r.get(3)?,
                service: r.get(4)?,
                spans: r.get(5)?,
                llm_calls: r.get(6)?,
                input_tokens: r.get(7)?,
                output_tokens: r.get(8)?,
                cost: r.get(9)?,
                unknown_cost_calls: r.get(10)?,
                errors: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn trace_spans(&self, trace_id: &str) -> Result<Vec<Value>, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = c.prepare(&format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ?1 ORDER BY start_ns, span_id"
        ))?;
        let rows = st.query_map([trace_id], span_json)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn span(&self, trace_id: &str, span_id: &str) -> Result<Option<Value>, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let span = c
            .query_row(
                &format!("SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ?1 AND span_id = ?2"),
                [trace_id, span_id],
                span_json,
            )
            .optional()?;
        let Some(mut span) = span else {
            return Ok(None);
        };
        let mut st = c.prepare(
            "SELECT time_ns, event_name, body, attributes FROM logs \
             WHERE trace_id = ?1 AND span_id = ?2 ORDER BY time_ns, id",
        )?;
        let logs = st
            .query_map([trace_id, span_id], |r| {
                Ok(serde_json::json!({
                    "time_ns": r.get::<_, i64>(0)?,
                    "event_name": r.get::<_, String>(1)?,
                    "body": opt_json(r.get(2)?),
                    "attributes": opt_json(r.get(3)?),
                }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        span["logs"] = Value::Array(logs);
        Ok(Some(span))
    }

    fn retain(
        &self,
        min_start_ns: Option<i64>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionOutcome, StoreError> {
        let mut out = RetentionOutcome::default();
        let c = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(min) = min_start_ns {
            out.spans_deleted += c.execute(
                "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE start_ns < ?1 LIMIT ?2)",
                params![min, RETENTION_CHUNK_ROWS],
            )? as u64;
            out.logs_deleted += c.execute(
                "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time_ns < ?1 LIMIT ?2)",
                params![min, RETENTION_CHUNK_ROWS],
            )? as u64;
            c.execute(
                "DELETE FROM faults WHERE id IN (SELECT id FROM faults WHERE received_ns < ?1 LIMIT ?2)",
                params![min, RETENTION_CHUNK_ROWS],
            )?;
        }
        if let Some(max) = max_bytes {
            let used = |c: &Connection| -> rusqlite::Result<u64> {
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                Ok(((pages - free).max(0) * size) as u64)
            };
            // Oldest first; a bounded number of chunks per pass so ingest gets the writer back.
            for _ in 0..RETENTION_MAX_STEPS {
                if used(&c)? <= max {
                    break;
                }
                // Whole traces, oldest first: a tenth of them (at least one, at most
                // RETENTION_CHUNK_TRACES) per step.
                let traces: i64 =
                    c.query_row("SELECT COUNT(DISTINCT trace_id) FROM spans", [], |r| {
                        r.get(0)
                    })?;
                let step = (traces / 10).clamp(1, RETENTION_CHUNK_TRACES);
                let n = c.execute(
                    "DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM spans \
                     GROUP BY trace_id ORDER BY MIN(start_ns) LIMIT ?1)",
                    [step],
                )? as u64;
                let oldest_left: Option<i64> =
                    c.query_row("SELECT MIN(start_ns) FROM spans", [], |r| r.get(0))?;
                let m = c.execute(
                    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time_ns < ?1 LIMIT ?2)",
                    params![oldest_left.unwrap_or(i64::MAX), RETENTION_CHUNK_ROWS],
                )? as u64;
                out.spans_deleted += n;
                out.logs_deleted += m;
                if n == 0 && m == 0 {
                    break;
                }
            }
            c.execute_batch("PRAGMA incremental_vacuum")?;
        }
        Ok(out)
    }

    fn sessions(
        &self,
        by: &SessionKey,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let (key_expr, key_arg) = match by {
            SessionKey::Conversation => ("conversation_id", Sql::Null),
            SessionKey::Association(k) => {
                ("json_extract(association, ?3)", Sql::Text(assoc_path(k)))
            }
        };
        // Each trace belongs to the session of the smallest key among its spans; totals are
        // over every span of those traces.
        let sql = format!(
            "WITH keyed AS (SELECT trace_id, MIN({key_expr}) AS k FROM spans \
                WHERE {key_expr} IS NOT NULL AND ?3 IS ?3 GROUP BY trace_id) \
             SELECT CAST(keyed.k AS TEXT), COUNT(DISTINCT s.trace_id), MIN(s.start_ns), MAX(s.end_ns), \
                SUM(s.is_llm), COALESCE(SUM(s.input_tokens), 0), COALESCE(SUM(s.output_tokens), 0), \
                SUM(s.cost), SUM(s.is_llm AND s.cost IS NULL), SUM(s.status_code = 2) \
             FROM spans s JOIN keyed ON keyed.trace_id = s.trace_id \
             GROUP BY keyed.k ORDER BY MAX(s.start_ns) DESC LIMIT ?1 OFFSET ?2"
        );
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = c.prepare(&sql)?;
        let limit = i64::from(limit.clamp(1, MAX_PAGE_SIZE));
        let rows = st.query_map(params![limit, i64::from(offset), key_arg], |r| {
            Ok(SessionSummary {
                key: r.get(0)?,
                traces: r.get(1)?,
                first_ns: r.get(2)?,
                last_ns: r.get(3)?,
                llm_calls: r.get(4)?,
                input_tokens: r.get(5)?,
                output_tokens: r.get(6)?,
                cost: r.get(7)?,
                unknown_cost_calls: r.get(8)?,
                errors: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let spans = c.query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))?;
        let logs = c.query_row("SELECT COUNT(*) FROM logs", [], |r| r.get(0))?;
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(StoreStats {
            spans,
            logs,
            bytes: (pages - free).max(0) * size,
        })
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn dashboard_rows(
        &self,
        from_ns: i64,
        to_ns: i64,
        split: Split,
    ) -> Result<Vec<DashboardRow>, StoreError> {
        let group = match split {
            Split::Model => "COALESCE(model, '')",
            Split::Provider => "COALESCE(provider, '')",
            Split::Service => "service",
            _ => "''",
        };
        let sql = format!(
            "SELECT start_ns, end_ns - start_ns, ttft_ns, {group}, COALESCE(input_tokens, 0), \
                COALESCE(output_tokens, 0), cost, status_code = 2 \
             FROM spans WHERE is_llm = 1 AND start_ns >= ?1 AND start_ns < ?2 \
             ORDER BY start_ns DESC LIMIT ?3"
        );
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params![from_ns, to_ns, MAX_DASHBOARD_SPANS as i64], |r| {
            Ok(DashboardRow::new(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_fault_report(
        &self,
        received_ns: i64,
        report: &FaultReport,
    ) -> Result<(), StoreError> {
        let mut c = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO faults (received_ns, sdk_version, os, arch, component, operation, kind, count) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )?;
            for e in &report.entries {
                st.execute(params![
                    received_ns,
                    report.sdk_version,
                    report.os,
                    report.arch,
                    e.component,
                    e.operation,
                    e.kind,
                    i64::try_from(e.count).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn fault_counts(
        &self,
        from_ns: i64,
        to_ns: i64,
        bucket_ns: i64,
    ) -> Result<Vec<FaultCount>, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = c.prepare(
            "SELECT (received_ns / ?3) * ?3 AS b, sdk_version, component, operation, kind, SUM(count) \
             FROM faults WHERE received_ns >= ?1 AND received_ns < ?2 \
             GROUP BY b, sdk_version, component, operation, kind \
             ORDER BY b, sdk_version, component, operation, kind",
        )?;
        let rows = st.query_map(params![from_ns, to_ns, bucket_ns.max(1)], |r| {
            Ok(FaultCount::new(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
