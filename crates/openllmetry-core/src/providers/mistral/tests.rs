use super::*;

#[test]
fn fim_request_and_response() {
    let body = br#"{"model":"codestral-latest","prompt":"def add(a, b):","suffix":"print(add(1, 2))","max_tokens":64,"temperature":0,"stop":["\n\n"],"random_seed":42,"stream":false}"#;
    let rec = parse_request(Operation::TextCompletion, body, &mut Vec::new());
    assert_eq!(rec.model.as_deref(), Some("codestral-latest"));
    assert_eq!(rec.params.max_tokens, Some(64));
    assert_eq!(rec.params.seed, Some(42));
    assert_eq!(rec.params.stop_sequences, ["\n\n"]);
    assert_eq!(rec.input_messages[0].parts.len(), 2);
    let resp = br#"{"id":"fim-1","object":"chat.completion","model":"codestral-latest","usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19},"choices":[{"index":0,"message":{"role":"assistant","content":"\n    return a + b"},"finish_reason":"stop"}]}"#;
    let rec = parse_response(Operation::TextCompletion, resp, &mut Vec::new());
    assert_eq!(rec.id.as_deref(), Some("fim-1"));
    assert_eq!(rec.usage.output_tokens, Some(7));
    assert_eq!(rec.finish_reasons, ["stop"]);
}

#[test]
fn chat_random_seed_is_the_seed() {
    let body =
        br#"{"model":"mistral-small","messages":[{"role":"user","content":"hi"}],"random_seed":7}"#;
    let rec = parse_request(Operation::Chat, body, &mut Vec::new());
    assert_eq!(rec.params.seed, Some(7));
}
