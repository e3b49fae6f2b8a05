//! Built-in masking of common secrets inside recorded content.
//!
//! Masking works on the structured content (every string inside messages, tool arguments,
//! tool results, system instructions and tool definitions) before it is rendered, so the
//! JSON that reaches a span or event stays valid. It recognises:
//!
//! * API keys by their well-known prefixes (`sk-`, `sk-ant-`, `sk_live_`, `pk_live_`,
//!   `rk_live_`, `ghp_`, `gho_`, `ghs_`, `github_pat_`, `glpat-`, `xoxb-`, `xoxp-`, `AKIA`,
//!   `AIza`) followed by at least 16 key characters → `[REDACTED_KEY]`;
//! * `Bearer <token>` → `Bearer [REDACTED]`;
//! * e-mail addresses → `[REDACTED_EMAIL]`.
//!
//! A user's own rules go in the [redaction hook](crate::Config::with_redaction), which sees every
//! piece of content, LLM calls' and entities', as a [`Redact`] after this masking.

use openllmetry_core::{Content, Target};
use openllmetry_semconv::message::Part;
use serde_json::Value;

use crate::entity::EntityKind;

const KEY_PREFIXES: &[&str] = &[
    "sk-ant-",
    "sk-",
    "sk_live_",
    "sk_test_",
    "pk_live_",
    "rk_live_",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
];
const MIN_KEY_BODY: usize = 16;

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_email_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

/// Masks secrets in one string. Returns `None` when nothing was found (no allocation).
pub fn mask_str(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut changed = false;
    let mut i = 0;
    // End (in `s`) of the last masked secret: the text `s[verbatim_from..i]` was copied to the
    // end of `out` unchanged, so an e-mail's local part may only be taken back from that range.
    let mut verbatim_from = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        let rest = &s[i..];
        let at_boundary = i == 0 || !is_key_char(s[..i].chars().next_back().unwrap_or(' '));
        // Bearer tokens.
        if at_boundary
            && rest
                .as_bytes()
                .get(..7)
                .is_some_and(|b| b.eq_ignore_ascii_case(b"bearer "))
            && rest.len() > 7
        {
            let token_len = rest[7..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .unwrap_or(rest.len() - 7);
            if token_len > 0 {
                out.push_str(&rest[..7]);
                out.push_str("[REDACTED]");
                i += 7 + token_len;
                verbatim_from = i;
                changed = true;
                continue;
            }
        }
        // API keys.
        if at_boundary && let Some(prefix) = KEY_PREFIXES.iter().find(|p| rest.starts_with(**p)) {
            let body_len = rest[prefix.len()..]
                .find(|c: char| !is_key_char(c))
                .unwrap_or(rest.len() - prefix.len());
            if body_len >= MIN_KEY_BODY {
                out.push_str("[REDACTED_KEY]");
                i += prefix.len() + body_len;
                verbatim_from = i;
                changed = true;
                continue;
            }
        }
        // E-mail addresses: local@domain.tld
        if bytes[i] == b'@' && i > 0 {
            let local_start = s[verbatim_from..i]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_email_local_char(*c))
                .last()
                .map(|(j, _)| verbatim_from + j);
            let domain_len = rest[1..]
                .find(|c: char| !is_domain_char(c))
                .unwrap_or(rest.len() - 1);
            let domain = rest[1..1 + domain_len].trim_end_matches('.');
            if let Some(start) = local_start
                && domain.contains('.')
                && !domain.starts_with('.')
            {
                // Remove the local part already copied to `out`: it lies in the verbatim range
                // and is ASCII, so `out` ends with exactly these bytes.
                let local_len = i - start;
                out.truncate(out.len() - local_len);
                out.push_str("[REDACTED_EMAIL]");
                i += 1 + domain.len();
                verbatim_from = i;
                changed = true;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    changed.then_some(out)
}

fn mask_string(s: &mut String) {
    if let Some(m) = mask_str(s) {
        *s = m;
    }
}

/// Masks secrets in every string of a JSON value (entity input/output).
pub(crate) fn mask_value(v: &mut Value) {
    for_each_json_string(v, &mut mask_string);
}

/// Masks secrets everywhere in `content`.
pub fn mask_content(content: &mut Content) {
    for_each_content_string(content, &mut mask_string);
}

/// Calls `f` on every string inside a JSON value (object keys excepted).
fn for_each_json_string(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter_mut().for_each(|v| for_each_json_string(v, f)),
        Value::Object(o) => o.values_mut().for_each(|v| for_each_json_string(v, f)),
        _ => {}
    }
}

fn for_each_part_string(p: &mut Part, f: &mut dyn FnMut(&mut String)) {
    match p {
        Part::Text { content } | Part::Reasoning { content } => f(content),
        Part::ToolCall {
            arguments: Some(a), ..
        } => for_each_json_string(a, f),
        Part::ToolCallResponse { response, .. } => for_each_json_string(response, f),
        Part::Uri { uri, .. } => f(uri),
        Part::Generic(map) => map.values_mut().for_each(|v| for_each_json_string(v, f)),
        _ => {}
    }
}

/// Calls `f` on every content string of an LLM call: message and instruction texts, tool call
/// arguments and results, URIs, tool descriptions and parameter schemas.
fn for_each_content_string(content: &mut Content, f: &mut dyn FnMut(&mut String)) {
    let messages = content
        .input_messages
        .iter_mut()
        .flat_map(|m| m.parts.iter_mut())
        .chain(
            content
                .output_messages
                .iter_mut()
                .flat_map(|m| m.parts.iter_mut()),
        );
    for p in content.system_instructions.iter_mut().chain(messages) {
        for_each_part_string(p, f);
    }
    for t in &mut content.tool_definitions {
        if let Some(d) = &mut t.description {
            f(d);
        }
        if let Some(p) = &mut t.parameters {
            for_each_json_string(p, f);
        }
    }
}

/// Which content of an entity the [redaction hook](crate::Config::with_redaction) is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntityField {
    /// `traceloop.entity.input`: the function's arguments.
    Input,
    /// `traceloop.entity.output`: its return value.
    Output,
}

