//! Amazon Bedrock through the gateway (issue 12): `/bedrock/...` is forwarded to the
//! `--bedrock-upstream`, re-signed with the gateway's own AWS credentials; the replay side
//! verifies that signature by recomputing it with `aws-sigv4` from the request it received
//! and the test credentials. Without credentials the gateway answers 502 with a cause.
//! Facts asserted on the exported span come from the recorded bodies.

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use common::*;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::{ReceivedRequest, ReplayServer};

const KEY_ID: &str = "AKIDGATEWAYTEST";
const SECRET: &str = "gateway/test/secret/key";

/// Recomputes the SigV4 signature of a received request and compares it with the one in its
/// `authorization` header (the replayer's check, independent of the gateway's code path).
fn verify_signature(r: &ReceivedRequest, host: &str) {
    let auth = r.header("authorization").expect("signed request");
    let field = |name: &str| {
        auth.split([',', ' '])
            .find_map(|p| p.trim().strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let credential = field("Credential=");
    let signed: Vec<String> = field("SignedHeaders=")
        .split(';')
        .map(str::to_owned)
        .collect();
    let signature = field("Signature=");
    assert!(
        credential.starts_with(&format!("{KEY_ID}/")),
        "{credential}"
    );
    assert!(
        credential.ends_with("/us-east-1/bedrock/aws4_request"),
        "{credential}"
    );
    // The time the gateway signed at.
    let amz_date = r.header("x-amz-date").unwrap();
    let time = time_of(amz_date);
    let headers: Vec<(String, String)> = signed
        .iter()
        .filter(|h| {
            !["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"].contains(&h.as_str())
        })
        .map(|h| {
            let v = if h == "host" {
                host.to_owned()
            } else {
                r.header(h).unwrap().to_owned()
            };
            (h.clone(), v)
        })
        .collect();
    let identity = Credentials::new(KEY_ID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
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
        signature, expected,
        "the replayer's recomputed signature differs"
    );
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
    let secs = days * 86400 + h * 3600 + mi * 60 + se;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

#[test]
fn time_parsing_matches_a_known_instant() {
    assert_eq!(
        time_of("20150830T123600Z"),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_requests_are_resigned_and_observed() {
    let converse = interaction("bedrock/test_titan/test_titan_converse.yaml", 0);
    let stream = interaction("bedrock/test_titan/test_titan_converse_stream.yaml", 0);
    let upstream = ReplayServer::pool(vec![converse.clone(), stream.clone()])
        .record_requests(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .arg("--bedrock-upstream")
        .arg(&upstream.base_url())
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", "")
        .env("AWS_REGION", "us-east-1")
        .spawn();
    let client = http_client();
    for it in [&converse, &stream] {
        let path = format!("/bedrock{}", it.request.path());
        let resp = client
            .post(gateway.url(&path))
            .header("content-type", "application/json")
            // A client signature for the gateway's host: must not reach the upstream.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=CLIENTKEY/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00",
            )
            .body(it.request.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        assert_eq!(&body[..], &it.response.body[..], "bytes changed");
    }
    let host = upstream.addr().to_string();
    let got = upstream.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    for r in &got {
        assert!(!r.header("authorization").unwrap().contains("CLIENTKEY"));
        verify_signature(r, &host);
    }
    // Facts from the recorded bodies: the converse usage and the streamed text.
    let recorded: serde_json::Value = converse.response.body_json().unwrap();
    let spans = wait_spans(&receiver, "bedrock.converse", 2);
    let s = spans
        .iter()
        .find(|s| {
            s.attr_i64("gen_ai.usage.output_tokens") == recorded["usage"]["outputTokens"].as_i64()
        })
        .expect("the converse span with the recorded output tokens");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("aws.bedrock"));
    assert_eq!(
        s.attr_str("gen_ai.request.model"),
        Some("titan-text-express-v1")
    );
    assert!(!receiver_text(&receiver).contains(SECRET));
}

fn receiver_text(r: &OtlpReceiver) -> String {
    r.spans().iter().map(|s| s.all_text()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_bedrock_is_a_502_with_the_cause() {
    let converse = interaction("bedrock/test_titan/test_titan_converse.yaml", 0);
    let upstream = ReplayServer::pool(vec![converse.clone()])
        .record_requests(true)
        .spawn()
        .unwrap();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .arg("--bedrock-upstream")
        .arg(&upstream.base_url())
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .spawn();
    assert!(
        gateway
            .wait_for_stderr("no AWS credentials", Duration::from_secs(10))
            .is_some(),
        "startup warning: {}",
        gateway.stderr()
    );
    let resp = http_client()
        .post(gateway.url(&format!("/bedrock{}", converse.request.path())))
        .header("content-type", "application/json")
        .body(converse.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let text = resp.text().await.unwrap();
    assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
    assert!(
        upstream.requests().is_empty(),
        "an unsigned request was forwarded"
    );
}
