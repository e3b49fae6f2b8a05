//! Shape checks of the GenAI content attributes against the JSON schemas of
//! `open-telemetry/semantic-conventions-genai` (`model/gen-ai/gen-ai-input-messages.json`,
//! `gen-ai-output-messages.json` at `2b902ce14e7fa9d3d97cac49de02bae6917c02ae`,
//! `gen-ai-tool-definitions.json` at `d357ce213b466276774e18fb7f598bef06d003d0`; the commits
//! are listed in `openllmetry_semconv::latest::GENAI_CONVENTIONS_FILES`).
//!
//! A hand check of what the schemas require, not a JSON-schema validator, and stricter than
//! the schemas in one respect: every part list there also accepts a `GenericPart` (any object
//! with a string `type`), so the schemas alone accept `{"type": "text"}` without `content`.
//! Here a part whose `type` is one the schemas define must have the fields of that type's own
//! definition, so a renderer cannot pass by falling through to the generic part:
//!
//! | part `type` | required (besides `type`) | typed optional fields |
//! |---|---|---|
//! | `text` | `content` (string) | |
//! | `tool_call` | `name` (string) | `id` (string or null) |
//! | `tool_call_response` | `response` (any) | `id` (string or null) |
//! | `server_tool_call` | `name` (string), `server_tool_call` (object with a string `type`) | `id` |
//! | `server_tool_call_response` | `server_tool_call_response` (object with a string `type`) | `id` |
//! | `blob` | `modality` (string), `content` (string) | `mime_type` (string or null) |
//! | `file` | `modality` (string), `file_id` (string) | `mime_type` |
//! | `uri` | `modality` (string), `uri` (string) | `mime_type` |
//! | `reasoning` | `content` (string) | |
//! | `compaction` | | `id`, `content` (string or null) |
//!
//! Messages: `role` (string) and `parts` (array) required, `name` string or null; output
//! messages' `finish_reason` is deprecated, so the check reports it when `no_finish_reason`
//! is asked for. Tool definitions: `type` and `name` strings; a `function` tool's
//! `description` is a string or null and its `parameters` an object or null.

use serde_json::Value;

fn str_field(o: &serde_json::Map<String, Value>, key: &str, at: &str) -> Result<(), String> {
    match o.get(key) {
        Some(Value::String(_)) => Ok(()),
        other => Err(format!("{at}: `{key}` must be a string, found {other:?}")),
    }
}

fn opt_str_field(o: &serde_json::Map<String, Value>, key: &str, at: &str) -> Result<(), String> {
    match o.get(key) {
        None | Some(Value::String(_)) | Some(Value::Null) => Ok(()),
        other => Err(format!(
            "{at}: `{key}` must be a string or null, found {other:?}"
        )),
    }
}

fn typed_object(o: &serde_json::Map<String, Value>, key: &str, at: &str) -> Result<(), String> {
    match o.get(key) {
        Some(Value::Object(inner)) => str_field(inner, "type", &format!("{at}.{key}")),
        other => Err(format!("{at}: `{key}` must be an object, found {other:?}")),
    }
}

/// Checks one message part.
pub fn check_part(part: &Value, at: &str) -> Result<(), String> {
    let Value::Object(o) = part else {
        return Err(format!("{at}: a part must be an object, found {part}"));
    };
    str_field(o, "type", at)?;
    let kind = o["type"].as_str().unwrap_or_default();
    let at = &format!("{at} ({kind})");
    match kind {
        "text" | "reasoning" => str_field(o, "content", at),
        "tool_call" => {
            str_field(o, "name", at)?;
            opt_str_field(o, "id", at)
        }
        "tool_call_response" => {
            if !o.contains_key("response") {
                return Err(format!("{at}: `response` is required"));
            }
            opt_str_field(o, "id", at)
        }
        "server_tool_call" => {
            str_field(o, "name", at)?;
            typed_object(o, "server_tool_call", at)?;
            opt_str_field(o, "id", at)
        }
        "server_tool_call_response" => {
            typed_object(o, "server_tool_call_response", at)?;
            opt_str_field(o, "id", at)
        }
        "blob" | "file" | "uri" => {
            str_field(o, "modality", at)?;
            let payload = match kind {
                "blob" => "content",
                "file" => "file_id",
                _ => "uri",
            };
            str_field(o, payload, at)?;
            opt_str_field(o, "mime_type", at)
        }
        "compaction" => {
            opt_str_field(o, "id", at)?;
            opt_str_field(o, "content", at)
        }
        // A generic part: any other type.
        _ => Ok(()),
    }
}

