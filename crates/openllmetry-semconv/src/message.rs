//! Message and part shapes of `gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions` and `gen_ai.tool.definitions` (semconv v1.41 JSON schemas).
//!
//! A `tool_call_response` part names its payload `response`, as the JSON schema does
//! (the v1.41 span-table example writes `result`; the schema wins).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One input message: `{role, parts, name?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool` (other roles pass through).
    pub role: String,
    /// The message's parts, in order.
    pub parts: Vec<Part>,
    /// Participant name, when the request gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One output message: `{role, parts, name?, finish_reason}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessage {
    /// Always `assistant` for the providers instrumented here.
    pub role: String,
    /// The message's parts, in order.
    pub parts: Vec<Part>,
    /// Participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mapped finish reason (see [`crate::value::finish_reason`]); empty when unknown.
    pub finish_reason: String,
}

/// A message part, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        content: String,
    },
    /// A tool call requested by the model.
    ToolCall {
        /// Tool-call id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Tool name.
        name: String,
        /// Arguments: parsed JSON when the provider sent valid JSON, else the raw string.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arguments: Option<Value>,
    },
    /// The result of a tool call, sent back to the model.
    ToolCallResponse {
        /// Tool-call id this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The tool's result.
        response: Value,
    },
    /// Reasoning / thinking content.
    Reasoning {
        /// The reasoning text.
        content: String,
    },
    /// Inline binary data (base64).
    Blob {
        /// MIME type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// `image`, `video`, `audio` or `document`.
        modality: String,
        /// Base64 payload.
        content: String,
    },
    /// Data referenced by URI.
    Uri {
        /// MIME type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// `image`, `video`, `audio` or `document`.
        modality: String,
        /// The URI.
        uri: String,
    },
    /// Data referenced by a provider file id.
    File {
        /// MIME type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// `image`, `video`, `audio` or `document`.
        modality: String,
        /// Provider file id.
        file_id: String,
    },
    /// Any other part, kept as the provider sent it (must contain `type`).
    #[serde(untagged)]
    Generic(Map<String, Value>),
}

impl Part {
    /// A text part.
    pub fn text(content: impl Into<String>) -> Self {
        Part::Text {
            content: content.into(),
        }
    }
}

/// A tool definition: `{type, name, description?, parameters?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// `function` for function tools; the provider's type otherwise.
    #[serde(rename = "type")]
    pub kind: String,
    /// Tool name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_serialize_with_type_tags() {
        let parts = vec![
            Part::text("hi"),
            Part::ToolCall {
                id: Some("c1".into()),
                name: "f".into(),
                arguments: Some(json!({"a": 1})),
            },
            Part::ToolCallResponse {
                id: None,
                response: json!("ok"),
            },
        ];
        assert_eq!(
            serde_json::to_value(&parts).unwrap(),
            json!([
                {"type": "text", "content": "hi"},
                {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}},
                {"type": "tool_call_response", "response": "ok"}
            ])
        );
    }

    #[test]
    fn unknown_part_round_trips_as_generic() {
        let v = json!({"type": "server_tool_call", "name": "web", "server_tool_call": {}});
        let p: Part = serde_json::from_value(v.clone()).unwrap();
        assert!(matches!(p, Part::Generic(_)));
        assert_eq!(serde_json::to_value(&p).unwrap(), v);
    }
}
