//! The real `aws-sdk-bedrockruntime` client, configured with [`OpenLlmHttpClient`] around
//! the SDK's own hyper client, against the loopback replayer (endpoint override, static test
//! credentials) serving upstream OpenLLMetry's vendored Bedrock recordings.
//!
//! Every expected value comes from the recorded exchange, read by test-side oracles that
//! share no code with the parsers: usage, text and stop reasons from the recorded JSON bodies,
//! and for event streams a plain walk of the frames' length prefixes (no CRC check) plus
//! base64 for invoke-stream chunks. Finish reasons are the GenAI semconv values the recorded
//! stop reasons stand for (`end_turn` and `stop` → `stop`); `gen_ai.system` = `AWS` and the
//! vendor-stripped model names are upstream OpenLLMetry's (its Bedrock tests). What the SDK
//! parses through the wrapper is compared with what it parses talking to the replayer
//! without it. The replayer records each request, and the SigV4 signature is recomputed from
//! what it received with `aws-sigv4` and the test credentials.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, HttpClient, Region};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseStreamOutput as StreamEvent, InferenceConfiguration,
    Message, ResponseStream, SystemContentBlock,
};
use base64::Engine;
use openllmetry_aws::OpenLlmHttpClient;
use openllmetry_core::{Fault, FaultKind, Flavour, Instrumentation};
use openllmetry_semconv::{attr, legacy, metric};
use openllmetry_testkit::capture::{Capture, attr_bool, attr_i64, attr_str, attr_str_array};
use openllmetry_testkit::cassette::Interaction;
use openllmetry_testkit::replay::{Fault as ServeFault, ReceivedRequest, ReplayServer};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

const KEY_ID: &str = "AKIDBEDROCKSDKTEST";
const SECRET: &str = "bedrock/sdk/test/secret/key";
const SESSION_TOKEN: &str = "bedrock-sdk-test-session-token";
const REGION: &str = "us-east-1";

const CONVERSE: &str = "bedrock/test_meta/test_meta_converse.yaml";
const CONVERSE_STREAM: &str = "bedrock/test_meta/test_meta_converse_stream.yaml";
const INVOKE: &str = "bedrock/test_meta/test_meta_llama3_completion.yaml";
const INVOKE_STREAM: &str = "bedrock/test_anthropic/test_anthropic_3_completion_streaming.yaml";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

fn interaction(name: &str) -> Interaction {
    openllmetry_testkit::load_cassette(name)
        .unwrap()
        .interactions[0]
        .clone()
}

/// A Bedrock runtime client for `endpoint` over `http_client`: static test credentials (with
/// a session token, so `x-amz-security-token` is sent), no retries (one attempt, one span).
fn client(endpoint: &str, http_client: impl HttpClient + 'static) -> Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            KEY_ID,
            SECRET,
            Some(SESSION_TOKEN.to_owned()),
            None,
            "test",
        ))
        .retry_config(RetryConfig::disabled())
        .http_client(http_client)
        .build();
    Client::from_conf(config)
}

/// The SDK's own hyper 1 client, plain HTTP (the replayer is on loopback).
fn sdk_http_client() -> aws_sdk_bedrockruntime::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// A replayer for the given recordings, one client through the wrapper and one without.
struct Setup {
    server: ReplayServer,
    capture: Capture,
    faults: Arc<Mutex<Vec<Fault>>>,
    /// Through [`OpenLlmHttpClient`].
    observed: Client,
    /// Straight to the replayer.
    plain: Client,
}

impl Setup {
    fn new(interactions: Vec<Interaction>, flavour: Flavour, content: bool) -> Setup {
        Setup::with(interactions, |b| {
            b.with_flavour(flavour).with_content_capture(content)
        })
    }

    fn with(
        interactions: Vec<Interaction>,
        configure: impl FnOnce(
            openllmetry_core::InstrumentationBuilder,
        ) -> openllmetry_core::InstrumentationBuilder,
    ) -> Setup {
        let server = ReplayServer::pool(interactions)
            .reuse(true)
            .record_requests(true)
            .spawn()
            .unwrap();
        Setup::over(server, configure)
    }

    fn over(
        server: ReplayServer,
        configure: impl FnOnce(
            openllmetry_core::InstrumentationBuilder,
        ) -> openllmetry_core::InstrumentationBuilder,
    ) -> Setup {
        let capture = Capture::new();
        let faults = Arc::new(Mutex::new(Vec::new()));
        let sink = faults.clone();
        let instrumentation = configure(
            Instrumentation::builder()
                .with_tracer_provider(capture.tracer_provider())
                .with_meter_provider(capture.meter_provider())
                .with_logger_provider(capture.logger_provider())
                .with_fault_hook(move |f| sink.lock().unwrap().push(*f)),
        )
        .build();
        let endpoint = server.base_url();
        let observed = client(
            &endpoint,
            OpenLlmHttpClient::with_instrumentation(sdk_http_client(), instrumentation),
        );
        let plain = client(&endpoint, sdk_http_client());
        Setup {
            server,
            capture,
            faults,
            observed,
            plain,
        }
    }

