//! One store test suite, run against both backends: SQLite (a temporary file) and ClickHouse
//! (a private `clickhouse-server` started by the testkit on a loopback port).
//!
//! Each scenario is a function over `&dyn Store`; `both!` makes a `sqlite_*` and a
//! `clickhouse_*` test of it. The ClickHouse tests skip with a message when no server binary is
//! installed (run `scripts/setup-clickhouse.sh`), except under `CI`, where they fail.

use std::time::{SystemTime, UNIX_EPOCH};

use openllmetry_testkit::clickhouse::{ClickHouseServer, ClickHouseStartError, TEST_USER};
use openllmetry_ui::extract::{LogRecordRow, SpanRecord};
use openllmetry_ui::store::clickhouse::{ClickHouseConfig, ClickHouseStore, SCHEMA_VERSION};
use openllmetry_ui::store::{FaultReport, SessionKey, Split, SqliteStore, Store, TraceQuery};
use serde_json::json;

const SEC: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SEC;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// A span; `llm` gives it a provider, model, tokens and (when `cost` is some) a cost.
#[allow(clippy::too_many_arguments)]
fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    service: &str,
    start_ns: i64,
    dur_ns: i64,
) -> SpanRecord {
    let mut s = SpanRecord::default();
    s.trace_id = trace.into();
    s.span_id = id.into();
    s.parent_span_id = parent.map(String::from);
    s.name = name.into();
    s.kind = 1;
    s.service = service.into();
    s.start_ns = start_ns;
    s.end_ns = start_ns + dur_ns;
    s.status_code = 0;
    s.association = json!({});
    s.attributes = json!({"span.name.attr": name});
    s.events = json!([]);
    s
}

fn llm(
    mut s: SpanRecord,
    provider: &str,
    model: &str,
    tin: i64,
    tout: i64,
    cost: Option<f64>,
) -> SpanRecord {
    s.provider = Some(provider.into());
    s.model = Some(model.into());
    s.operation = Some("chat".into());
    s.input_tokens = Some(tin);
    s.output_tokens = Some(tout);
    s.cost = cost;
    s.is_llm = true;
    s
}

fn log(trace: &str, span: &str, time_ns: i64, text: &str) -> LogRecordRow {
    let mut l = LogRecordRow::default();
    l.trace_id = trace.into();
    l.span_id = span.into();
    l.time_ns = time_ns;
    l.event_name = "gen_ai.user.message".into();
    l.body = json!({"content": text});
    l.attributes = json!({"gen_ai.system": "openai"});
    l.service = "svc-a".into();
    l
}

fn query() -> TraceQuery {
    TraceQuery::default()
}

fn ids(store: &dyn Store, q: &TraceQuery) -> Vec<String> {
    store
        .list_traces(q)
        .unwrap()
        .into_iter()
        .map(|t| t.trace_id)
        .collect()
}

/// Three traces: t1 (oldest, svc-a, openai gpt-4o, workflow "plan", conversation c1, user
/// alice, content about weather), t2 (svc-b, anthropic claude, error, conversation c1, user
/// bob), t3 (newest, svc-a, a non-LLM span only, user alice). Plus a log record with the
/// word "umbrella" on t2's LLM span.
fn seed(store: &dyn Store, base: i64) {
    let mut root1 = span("t1", "a1", None, "workflow plan", "svc-a", base, 5 * SEC);
    root1.workflow_name = Some("plan".into());
    root1.association = json!({"user_id": "alice"});
    let mut c1 = llm(
        span(
            "t1",
            "a2",
            Some("a1"),
            "openai.chat",
            "svc-a",
            base + SEC,
            2 * SEC,
        ),
        "openai",
        "gpt-4o",
        100,
        20,
        Some(0.5),
    );
    c1.conversation_id = Some("c1".into());
    c1.content = "What is the Weather in Paris?".into();
    c1.ttft_ns = Some(300_000_000);
    c1.association = json!({"user_id": "alice"});
    let c1b = llm(
        span(
            "t1",
            "a3",
            Some("a1"),
            "openai.chat",
            "svc-a",
            base + 3 * SEC,
            SEC,
        ),
        "openai",
        "gpt-4o",
        10,
        5,
        Some(0.25),
    );

    let root2 = span(
        "t2",
        "b1",
        None,
        "agent run",
        "svc-b",
        base + 10 * SEC,
        3 * SEC,
    );
    let mut c2 = llm(
        span(
            "t2",
            "b2",
            Some("b1"),
            "anthropic.chat",
            "svc-b",
            base + 11 * SEC,
            SEC,
        ),
        "anthropic",
        "claude-x",
        7,
        3,
        None,
    );
    c2.status_code = 2;
    c2.status_message = "rate limited".into();
    c2.conversation_id = Some("c1".into());
    c2.entity_name = Some("researcher".into());
    c2.association = json!({"user_id": "bob"});

    let mut root3 = span(
        "t3",
        "c1",
        None,
        "GET /health",
        "svc-a",
        base + 20 * SEC,
        SEC,
    );
    root3.association = json!({"user_id": "alice"});

    store
        .insert(
            &[root1, c1, c1b, root2, c2],
            &[log("t2", "b2", base + 11 * SEC, "bring an Umbrella")],
        )
        .unwrap();
    store.insert(&[root3], &[]).unwrap();
}

