//! VCR.py cassettes: loading the YAML files recorded by `vcrpy` / `pytest-recording`.
//!
//! A cassette (format `version: 1`) is a list of interactions, each a recorded request and the
//! response the real API gave. Request bodies are plain strings (or `null`); a response body is
//! `body: {string: ...}`, either a plain string or a `!!binary` base64 blob (usually gzip bytes
//! with a `Content-Encoding: gzip` header). pydantic-ai's recordings write a JSON body as YAML
//! data under `parsed_body:` instead; it is serialised back to compact JSON (keys in recorded
//! order), so its bytes are equivalent JSON, not the recorded wire bytes.
//!
//! Response bytes are kept **exactly as recorded**: a replay serves them unchanged, compressed
//! or not. [`RecordedResponse::decoded_body`] gives the decompressed bytes for assertions.
//!
//! ```
//! use openllmetry_replay::cassette::Cassette;
//! let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
//! let first = &cassette.interactions[0];
//! assert_eq!(first.request.path(), "/v1/chat/completions");
//! let json: serde_json::Value = serde_json::from_slice(&first.response.decoded_body()).unwrap();
//! assert_eq!(json["object"], "chat.completion");
//! ```

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml_ng::Value;

/// A loaded cassette: its interactions in recorded order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cassette {
    /// The recorded exchanges, in the order they were recorded.
    pub interactions: Vec<Interaction>,
}

/// One recorded request/response pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// What the client sent.
    pub request: RecordedRequest,
    /// What the server answered.
    pub response: RecordedResponse,
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Full URI as recorded, e.g. `https://api.openai.com/v1/chat/completions`.
    pub uri: String,
    /// Headers in recorded order (a header recorded with several values appears several times).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty when the cassette has `body: null`).
    pub body: Vec<u8>,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Headers in recorded order (a header recorded with several values appears several times).
    pub headers: Vec<(String, String)>,
    /// Body bytes exactly as recorded (still gzip-compressed when `Content-Encoding: gzip`).
    pub body: Vec<u8>,
}

/// Why a cassette could not be loaded.
#[derive(Debug)]
pub struct CassetteError {
    path: Option<PathBuf>,
    message: String,
}

impl CassetteError {
    fn new(message: impl Into<String>) -> Self {
        CassetteError {
            path: None,
            message: message.into(),
        }
    }

    fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Names the cassette the error is about (for an embedded cassette, which has no path).
    pub(crate) fn named(self, name: &str) -> Self {
        self.at(Path::new(name))
    }

    /// The file that failed to load, when known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for CassetteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "cassette {}: {}", path.display(), self.message),
            None => write!(f, "cassette: {}", self.message),
        }
    }
}

impl std::error::Error for CassetteError {}

/// The vendored OpenLLMetry cassettes: `<this crate>/cassettes/openllmetry` (a path fixed at
/// build time: it exists in a source checkout or the registry's unpacked sources, not next to an
/// installed binary; the [`embedded`](crate::embedded) set works everywhere).
pub fn cassettes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes")
        .join("openllmetry")
}

/// Every vendored cassette file (`*.yaml` under [`cassettes_dir`]), sorted by path.
pub fn all_cassettes() -> Vec<PathBuf> {
    find_cassettes(&cassettes_dir()).unwrap_or_else(|e| {
        panic!(
            "cannot list the vendored cassettes in {}: {e}",
            cassettes_dir().display()
        )
    })
}

