//! The export pipeline's parts: the post-processing hook's processor, failure counting around
//! OTLP exporters, and the bounds (request size, queue bytes and spans, attribute value
//! length). [`crate::pipeline`] assembles them from the resolved configuration; nothing here
//! reads configuration.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::telemetry::{Component, Kind};

/// The span post-processing hook (the same type as [`crate::config::SpanPostprocessHook`]).
pub(crate) type Hook = Arc<dyn Fn(&mut SpanData) + Send + Sync>;

/// A span processor that runs the post-processing hook on each finished span, then hands
/// it to the wrapped processor.
pub(crate) struct PostProcess<P> {
    pub(crate) hook: Hook,
    pub(crate) inner: P,
}

impl<P> fmt::Debug for PostProcess<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostProcess").finish_non_exhaustive()
    }
}

impl<P: SpanProcessor> SpanProcessor for PostProcess<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        let hook = &self.hook;
        // A panicking user hook must not lose the span nor reach the application.
        let mut copy = span.clone();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&mut copy))).is_ok() {
            span = copy;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// An OTLP exporter whose failed exports (their data is dropped) are counted as
/// `sdk_export` / `export_failed` faults ([`crate::telemetry::fault_counts`]).
#[derive(Debug)]
pub(crate) struct CountFailures<E>(pub(crate) E, pub(crate) &'static str);

fn counted(result: OTelSdkResult, signal: &'static str) -> OTelSdkResult {
    if let Err(e) = &result {
        crate::telemetry::record_sdk_fault(Component::SdkExport, Kind::ExportFailed);
        crate::diagnostics::export_failed(signal, &e.to_string());
    }
    result
}

impl<E: SpanExporter> SpanExporter for CountFailures<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        counted(self.0.export(batch).await, self.1)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

impl<E: opentelemetry_sdk::metrics::exporter::PushMetricExporter>
    opentelemetry_sdk::metrics::exporter::PushMetricExporter for CountFailures<E>
{
    async fn export(
        &self,
        metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> OTelSdkResult {
        counted(self.0.export(metrics).await, self.1)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality()
    }
}

impl<E: opentelemetry_sdk::logs::LogExporter> opentelemetry_sdk::logs::LogExporter
    for CountFailures<E>
{
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        counted(self.0.export(batch).await, self.1)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.0.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

// ---------------------------------------------------------------------------------------
// Bounded export: request size, queue bytes, attribute value length.
// ---------------------------------------------------------------------------------------

/// Span attribute listing the attribute keys whose values were truncated before export
/// (request-size cap, export-queue byte budget or the OTel attribute value length limit).
pub const TRUNCATED_ATTRIBUTE: &str = "openllmetry.truncated";

/// Upper bound of the encoded bytes of one span besides its strings and attributes (ids,
/// times, kind, status, flags, field framing; generous for both protobuf and JSON).
const SPAN_OVERHEAD: usize = 1024;
/// Upper bound of the framing of one attribute, event or link besides its strings.
const ITEM_OVERHEAD: usize = 96;
/// Upper bound of the framing of one request besides the resource's attributes.
const REQUEST_OVERHEAD: usize = 4096;
/// Room kept for the `openllmetry.truncated` attribute itself.
const MARK_ROOM: usize = 4096;
/// At most this many keys are listed in `openllmetry.truncated`.
const MAX_MARKED_KEYS: usize = 32;
/// A span admitted past the queue's byte budget keeps at most this many bytes.
const OVER_BUDGET_SPAN_BYTES: usize = 16 * 1024;

/// How the exporter encodes spans (what the size estimate must bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// Upper bound of the encoded length of `s` (JSON: escaped as serde_json does, control
    /// characters counted as `\uXXXX`).
    fn str_len(self, s: &str) -> usize {
        match self {
            Encoding::Protobuf => s.len(),
            Encoding::Json => s
                .bytes()
                .map(|b| match b {
                    b'"' | b'\\' => 2,
                    0..=0x1f => 6,
                    _ => 1,
                })
                .sum(),
        }
    }

    fn value_len(self, v: &opentelemetry::Value) -> usize {
        use opentelemetry::{Array, Value};
        match v {
            Value::String(s) => self.str_len(s.as_str()),
            Value::Array(Array::String(a)) => a
                .iter()
                .map(|s| self.str_len(s.as_str()) + ITEM_OVERHEAD)
                .sum(),
            Value::Array(Array::Bool(a)) => a.len() * 32,
            Value::Array(Array::I64(a)) => a.len() * 48,
            Value::Array(Array::F64(a)) => a.len() * 48,
            // Scalars and future variants: their text form, doubled, plus room.
            other => other.as_str().len() * 2 + 64,
        }
    }

    fn kvs_len(self, kvs: &[opentelemetry::KeyValue]) -> usize {
        kvs.iter()
            .map(|kv| ITEM_OVERHEAD + self.str_len(kv.key.as_str()) + self.value_len(&kv.value))
            .sum()
    }

    /// Upper bound of the encoded size of `span` inside a request (its scope counted with it).
    pub(crate) fn span_len(self, span: &SpanData) -> usize {
        let scope = &span.instrumentation_scope;
        let mut n = SPAN_OVERHEAD
            + self.str_len(&span.name)
            + self.kvs_len(&span.attributes)
            + self.str_len(scope.name())
            + scope.version().map_or(0, |v| self.str_len(v))
            + scope.schema_url().map_or(0, |v| self.str_len(v))
            + self.kvs_len(&scope.attributes().cloned().collect::<Vec<_>>());
        if let opentelemetry::trace::Status::Error { description } = &span.status {
            n += self.str_len(description);
        }
        for e in span.events.iter() {
            n += ITEM_OVERHEAD + self.str_len(&e.name) + self.kvs_len(&e.attributes);
        }
        for l in span.links.iter() {
            n += ITEM_OVERHEAD + 128 + self.kvs_len(&l.attributes);
            n += self.str_len(&l.span_context.trace_state().header());
        }
        n
    }
}

/// Where a string value lives in a span.
#[derive(Clone, Copy)]
enum Slot {
    Attr(usize, Option<usize>),
    Event(usize, usize, Option<usize>),
}

fn slot_value(span: &mut SpanData, slot: Slot) -> Option<(&mut opentelemetry::Value, String)> {
    match slot {
        Slot::Attr(i, _) => span
            .attributes
            .get_mut(i)
            .map(|kv| (&mut kv.value, kv.key.as_str().to_owned())),
        Slot::Event(e, i, _) => span
            .events
            .events
            .get_mut(e)
            .and_then(|ev| ev.attributes.get_mut(i))
            .map(|kv| (&mut kv.value, kv.key.as_str().to_owned())),
    }
}

fn elem(slot: Slot) -> Option<usize> {
    match slot {
        Slot::Attr(_, j) | Slot::Event(_, _, j) => j,
    }
}

/// Every string (and string-array element) value of the span with its byte length.
fn string_slots(span: &SpanData) -> Vec<(Slot, usize)> {
    use opentelemetry::{Array, Value};
    let mut out = Vec::new();
    let mut push =
        |kv: &opentelemetry::KeyValue, mk: &dyn Fn(Option<usize>) -> Slot| match &kv.value {
            Value::String(s) => out.push((mk(None), s.as_str().len())),
            Value::Array(Array::String(a)) => {
                for (j, s) in a.iter().enumerate() {
                    out.push((mk(Some(j)), s.as_str().len()));
                }
            }
            _ => {}
        };
    for (i, kv) in span.attributes.iter().enumerate() {
        push(kv, &|j| Slot::Attr(i, j));
    }
    for (e, ev) in span.events.iter().enumerate() {
        for (i, kv) in ev.attributes.iter().enumerate() {
            push(kv, &|j| Slot::Event(e, i, j));
        }
    }
    out
}

/// Cuts the string at `slot` to at most `max` bytes (on a character boundary) or `max_chars`
/// characters; returns its key when something was cut.
fn cut(span: &mut SpanData, slot: Slot, max: usize, max_chars: Option<usize>) -> Option<String> {
    use opentelemetry::{Array, StringValue, Value};
    let j = elem(slot);
    let (value, key) = slot_value(span, slot)?;
    let text: &mut StringValue = match (value, j) {
        (Value::String(s), None) => s,
        (Value::Array(Array::String(a)), Some(j)) => a.get_mut(j)?,
        _ => return None,
    };
    let s = text.as_str();
    let mut end = s.len().min(max);
    if let Some(c) = max_chars
        && let Some((i, _)) = s.char_indices().nth(c)
    {
        end = end.min(i);
    }
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end == s.len() {
        return None;
    }
    let short = s[..end].to_owned();
    *text = StringValue::from(short);
    Some(key)
}

/// Records `keys` on the span in [`TRUNCATED_ATTRIBUTE`] (merged with an earlier mark) and
/// counts the span once.
fn mark(span: &mut SpanData, mut keys: Vec<String>) {
    use opentelemetry::{Array, KeyValue, StringValue, Value};
    if keys.is_empty() {
        return;
    }
    let existing = span
        .attributes
        .iter()
        .position(|kv| kv.key.as_str() == TRUNCATED_ATTRIBUTE);
    if let Some(i) = existing {
        if let Value::Array(Array::String(a)) = &span.attributes[i].value {
            keys.extend(a.iter().map(|s| s.as_str().to_owned()));
        }
        span.attributes.remove(i);
    } else {
        crate::diagnostics::span_truncated();
    }
    keys.sort();
    keys.dedup();
    keys.truncate(MAX_MARKED_KEYS);
    span.attributes.push(KeyValue::new(
        TRUNCATED_ATTRIBUTE,
        Value::Array(Array::String(
            keys.into_iter().map(StringValue::from).collect(),
        )),
    ));
}

/// Applies the attribute value length limit (characters) to every string value.
/// Returns whether anything was cut.
pub(crate) fn limit_values(span: &mut SpanData, max_chars: usize) -> bool {
    let mut keys = Vec::new();
    for (slot, len) in string_slots(span) {
        // A string of at most `max_chars` bytes has at most `max_chars` characters.
        if len > max_chars
            && let Some(k) = cut(span, slot, usize::MAX, Some(max_chars))
        {
            keys.push(k);
        }
    }
    let cut_any = !keys.is_empty();
    mark(span, keys);
    cut_any
}

/// Truncates the span's largest string values until its encoded size is at most `budget`
/// (content is where the bytes are); marks what was cut. `size` is the span's encoded size
/// now; returns its encoded size after.
pub(crate) fn shrink(span: &mut SpanData, budget: usize, enc: Encoding, mut size: usize) -> usize {
    let budget = budget.saturating_sub(MARK_ROOM);
    let mut keys = Vec::new();
    let mut guard = 0;
    while size > budget && guard < 10_000 {
        guard += 1;
        let slots = string_slots(span);
        let Some(&(slot, len)) = slots.iter().max_by_key(|(_, len)| *len) else {
            break;
        };
        if len == 0 {
            break;
        }
        // Cutting k bytes shrinks the encoding by at least k (JSON escapes only grow).
        let excess = size - budget;
        let keep = len.saturating_sub(excess);
        match cut(span, slot, keep, None) {
            Some(k) => keys.push(k),
            None => break,
        }
        size = enc.span_len(span);
    }
    if keys.is_empty() {
        return size;
    }
    mark(span, keys);
    enc.span_len(span)
}

/// Spans waiting for export: their number and estimated encoded bytes.
#[derive(Debug)]
pub(crate) struct QueueBudget {
    bytes: AtomicUsize,
    spans: AtomicUsize,
    max_bytes: usize,
    max_spans: usize,
    enc: Encoding,
}

impl QueueBudget {
    /// An empty queue of at most `max_spans` spans and `max_bytes` estimated bytes.
    pub(crate) fn new(max_bytes: usize, max_spans: usize, enc: Encoding) -> Arc<Self> {
        Arc::new(QueueBudget {
            bytes: AtomicUsize::new(0),
            spans: AtomicUsize::new(0),
            max_bytes,
            max_spans,
            enc,
        })
    }

    fn release(&self, bytes: usize, spans: usize) {
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(bytes))
            });
        let _ = self
            .spans
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(spans))
            });
    }
}