fn suite_ingest_and_trace_detail(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    seed(store, base);

    let spans = store.trace_spans("t1").unwrap();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a1", "a2", "a3"], "ordered by start");
    assert_eq!(spans[0]["parent_span_id"], json!(null));
    assert_eq!(spans[1]["parent_span_id"], json!("a1"));
    assert_eq!(spans[1]["provider"], json!("openai"));
    assert_eq!(spans[1]["model"], json!("gpt-4o"));
    assert_eq!(spans[1]["input_tokens"], json!(100));
    assert_eq!(spans[1]["output_tokens"], json!(20));
    assert_eq!(spans[1]["cache_read_tokens"], json!(null));
    assert_eq!(spans[1]["cost"], json!(0.5));
    assert_eq!(spans[1]["is_llm"], json!(true));
    assert_eq!(spans[1]["start_ns"], json!(base + SEC));
    assert_eq!(spans[1]["end_ns"], json!(base + 3 * SEC));
    assert_eq!(spans[1]["conversation_id"], json!("c1"));
    assert_eq!(
        spans[1]["attributes"],
        json!({"span.name.attr": "openai.chat"})
    );
    assert_eq!(spans[1]["association"], json!({"user_id": "alice"}));
    assert_eq!(spans[0]["workflow_name"], json!("plan"));
    assert_eq!(spans[1]["ttft_ns"], json!(300_000_000));
    assert_eq!(spans[2]["ttft_ns"], json!(null));
    assert_eq!(spans[0]["is_llm"], json!(false));

    let s = store.span("t2", "b2").unwrap().expect("span b2");
    assert_eq!(s["status_code"], json!(2));
    assert_eq!(s["status_message"], json!("rate limited"));
    assert_eq!(s["cost"], json!(null));
    assert_eq!(s["entity_name"], json!("researcher"));
    let logs = s["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["body"], json!({"content": "bring an Umbrella"}));
    assert_eq!(logs[0]["event_name"], json!("gen_ai.user.message"));
    assert_eq!(logs[0]["time_ns"], json!(base + 11 * SEC));

    assert!(store.span("t2", "nope").unwrap().is_none());
    assert!(store.span("zz", "b2").unwrap().is_none());
    assert!(store.trace_spans("zz").unwrap().is_empty());

    let stats = store.stats().unwrap();
    assert_eq!(stats.spans, 6);
    assert_eq!(stats.logs, 1);
    assert!(stats.bytes > 0);

    // A span delivered twice (an exporter retrying) is stored once; the last write wins.
    let mut again = llm(
        span(
            "t1",
            "a3",
            Some("a1"),
            "openai.chat",
            "svc-a",
            base + 3 * SEC,
            SEC,
        ),
        "openai",
        "gpt-4o",
        10,
        6,
        Some(0.25),
    );
    again.status_message = "second delivery".into();
    store.insert(&[again], &[]).unwrap();
    assert_eq!(store.stats().unwrap().spans, 6);
    let t1 = store.trace_spans("t1").unwrap();
    assert_eq!(t1.len(), 3);
    assert_eq!(t1[2]["status_message"], json!("second delivery"));
    assert_eq!(t1[2]["output_tokens"], json!(6));
}

fn suite_traces_list_and_filters(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    seed(store, base);

    let all = store.list_traces(&query()).unwrap();
    let order: Vec<&str> = all.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(order, ["t3", "t2", "t1"], "newest first");
    let t1 = &all[2];
    assert_eq!(t1.root_name, "workflow plan");
    assert_eq!(t1.service, "svc-a");
    assert_eq!(t1.start_ns, base);
    assert_eq!(t1.duration_ns, 5 * SEC);
    assert_eq!(t1.spans, 3);
    assert_eq!(t1.llm_calls, 2);
    assert_eq!(t1.input_tokens, 110);
    assert_eq!(t1.output_tokens, 25);
    assert_eq!(t1.cost, Some(0.75));
    assert_eq!(t1.unknown_cost_calls, 0);
    assert_eq!(t1.errors, 0);
    let t2 = &all[1];
    assert_eq!(t2.root_name, "agent run");
    assert_eq!(t2.cost, None, "no known cost");
    assert_eq!(t2.unknown_cost_calls, 1);
    assert_eq!(t2.errors, 1);
    let t3 = &all[0];
    assert_eq!((t3.llm_calls, t3.input_tokens, t3.cost), (0, 0, None));

    let mut q = query();
    q.service = Some("svc-b".into());
    assert_eq!(ids(store, &q), ["t2"]);
    let mut q = query();
    q.provider = Some("openai".into());
    assert_eq!(ids(store, &q), ["t1"]);
    let mut q = query();
    q.model = Some("claude-x".into());
    assert_eq!(ids(store, &q), ["t2"]);
    let mut q = query();
    q.status = Some("error".into());
    assert_eq!(ids(store, &q), ["t2"]);
    let mut q = query();
    q.status = Some("ok".into());
    assert_eq!(ids(store, &q), ["t3", "t1"]);
    let mut q = query();
    q.entity = Some("plan".into());
    assert_eq!(ids(store, &q), ["t1"], "workflow name");
    let mut q = query();
    q.entity = Some("researcher".into());
    assert_eq!(ids(store, &q), ["t2"], "entity name");
    let mut q = query();
    q.conversation = Some("c1".into());
    assert_eq!(ids(store, &q), ["t2", "t1"]);
    let mut q = query();
    q.assoc_key = Some("user_id".into());
    q.assoc_value = Some("alice".into());
    assert_eq!(ids(store, &q), ["t3", "t1"]);
    let mut q = query();
    q.q = Some("weather".into());
    assert_eq!(ids(store, &q), ["t1"], "span content, case-insensitive");
    let mut q = query();
    q.q = Some("umbrella".into());
    assert_eq!(ids(store, &q), ["t2"], "log record content");
    let mut q = query();
    q.q = Some("%".into());
    assert!(
        ids(store, &q).is_empty(),
        "% is a character, not a wildcard"
    );
    let mut q = query();
    q.from_ns = Some(base + 5 * SEC);
    q.to_ns = Some(base + 15 * SEC);
    assert_eq!(ids(store, &q), ["t2"], "time range on the trace start");
    let mut q = query();
    q.from_ns = Some(base + SEC);
    assert_eq!(
        ids(store, &q),
        ["t3", "t2"],
        "a trace starting before `from` is out"
    );
    let mut q = query();
    q.service = Some("svc-a".into());
    q.provider = Some("openai".into());
    q.status = Some("ok".into());
    assert_eq!(ids(store, &q), ["t1"], "filters combine");
    let mut q = query();
    q.service = Some("nobody".into());
    assert!(ids(store, &q).is_empty());

    let mut q = query();
    q.limit = Some(2);
    assert_eq!(ids(store, &q), ["t3", "t2"]);
    q.offset = Some(2);
    assert_eq!(ids(store, &q), ["t1"]);
    q.offset = Some(3);
    assert!(ids(store, &q).is_empty());
}

fn suite_sessions(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    seed(store, base);

    let by_conv = store.sessions(&SessionKey::Conversation, 50, 0).unwrap();
    assert_eq!(by_conv.len(), 1);
    let c1 = &by_conv[0];
    assert_eq!(c1.key, "c1");
    assert_eq!(c1.traces, 2);
    assert_eq!(c1.first_ns, base);
    assert_eq!(c1.last_ns, base + 13 * SEC);
    assert_eq!(c1.llm_calls, 3);
    assert_eq!(c1.input_tokens, 117);
    assert_eq!(c1.output_tokens, 28);
    assert_eq!(c1.cost, Some(0.75));
    assert_eq!(c1.unknown_cost_calls, 1);
    assert_eq!(c1.errors, 1);

    let by_user = store
        .sessions(&SessionKey::Association("user_id".into()), 50, 0)
        .unwrap();
    let keys: Vec<(&str, i64)> = by_user.iter().map(|s| (s.key.as_str(), s.traces)).collect();
    assert_eq!(keys, [("alice", 2), ("bob", 1)], "most recent first");
    assert_eq!(by_user[0].llm_calls, 2);
    assert_eq!(by_user[1].errors, 1);

    let page = store
        .sessions(&SessionKey::Association("user_id".into()), 1, 1)
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].key, "bob");
    assert!(
        store
            .sessions(&SessionKey::Association("no_such".into()), 50, 0)
            .unwrap()
            .is_empty()
    );
}