/// The names of every vendored cassette relative to [`cassettes_dir`] with `/` separators
/// (e.g. `openai/test_chat/test_chat.yaml`), sorted; each works with [`Cassette::load_named`].
pub fn all_cassette_names() -> Vec<String> {
    let root = cassettes_dir();
    all_cassettes()
        .iter()
        .map(|p| relative_name(&root, p))
        .collect()
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `*.yaml` / `*.yml` file under `dir` (recursively), sorted by path.
pub fn find_cassettes(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Cassette {
    /// Loads a cassette file.
    pub fn load(path: impl AsRef<Path>) -> Result<Cassette, CassetteError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CassetteError::new(format!("cannot read: {e}")).at(path))?;
        Cassette::parse(&text).map_err(|e| e.at(path))
    }

    /// Loads a vendored cassette by its path relative to [`cassettes_dir`], e.g.
    /// `"openai/test_chat/test_chat.yaml"`: from the [`embedded`](crate::embedded) set when it
    /// is there, else from [`cassettes_dir`].
    pub fn load_named(name: &str) -> Result<Cassette, CassetteError> {
        match crate::embedded::load(name) {
            Some(loaded) => loaded,
            None => Cassette::load(cassettes_dir().join(name)),
        }
    }

    /// Loads every cassette file under `dir` (see [`find_cassettes`]), with its path.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<(PathBuf, Cassette)>, CassetteError> {
        let dir = dir.as_ref();
        let paths = find_cassettes(dir)
            .map_err(|e| CassetteError::new(format!("cannot list directory: {e}")).at(dir))?;
        paths
            .into_iter()
            .map(|p| Cassette::load(&p).map(|c| (p, c)))
            .collect()
    }

    /// All interactions of several cassettes, in order, as one cassette (e.g. for
    /// [`ReplayServer::pool`](crate::replay::ReplayServer::pool)).
    pub fn concat(cassettes: impl IntoIterator<Item = Cassette>) -> Cassette {
        Cassette {
            interactions: cassettes.into_iter().flat_map(|c| c.interactions).collect(),
        }
    }

    /// Parses cassette YAML text.
    pub fn parse(yaml: &str) -> Result<Cassette, CassetteError> {
        let plain: Value = serde_yaml_ng::from_str(yaml)
            .map_err(|e| CassetteError::new(format!("invalid YAML: {e}")))?;
        // serde_yaml_ng resolves the core `!!binary` tag away and yields the base64 text as a
        // string. To know which nodes carried it, parse a second copy in which the tag is
        // written as the local tag `!binary`, which serde_yaml_ng keeps. The two documents have
        // the same structure (the rewrite can only change text *inside* a scalar, where it is
        // not a tag); values are always taken from the unmodified parse.
        let tagged: Value = serde_yaml_ng::from_str(&yaml.replace("!!binary", "!binary"))
            .map_err(|e| CassetteError::new(format!("invalid YAML: {e}")))?;

        if let Some(version) = plain.get("version")
            && version.as_u64() != Some(1)
        {
            return Err(CassetteError::new(format!(
                "unsupported cassette version {version:?} (only version 1 is known)"
            )));
        }
        let (Some(plain_list), Some(tagged_list)) = (
            plain.get("interactions").and_then(Value::as_sequence),
            tagged.get("interactions").and_then(Value::as_sequence),
        ) else {
            return Err(CassetteError::new("no `interactions` list"));
        };
        let mut interactions = Vec::with_capacity(plain_list.len());
        for (i, (plain, tagged)) in plain_list.iter().zip(tagged_list).enumerate() {
            let node = Node { plain, tagged };
            interactions.push(
                parse_interaction(node)
                    .map_err(|e| CassetteError::new(format!("interaction {i}: {e}")))?,
            );
        }
        Ok(Cassette { interactions })
    }
}

impl From<Cassette> for Vec<Interaction> {
    fn from(cassette: Cassette) -> Self {
        cassette.interactions
    }
}

impl From<&Cassette> for Vec<Interaction> {
    fn from(cassette: &Cassette) -> Self {
        cassette.interactions.clone()
    }
}

impl From<Interaction> for Vec<Interaction> {
    fn from(interaction: Interaction) -> Self {
        vec![interaction]
    }
}

impl From<&Interaction> for Vec<Interaction> {
    fn from(interaction: &Interaction) -> Self {
        vec![interaction.clone()]
    }
}

/// The same YAML node in the plain parse and in the parse that keeps `!binary` tags.
#[derive(Clone, Copy)]
struct Node<'a> {
    plain: &'a Value,
    tagged: &'a Value,
}

impl<'a> Node<'a> {
    fn get(self, key: &str) -> Option<Node<'a>> {
        Some(Node {
            plain: self.plain.get(key)?,
            tagged: self.tagged.get(key)?,
        })
    }

    fn field(self, key: &str) -> Result<Node<'a>, String> {
        self.get(key).ok_or_else(|| format!("missing `{key}`"))
    }

    fn is_binary(self) -> bool {
        matches!(self.tagged, Value::Tagged(t) if t.tag == "binary")
    }
}

