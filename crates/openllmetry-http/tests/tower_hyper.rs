//! The tower layer over a real hyper client (hyper-util's legacy client) whose request body
//! is `http_body_util::Full<Bytes>`, the body type hyper's own examples use, replaying a
//! recorded chat completion over loopback (issue 10 item 15: such requests had no request
//! attributes).

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openllmetry_http::OpenLlmLayer;
use openllmetry_testkit::capture::{Capture, attr_str};
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::replay::ReplayServer;
use serde_json::Value;
use tower::ServiceExt;
use tower_layer::Layer;

#[tokio::test]
async fn tower_over_hyper_client_with_full_body_records_the_request() {
    let recorded = Cassette::load_named("openai/test_chat/test_chat.yaml")
        .expect("cassette loads")
        .interactions[0]
        .clone();
    let mut served = recorded.clone();
    served.response.body = recorded.response.decoded_body();
    served
        .response
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-encoding"));
    let server = ReplayServer::start(served.clone()).await;
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let instr = instrumentation(&capture, Opts::default(), Default::default());

    let hyper_client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    // The layer classifies transport errors of boxed errors (`tower::BoxError`).
    let hyper_client = hyper_client.map_err(|e| -> tower::BoxError { Box::new(e) });
    let service = OpenLlmLayer::with_instrumentation(instr).layer(hyper_client);
    let sent_body = recorded.request.body.clone();
    let req = http::Request::post(format!("{}{}", server.base_url(), recorded.request.path()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test")
        .body(Full::new(Bytes::from(sent_body.clone())))
        .unwrap();
    let resp = service.oneshot(req).await.expect("hyper answered");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.as_ref(), served.response.body.as_slice());
    capture.flush();

    // The server received exactly the bytes the caller sent.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, sent_body);

    // The span has the request side, read from the recorded request body.
    let span = capture.span("openai.chat");
    let sent: Value = serde_json::from_slice(&sent_body).unwrap();
    assert_eq!(
        attr_str(&span, "gen_ai.request.model"),
        sent["model"].as_str()
    );
    let input: Value = serde_json::from_str(
        attr_str(&span, "gen_ai.input.messages").expect("input messages recorded"),
    )
    .unwrap();
    assert_eq!(
        input[0]["parts"][0]["content"],
        sent["messages"][0]["content"]
    );
}