fn suite_retention_by_age(store: &dyn Store) {
    let now = now_ns();
    let old = now - 3 * DAY;
    let new = now - 3600 * SEC;
    store
        .insert(
            &[
                span("old", "o1", None, "old root", "svc", old, SEC),
                llm(
                    span("old", "o2", Some("o1"), "chat", "svc", old + SEC, SEC),
                    "openai",
                    "gpt-4o",
                    1,
                    1,
                    Some(0.1),
                ),
                span("new", "n1", None, "new root", "svc", new, SEC),
            ],
            &[
                log("old", "o2", old + SEC, "old words"),
                log("new", "n1", new, "new words"),
            ],
        )
        .unwrap();
    assert_eq!(store.stats().unwrap().spans, 3);

    let out = store.retain(Some(now - DAY), None).unwrap();
    assert_eq!(out.spans_deleted, 2);
    assert_eq!(out.logs_deleted, 1);
    assert_eq!(ids(store, &query()), ["new"]);
    assert!(store.trace_spans("old").unwrap().is_empty());
    let stats = store.stats().unwrap();
    assert_eq!((stats.spans, stats.logs), (1, 1));
    let mut q = query();
    q.q = Some("old words".into());
    assert!(ids(store, &q).is_empty(), "the old log record is gone too");

    // Nothing older left: a second pass deletes nothing.
    let again = store.retain(Some(now - DAY), None).unwrap();
    assert_eq!((again.spans_deleted, again.logs_deleted), (0, 0));
    assert_eq!(ids(store, &query()), ["new"]);
}

