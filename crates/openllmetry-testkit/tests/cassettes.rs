//! Every vendored cassette loads, and its bodies decode.

use openllmetry_testkit::cassette::{
    Cassette, all_cassette_names, all_cassettes, cassettes_dir, split_sse_events,
};

#[test]
fn all_vendored_cassettes_load_and_decode() {
    let paths = all_cassettes();
    assert_eq!(paths.len(), 40, "vendored cassettes: {paths:#?}");
    let (mut interactions, mut gzip, mut streams, mut plain) = (0, 0, 0, 0);
    for path in &paths {
        assert!(path.starts_with(cassettes_dir()));
        let cassette = Cassette::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cassette.interactions.is_empty(), "{}", path.display());
        for (i, interaction) in cassette.interactions.iter().enumerate() {
            let ctx = format!("{} #{i}", path.display());
            interactions += 1;
            let req = &interaction.request;
            let resp = &interaction.response;
            assert_eq!(req.method, "POST", "{ctx}");
            assert!(req.path().starts_with("/"), "{ctx}");
            assert!(req.body_json().is_some(), "{ctx}: request body is not JSON");
            assert!(resp.status == 200 || resp.status == 401, "{ctx}");
            if resp.is_gzip() {
                gzip += 1;
                assert_eq!(&resp.body[..2], &[0x1f, 0x8b], "{ctx}: not gzip bytes");
                let decoded = resp.decoded_body();
                assert_ne!(decoded, resp.body, "{ctx}");
                let json = resp
                    .body_json()
                    .unwrap_or_else(|| panic!("{ctx}: not JSON"));
                assert!(json.is_object(), "{ctx}");
                assert_eq!(resp.content_type(), Some("application/json"), "{ctx}");
            } else if resp.is_event_stream() {
                streams += 1;
                let events = resp.sse_events();
                assert!(events.len() > 2, "{ctx}: {} events", events.len());
                assert_eq!(
                    events.concat(),
                    resp.body,
                    "{ctx}: events do not round-trip"
                );
                for event in &events {
                    let text = String::from_utf8(event.clone()).unwrap();
                    assert!(
                        text.starts_with("data:") || text.starts_with("event:"),
                        "{ctx}: odd event {text:?}"
                    );
                }
                assert_eq!(resp.decoded_body(), resp.body, "{ctx}");
            } else {
                plain += 1;
                assert!(resp.body_json().is_some(), "{ctx}: not JSON");
            }
        }
    }
    assert_eq!(interactions, 86);
    assert_eq!(gzip, 54);
    assert_eq!(streams, 26);
    assert_eq!(plain, 6);
}

#[test]
fn names_and_load_named() {
    let names = all_cassette_names();
    assert_eq!(names.len(), 40);
    assert!(names.iter().any(|n| n == "openai/test_chat/test_chat.yaml"));
    assert!(
        names
            .iter()
            .all(|n| !n.contains('\\') && n.ends_with(".yaml"))
    );
    for name in &names {
        Cassette::load_named(name).unwrap();
    }

    let chat = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let first = &chat.interactions[0];
    assert_eq!(
        first.request.uri,
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(first.request.path_and_query(), "/v1/chat/completions");
    assert_eq!(
        first.request.header("Content-Type"),
        Some("application/json")
    );
    assert_eq!(first.response.status, 200);
    assert_eq!(
        first
            .response
            .headers
            .iter()
            .filter(|(n, _)| n == "Set-Cookie")
            .count(),
        2
    );
    let json = first.response.body_json().unwrap();
    assert_eq!(json["object"], "chat.completion");

    let azure =
        Cassette::load_named("openai/test_embeddings/test_azure_openai_embeddings.yaml").unwrap();
    assert_eq!(
        azure.interactions[0].request.query(),
        Some("api-version=2023-07-01-preview")
    );
}

#[test]
fn errors_name_the_file() {
    let err = Cassette::load_named("nope/missing.yaml").unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    assert!(err.path().is_some());
}

#[test]
fn load_dir_and_concat() {
    let anthropic = Cassette::load_dir(cassettes_dir().join("anthropic")).unwrap();
    assert_eq!(anthropic.len(), 17);
    let total: usize = anthropic.iter().map(|(_, c)| c.interactions.len()).sum();
    let all = Cassette::concat(anthropic.into_iter().map(|(_, c)| c));
    assert_eq!(all.interactions.len(), total);
}

#[test]
fn sse_splitting_matches_the_recorded_events() {
    let c = Cassette::load_named(
        "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
    )
    .unwrap();
    let body = &c.interactions[0].response.body;
    let events = split_sse_events(body);
    assert!(events[0].starts_with(b"event: message_start\ndata: "));
    assert!(events.iter().all(|e| e.ends_with(b"\n\n")));
}