    fn fault_kinds(&self) -> Vec<FaultKind> {
        self.faults.lock().unwrap().iter().map(|f| f.kind).collect()
    }

    /// The only span, which must have this name.
    fn only_span(&self, name: &str) -> SpanData {
        self.capture.flush();
        let spans = self.capture.spans();
        assert_eq!(spans.len(), 1, "exactly one span: {spans:#?}");
        self.capture.span(name)
    }

    fn metric_values(&self, name: &str) -> Vec<f64> {
        self.capture.flush();
        let mut v: Vec<f64> = self
            .capture
            .metric_points(name)
            .iter()
            .filter_map(|p| p.sum.or(p.value))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn metric_count(&self, name: &str) -> u64 {
        self.capture.flush();
        self.capture
            .metric_points(name)
            .iter()
            .filter_map(|p| p.count)
            .sum()
    }

    /// No credential, no signature and no session token in any exported byte.
    fn assert_no_credentials_exported(&self) {
        let text = self.capture.all_exported_text();
        for secret in [
            KEY_ID,
            SECRET,
            SESSION_TOKEN,
            "AWS4-HMAC-SHA256",
            "Signature=",
        ] {
            assert!(!text.contains(secret), "{secret} was exported");
        }
        for header in ["authorization", "x-amz-security-token", "x-amz-date"] {
            assert!(
                !text.to_ascii_lowercase().contains(header),
                "{header} exported"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Oracles (independent of the parsers)
// ---------------------------------------------------------------------------------------

/// Event-stream frames by their length prefixes: (`:event-type`, payload bytes).
fn frames(body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 16 {
        let total = u32::from_be_bytes(rest[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        let mut h = &rest[12..12 + hlen];
        let mut event = String::new();
        while !h.is_empty() {
            let n = h[0] as usize;
            let name = std::str::from_utf8(&h[1..1 + n]).unwrap();
            let len = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            if name == ":event-type" {
                event = String::from_utf8(h[4 + n..4 + n + len].to_vec()).unwrap();
            }
            h = &h[4 + n + len..];
        }
        out.push((event, rest[12 + hlen..total - 4].to_vec()));
        rest = &rest[total..];
    }
    out
}

fn frame_json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap()
}

/// The bytes of each `chunk` event of an invoke stream (base64 under `bytes`).
fn invoke_chunks(body: &[u8]) -> Vec<Vec<u8>> {
    frames(body)
        .into_iter()
        .filter(|(e, _)| e == "chunk")
        .map(|(_, p)| {
            base64::engine::general_purpose::STANDARD
                .decode(frame_json(&p)["bytes"].as_str().unwrap())
                .unwrap()
        })
        .collect()
}

/// `meta.llama3-2-1b-instruct-v1%3A0` in the recorded URI → `llama3-2-1b-instruct-v1:0`
/// (upstream's model name: URL-decoded, vendor prefix dropped).
fn model_from_uri(uri: &str) -> String {
    let seg = uri
        .split("/model/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let id = seg.replace("%3A", ":");
    id.split_once('.').unwrap().1.to_owned()
}

/// The model id as the SDK is given it (URL-decoded).
fn model_id_from_uri(uri: &str) -> String {
    let seg = uri
        .split("/model/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    seg.replace("%3A", ":")
}

/// The GenAI semconv finish reason of a recorded stop reason.
fn semconv_finish(recorded: &str) -> &'static str {
    match recorded {
        "end_turn" | "stop" | "stop_sequence" => "stop",
        "max_tokens" | "length" => "length",
        other => panic!("no expectation for stop reason {other}"),
    }
}

fn json_attr(span: &SpanData, key: &str) -> Value {
    serde_json::from_str(attr_str(span, key).unwrap_or_else(|| panic!("no {key}"))).unwrap()
}

/// Text parts of the first output message, joined.
fn output_text(span: &SpanData) -> String {
    json_attr(span, attr::GEN_AI_OUTPUT_MESSAGES)[0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "text")
        .map(|p| p["content"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// SigV4 check on what the replayer received
// ---------------------------------------------------------------------------------------

/// Recomputes the SigV4 signature of a received request from its signed headers and body
/// with the test credentials, and compares it with the one in its `authorization` header.
/// Returns the signed header names.
fn verify_signature(r: &ReceivedRequest, host: &str) -> Vec<String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let auth = r.header("authorization").expect("signed request");
    let field = |name: &str| {
        auth.split([',', ' '])
            .find_map(|p| p.trim().strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let credential = field("Credential=");
    assert!(
        credential.starts_with(&format!("{KEY_ID}/"))
            && credential.ends_with(&format!("/{REGION}/bedrock/aws4_request")),
        "{credential}"
    );
    let signed: Vec<String> = field("SignedHeaders=")
        .split(';')
        .map(str::to_owned)
        .collect();
    // The signer adds these itself from the time, the token and the settings.
    let headers: Vec<(String, String)> = signed
        .iter()
        .filter(|h| !["x-amz-date", "x-amz-security-token"].contains(&h.as_str()))
        .map(|h| {
            let v = if h == "host" {
                host.to_owned()
            } else {
                r.header(h).unwrap().to_owned()
            };
            (h.clone(), v)
        })
        .collect();
    let identity =
        Credentials::new(KEY_ID, SECRET, Some(SESSION_TOKEN.to_owned()), None, "t").into();
    let mut settings = SigningSettings::default();
    if signed.iter().any(|h| h == "x-amz-content-sha256") {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("bedrock")
        .time(time_of(r.header("x-amz-date").unwrap()))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{host}{}", r.path_and_query);
    let signable = SignableRequest::new(
        &r.method,
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&r.body),
    )
    .unwrap();
    let (_, expected) = sign(signable, &params).unwrap().into_parts();
    assert_eq!(
        field("Signature="),
        expected,
        "the recomputed signature differs"
    );
    signed
}

/// `20240101T000000Z` → `SystemTime`.
fn time_of(s: &str) -> SystemTime {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d, h, mi, se) = (n(0, 4), n(4, 6), n(6, 8), n(9, 11), n(11, 13), n(13, 15));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    SystemTime::UNIX_EPOCH + Duration::from_secs((days * 86400 + h * 3600 + mi * 60 + se) as u64)
}

// ---------------------------------------------------------------------------------------
// The four operations
// ---------------------------------------------------------------------------------------

/// The recorded Converse request, rebuilt with the SDK's types.
async fn converse(
    client: &Client,
    recorded: &Interaction,
) -> Result<
    aws_sdk_bedrockruntime::operation::converse::ConverseOutput,
    aws_sdk_bedrockruntime::error::SdkError<
        aws_sdk_bedrockruntime::operation::converse::ConverseError,
    >,
> {
    let req = recorded.request.body_json().unwrap();
    client
        .converse()
        .model_id(model_id_from_uri(&recorded.request.uri))
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(
                    req["messages"][0]["content"][0]["text"]
                        .as_str()
                        .unwrap()
                        .into(),
                ))
                .build()
                .unwrap(),
        )
        .system(SystemContentBlock::Text(
            req["system"][0]["text"].as_str().unwrap().into(),
        ))
        .inference_config(
            InferenceConfiguration::builder()
                .temperature(req["inferenceConfig"]["temperature"].as_f64().unwrap() as f32)
                .build(),
        )
        .send()
        .await
}

type Stream = aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamOutput;

async fn converse_stream(client: &Client, recorded: &Interaction) -> Stream {
    let req = recorded.request.body_json().unwrap();
    client
        .converse_stream()
        .model_id(model_id_from_uri(&recorded.request.uri))
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(
                    req["messages"][0]["content"][0]["text"]
                        .as_str()
                        .unwrap()
                        .into(),
                ))
                .build()
                .unwrap(),
        )
        .system(SystemContentBlock::Text(
            req["system"][0]["text"].as_str().unwrap().into(),
        ))
        .send()
        .await
        .expect("converse-stream answered")
}

/// Every event until the end, or the events before the first error and the error's text.
async fn drain(stream: &mut Stream) -> (Vec<StreamEvent>, Option<String>) {
    let mut events = Vec::new();
    loop {
        match stream.stream.recv().await {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(format!("{e:?}"))),
        }
    }
}

/// The text deltas the SDK parsed, joined.
fn streamed_text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta(d) => d.delta().and_then(|d| d.as_text().ok()).cloned(),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_through_the_sdk_is_recorded_and_its_output_unchanged() {
    let recorded = interaction(CONVERSE);
    let body: Value = recorded.response.body_json().unwrap();
    let s = Setup::new(vec![recorded.clone()], Flavour::Current, true);

    let observed = converse(&s.observed, &recorded).await.unwrap();
    let plain = converse(&s.plain, &recorded).await.unwrap();
    assert_eq!(
        observed, plain,
        "the SDK parsed something else through the wrapper"
    );
    let text = body["output"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        observed.output().unwrap().as_message().unwrap().content()[0]
            .as_text()
            .unwrap(),
        text
    );

    let span = s.only_span("bedrock.converse");
    assert_eq!(
        attr_str(&span, attr::GEN_AI_PROVIDER_NAME),
        Some("aws.bedrock")
    );
    assert_eq!(
        attr_str(&span, attr::GEN_AI_REQUEST_MODEL),
        Some(model_from_uri(&recorded.request.uri).as_str())
    );
    let usage = &body["usage"];
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
        usage["inputTokens"].as_i64()
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        usage["outputTokens"].as_i64()
    );
    assert_eq!(
        attr_str_array(&span, attr::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(vec![
            semconv_finish(body["stopReason"].as_str().unwrap()).to_owned()
        ])
    );
    assert_eq!(output_text(&span), text);
    let req = recorded.request.body_json().unwrap();
    let input = attr_str(&span, attr::GEN_AI_INPUT_MESSAGES).unwrap();
    assert!(input.contains(req["messages"][0]["content"][0]["text"].as_str().unwrap()));
    assert_eq!(
        attr_f64_of(&span, attr::GEN_AI_REQUEST_TEMPERATURE),
        req["inferenceConfig"]["temperature"].as_f64()
    );
    assert!(s.fault_kinds().is_empty(), "{:?}", s.fault_kinds());
    let mut tokens = vec![
        usage["inputTokens"].as_f64().unwrap(),
        usage["outputTokens"].as_f64().unwrap(),
    ];
    tokens.sort_by(f64::total_cmp);
    assert_eq!(s.metric_values(metric::GEN_AI_CLIENT_TOKEN_USAGE), tokens);
    assert_eq!(s.metric_count(metric::GEN_AI_CLIENT_OPERATION_DURATION), 1);
}

fn attr_f64_of(span: &SpanData, key: &str) -> Option<f64> {
    openllmetry_testkit::capture::attr_f64(span, key)
}

/// The SDK signs for the replayer's host; the wrapper adds the LLM span's `traceparent`
/// after signing, outside `SignedHeaders`, so the signature still verifies. No credential
/// reaches the telemetry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_still_verify_and_no_credential_is_exported() {
    let converse_it = interaction(CONVERSE);
    let invoke_it = interaction(INVOKE);
    let s = Setup::new(
        vec![converse_it.clone(), invoke_it.clone()],
        Flavour::Current,
        true,
    );
    converse(&s.observed, &converse_it).await.unwrap();
    s.observed
        .invoke_model()
        .model_id(model_id_from_uri(&invoke_it.request.uri))
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(invoke_it.request.body.clone()))
        .send()
        .await
        .unwrap();
    let host = s.server.addr().to_string();
    let got = s.server.requests();
    assert_eq!(got.len(), 2);
    s.capture.flush();
    let spans = s.capture.spans();
    assert_eq!(spans.len(), 2);
    for (r, span) in got.iter().zip([
        s.capture.span("bedrock.converse"),
        s.capture.span("bedrock.completion"),
    ]) {
        let signed = verify_signature(r, &host);
        assert!(
            signed.iter().any(|h| h == "x-amz-security-token"),
            "{signed:?}"
        );
        assert!(!signed.iter().any(|h| h == "traceparent"), "{signed:?}");
        // The propagated context names the LLM span.
        let tp = r.header("traceparent").expect("traceparent sent");
        let sc = &span.span_context;
        assert_eq!(
            tp,
            format!("00-{}-{}-01", sc.trace_id(), sc.span_id()),
            "{}",
            r.path_and_query
        );
    }
    s.assert_no_credentials_exported();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_stream_is_recorded_as_it_passes() {
    let recorded = interaction(CONVERSE_STREAM);
    let fs = frames(&recorded.response.body);
    let s = Setup::new(vec![recorded.clone()], Flavour::Current, true);

    let mut observed = converse_stream(&s.observed, &recorded).await;
    let (events, err) = drain(&mut observed).await;
    assert!(err.is_none(), "{err:?}");
    let mut plain = converse_stream(&s.plain, &recorded).await;
    let (plain_events, plain_err) = drain(&mut plain).await;
    assert!(plain_err.is_none());
    assert_eq!(
        events, plain_events,
        "the SDK parsed other events through the wrapper"
    );

    let text: String = fs
        .iter()
        .filter(|(e, _)| e == "contentBlockDelta")
        .filter_map(|(_, p)| frame_json(p)["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert!(!text.is_empty());
    assert_eq!(streamed_text(&events), text);
    let usage = frame_json(&fs.iter().find(|(e, _)| e == "metadata").unwrap().1)["usage"].clone();
    let stop = frame_json(&fs.iter().find(|(e, _)| e == "messageStop").unwrap().1)["stopReason"]
        .as_str()
        .unwrap()
        .to_owned();

    let span = s.only_span("bedrock.converse");
    assert_eq!(attr_bool(&span, attr::GEN_AI_REQUEST_STREAM), Some(true));
    assert_eq!(
        attr_str(&span, attr::GEN_AI_REQUEST_MODEL),
        Some(model_from_uri(&recorded.request.uri).as_str())
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
        usage["inputTokens"].as_i64()
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        usage["outputTokens"].as_i64()
    );
    assert_eq!(
        attr_str_array(&span, attr::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(vec![semconv_finish(&stop).to_owned()])
    );
    assert_eq!(output_text(&span), text);
    assert!(attr_f64_of(&span, attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).is_some());
    assert_eq!(
        attr_bool(&span, attr::OPENLLMETRY_RESPONSE_INCOMPLETE),
        None
    );
    assert!(s.fault_kinds().is_empty(), "{:?}", s.fault_kinds());
    assert_eq!(
        s.metric_count(metric::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK),
        1
    );
    s.assert_no_credentials_exported();
}

/// InvokeModel: the SDK hands the caller the response body as a blob, byte for byte the
/// recorded one; the span reads the Llama body format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_model_body_is_byte_identical_and_recorded() {
    let recorded = interaction(INVOKE);
    let body: Value = recorded.response.body_json().unwrap();
    let s = Setup::new(vec![recorded.clone()], Flavour::Current, true);
    let invoke = |c: Client| {
        let recorded = recorded.clone();
        async move {
            c.invoke_model()
                .model_id(model_id_from_uri(&recorded.request.uri))
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(recorded.request.body.clone()))
                .send()
                .await
                .unwrap()
        }
    };
    let observed = invoke(s.observed.clone()).await;
    let plain = invoke(s.plain.clone()).await;
    assert_eq!(observed.body().as_ref(), &recorded.response.body[..]);
    assert_eq!(observed, plain);

    let span = s.only_span("bedrock.completion");
    assert_eq!(
        attr_str(&span, attr::GEN_AI_REQUEST_MODEL),
        Some(model_from_uri(&recorded.request.uri).as_str())
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
        body["prompt_token_count"].as_i64()
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        body["generation_token_count"].as_i64()
    );
    assert_eq!(
        attr_str_array(&span, attr::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(vec![
            semconv_finish(body["stop_reason"].as_str().unwrap()).to_owned()
        ])
    );
    assert_eq!(output_text(&span), body["generation"].as_str().unwrap());
    assert!(s.fault_kinds().is_empty(), "{:?}", s.fault_kinds());
}

/// InvokeModelWithResponseStream (Anthropic Messages chunks): every chunk the SDK yields is
/// the recorded one; the span has the usage of the recorded invocation metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_model_stream_chunks_pass_unchanged_and_are_recorded() {
    let recorded = interaction(INVOKE_STREAM);
    let chunks = invoke_chunks(&recorded.response.body);
    let s = Setup::new(vec![recorded.clone()], Flavour::Current, true);
    let read = |c: Client| {
        let recorded = recorded.clone();
        async move {
            let mut out = c
                .invoke_model_with_response_stream()
                .model_id(model_id_from_uri(&recorded.request.uri))
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(recorded.request.body.clone()))
                .send()
                .await
                .unwrap();
            let mut got = Vec::new();
            while let Some(event) = out.body.recv().await.unwrap() {
                if let ResponseStream::Chunk(part) = event {
                    got.push(part.bytes().unwrap().as_ref().to_vec());
                }
            }
            got
        }
    };
    let observed = read(s.observed.clone()).await;
    assert_eq!(observed, chunks);
    assert_eq!(read(s.plain.clone()).await, chunks);

    let json: Vec<Value> = chunks
        .iter()
        .map(|c| serde_json::from_slice(c).unwrap())
        .collect();
    let metrics = &json.last().unwrap()["amazon-bedrock-invocationMetrics"];
    let text: String = json
        .iter()
        .filter(|c| c["type"] == "content_block_delta")
        .filter_map(|c| c["delta"]["text"].as_str())
        .collect();
    let stop = json
        .iter()
        .find_map(|c| c["delta"]["stop_reason"].as_str())
        .unwrap();
    let span = s.only_span("bedrock.completion");
    assert_eq!(
        attr_str(&span, attr::GEN_AI_REQUEST_MODEL),
        Some(model_from_uri(&recorded.request.uri).as_str())
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
        metrics["inputTokenCount"].as_i64()
    );
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        metrics["outputTokenCount"].as_i64()
    );
    assert_eq!(
        attr_str_array(&span, attr::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(vec![semconv_finish(stop).to_owned()])
    );
    assert_eq!(output_text(&span), text);
    assert!(s.fault_kinds().is_empty(), "{:?}", s.fault_kinds());
}

// ---------------------------------------------------------------------------------------
// Content switch and flavours
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_off_exports_no_prompt_or_completion() {
    let conv = interaction(CONVERSE);
    let stream = interaction(CONVERSE_STREAM);
    let s = Setup::new(vec![conv.clone(), stream.clone()], Flavour::Current, false);
    converse(&s.observed, &conv).await.unwrap();
    let (events, _) = drain(&mut converse_stream(&s.observed, &stream).await).await;
    s.capture.flush();
    let spans = s.capture.spans_named("bedrock.converse");
    assert_eq!(spans.len(), 2);
    let exported = s.capture.all_exported_text();
    let req = conv.request.body_json().unwrap();
    let body: Value = conv.response.body_json().unwrap();
    for content in [
        req["messages"][0]["content"][0]["text"].as_str().unwrap(),
        req["system"][0]["text"].as_str().unwrap(),
        body["output"]["message"]["content"][0]["text"]
            .as_str()
            .unwrap(),
        streamed_text(&events).as_str(),
    ] {
        assert!(content.len() > 20);
        assert!(!exported.contains(content), "content exported: {content}");
    }
    for span in &spans {
        assert!(attr_i64(span, attr::GEN_AI_USAGE_OUTPUT_TOKENS).is_some());
        assert!(attr_str(span, attr::GEN_AI_INPUT_MESSAGES).is_none());
    }
    s.assert_no_credentials_exported();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_and_events_flavours() {
    let recorded = interaction(CONVERSE);
    let body: Value = recorded.response.body_json().unwrap();
    let text = body["output"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap();

    let s = Setup::new(vec![recorded.clone()], Flavour::Legacy, true);
    converse(&s.observed, &recorded).await.unwrap();
    let span = s.only_span("bedrock.converse");
    assert_eq!(attr_str(&span, legacy::GEN_AI_SYSTEM), Some("AWS"));
    assert_eq!(
        attr_i64(&span, legacy::LLM_USAGE_TOTAL_TOKENS),
        body["usage"]["totalTokens"].as_i64()
    );
    assert_eq!(attr_str(&span, "gen_ai.completion.0.content"), Some(text));

    let s = Setup::new(vec![recorded.clone()], Flavour::Events, true);
    converse(&s.observed, &recorded).await.unwrap();
    let span = s.only_span("bedrock.converse");
    assert!(attr_str(&span, attr::GEN_AI_OUTPUT_MESSAGES).is_none());
    let logs = s.capture.logs();
    assert!(
        logs.iter().any(|l| format!("{l:?}").contains(&text[..40])),
        "no log event carries the completion: {logs:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Streaming lifecycle, faults, transport errors
// ---------------------------------------------------------------------------------------

/// A one-shot HTTP/1.1 server on loopback that answers with the first `frames` frames of
/// the recorded event stream (chunked) and then holds the connection open, sending nothing
/// more until the client goes away: a stream the caller stops reading part-way.
async fn serve_then_hold(recorded: &Interaction, frames: usize) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = &recorded.response.body;
    let mut end = 0;
    for _ in 0..frames {
        end += u32::from_be_bytes(body[end..end + 4].try_into().unwrap()) as usize;
    }
    let head = body[..end].to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        // Read the request head and its Content-Length body.
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
            if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&req[..i]).to_ascii_lowercase();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if req.len() >= i + 4 + len || n == 0 {
                    break;
                }
            }
        }
        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        out.extend_from_slice(format!("{:x}\r\n", head.len()).as_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(b"\r\n");
        sock.write_all(&out).await.unwrap();
        // Hold until the client closes (bounded: the test ends long before).
        let _ = tokio::time::timeout(Duration::from_secs(20), sock.read(&mut buf)).await;
    });
    addr
}

/// The caller reads two events and drops the stream while the upstream is still sending:
/// the span ends at once, marked incomplete (not an error), with the text it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_dropped_early_ends_the_span_incomplete_with_what_it_saw() {
    let recorded = interaction(CONVERSE_STREAM);
    let fs = frames(&recorded.response.body);
    // messageStart, then the first text delta.
    assert_eq!(fs[0].0, "messageStart");
    assert_eq!(fs[1].0, "contentBlockDelta");
    let seen = frame_json(&fs[1].1)["delta"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = serve_then_hold(&recorded, 2).await;
    let capture = Capture::new();
    let instrumentation = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .build();
    let c = client(
        &format!("http://{addr}"),
        OpenLlmHttpClient::with_instrumentation(sdk_http_client(), instrumentation),
    );
    let mut stream = converse_stream(&c, &recorded).await;
    let mut events = Vec::new();
    while events.len() < 2 {
        events.push(stream.stream.recv().await.unwrap().unwrap());
    }
    assert_eq!(streamed_text(&events), seen);
    capture.flush();
    assert!(capture.spans().is_empty(), "the span ended before the drop");
    drop(stream);
    capture.flush();
    let span = capture.span("bedrock.converse");
    assert_eq!(
        attr_bool(&span, attr::OPENLLMETRY_RESPONSE_INCOMPLETE),
        Some(true)
    );
    assert!(
        !matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert!(attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS).is_none());
    assert_eq!(output_text(&span), seen);
}

/// The upstream closes after two frames: the SDK sees the same events and then an error as
/// without the wrapper; the span ends with `error.type` `body_error`, keeping what it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_cut_mid_way_is_an_error_span_and_the_sdk_sees_the_same() {
    let recorded = interaction(CONVERSE_STREAM);
    let fs = frames(&recorded.response.body);
    let two = {
        let first = u32::from_be_bytes(recorded.response.body[0..4].try_into().unwrap()) as usize;
        let second =
            u32::from_be_bytes(recorded.response.body[first..first + 4].try_into().unwrap())
                as usize;
        first + second
    };
    assert!(fs.len() > 3);
    let server = ReplayServer::pool(vec![recorded.clone()])
        .reuse(true)
        .with_fault(ServeFault::CloseAfterBytes(two))
        .spawn()
        .unwrap();
    let s = Setup::over(server, |b| b);
    let (events, err) = drain(&mut converse_stream(&s.observed, &recorded).await).await;
    let (plain_events, plain_err) = drain(&mut converse_stream(&s.plain, &recorded).await).await;
    assert_eq!(events, plain_events);
    assert_eq!(events.len(), 2);
    assert!(err.is_some() && plain_err.is_some());
    let span = s.only_span("bedrock.converse");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert_eq!(attr_str(&span, "error.type"), Some("body_error"));
    assert!(s.fault_kinds().contains(&FaultKind::StreamIncomplete));
}

/// A corrupt frame (one payload byte flipped, so its CRC fails): the SDK reports the same
/// error as without the wrapper, the recorder an `EventStreamCorrupt` fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_frame_is_a_fault_and_the_sdk_sees_the_same_error() {
    let mut recorded = interaction(CONVERSE_STREAM);
    let body = &mut recorded.response.body;
    let first = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
    let second = u32::from_be_bytes(body[first..first + 4].try_into().unwrap()) as usize;
    body[first + second - 8] ^= 0x20;
    let s = Setup::new(vec![recorded.clone()], Flavour::Current, true);
    let (events, err) = drain(&mut converse_stream(&s.observed, &recorded).await).await;
    let (plain_events, plain_err) = drain(&mut converse_stream(&s.plain, &recorded).await).await;
    assert_eq!(events, plain_events);
    assert_eq!(err, plain_err);
    assert!(err.is_some(), "the SDK accepted a corrupt frame");
    s.capture.flush();
    assert_eq!(s.capture.spans().len(), 1);
    assert!(
        s.fault_kinds().contains(&FaultKind::EventStreamCorrupt),
        "{:?}",
        s.fault_kinds()
    );
}

/// An unparseable Converse body: passed to the SDK unchanged (it fails to parse it, as it
/// does without the wrapper), recorded as an `InvalidJson` fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_body_is_a_fault_and_passes_unchanged() {
    let recorded = interaction(CONVERSE);
    let server = ReplayServer::pool(vec![recorded.clone()])
        .reuse(true)
        .with_fault(ServeFault::InvalidJsonBody)
        .spawn()
        .unwrap();
    let s = Setup::over(server, |b| b);
    let observed = converse(&s.observed, &recorded).await.unwrap_err();
    let plain = converse(&s.plain, &recorded).await.unwrap_err();
    assert_eq!(format!("{observed:?}"), format!("{plain:?}"));
    s.only_span("bedrock.converse");
    assert!(
        s.fault_kinds().contains(&FaultKind::InvalidJson),
        "{:?}",
        s.fault_kinds()
    );
}

