//! The vendored upstream OpenAI/Anthropic corpus (`cassettes/openllmetry-corpus`) and the
//! pydantic-ai recordings (`cassettes/pydantic-ai`), issue 15, are complete and load as VCR
//! cassettes (counts from each folder's `MANIFEST.tsv`). pydantic-ai bodies (`parsed_body`)
//! are not read by the loader yet: see `docs/notes/harness.md`.

use openllmetry_testkit::cassette::{Cassette, find_cassettes};

/// Every cassette under `cassettes/<folder>` is listed in its `MANIFEST.tsv` (one row per
/// file after the header) and loads with at least one interaction.
fn assert_matches_manifest_and_loads(folder: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes")
        .join(folder);
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let listed = manifest.lines().skip(1).filter(|l| !l.is_empty()).count();
    let paths = find_cassettes(&root).unwrap();
    assert_eq!(paths.len(), listed, "{folder}: files vs MANIFEST.tsv rows");
    let mut failed = Vec::new();
    for path in &paths {
        match Cassette::load(path) {
            Ok(c) if !c.interactions.is_empty() => {}
            Ok(_) => failed.push(format!("{}: no interactions", path.display())),
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failed.is_empty(),
        "{} unloadable:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn vendored_upstream_corpus_matches_manifest_and_loads() {
    assert_matches_manifest_and_loads("openllmetry-corpus");
}

#[test]
fn vendored_pydantic_ai_recordings_match_manifest_and_load() {
    assert_matches_manifest_and_loads("pydantic-ai");
}