/// A dashboard row as a comparable tuple (start offset, duration, TTFT, group, tokens in/out,
/// cost, error).
type DashTuple<'a> = (i64, i64, Option<i64>, &'a str, i64, i64, Option<f64>, bool);

fn suite_dashboard_rows(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    seed(store, base);
    let mut rows = store
        .dashboard_rows(base, base + 60 * SEC, Split::Model)
        .unwrap();
    rows.sort_by_key(|r| r.start_ns);
    let got: Vec<DashTuple<'_>> = rows
        .iter()
        .map(|r| {
            (
                r.start_ns - base,
                r.duration_ns,
                r.ttft_ns,
                r.group.as_str(),
                r.input_tokens,
                r.output_tokens,
                r.cost,
                r.error,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                SEC,
                2 * SEC,
                Some(300_000_000),
                "gpt-4o",
                100,
                20,
                Some(0.5),
                false
            ),
            (3 * SEC, SEC, None, "gpt-4o", 10, 5, Some(0.25), false),
            (11 * SEC, SEC, None, "claude-x", 7, 3, None, true),
        ],
        "LLM spans only"
    );
    let by_service = store
        .dashboard_rows(base + 2 * SEC, base + 60 * SEC, Split::Service)
        .unwrap();
    let mut groups: Vec<&str> = by_service.iter().map(|r| r.group.as_str()).collect();
    groups.sort();
    assert_eq!(
        groups,
        ["svc-a", "svc-b"],
        "range start excludes the first call"
    );
    let by_provider = store
        .dashboard_rows(base, base + 5 * SEC, Split::Provider)
        .unwrap();
    assert!(by_provider.iter().all(|r| r.group == "openai"));
    assert_eq!(by_provider.len(), 2);
}

fn report(version: &str, entries: serde_json::Value) -> FaultReport {
    serde_json::from_value(json!({
        "schema_version": 1, "sdk_version": version, "language": "rust", "os": "linux",
        "arch": "x86_64", "entries": entries,
    }))
    .unwrap()
}