/// Nothing listens: the SDK's dispatch failure is returned as is, the span ends with
/// `error.type` `io_error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_an_io_error_span() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let capture = Capture::new();
    let instrumentation = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .build();
    let c = client(
        &format!("http://127.0.0.1:{port}"),
        OpenLlmHttpClient::with_instrumentation(sdk_http_client(), instrumentation),
    );
    let err = converse(&c, &interaction(CONVERSE)).await.unwrap_err();
    assert!(
        matches!(
            err,
            aws_sdk_bedrockruntime::error::SdkError::DispatchFailure(_)
        ),
        "{err:?}"
    );
    capture.flush();
    let span = capture.span("bedrock.converse");
    assert_eq!(attr_str(&span, "error.type"), Some("io_error"));
    assert!(matches!(span.status, Status::Error { .. }));
}

/// The observation budget bounds what is kept, exactly as in the other adapters: a body
/// over `max_body_bytes` is skimmed and the span marked truncated, the SDK's result unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_cap_bounds_the_observation_not_the_response() {
    let recorded = interaction(CONVERSE);
    assert!(recorded.response.body.len() > 64);
    let s = Setup::with(vec![recorded.clone()], |b| b.with_max_body_bytes(64));
    let observed = converse(&s.observed, &recorded).await.unwrap();
    let plain = converse(&s.plain, &recorded).await.unwrap();
    assert_eq!(observed, plain);
    let span = s.only_span("bedrock.converse");
    assert_eq!(
        attr_bool(&span, attr::OPENLLMETRY_RESPONSE_TRUNCATED),
        Some(true)
    );
    assert!(
        s.fault_kinds().contains(&FaultKind::BodyTooLarge),
        "{:?}",
        s.fault_kinds()
    );
}

