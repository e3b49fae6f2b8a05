//! The README's application example is `examples/readme.rs` (compiled with the workspace):
//! the README's Rust block under "Use it in an application" must equal that file without its
//! leading `//!` lines, so the documented program always compiles.

#[test]
fn readme_example_is_the_compiled_example() {
    let example = include_str!("../examples/readme.rs");
    let code: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the workspace root");
    let section = readme
        .split("## Use it in an application")
        .nth(1)
        .expect("README has the section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```rust block in the section");
    assert_eq!(
        format!("{block}\n"),
        code,
        "README's example differs from crates/openllmetry/examples/readme.rs"
    );
}