fn suite_fault_reports(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    let e = |c: &str, k: &str, n: u64| json!({"component": c, "operation": "chat", "kind": k, "count": n});
    store
        .insert_fault_report(
            base,
            &report(
                "0.1.0",
                json!([e("openai", "parse", 2), e("anthropic", "parse", 1)]),
            ),
        )
        .unwrap();
    store
        .insert_fault_report(
            base + 30 * SEC,
            &report("0.1.0", json!([e("openai", "parse", 3)])),
        )
        .unwrap();
    store
        .insert_fault_report(
            base + 70 * SEC,
            &report("0.2.0", json!([e("openai", "parse", 5)])),
        )
        .unwrap();
    let bucket = 60 * SEC;
    let got: Vec<(i64, String, String, i64)> = store
        .fault_counts(base, base + 120 * SEC, bucket)
        .unwrap()
        .into_iter()
        .map(|c| (c.bucket_start_ns, c.sdk_version, c.component, c.count))
        .collect();
    let b0 = base / bucket * bucket;
    let b1 = (base + 70 * SEC) / bucket * bucket;
    let mut want = vec![
        (b0, "0.1.0".to_string(), "anthropic".to_string(), 1),
        (b0, "0.1.0".to_string(), "openai".to_string(), 2),
    ];
    // base + 30 s may fall in the next bucket.
    let b_mid = (base + 30 * SEC) / bucket * bucket;
    if b_mid == b0 {
        want[1].3 += 3;
    } else {
        want.push((b_mid, "0.1.0".to_string(), "openai".to_string(), 3));
    }
    want.push((b1, "0.2.0".to_string(), "openai".to_string(), 5));
    assert_eq!(got, want);
    assert!(
        store
            .fault_counts(base + 200 * SEC, base + 300 * SEC, bucket)
            .unwrap()
            .is_empty()
    );
}

/// Values with quotes, backslashes, SQL and wildcards are stored and matched as data.
fn suite_hostile_values_are_data(store: &dyn Store) {
    let base = now_ns() - 3600 * SEC;
    let evil = r#"x'); DROP TABLE spans; -- \' " ` %_ <script>"#;
    let mut s = span("h1", "s1", None, evil, evil, base, SEC);
    s.content = format!("prompt {evil}");
    // The SQLite store drops `"` and `\` from association keys (its JSON path quoting), so the
    // key here has every other hostile character.
    let evil_key = "user'); DROP TABLE spans; -- ` %_";
    s.association = json!({evil_key: evil});
    s.conversation_id = Some(evil.into());
    store
        .insert(
            &[s, span("h2", "s2", None, "plain", "svc", base + SEC, SEC)],
            &[],
        )
        .unwrap();

    for q in [
        {
            let mut q = query();
            q.service = Some(evil.into());
            q
        },
        {
            let mut q = query();
            q.q = Some(evil.into());
            q
        },
        {
            let mut q = query();
            q.conversation = Some(evil.into());
            q
        },
        {
            let mut q = query();
            q.assoc_key = Some(evil_key.into());
            q.assoc_value = Some(evil.into());
            q
        },
    ] {
        assert_eq!(ids(store, &q), ["h1"], "{q:?}");
    }
    let t = store.trace_spans("h1").unwrap();
    assert_eq!(t[0]["name"], json!(evil));
    assert_eq!(t[0]["service"], json!(evil));
    assert!(store.trace_spans(evil).unwrap().is_empty());
    assert!(store.span(evil, evil).unwrap().is_none());
    let sessions = store.sessions(&SessionKey::Conversation, 10, 0).unwrap();
    assert_eq!(sessions[0].key, evil);
    assert_eq!(store.stats().unwrap().spans, 2, "both tables still there");
}

// ---- backends ----