fn parse_interaction(node: Node<'_>) -> Result<Interaction, String> {
    let req = node.field("request")?;
    let resp = node.field("response")?;

    let method = scalar_string(req.field("method")?.plain)
        .ok_or("`request.method` is not a string")?
        .to_ascii_uppercase();
    let uri = scalar_string(req.field("uri")?.plain).ok_or("`request.uri` is not a string")?;
    let request = RecordedRequest {
        method,
        uri,
        headers: parse_headers(req.get("headers").map(|n| n.plain))?,
        body: match (req.get("body"), req.get("parsed_body")) {
            (Some(body), _) => parse_body(body).map_err(|e| format!("request.body: {e}"))?,
            (None, Some(parsed)) => {
                parsed_body(parsed.plain).map_err(|e| format!("request.parsed_body: {e}"))?
            }
            (None, None) => Vec::new(),
        },
    };

    let status = resp.field("status")?;
    let code = status
        .plain
        .get("code")
        .unwrap_or(status.plain)
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .ok_or("`response.status.code` is not a status code")?;
    let response = RecordedResponse {
        status: code,
        headers: parse_headers(resp.get("headers").map(|n| n.plain))?,
        body: match (resp.get("body"), resp.get("parsed_body")) {
            (Some(body), _) => parse_body(body).map_err(|e| format!("response.body: {e}"))?,
            (None, Some(parsed)) => {
                parsed_body(parsed.plain).map_err(|e| format!("response.parsed_body: {e}"))?
            }
            (None, None) => Vec::new(),
        },
    };
    Ok(Interaction { request, response })
}

/// A body is `null`, a string, a `!!binary` blob, or a mapping `{string: <one of those>}`.
fn parse_body(node: Node<'_>) -> Result<Vec<u8>, String> {
    if node.plain.is_mapping() {
        return match node.get("string") {
            Some(inner) => parse_body(inner),
            None => Ok(Vec::new()),
        };
    }
    if node.is_binary() {
        let text = node.plain.as_str().ok_or("`!!binary` value is not text")?;
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        return base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("invalid base64 in `!!binary`: {e}"));
    }
    match node.plain {
        Value::Null => Ok(Vec::new()),
        other => scalar_string(other)
            .map(String::into_bytes)
            .ok_or_else(|| "not a string".to_string()),
    }
}

/// pydantic-ai's `parsed_body:` (its VCR serializer stores a JSON body as YAML data): the
/// data serialised back to compact JSON, mapping keys in recorded order. A plain string is
/// taken as the body text, `null` as no body.
fn parsed_body(node: &Value) -> Result<Vec<u8>, String> {
    match node {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(s.clone().into_bytes()),
        other => serde_json::to_vec(other).map_err(|e| format!("not JSON data: {e}")),
    }
}

fn parse_headers(node: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    if node.is_null() {
        return Ok(Vec::new());
    }
    let map = node.as_mapping().ok_or("headers are not a mapping")?;
    let mut out = Vec::new();
    for (name, values) in map {
        let name = scalar_string(name).ok_or("header name is not a string")?;
        match values {
            Value::Sequence(values) => {
                for value in values {
                    let value = scalar_string(value)
                        .ok_or_else(|| format!("header `{name}` has a non-scalar value"))?;
                    out.push((name.clone(), value));
                }
            }
            value => {
                let value = scalar_string(value)
                    .ok_or_else(|| format!("header `{name}` has a non-scalar value"))?;
                out.push((name, value));
            }
        }
    }
    Ok(out)
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar_string(&t.value),
        _ => None,
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl RecordedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The path part of [`uri`](Self::uri), e.g. `/v1/chat/completions` (`/` if empty).
    pub fn path(&self) -> &str {
        let pq = self.path_and_query();
        match pq.find('?') {
            Some(i) => &pq[..i],
            None => pq,
        }
    }

    /// The query of [`uri`](Self::uri) without the `?`, if any.
    pub fn query(&self) -> Option<&str> {
        let pq = self.path_and_query();
        pq.find('?').map(|i| &pq[i + 1..])
    }

    /// Path and query of [`uri`](Self::uri), e.g. `/v1/embeddings?api-version=1` (scheme, host
    /// and port removed).
    pub fn path_and_query(&self) -> &str {
        path_and_query(&self.uri)
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as UTF-8 text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Path and query of a URI string: everything from the first `/` after the authority.
pub(crate) fn path_and_query(uri: &str) -> &str {
    let rest = match uri.find("://") {
        Some(i) => &uri[i + 3..],
        None if uri.starts_with('/') => return uri,
        None => uri,
    };
    let rest = match rest.find('#') {
        Some(i) => &rest[..i],
        None => rest,
    };
    // "host/path?query", or "host?query" (no path)
    match rest.find(['/', '?']) {
        Some(i) => &rest[i..],
        None => "/",
    }
}

impl RecordedResponse {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// True when the response is a server-sent event stream (`Content-Type: text/event-stream`).
    pub fn is_event_stream(&self) -> bool {
        self.content_type().is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
        })
    }

    /// True when the recorded body is gzip-compressed (`Content-Encoding: gzip`).
    pub fn is_gzip(&self) -> bool {
        self.header("content-encoding").is_some_and(|ce| {
            ce.split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("gzip") || c.trim() == "x-gzip")
        })
    }

    /// The body with its `Content-Encoding` undone (gunzipped when gzip; otherwise the recorded
    /// bytes). If the gzip data is corrupt, the recorded bytes are returned.
    pub fn decoded_body(&self) -> Vec<u8> {
        if self.is_gzip()
            && let Some(plain) = gunzip(&self.body)
        {
            return plain;
        }
        self.body.clone()
    }

    /// The decoded body as UTF-8 text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.decoded_body()).into_owned()
    }

    /// The decoded body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.decoded_body()).ok()
    }

    /// The decoded body split into server-sent events (see [`split_sse_events`]); each item
    /// keeps its terminating blank line, so the items concatenate to the whole body.
    pub fn sse_events(&self) -> Vec<Vec<u8>> {
        split_sse_events(&self.decoded_body())
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    }
}