/// The processor in front of the batch processor: drops (counted) when the queue holds
/// `max_spans`, truncates (marked, counted) when it would exceed `max_bytes`.
pub(crate) struct Budgeted<P> {
    pub(crate) budget: Arc<QueueBudget>,
    pub(crate) inner: P,
}

impl<P> fmt::Debug for Budgeted<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgeted")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<P: SpanProcessor> SpanProcessor for Budgeted<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        let b = &self.budget;
        if b.spans.load(Ordering::Relaxed) >= b.max_spans {
            crate::diagnostics::span_dropped("export queue full (spans)");
            return;
        }
        let mut size = b.enc.span_len(&span);
        let used = b.bytes.load(Ordering::Relaxed);
        if used.saturating_add(size) > b.max_bytes {
            let room = b.max_bytes.saturating_sub(used).max(OVER_BUDGET_SPAN_BYTES);
            size = shrink(&mut span, room, b.enc, size);
        }
        b.bytes.fetch_add(size, Ordering::Relaxed);
        b.spans.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// The exporter behind the batch processor: applies the attribute value length limit, splits
/// each batch into requests of at most `max_request_bytes` (a span too large alone is
/// shrunk), and releases the queue budget.
#[derive(Debug)]
pub(crate) struct Bounded<E> {
    inner: E,
    budget: Arc<QueueBudget>,
    max_request_bytes: usize,
    value_limit: Option<usize>,
    resource_len: usize,
}

