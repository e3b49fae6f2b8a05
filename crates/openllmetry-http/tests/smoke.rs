//! Smoke tests: one OpenAI and one Anthropic exchange through the middleware.

mod common;

use common::*;
use openllmetry_testkit::capture::{attr_i64, attr_str};

#[tokio::test]
async fn smoke_openai_chat() {
    let run = run("openai/test_chat/test_chat.yaml", Opts::default()).await;
    run.assert_pass_through();
    let span = run.span("openai.chat");
    eprintln!("{:#?}", span.attributes);
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("openai"));
    assert!(attr_i64(&span, "gen_ai.usage.input_tokens").is_some());
}

#[tokio::test]
async fn smoke_anthropic_stream() {
    let run = run(
        "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
        Opts::default(),
    )
    .await;
    run.assert_pass_through();
    let span = run.span("anthropic.chat");
    eprintln!("{:#?} chunks={}", span.attributes, run.chunks);
    eprintln!("faults {:?}", run.faults);
}
