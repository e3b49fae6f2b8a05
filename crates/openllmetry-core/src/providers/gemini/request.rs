//! Gemini request bodies → [`RequestRecord`].

use openllmetry_semconv::message::{ChatMessage, Part, ToolDefinition};
use serde_json::Value;

use super::part_of;
use crate::json::{
    Faults, Obj, get_array, get_f64, get_i64, get_obj, get_str, get_str_list, parse_object,
};
use crate::{FaultKind, Operation, RequestRecord};

/// Parses a `generateContent` / `streamGenerateContent` / `embedContent` /
/// `batchEmbedContents` body. The model and the streaming flag come from the URL and are
/// filled in by the caller ([`crate::Target`]).
pub fn parse_request(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> RequestRecord {
    let mut f = Faults::new(faults);
    let mut rec = RequestRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    if let Some(m) = get_str(&obj, "model", &mut f) {
        rec.model = Some(m.strip_prefix("models/").unwrap_or(m).to_owned());
    }
    if op == Operation::Embeddings {
        let mut add = |content: &Obj, f: &mut Faults<'_>| {
            let parts = content_parts(content, f);
            rec.input_messages.push(ChatMessage {
                role: "user".to_owned(),
                parts,
                name: None,
            });
        };
        if let Some(c) = get_obj(&obj, "content", &mut f) {
            add(c, &mut f);
        }
        for r in get_array(&obj, "requests", &mut f).unwrap_or_default() {
            if let Value::Object(r) = r
                && let Some(c) = get_obj(r, "content", &mut f)
            {
                add(c, &mut f);
            }
        }
        return rec;
    }
    for c in get_array(&obj, "contents", &mut f).unwrap_or_default() {
        let Value::Object(c) = c else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let parts = content_parts(c, &mut f);
        let all_responses = !parts.is_empty()
            && parts
                .iter()
                .all(|p| matches!(p, Part::ToolCallResponse { .. }));
        let role = match get_str(c, "role", &mut f) {
            Some("model") => "assistant",
            _ if all_responses => "tool",
            Some("function" | "tool") => "tool",
            _ => "user",
        };
        rec.input_messages.push(ChatMessage {
            role: role.to_owned(),
            parts,
            name: None,
        });
    }
    match obj.get("systemInstruction") {
        Some(Value::Object(s)) => rec.system_instructions = content_parts(s, &mut f),
        Some(Value::String(s)) => rec.system_instructions = vec![Part::text(s.clone())],
        None | Some(Value::Null) => {}
        Some(_) => f.push(FaultKind::UnexpectedShape),
    }
    for t in get_array(&obj, "tools", &mut f).unwrap_or_default() {
        let Value::Object(t) = t else { continue };
        for d in get_array(t, "functionDeclarations", &mut f).unwrap_or_default() {
            let Value::Object(d) = d else { continue };
            let Some(name) = get_str(d, "name", &mut f) else {
                continue;
            };
            rec.tool_definitions.push(ToolDefinition {
                kind: "function".to_owned(),
                name: name.to_owned(),
                description: get_str(d, "description", &mut f).map(str::to_owned),
                parameters: d
                    .get("parameters")
                    .or_else(|| d.get("parametersJsonSchema"))
                    .or_else(|| d.get("parameters_json_schema"))
                    .cloned(),
            });
        }
    }
    if let Some(g) = get_obj(&obj, "generationConfig", &mut f) {
        let p = &mut rec.params;
        p.temperature = get_f64(g, "temperature", &mut f);
        p.top_p = get_f64(g, "topP", &mut f);
        p.top_k = get_i64(g, "topK", &mut f);
        p.max_tokens = get_i64(g, "maxOutputTokens", &mut f);
        p.stop_sequences = get_str_list(g, "stopSequences", &mut f);
        p.choice_count = get_i64(g, "candidateCount", &mut f);
        p.seed = get_i64(g, "seed", &mut f);
        p.presence_penalty = get_f64(g, "presencePenalty", &mut f);
        p.frequency_penalty = get_f64(g, "frequencyPenalty", &mut f);
        match get_str(g, "responseMimeType", &mut f) {
            Some("application/json") => p.output_type = Some("json".to_owned()),
            Some("text/plain") => p.output_type = Some("text".to_owned()),
            _ => {}
        }
        if let Some(s) = g
            .get("responseJsonSchema")
            .or_else(|| g.get("responseSchema"))
        {
            p.structured_output_schema = Some(s.to_string());
        }
    }
    rec
}

/// The parts of a `Content` object.
fn content_parts(c: &Obj, f: &mut Faults<'_>) -> Vec<Part> {
    get_array(c, "parts", f)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| part_of(p, f))
        .collect()
}