fn check_messages(v: &Value, what: &str, no_finish_reason: bool) -> Result<(), String> {
    let Value::Array(list) = v else {
        return Err(format!("{what}: must be an array, found {v}"));
    };
    for (i, m) in list.iter().enumerate() {
        let at = format!("{what}[{i}]");
        let Value::Object(o) = m else {
            return Err(format!("{at}: a message must be an object"));
        };
        str_field(o, "role", &at)?;
        opt_str_field(o, "name", &at)?;
        let Some(Value::Array(parts)) = o.get("parts") else {
            return Err(format!("{at}: `parts` must be an array"));
        };
        for (j, p) in parts.iter().enumerate() {
            check_part(p, &format!("{at}.parts[{j}]"))?;
        }
        if no_finish_reason && o.contains_key("finish_reason") {
            return Err(format!("{at}: `finish_reason` is deprecated"));
        }
    }
    Ok(())
}

/// Checks a `gen_ai.input.messages` value.
pub fn check_input_messages(v: &Value) -> Result<(), String> {
    check_messages(v, "input", false)
}

/// Checks a `gen_ai.output.messages` value; with `no_finish_reason`, the deprecated
/// per-message `finish_reason` is an error.
pub fn check_output_messages(v: &Value, no_finish_reason: bool) -> Result<(), String> {
    check_messages(v, "output", no_finish_reason)
}

/// Checks a `gen_ai.system_instructions` value (an array of parts).
pub fn check_system_instructions(v: &Value) -> Result<(), String> {
    let Value::Array(parts) = v else {
        return Err(format!("system instructions: must be an array, found {v}"));
    };
    for (j, p) in parts.iter().enumerate() {
        check_part(p, &format!("system[{j}]"))?;
    }
    Ok(())
}

/// Checks a `gen_ai.tool.definitions` value.
pub fn check_tool_definitions(v: &Value) -> Result<(), String> {
    let Value::Array(list) = v else {
        return Err(format!("tool definitions: must be an array, found {v}"));
    };
    for (i, t) in list.iter().enumerate() {
        let at = format!("tools[{i}]");
        let Value::Object(o) = t else {
            return Err(format!("{at}: a tool definition must be an object"));
        };
        str_field(o, "type", &at)?;
        str_field(o, "name", &at)?;
        if o["type"] == "function" {
            opt_str_field(o, "description", &at)?;
            match o.get("parameters") {
                None | Some(Value::Object(_)) | Some(Value::Null) => {}
                other => {
                    return Err(format!(
                        "{at}: `parameters` must be a JSON schema object or null, found {other:?}"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_of_the_schema_shapes_pass() {
        let input = json!([
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "name": "ann", "parts": [
                {"type": "text", "content": "what is in the picture?"},
                {"type": "uri", "modality": "image", "mime_type": "image/png", "uri": "https://x/y.png"},
                {"type": "blob", "modality": "image", "content": "aGk="},
                {"type": "file", "modality": "document", "file_id": "file-1"}
            ]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": null, "name": "f", "arguments": {"a": 1}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"ok": true}}]},
            {"role": "assistant", "parts": [{"type": "compaction"}, {"type": "custom_thing", "x": 1}]}
        ]);
        check_input_messages(&input).unwrap();
        let output = json!([{"role": "assistant", "parts": [
            {"type": "reasoning", "content": "hmm"},
            {"type": "server_tool_call", "name": "web", "server_tool_call": {"type": "web_search"}},
            {"type": "server_tool_call_response", "server_tool_call_response": {"type": "web_search"}},
            {"type": "text", "content": "done"}
        ]}]);
        check_output_messages(&output, true).unwrap();
        check_system_instructions(&json!([{"type": "text", "content": "x"}])).unwrap();
        check_tool_definitions(&json!([
            {"type": "function", "name": "f", "description": null, "parameters": {"type": "object"}},
            {"type": "web_search", "name": "web"}
        ]))
        .unwrap();
    }

    #[test]
    fn shapes_off_the_schema_fail() {
        let bad_parts = [
            json!({"type": "text"}),
            json!({"type": "text", "content": 3}),
            json!({"type": "tool_call", "id": "c"}),
            json!({"type": "tool_call", "name": "f", "id": 5}),
            json!({"type": "tool_call_response", "id": "c", "result": "x"}),
            json!({"type": "blob", "mime_type": "image/png", "content": "aGk="}),
            json!({"type": "uri", "modality": "image"}),
            json!({"type": "server_tool_call", "name": "w", "server_tool_call": {}}),
            json!({"content": "no type"}),
            json!("text"),
        ];
        for p in bad_parts {
            assert!(check_part(&p, "p").is_err(), "{p}");
        }
        assert!(check_input_messages(&json!([{"role": "user"}])).is_err());
        assert!(check_input_messages(&json!([{"parts": []}])).is_err());
        assert!(check_input_messages(&json!({"role": "user", "parts": []})).is_err());
        let with_reason = json!([{"role": "assistant", "parts": [], "finish_reason": "stop"}]);
        assert!(check_output_messages(&with_reason, false).is_ok());
        assert!(check_output_messages(&with_reason, true).is_err());
        assert!(check_tool_definitions(&json!([{"name": "f"}])).is_err());
        assert!(
            check_tool_definitions(&json!([{"type": "function", "name": "f", "parameters": "{}"}]))
                .is_err()
        );
        assert!(check_system_instructions(&json!("be brief")).is_err());
    }
}
