//! Flattened, assertion-friendly views of exported telemetry, shared by the
//! [`OtlpReceiver`](crate::otlp::OtlpReceiver) (decoded from the wire) and
//! [`Capture`](crate::capture::Capture) (read from in-memory exporters), so the same assertions
//! work on both.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
pub use opentelemetry::trace::SpanKind;

/// Attributes by key (sorted; a repeated key keeps its last value).
pub type Attributes = BTreeMap<String, AttrValue>;

/// An attribute (or log body) value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// An array (OpenTelemetry attribute arrays are homogeneous; log bodies may not be).
    Array(Vec<AttrValue>),
    /// Raw bytes (OTLP `bytesValue`; only in log bodies/attributes).
    Bytes(Vec<u8>),
    /// A map (OTLP `kvlistValue`; only in log bodies/attributes).
    Map(BTreeMap<String, AttrValue>),
    /// An OTLP `AnyValue` with no value set.
    Empty,
}

impl AttrValue {
    /// The string, if this is a [`AttrValue::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an [`AttrValue::Int`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is an [`AttrValue::Double`] (or an [`AttrValue::Int`], converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Double(d) => Some(*d),
            AttrValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is an [`AttrValue::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an [`AttrValue::Array`].
    pub fn as_array(&self) -> Option<&[AttrValue]> {
        match self {
            AttrValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The strings, if this is an array of strings only.
    pub fn as_str_array(&self) -> Option<Vec<&str>> {
        self.as_array()?.iter().map(AttrValue::as_str).collect()
    }

    /// The integers, if this is an array of integers only.
    pub fn as_i64_array(&self) -> Option<Vec<i64>> {
        self.as_array()?.iter().map(AttrValue::as_i64).collect()
    }

    /// The entries, if this is an [`AttrValue::Map`].
    pub fn as_map(&self) -> Option<&BTreeMap<String, AttrValue>> {
        match self {
            AttrValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Parses a string value as JSON (GenAI message attributes are JSON strings).
    pub fn parse_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.as_str()?).ok()
    }

    /// The value as JSON: strings, numbers, booleans, arrays and objects as such; bytes as a
    /// base64 string; [`AttrValue::Empty`] and non-finite doubles as `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            AttrValue::String(s) => J::String(s.clone()),
            AttrValue::Int(i) => J::from(*i),
            AttrValue::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            AttrValue::Bool(b) => J::Bool(*b),
            AttrValue::Array(a) => J::Array(a.iter().map(AttrValue::to_json).collect()),
            AttrValue::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            AttrValue::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            AttrValue::Empty => J::Null,
        }
    }

    /// Appends every string inside this value (map keys included) to `out`, one per line.
    pub(crate) fn push_text(&self, out: &mut String) {
        match self {
            AttrValue::String(s) => push_line(out, s),
            AttrValue::Array(a) => a.iter().for_each(|v| v.push_text(out)),
            AttrValue::Map(m) => m.iter().for_each(|(k, v)| {
                push_line(out, k);
                v.push_text(out);
            }),
            AttrValue::Bytes(b) => push_line(out, &String::from_utf8_lossy(b)),
            AttrValue::Int(_) | AttrValue::Double(_) | AttrValue::Bool(_) | AttrValue::Empty => {}
        }
    }
}

pub(crate) fn push_line(out: &mut String, s: &str) {
    out.push_str(s);
    out.push('\n');
}

pub(crate) fn push_attrs_text(out: &mut String, attrs: &Attributes) {
    for (k, v) in attrs {
        push_line(out, k);
        v.push_text(out);
    }
}

impl fmt::Display for AttrValue {
    /// Strings as they are, everything else as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::String(s) => f.write_str(s),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::String(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::String(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Double(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl<T: Into<AttrValue>> From<Vec<T>> for AttrValue {
    fn from(v: Vec<T>) -> Self {
        AttrValue::Array(v.into_iter().map(Into::into).collect())
    }
}