/// A request that is not an LLM call (an unmatched operation path) goes through untouched:
/// no span and no `traceparent` added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_requests_pass_untouched() {
    let s = Setup::new(vec![interaction(CONVERSE)], Flavour::Current, true);
    let _ = s.observed.list_async_invokes().send().await;
    let got = s.server.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].path_and_query.starts_with("/async-invoke"));
    assert!(got[0].header("traceparent").is_none());
    s.capture.flush();
    assert!(s.capture.spans().is_empty());
}

// ---------------------------------------------------------------------------------------
// The README's example
// ---------------------------------------------------------------------------------------

#[path = "support/readme_example.rs"]
mod readme_example;

/// The README's block under "Amazon Bedrock (aws-sdk-bedrockruntime)" is
/// `tests/support/readme_example.rs`, compiled here.
#[test]
fn readme_example_is_the_compiled_one() {
    let example = include_str!("support/readme_example.rs");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the workspace root");
    let block = readme
        .split("### Amazon Bedrock (aws-sdk-bedrockruntime)")
        .nth(1)
        .expect("README has the section")
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```rust block in the section");
    assert_eq!(format!("{block}\n"), example, "README's example differs");
}

/// The README's client records through the global instrumentation (`instrument`): a
/// Converse call through it, with the endpoint and credentials overridden for the replayer,
/// ends up as a span of the installed global pipeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_client_records_with_the_global_instrumentation() {
    let recorded = interaction(CONVERSE);
    let server = ReplayServer::pool(vec![recorded.clone()]).spawn().unwrap();
    let capture = Capture::new();
    // The only test in this binary that touches the global instrumentation.
    Instrumentation::set_global(
        Instrumentation::builder()
            .with_tracer_provider(capture.tracer_provider())
            .with_meter_provider(capture.meter_provider())
            .build(),
    );
    let readme = readme_example::bedrock_client(sdk_http_client());
    let config = readme
        .config()
        .to_builder()
        .endpoint_url(server.base_url())
        .credentials_provider(Credentials::new(KEY_ID, SECRET, None, None, "test"))
        .build();
    let out = converse(&Client::from_conf(config), &recorded)
        .await
        .unwrap();
    let body: Value = recorded.response.body_json().unwrap();
    assert_eq!(
        out.usage().unwrap().output_tokens() as i64,
        body["usage"]["outputTokens"].as_i64().unwrap()
    );
    capture.flush();
    let span = capture.span("bedrock.converse");
    assert_eq!(
        attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
        body["usage"]["outputTokens"].as_i64()
    );
}

/// With the SDK's retries on, each attempt goes through the connector and is its own span
/// with its own HTTP status (the wrapper sits below the SDK's retry loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retried_attempt_is_a_span() {
    let recorded = interaction(CONVERSE);
    let server = ReplayServer::pool(vec![recorded.clone()])
        .reuse(true)
        .record_requests(true)
        .with_fault(ServeFault::Status(503))
        .spawn()
        .unwrap();
    let s = Setup::over(server, |b| b);
    let retrying = Client::from_conf(
        s.observed
            .config()
            .to_builder()
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .build(),
    );
    let err = converse(&retrying, &recorded).await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(s.server.requests().len(), 2, "two attempts");
    s.capture.flush();
    let spans = s.capture.spans_named("bedrock.converse");
    assert_eq!(spans.len(), 2);
    for span in &spans {
        assert_eq!(attr_str(span, "error.type"), Some("503"));
    }
}