fn with_sqlite(f: fn(&dyn Store)) {
    let dir = std::env::temp_dir().join(format!(
        "openllmetry-store-suite-{}-{}",
        std::process::id(),
        now_ns()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("ui.sqlite")).unwrap();
    f(&store);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh ClickHouse server, or `None` (skip) when none is installed outside CI.
fn clickhouse_server() -> Option<ClickHouseServer> {
    match ClickHouseServer::start() {
        Ok(s) => Some(s),
        Err(ClickHouseStartError::NotInstalled) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED: {} (the ClickHouse store tests need it; they fail instead under CI)",
                ClickHouseStartError::NotInstalled
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn with_clickhouse(f: fn(&dyn Store)) {
    let Some(server) = clickhouse_server() else {
        return;
    };
    let store = ClickHouseStore::open_url(&server.url("openllmetry_test"))
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    f(&store);
}

macro_rules! both {
    ($($suite:ident => $sqlite:ident, $clickhouse:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            with_sqlite($suite);
        }
        #[test]
        fn $clickhouse() {
            with_clickhouse($suite);
        }
    )*};
}

both! {
    suite_ingest_and_trace_detail => sqlite_ingest_and_trace_detail, clickhouse_ingest_and_trace_detail;
    suite_traces_list_and_filters => sqlite_traces_list_and_filters, clickhouse_traces_list_and_filters;
    suite_sessions => sqlite_sessions, clickhouse_sessions;
    suite_retention_by_age => sqlite_retention_by_age, clickhouse_retention_by_age;
    suite_hostile_values_are_data => sqlite_hostile_values_are_data, clickhouse_hostile_values_are_data;
    suite_dashboard_rows => sqlite_dashboard_rows, clickhouse_dashboard_rows;
    suite_fault_reports => sqlite_fault_reports, clickhouse_fault_reports;
}

// ---- ClickHouse only ----

#[test]
fn clickhouse_migrations_are_versioned_and_idempotent() {
    let Some(server) = clickhouse_server() else {
        return;
    };
    let url = server.url("mig");
    let first = ClickHouseStore::open_url(&url).unwrap();
    assert_eq!(first.schema_version().unwrap(), SCHEMA_VERSION);
    first
        .insert(&[span("m", "m1", None, "kept", "svc", now_ns(), SEC)], &[])
        .unwrap();
    // A second instance (another `ui` behind the load balancer) opens the same database:
    // no migration runs again, the data is shared.
    let second = ClickHouseStore::open_url(&url).unwrap();
    assert_eq!(second.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(ids(&second, &query()), ["m"]);
}

#[test]
fn clickhouse_credentials_from_url_and_env_are_used() {
    let Some(server) = clickhouse_server() else {
        return;
    };
    let (user, pass) = TEST_USER;
    let addr = server.addr();
    let ok = ClickHouseStore::open_url(&format!("clickhouse://{user}:{pass}@{addr}/cred")).unwrap();
    assert_eq!(ok.schema_version().unwrap(), SCHEMA_VERSION);
    let env = |k: &str| match k {
        "OPENLLMETRY_CLICKHOUSE_USER" => Some(user.to_string()),
        "OPENLLMETRY_CLICKHOUSE_PASSWORD" => Some(pass.to_string()),
        _ => None,
    };
    let cfg =
        ClickHouseConfig::from_url_with_env(&format!("clickhouse://{addr}/cred"), env).unwrap();
    assert_eq!(
        ClickHouseStore::open(cfg)
            .unwrap()
            .schema_version()
            .unwrap(),
        SCHEMA_VERSION
    );
    let err = ClickHouseStore::open_url(&format!("clickhouse://{user}:wrong-pass-xyz@{addr}/cred"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("wrong-pass-xyz"), "{err}");
    assert!(err.contains("HTTP"), "{err}");
}

#[test]
fn clickhouse_size_cap_drops_the_oldest_traces() {
    let Some(server) = clickhouse_server() else {
        return;
    };
    let store = ClickHouseStore::open_url(&server.url("size")).unwrap();
    let base = now_ns() - 3600 * SEC;
    let spans: Vec<SpanRecord> = (0..20)
        .map(|i| {
            span(
                &format!("t{i:02}"),
                "s",
                None,
                "root",
                "svc",
                base + i * SEC,
                SEC,
            )
        })
        .collect();
    store.insert(&spans, &[]).unwrap();
    // A cap of one byte: one pass drops the oldest tenth (2 of 20 traces).
    let out = store.retain(None, Some(1)).unwrap();
    assert_eq!(out.spans_deleted, 2);
    let mut q = query();
    q.limit = Some(100);
    let left = ids(&store, &q);
    assert_eq!(left.len(), 18);
    assert_eq!(left.first().map(String::as_str), Some("t19"), "newest kept");
    assert_eq!(
        left.last().map(String::as_str),
        Some("t02"),
        "t00 and t01 dropped"
    );
    // Under the cap nothing goes.
    let out = store.retain(None, Some(u64::MAX)).unwrap();
    assert_eq!(out.spans_deleted, 0);
}