/// One piece of content on its way to a span or event, as the
/// [redaction hook](crate::Config::with_redaction) sees it: after secret masking
/// (`TRACELOOP_MASK_SECRETS`), before anything is rendered, and only when content capture is on.
///
/// Every piece of content the SDK records goes through the hook: the structured content of each
/// LLM call and the input and output of each workflow, task, agent and tool. A hook that only
/// needs to rewrite text can ignore the difference with [`for_each_string`](Self::for_each_string):
///
/// ```
/// let config = openllmetry::Config::new().with_redaction(|mut content| {
///     content.for_each_string(|s| {
///         if s.contains("4111 1111 1111 1111") {
///             *s = s.replace("4111 1111 1111 1111", "[CARD]");
///         }
///     });
/// });
/// # let _ = config;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Redact<'a> {
    /// The structured content of one LLM call: messages, system instructions, tool definitions.
    /// Clearing a list drops that content.
    #[non_exhaustive]
    Llm {
        /// The call: provider, operation, URL-named model.
        target: &'a Target,
        /// Its content, before rendering.
        content: &'a mut Content,
    },
    /// The input or output of an entity (`#[workflow]`, `#[task]`, `#[agent]`, `#[tool]` or
    /// [`EntitySpan::record_input`](crate::entity::EntitySpan::record_input) and its sibling),
    /// as the JSON that will be recorded. Setting it to `null` drops it.
    #[non_exhaustive]
    Entity {
        /// The entity's kind.
        kind: EntityKind,
        /// The entity's name.
        name: &'a str,
        /// Input or output.
        field: EntityField,
        /// The JSON to be recorded.
        value: &'a mut Value,
    },
}