impl PartialEq<str> for AttrValue {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}
impl PartialEq<&str> for AttrValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
impl PartialEq<String> for AttrValue {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}
impl PartialEq<i64> for AttrValue {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}
impl PartialEq<f64> for AttrValue {
    fn eq(&self, other: &f64) -> bool {
        matches!(self, AttrValue::Double(d) if d == other)
    }
}
impl PartialEq<bool> for AttrValue {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl From<&opentelemetry::Value> for AttrValue {
    fn from(value: &opentelemetry::Value) -> Self {
        use opentelemetry::{Array, Value};
        match value {
            Value::Bool(b) => AttrValue::Bool(*b),
            Value::I64(i) => AttrValue::Int(*i),
            Value::F64(d) => AttrValue::Double(*d),
            Value::String(s) => AttrValue::String(s.as_str().to_string()),
            Value::Array(Array::Bool(a)) => a.iter().map(|b| AttrValue::Bool(*b)).collect(),
            Value::Array(Array::I64(a)) => a.iter().map(|i| AttrValue::Int(*i)).collect(),
            Value::Array(Array::F64(a)) => a.iter().map(|d| AttrValue::Double(*d)).collect(),
            Value::Array(Array::String(a)) => a
                .iter()
                .map(|s| AttrValue::String(s.as_str().to_string()))
                .collect(),
            // `Value` and `Array` are non-exhaustive; render anything new as text.
            other => AttrValue::String(other.to_string()),
        }
    }
}

impl FromIterator<AttrValue> for AttrValue {
    fn from_iter<I: IntoIterator<Item = AttrValue>>(iter: I) -> Self {
        AttrValue::Array(iter.into_iter().collect())
    }
}

impl From<&opentelemetry::logs::AnyValue> for AttrValue {
    fn from(value: &opentelemetry::logs::AnyValue) -> Self {
        use opentelemetry::logs::AnyValue;
        match value {
            AnyValue::Int(i) => AttrValue::Int(*i),
            AnyValue::Double(d) => AttrValue::Double(*d),
            AnyValue::String(s) => AttrValue::String(s.as_str().to_string()),
            AnyValue::Boolean(b) => AttrValue::Bool(*b),
            AnyValue::Bytes(b) => AttrValue::Bytes(b.to_vec()),
            AnyValue::ListAny(list) => list.iter().map(AttrValue::from).collect(),
            AnyValue::Map(map) => AttrValue::Map(
                map.iter()
                    .map(|(k, v)| (k.as_str().to_string(), AttrValue::from(v)))
                    .collect(),
            ),
            other => AttrValue::String(format!("{other:?}")),
        }
    }
}

impl From<&opentelemetry_proto::tonic::common::v1::AnyValue> for AttrValue {
    fn from(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Self {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        match &value.value {
            None => AttrValue::Empty,
            Some(Value::StringValue(s)) => AttrValue::String(s.clone()),
            Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
            Some(Value::IntValue(i)) => AttrValue::Int(*i),
            Some(Value::DoubleValue(d)) => AttrValue::Double(*d),
            Some(Value::ArrayValue(a)) => a.values.iter().map(AttrValue::from).collect(),
            Some(Value::KvlistValue(kv)) => AttrValue::Map(proto_attributes(&kv.values)),
            Some(Value::BytesValue(b)) => AttrValue::Bytes(b.clone()),
            // newer proto variants (e.g. string table references)
            #[allow(unreachable_patterns)]
            Some(other) => AttrValue::String(format!("{other:?}")),
        }
    }
}

/// Proto key-values as [`Attributes`].
pub(crate) fn proto_attributes(
    kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> Attributes {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(AttrValue::Empty, AttrValue::from),
            )
        })
        .collect()
}

/// SDK key-values as [`Attributes`].
pub(crate) fn sdk_attributes<'a>(
    kvs: impl IntoIterator<Item = &'a opentelemetry::KeyValue>,
) -> Attributes {
    kvs.into_iter()
        .map(|kv| (kv.key.as_str().to_string(), AttrValue::from(&kv.value)))
        .collect()
}