/// Decompresses gzip data (all members); `None` if it is not valid gzip.
pub fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Splits a server-sent event stream at blank lines. Each piece is one event *including* the
/// line terminators that end it (`\n\n`, `\r\n\r\n` or `\r\r`), so the pieces concatenate to
/// the input exactly. Trailing bytes without a terminating blank line form the last piece.
pub fn split_sse_events(body: &[u8]) -> Vec<&[u8]> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let end = if body[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if body[i..].starts_with(b"\n\n") || body[i..].starts_with(b"\r\r") {
            Some(i + 2)
        } else if body[i..].starts_with(b"\n\r\n") {
            // "...\n" then an empty "\r\n" line
            Some(i + 3)
        } else {
            None
        };
        match end {
            Some(end) => {
                events.push(&body[start..end]);
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if start < body.len() {
        events.push(&body[start..]);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts() {
        assert_eq!(
            path_and_query("https://api.openai.com/v1/chat/completions"),
            "/v1/chat/completions"
        );
        assert_eq!(
            path_and_query("http://localhost:5002/v1/x?a=1&b=2"),
            "/v1/x?a=1&b=2"
        );
        assert_eq!(path_and_query("https://host"), "/");
        assert_eq!(path_and_query("https://host?x=1"), "?x=1");
        assert_eq!(path_and_query("/v1/a?b"), "/v1/a?b");
    }

    #[test]
    fn sse_split_round_trips() {
        let body = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\ndata: [DONE]\n\ntrailing";
        let events = split_sse_events(body);
        assert_eq!(events.len(), 4);
        assert_eq!(events[0], b"event: a\ndata: 1\n\n");
        assert_eq!(events.concat(), body.to_vec());
        assert!(split_sse_events(b"").is_empty());
    }

    #[test]
    fn binary_tag_is_detected_but_text_is_not_rewritten() {
        let yaml = r#"
interactions:
- request:
    body: 'the prompt mentions string: !!binary here'
    headers: {}
    method: post
    uri: https://h/p?q=1
  response:
    body:
      string: !!binary |
        aGVs
        bG8=
    headers:
      Content-Type:
      - text/plain
      X-N:
      - 5
    status:
      code: 200
      message: OK
- request:
    body: null
    headers: {}
    method: GET
    uri: https://h/p
  response:
    body:
      string: 'aGVsbG8='
    headers: {}
    status:
      code: 404
      message: Not Found
version: 1
"#;
        let c = Cassette::parse(yaml).unwrap();
        assert_eq!(c.interactions.len(), 2);
        let first = &c.interactions[0];
        assert_eq!(first.request.method, "POST");
        assert_eq!(
            first.request.body_text(),
            "the prompt mentions string: !!binary here"
        );
        assert_eq!(first.request.path(), "/p");
        assert_eq!(first.request.query(), Some("q=1"));
        assert_eq!(first.response.body, b"hello");
        assert_eq!(first.response.header("x-n"), Some("5"));
        let second = &c.interactions[1];
        assert!(second.request.body.is_empty());
        assert_eq!(second.response.body, b"aGVsbG8=");
        assert_eq!(second.response.status, 404);
    }

    #[test]
    fn wrong_version_is_an_error() {
        let err = Cassette::parse("interactions: []\nversion: 2\n").unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
        assert!(Cassette::parse("foo: 1").is_err());
    }
}
