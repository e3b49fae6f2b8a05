//! The SDK's modules depend on each other one way only: no two modules of `src/` import each
//! other (`crate::a` in `b` and `crate::b` in `a`, or `super::a`/`super::b` between two
//! telemetry submodules). Comments and doc comments do not count; a parent naming its own
//! child modules does not either.

use std::collections::BTreeSet;
use std::path::Path;

/// `(module, module it names)` for every `crate::x` / `super::x` path in code lines.
fn edges(src: &Path) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut files = Vec::new();
    for dir in [src.to_path_buf(), src.join("telemetry")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    for path in files {
        let rel = path
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .replace('/', "::");
        let parent = module.rsplit_once("::").map(|(p, _)| p.to_owned());
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (prefix, base) in [("crate::", None), ("super::", parent.as_deref())] {
                let mut rest = line;
                while let Some(i) = rest.find(prefix) {
                    rest = &rest[i + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        continue;
                    }
                    let target = match (prefix, base) {
                        ("super::", Some(p)) => format!("{p}::{name}"),
                        // `super::` in a top-level file is its own test module's parent.
                        ("super::", None) => continue,
                        _ => name,
                    };
                    if target != module {
                        out.insert((module.clone(), target));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn no_two_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(
        edges.contains(&("pipeline".into(), "config".into())),
        "the scan sees imports: {edges:?}"
    );
    let cycles: Vec<_> = edges
        .iter()
        .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
        .collect();
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:?}"
    );
}