/// Lower-case hex; `None` for empty or all-zero ids.
pub(crate) fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| *b == 0) {
        return None;
    }
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A span's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatusCode {
    /// Not set.
    #[default]
    Unset,
    /// Explicitly OK.
    Ok,
    /// An error.
    Error,
}

/// A span, flattened: ids as lower-case hex, attributes as a sorted map, resource and scope
/// inlined.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// Span name.
    pub name: String,
    /// Span kind (an OTLP `SPAN_KIND_UNSPECIFIED` reads as [`SpanKind::Internal`]).
    pub kind: SpanKind,
    /// Trace id, 32 lower-case hex digits.
    pub trace_id: String,
    /// Span id, 16 lower-case hex digits.
    pub span_id: String,
    /// Parent span id, `None` for a root span.
    pub parent_span_id: Option<String>,
    /// Span attributes.
    pub attributes: Attributes,
    /// Events: name and attributes, in order.
    pub events: Vec<(String, Attributes)>,
    /// Links: (trace id, span id), in order.
    pub links: Vec<(String, String)>,
    /// Status code.
    pub status_code: StatusCode,
    /// Status message (empty unless the status is an error with a description).
    pub status_message: String,
    /// Resource attributes.
    pub resource: Attributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version (empty if none).
    pub scope_version: String,
    /// Start time, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End time, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
}

impl ReceivedSpan {
    /// An attribute.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key)?.as_str()
    }

    /// An integer attribute.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attr(key)?.as_i64()
    }

    /// A floating point attribute (integers are converted).
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attr(key)?.as_f64()
    }

    /// A boolean attribute.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        self.attr(key)?.as_bool()
    }

    /// A string-array attribute.
    pub fn attr_str_array(&self, key: &str) -> Option<Vec<&str>> {
        self.attr(key)?.as_str_array()
    }

    /// The attributes of the first event with this name.
    pub fn event(&self, name: &str) -> Option<&Attributes> {
        self.events.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Duration in nanoseconds.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }

    /// Every string in the span: name, attribute keys and values, event names and attributes,
    /// status message, resource and scope; one per line.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        self.push_text(&mut out);
        out
    }

    pub(crate) fn push_text(&self, out: &mut String) {
        push_line(out, &self.name);
        push_attrs_text(out, &self.attributes);
        for (name, attrs) in &self.events {
            push_line(out, name);
            push_attrs_text(out, attrs);
        }
        push_line(out, &self.status_message);
        push_attrs_text(out, &self.resource);
        push_line(out, &self.scope_name);
        push_line(out, &self.scope_version);
    }

    pub(crate) fn from_proto(
        span: &opentelemetry_proto::tonic::trace::v1::Span,
        resource: &Attributes,
        scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
    ) -> ReceivedSpan {
        use opentelemetry_proto::tonic::trace::v1::span::SpanKind as P;
        use opentelemetry_proto::tonic::trace::v1::status::StatusCode as S;
        let kind = match P::try_from(span.kind) {
            Ok(P::Server) => SpanKind::Server,
            Ok(P::Client) => SpanKind::Client,
            Ok(P::Producer) => SpanKind::Producer,
            Ok(P::Consumer) => SpanKind::Consumer,
            _ => SpanKind::Internal,
        };
        let (status_code, status_message) = match &span.status {
            None => (StatusCode::Unset, String::new()),
            Some(st) => (
                match S::try_from(st.code) {
                    Ok(S::Ok) => StatusCode::Ok,
                    Ok(S::Error) => StatusCode::Error,
                    _ => StatusCode::Unset,
                },
                st.message.clone(),
            ),
        };
        ReceivedSpan {
            name: span.name.clone(),
            kind,
            trace_id: hex_id(&span.trace_id).unwrap_or_default(),
            span_id: hex_id(&span.span_id).unwrap_or_default(),
            parent_span_id: hex_id(&span.parent_span_id),
            attributes: proto_attributes(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| (e.name.clone(), proto_attributes(&e.attributes)))
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| {
                    (
                        hex_id(&l.trace_id).unwrap_or_default(),
                        hex_id(&l.span_id).unwrap_or_default(),
                    )
                })
                .collect(),
            status_code,
            status_message,
            resource: resource.clone(),
            scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
            scope_version: scope.map(|s| s.version.clone()).unwrap_or_default(),
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
        }
    }
}

fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl From<&opentelemetry_sdk::trace::SpanData> for ReceivedSpan {
    fn from(span: &opentelemetry_sdk::trace::SpanData) -> Self {
        use opentelemetry::trace::{SpanId, Status};
        let (status_code, status_message) = match &span.status {
            Status::Unset => (StatusCode::Unset, String::new()),
            Status::Ok => (StatusCode::Ok, String::new()),
            Status::Error { description } => (StatusCode::Error, description.to_string()),
        };
        let scope = &span.instrumentation_scope;
        ReceivedSpan {
            name: span.name.to_string(),
            kind: span.span_kind.clone(),
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: (span.parent_span_id != SpanId::INVALID)
                .then(|| span.parent_span_id.to_string()),
            attributes: sdk_attributes(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| (e.name.to_string(), sdk_attributes(&e.attributes)))
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| {
                    (
                        l.span_context.trace_id().to_string(),
                        l.span_context.span_id().to_string(),
                    )
                })
                .collect(),
            status_code,
            status_message,
            // SpanData carries no resource; the exporter adds it.
            resource: Attributes::new(),
            scope_name: scope.name().to_string(),
            scope_version: scope.version().unwrap_or_default().to_string(),
            start_time_unix_nano: unix_nanos(span.start_time),
            end_time_unix_nano: unix_nanos(span.end_time),
        }
    }
}

/// A log record, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// The event name (`None` when empty/unset).
    pub event_name: Option<String>,
    /// The body as JSON (see [`AttrValue::to_json`]); `None` when there is no body.
    pub body: Option<serde_json::Value>,
    /// Attributes.
    pub attributes: Attributes,
    /// Trace id of the span the record belongs to, lower-case hex.
    pub trace_id: Option<String>,
    /// Span id of the span the record belongs to, lower-case hex.
    pub span_id: Option<String>,
    /// Severity number (`0` when unspecified).
    pub severity_number: i32,
    /// Severity text (empty if none).
    pub severity_text: String,
    /// Resource attributes (empty for in-memory capture when the SDK did not attach any).
    pub resource: Attributes,
    /// Instrumentation scope name.
    pub scope_name: String,
}

impl ReceivedLog {
    /// An attribute.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key)?.as_str()
    }

    pub(crate) fn push_text(&self, out: &mut String) {
        if let Some(name) = &self.event_name {
            push_line(out, name);
        }
        if let Some(body) = &self.body {
            push_json_text(out, body);
        }
        push_attrs_text(out, &self.attributes);
        push_line(out, &self.severity_text);
        push_attrs_text(out, &self.resource);
        push_line(out, &self.scope_name);
    }

    pub(crate) fn from_proto(
        record: &opentelemetry_proto::tonic::logs::v1::LogRecord,
        resource: &Attributes,
        scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
    ) -> ReceivedLog {
        ReceivedLog {
            event_name: (!record.event_name.is_empty()).then(|| record.event_name.clone()),
            body: record.body.as_ref().map(|b| AttrValue::from(b).to_json()),
            attributes: proto_attributes(&record.attributes),
            trace_id: hex_id(&record.trace_id),
            span_id: hex_id(&record.span_id),
            severity_number: record.severity_number,
            severity_text: record.severity_text.clone(),
            resource: resource.clone(),
            scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
        }
    }

    pub(crate) fn from_sdk(
        log: &opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource,
    ) -> ReceivedLog {
        let record = &log.record;
        let trace = record.trace_context();
        ReceivedLog {
            event_name: record.event_name().map(str::to_string),
            body: record.body().map(|b| AttrValue::from(b).to_json()),
            attributes: record
                .attributes_iter()
                .map(|(k, v)| (k.as_str().to_string(), AttrValue::from(v)))
                .collect(),
            trace_id: trace.map(|t| t.trace_id.to_string()),
            span_id: trace.map(|t| t.span_id.to_string()),
            severity_number: record.severity_number().map_or(0, |s| s as i32),
            severity_text: record.severity_text().unwrap_or_default().to_string(),
            resource: log
                .resource
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), AttrValue::from(v)))
                .collect(),
            scope_name: log.instrumentation.name().to_string(),
        }
    }
}