impl Redact<'_> {
    /// Calls `f` on every string of this content: texts, tool call arguments and results, URIs
    /// and tool definitions of an LLM call; every string value (not object keys) of an entity's
    /// JSON.
    pub fn for_each_string(&mut self, mut f: impl FnMut(&mut String)) {
        match self {
            Redact::Llm { content, .. } => for_each_content_string(content, &mut f),
            Redact::Entity { value, .. } => for_each_json_string(value, &mut f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openllmetry_semconv::message::{ChatMessage, OutputMessage};
    use serde_json::json;

    #[test]
    fn masks_keys_tokens_and_emails() {
        let cases = [
            ("key sk-abcdefghijklmnop1234 end", "key [REDACTED_KEY] end"),
            ("sk-ant-api03-AAAAAAAAAAAAAAAAAAAA", "[REDACTED_KEY]"),
            (
                "Authorization: Bearer abc.def-123",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "mail jane.doe+x@example.co.uk, thanks",
                "mail [REDACTED_EMAIL], thanks",
            ),
            ("AKIAABCDEFGHIJKLMNOP", "[REDACTED_KEY]"),
            ("ghp_0123456789abcdefghij", "[REDACTED_KEY]"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_str(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for s in [
            "sk-short",
            "ask-questions-about-everything",
            "a @ b",
            "user@localhost",
            "naïve café",
            "",
        ] {
            assert_eq!(mask_str(s), None, "{s}");
        }
    }

    #[test]
    fn masking_keeps_json_valid_everywhere() {
        let mut c = Content {
            system_instructions: vec![Part::text("ops: admin@corp.example")],
            input_messages: vec![ChatMessage {
                role: "user".into(),
                parts: vec![Part::text(
                    "my key is sk-proj-ABCDEFGHIJKLMNOPQRST \"quoted\"",
                )],
                name: None,
            }],
            output_messages: vec![OutputMessage {
                role: "assistant".into(),
                parts: vec![Part::ToolCall {
                    id: None,
                    name: "send".into(),
                    arguments: Some(json!({"to": "bob@example.org", "n": 1})),
                }],
                name: None,
                finish_reason: "tool_call".into(),
            }],
            tool_definitions: vec![],
        };
        mask_content(&mut c);
        let input = serde_json::to_string(&c.input_messages).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(
            parsed[0]["parts"][0]["content"],
            "my key is [REDACTED_KEY] \"quoted\""
        );
        assert_eq!(
            serde_json::to_value(&c.output_messages).unwrap()[0]["parts"][0]["arguments"],
            json!({"to": "[REDACTED_EMAIL]", "n": 1})
        );
        assert_eq!(
            c.system_instructions,
            vec![Part::text("ops: [REDACTED_EMAIL]")]
        );
    }

    #[test]
    fn email_after_a_masked_key_keeps_the_text_before_it() {
        // Regression (issue 10 item 12): the e-mail's local part was measured in the input but
        // removed from the output, which already held the shorter `[REDACTED_KEY]`: this panicked
        // on a non-character boundary or deleted the user's text.
        assert_eq!(
            mask_str("ééésk-AAAAAAAAAAAAAAAA@ex.com").as_deref(),
            Some("ééé[REDACTED_KEY]@ex.com")
        );
        assert_eq!(
            mask_str("hello world sk-AAAAAAAAAAAAAAAAAAAA@example.com tail").as_deref(),
            Some("hello world [REDACTED_KEY]@example.com tail")
        );
        assert_eq!(
            mask_str("x Bearer tok@example.com y").as_deref(),
            Some("x Bearer [REDACTED] y")
        );
    }

    /// Text that can never be (part of) a secret, and never glues onto a neighbouring secret:
    /// it starts and ends with a space.
    fn safe_piece() -> impl proptest::strategy::Strategy<Value = String> {
        "[ a-zé€😀,.!?0-9]{0,12}".prop_map(|s| format!(" {s} "))
    }

    fn secret() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "[A-Za-z0-9]{16,24}".prop_map(|k| format!("sk-{k}")),
            "[A-Za-z0-9]{16,24}".prop_map(|k| format!("ghp_{k}")),
            "[A-Za-z0-9._-]{1,20}".prop_map(|t| format!("Bearer {t}")),
            ("[a-z0-9._+-]{1,10}", "[a-z0-9-]{1,10}")
                .prop_map(|(l, d)| format!("{l}@{d}.example.com")),
            // A key glued to an e-mail domain, as in the issue's example.
            "[A-Za-z0-9]{16,24}".prop_map(|k| format!("sk-{k}@ex.com")),
        ]
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #[test]
        fn masking_never_changes_text_outside_secrets(
            parts in proptest::collection::vec((safe_piece(), proptest::option::of(secret())), 0..6)
        ) {
            let mut text = String::new();
            for (safe, secret) in &parts {
                text.push_str(safe);
                if let Some(secret) = secret {
                    text.push_str(secret);
                }
            }
            let masked = mask_str(&text).unwrap_or_else(|| text.clone());
            // Every safe piece survives verbatim, in order.
            let mut rest = masked.as_str();
            for (safe, _) in &parts {
                let at = rest.find(safe.as_str());
                proptest::prop_assert!(at.is_some(), "{safe:?} lost from {masked:?} (input {text:?})");
                rest = &rest[at.unwrap_or(0) + safe.len()..];
            }
            // And no secret survives.
            for (_, secret) in &parts {
                if let Some(secret) = secret {
                    proptest::prop_assert!(!masked.contains(secret.as_str()), "{secret:?} in {masked:?}");
                }
            }
        }

        #[test]
        fn never_panics_and_output_is_valid_utf8(s in "\\PC{0,64}") {
            let _ = mask_str(&s);
        }

        #[test]
        fn masked_secrets_do_not_survive(local in "[a-z]{1,8}", key in "[A-Za-z0-9]{16,24}") {
            let text = format!("x {local}@example.com sk-{key} Bearer {key}");
            let masked = mask_str(&text).unwrap();
            proptest::prop_assert!(!masked.contains(&key));
            proptest::prop_assert!(!masked.contains("@example.com"));
        }
    }
}
