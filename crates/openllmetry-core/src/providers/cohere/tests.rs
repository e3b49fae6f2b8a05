use super::*;
use crate::sse::SseEvent;
use crate::{FaultKind, Operation};

#[test]
fn stream_tool_calls_and_usage() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    for e in [
        r#"{"id":"c1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#,
        r#"{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will"}}}"#,
        r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"get_time_1","type":"function","function":{"name":"get_time","arguments":""}}}}}"#,
        r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"location\":"}}}}}"#,
        r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"\"Tokyo\"}"}}}}}"#,
        r#"{"type":"tool-call-end","index":0}"#,
        r#"{"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":62,"output_tokens":28},"tokens":{"input_tokens":968,"output_tokens":83}}}}"#,
    ] {
        acc.push(&SseEvent::data(e), &mut faults);
    }
    assert!(faults.is_empty(), "{faults:?}");
    assert!(acc.is_complete());
    let rec = acc.finish();
    assert_eq!(rec.id.as_deref(), Some("c1"));
    assert_eq!(rec.finish_reasons, ["tool_call"]);
    assert_eq!(
        (rec.usage.input_tokens, rec.usage.output_tokens),
        (Some(62), Some(28))
    );
    match &rec.output_messages[0].parts[0] {
        openllmetry_semconv::message::Part::ToolCall {
            id,
            name,
            arguments,
        } => {
            assert_eq!(id.as_deref(), Some("get_time_1"));
            assert_eq!(name, "get_time");
            assert_eq!(arguments.as_ref().unwrap()["location"], "Tokyo");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_event_and_bad_json_are_reported_once() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    for e in [
        "{\"type\":\"brand-new\"}",
        "{\"type\":\"brand-new\"}",
        "{oops",
        "{oops",
    ] {
        acc.push(&SseEvent::data(e), &mut faults);
    }
    assert_eq!(faults, [FaultKind::UnknownEvent, FaultKind::InvalidJson]);
    assert!(!acc.is_complete());
}

#[test]
fn usage_falls_back_to_tokens() {
    let rec = parse_response(
        Operation::Chat,
        br#"{"id":"x","message":{"role":"assistant","content":[]},"finish_reason":"MAX_TOKENS","usage":{"tokens":{"input_tokens":5,"output_tokens":6}}}"#,
        &mut Vec::new(),
    );
    assert_eq!(
        (rec.usage.input_tokens, rec.usage.output_tokens),
        (Some(5), Some(6))
    );
    assert_eq!(rec.finish_reasons, ["length"]);
}