pub(crate) fn push_json_text(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value as J;
    match value {
        J::String(s) => push_line(out, s),
        J::Array(a) => a.iter().for_each(|v| push_json_text(out, v)),
        J::Object(m) => m.iter().for_each(|(k, v)| {
            push_line(out, k);
            push_json_text(out, v);
        }),
        J::Null | J::Bool(_) | J::Number(_) => {}
    }
}

/// What kind of metric a [`MetricPoint`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointKind {
    /// A sum (counter or up-down counter).
    Sum {
        /// True for counters.
        monotonic: bool,
    },
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// An exponential histogram.
    ExponentialHistogram,
    /// A summary (only from the wire; the Rust SDK does not produce them).
    Summary,
}

/// One metric data point, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Metric name.
    pub name: String,
    /// Metric unit (empty if none).
    pub unit: String,
    /// Kind of metric.
    pub kind: PointKind,
    /// Point attributes.
    pub attributes: Attributes,
    /// Sum or gauge value (integers converted to `f64`); `None` for histograms.
    pub value: Option<f64>,
    /// Histogram / summary count.
    pub count: Option<u64>,
    /// Histogram / summary sum.
    pub sum: Option<f64>,
    /// Histogram minimum.
    pub min: Option<f64>,
    /// Histogram maximum.
    pub max: Option<f64>,
    /// Explicit histogram bucket bounds.
    pub bounds: Vec<f64>,
    /// Explicit histogram bucket counts (`bounds.len() + 1` of them).
    pub bucket_counts: Vec<u64>,
    /// Instrumentation scope name.
    pub scope_name: String,
}

impl MetricPoint {
    fn empty(name: &str, unit: &str, kind: PointKind, attributes: Attributes, scope: &str) -> Self {
        MetricPoint {
            name: name.to_string(),
            unit: unit.to_string(),
            kind,
            attributes,
            value: None,
            count: None,
            sum: None,
            min: None,
            max: None,
            bounds: Vec::new(),
            bucket_counts: Vec::new(),
            scope_name: scope.to_string(),
        }
    }