impl<E> Bounded<E> {
    /// `inner` behind the request-size cap and the value length limit, releasing `budget`.
    pub(crate) fn new(
        inner: E,
        budget: Arc<QueueBudget>,
        max_request_bytes: usize,
        value_limit: Option<usize>,
    ) -> Self {
        Bounded {
            inner,
            budget,
            max_request_bytes,
            value_limit,
            resource_len: 0,
        }
    }
}

impl<E: SpanExporter> SpanExporter for Bounded<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let enc = self.budget.enc;
        // Each span's encoded size is computed once here (and again only if it is cut): what
        // the queue charged for it is its size as it arrives.
        let mut charged = 0;
        let count = batch.len();
        let room = self
            .max_request_bytes
            .saturating_sub(REQUEST_OVERHEAD + self.resource_len)
            .max(OVER_BUDGET_SPAN_BYTES);
        let mut requests: Vec<Vec<SpanData>> = Vec::new();
        let mut current = Vec::new();
        let mut current_len = 0;
        for mut span in batch {
            let mut len = enc.span_len(&span);
            charged += len;
            if let Some(limit) = self.value_limit
                && limit_values(&mut span, limit)
            {
                len = enc.span_len(&span);
            }
            if len > room {
                len = shrink(&mut span, room, enc, len);
            }
            if !current.is_empty() && current_len + len > room {
                requests.push(std::mem::take(&mut current));
                current_len = 0;
            }
            current_len += len;
            current.push(span);
        }
        if !current.is_empty() {
            requests.push(current);
        }
        let mut result = Ok(());
        for request in requests {
            if let Err(e) = self.inner.export(request).await {
                // The endpoint is failing: the rest of this batch would wait out the same
                // timeout; it is counted lost with this failure.
                result = Err(e);
                break;
            }
        }
        self.budget.release(charged, count);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        let enc = self.budget.enc;
        self.resource_len = resource
            .iter()
            .map(|(k, v)| ITEM_OVERHEAD + enc.str_len(k.as_str()) + enc.value_len(v))
            .sum::<usize>()
            + resource.schema_url().map_or(0, |s| enc.str_len(s));
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;

    fn span(attrs: Vec<KeyValue>, events: Vec<Event>) -> SpanData {
        let mut ev = SpanEvents::default();
        ev.events = events;
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(9u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(3u64),
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: "chat \"gpt\"\n".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: attrs,
            dropped_attributes_count: 0,
            events: ev,
            links: SpanLinks::default(),
            status: Status::error("boom\u{1}"),
            instrumentation_scope: InstrumentationScope::builder("scope")
                .with_version("1.0")
                .build(),
        }
    }

    /// Attributes of every shape, with text JSON has to escape heavily.
    fn awkward() -> Vec<SpanData> {
        let nasty: String = "\"\\\u{0}\u{1f}é漢\n".repeat(500);
        let attrs = vec![
            KeyValue::new("s", nasty.clone()),
            KeyValue::new("i", i64::MIN),
            KeyValue::new("f", -1.234_567_890_123e-300),
            KeyValue::new("b", true),
            KeyValue::new(
                "a",
                Value::Array(Array::String(vec![
                    StringValue::from(nasty.clone()),
                    StringValue::from(""),
                ])),
            ),
            KeyValue::new("ai", Value::Array(Array::I64(vec![i64::MIN; 50]))),
            KeyValue::new("af", Value::Array(Array::F64(vec![f64::MIN; 50]))),
            KeyValue::new("ab", Value::Array(Array::Bool(vec![false; 50]))),
        ];
        let events = vec![Event::new(
            "gen_ai.content",
            std::time::SystemTime::now(),
            vec![KeyValue::new("content", nasty)],
            0,
        )];
        vec![
            span(attrs.clone(), events),
            span(vec![], vec![]),
            span(attrs, vec![]),
        ]
    }

    fn request(
        spans: Vec<SpanData>,
        resource: &opentelemetry_sdk::Resource,
    ) -> ExportTraceServiceRequest {
        use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(resource),
            ),
        }
    }

    fn resource() -> opentelemetry_sdk::Resource {
        opentelemetry_sdk::Resource::builder()
            .with_attribute(KeyValue::new("service.name", "svc\"\n"))
            .build()
    }

    fn estimate(
        spans: &[SpanData],
        enc: Encoding,
        resource: &opentelemetry_sdk::Resource,
    ) -> usize {
        let resource_len: usize = resource
            .iter()
            .map(|(k, v)| ITEM_OVERHEAD + enc.str_len(k.as_str()) + enc.value_len(v))
            .sum();
        REQUEST_OVERHEAD + resource_len + spans.iter().map(|s| enc.span_len(s)).sum::<usize>()
    }

    /// The size estimate bounds the real protobuf encoding (prost's exact `encoded_len`) and
    /// the real JSON encoding (opentelemetry-proto's serde) from above.
    #[test]
    fn the_estimate_is_an_upper_bound_of_both_encodings() {
        let res = resource();
        let spans = awkward();
        let proto = request(spans.clone(), &res).encoded_len();
        let est = estimate(&spans, Encoding::Protobuf, &res);
        assert!(proto <= est, "protobuf {proto} > estimate {est}");
        let json = serde_json::to_vec(&request(spans.clone(), &res))
            .unwrap()
            .len();
        let est = estimate(&spans, Encoding::Json, &res);
        assert!(json <= est, "json {json} > estimate {est}");
    }

    #[test]
    fn shrink_fits_the_budget_cuts_the_largest_value_and_marks_it() {
        let big = "é".repeat(300_000); // 600,000 bytes, two-byte characters
        let mut s = span(
            vec![
                KeyValue::new("gen_ai.prompt", big),
                KeyValue::new("gen_ai.request.model", "gpt-4o"),
            ],
            vec![],
        );
        let before = Encoding::Json.span_len(&s);
        let after = shrink(&mut s, 100_000, Encoding::Json, before);
        assert_eq!(
            after,
            Encoding::Json.span_len(&s),
            "the size returned is the size"
        );
        assert!(after <= 100_000);
        let prompt = s
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "gen_ai.prompt")
            .unwrap();
        let kept = prompt.value.as_str().len();
        assert!(kept > 50_000 && kept < 100_000, "kept {kept}");
        let model = s
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "gen_ai.request.model")
            .unwrap();
        assert_eq!(model.value.as_str(), "gpt-4o");
        let mark = s
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == TRUNCATED_ATTRIBUTE)
            .unwrap();
        assert_eq!(
            mark.value,
            Value::Array(Array::String(vec![StringValue::from("gen_ai.prompt")]))
        );
    }

    #[test]
    fn the_value_length_limit_counts_characters_in_attributes_arrays_and_events() {
        let mut s = span(
            vec![
                KeyValue::new("long", "ééééé"),
                KeyValue::new("short", "abc"),
                KeyValue::new(
                    "list",
                    Value::Array(Array::String(vec![StringValue::from("abcdef")])),
                ),
            ],
            vec![Event::new(
                "e",
                std::time::SystemTime::now(),
                vec![KeyValue::new("content", "123456")],
                0,
            )],
        );
        limit_values(&mut s, 4);
        let get = |k: &str| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(get("long").as_str(), "éééé");
        assert_eq!(get("short").as_str(), "abc");
        assert_eq!(
            get("list"),
            Value::Array(Array::String(vec![StringValue::from("abcd")]))
        );
        assert_eq!(s.events.events[0].attributes[0].value.as_str(), "1234");
        assert_eq!(
            get(TRUNCATED_ATTRIBUTE),
            Value::Array(Array::String(vec![
                StringValue::from("content"),
                StringValue::from("list"),
                StringValue::from("long"),
            ]))
        );
    }
}