    /// An attribute.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key)?.as_str()
    }

    pub(crate) fn push_text(&self, out: &mut String) {
        push_line(out, &self.name);
        push_line(out, &self.unit);
        push_attrs_text(out, &self.attributes);
    }

    /// Points of one proto metric.
    pub(crate) fn from_proto(
        metric: &opentelemetry_proto::tonic::metrics::v1::Metric,
        scope: &str,
    ) -> Vec<MetricPoint> {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
        let number = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint, kind| {
            let mut point = MetricPoint::empty(
                &metric.name,
                &metric.unit,
                kind,
                proto_attributes(&p.attributes),
                scope,
            );
            point.value = p.value.map(|v| match v {
                Value::AsDouble(d) => d,
                Value::AsInt(i) => i as f64,
            });
            point
        };
        match &metric.data {
            None => Vec::new(),
            Some(Data::Gauge(g)) => g
                .data_points
                .iter()
                .map(|p| number(p, PointKind::Gauge))
                .collect(),
            Some(Data::Sum(s)) => s
                .data_points
                .iter()
                .map(|p| {
                    number(
                        p,
                        PointKind::Sum {
                            monotonic: s.is_monotonic,
                        },
                    )
                })
                .collect(),
            Some(Data::Histogram(h)) => h
                .data_points
                .iter()
                .map(|p| {
                    let mut point = MetricPoint::empty(
                        &metric.name,
                        &metric.unit,
                        PointKind::Histogram,
                        proto_attributes(&p.attributes),
                        scope,
                    );
                    point.count = Some(p.count);
                    point.sum = p.sum;
                    point.min = p.min;
                    point.max = p.max;
                    point.bounds = p.explicit_bounds.clone();
                    point.bucket_counts = p.bucket_counts.clone();
                    point
                })
                .collect(),
            Some(Data::ExponentialHistogram(h)) => h
                .data_points
                .iter()
                .map(|p| {
                    let mut point = MetricPoint::empty(
                        &metric.name,
                        &metric.unit,
                        PointKind::ExponentialHistogram,
                        proto_attributes(&p.attributes),
                        scope,
                    );
                    point.count = Some(p.count);
                    point.sum = p.sum;
                    point.min = p.min;
                    point.max = p.max;
                    point
                })
                .collect(),
            Some(Data::Summary(s)) => s
                .data_points
                .iter()
                .map(|p| {
                    let mut point = MetricPoint::empty(
                        &metric.name,
                        &metric.unit,
                        PointKind::Summary,
                        proto_attributes(&p.attributes),
                        scope,
                    );
                    point.count = Some(p.count);
                    point.sum = Some(p.sum);
                    point
                })
                .collect(),
        }
    }

    /// Points of one SDK metric.
    pub(crate) fn from_sdk(
        metric: &opentelemetry_sdk::metrics::data::Metric,
        scope: &str,
    ) -> Vec<MetricPoint> {
        use opentelemetry_sdk::metrics::data::AggregatedMetrics;
        match metric.data() {
            AggregatedMetrics::F64(data) => sdk_points(metric, scope, data, |v| *v),
            AggregatedMetrics::U64(data) => sdk_points(metric, scope, data, |v| *v as f64),
            AggregatedMetrics::I64(data) => sdk_points(metric, scope, data, |v| *v as f64),
        }
    }
}

fn sdk_points<T>(
    metric: &opentelemetry_sdk::metrics::data::Metric,
    scope: &str,
    data: &opentelemetry_sdk::metrics::data::MetricData<T>,
    to_f64: impl Fn(&T) -> f64,
) -> Vec<MetricPoint>
where
    T: Copy,
{
    use opentelemetry_sdk::metrics::data::MetricData;
    let (name, unit) = (metric.name(), metric.unit());
    match data {
        MetricData::Gauge(g) => g
            .data_points()
            .map(|p| {
                let mut point = MetricPoint::empty(
                    name,
                    unit,
                    PointKind::Gauge,
                    sdk_attributes(p.attributes()),
                    scope,
                );
                point.value = Some(to_f64(&p.value()));
                point
            })
            .collect(),
        MetricData::Sum(s) => s
            .data_points()
            .map(|p| {
                let mut point = MetricPoint::empty(
                    name,
                    unit,
                    PointKind::Sum {
                        monotonic: s.is_monotonic(),
                    },
                    sdk_attributes(p.attributes()),
                    scope,
                );
                point.value = Some(to_f64(&p.value()));
                point
            })
            .collect(),
        MetricData::Histogram(h) => h
            .data_points()
            .map(|p| {
                let mut point = MetricPoint::empty(
                    name,
                    unit,
                    PointKind::Histogram,
                    sdk_attributes(p.attributes()),
                    scope,
                );
                point.count = Some(p.count());
                point.sum = Some(to_f64(&p.sum()));
                point.min = p.min().map(|v| to_f64(&v));
                point.max = p.max().map(|v| to_f64(&v));
                point.bounds = p.bounds().collect();
                point.bucket_counts = p.bucket_counts().collect();
                point
            })
            .collect(),
        MetricData::ExponentialHistogram(h) => h
            .data_points()
            .map(|p| {
                let mut point = MetricPoint::empty(
                    name,
                    unit,
                    PointKind::ExponentialHistogram,
                    sdk_attributes(p.attributes()),
                    scope,
                );
                point.count = Some(p.count() as u64);
                point.sum = Some(to_f64(&p.sum()));
                point.min = p.min().map(|v| to_f64(&v));
                point.max = p.max().map(|v| to_f64(&v));
                point
            })
            .collect(),
    }
}
