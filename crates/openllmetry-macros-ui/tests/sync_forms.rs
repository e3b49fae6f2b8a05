//! Every supported synchronous form compiles, runs, and keeps its behaviour.
#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use openllmetry::{agent, task, tool, workflow};
use serde::Serialize;

#[derive(Serialize)]
struct Doc {
    title: String,
}

/// Not `Serialize`: skipped as an argument and as an output.
#[derive(Debug, PartialEq)]
struct Handle(u32);

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

#[workflow]
fn plain() {}

/// Visibility and docs are kept.
#[workflow(name = "named", version = 3)]
pub fn named(doc: Doc, handle: Handle) -> Handle {
    let _ = doc.title;
    handle
}

#[task(version = 1, name = "reordered")]
pub(crate) fn reordered(n: u32) -> u32 {
    n + 1
}

#[tool]
fn borrowed<'a>(text: &'a str, _unused: &str) -> &'a str {
    &text[..1]
}

#[task]
fn early_return(n: i32) -> Result<i32, MyError> {
    #![allow(clippy::needless_return)]
    if n < 0 {
        return Err(MyError);
    }
    let parsed: i32 = "5".parse().map_err(|_| MyError)?;
    return Ok(parsed + n);
}

#[task]
fn io_alias() -> std::io::Result<u8> {
    Ok(1)
}

#[task]
fn generic<T: Serialize + Clone, U>(value: &T, other: U) -> (T, U)
where
    U: Send,
{
    (value.clone(), other)
}

#[agent]
fn opaque(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[agent]
fn opaque_arg(values: impl IntoIterator<Item = u32>) -> u32 {
    values.into_iter().sum()
}

#[tool]
fn patterns((a, b): (u32, u32), mut c: u32, _: u8) -> u32 {
    c += a + b;
    c
}

#[task]
fn r#type(r#in: u8) -> u8 {
    r#in
}

#[task]
fn recursive(n: u64) -> u64 {
    if n == 0 { 0 } else { n + recursive(n - 1) }
}

#[allow(dead_code)]
#[task]
fn diverges() -> ! {
    panic!("never called")
}

#[must_use]
#[task]
fn must_use() -> u8 {
    1
}

#[task]
fn mutates(mut items: Vec<u8>) -> Vec<u8> {
    items.push(1);
    items
}

struct Counter {
    count: u32,
}

impl Counter {
    #[task]
    fn by_ref(&self) -> u32 {
        self.count
    }

    #[task(name = "by_mut")]
    fn by_mut(&mut self, by: u32) -> &mut Self {
        self.count += by;
        self
    }

    #[agent]
    fn by_value(self) -> u32 {
        self.count
    }

    #[tool]
    fn associated() -> Self {
        Self { count: 0 }
    }
}

trait Greeter {
    fn name(&self) -> String;

    #[task]
    fn greet(&self, greeting: &str) -> String {
        format!("{greeting}, {}", self.name())
    }
}

struct World;

impl Greeter for World {
    #[tool]
    fn name(&self) -> String {
        "world".to_owned()
    }
}

#[test]
fn every_sync_form_compiles_and_keeps_its_behaviour() {
    plain();
    assert_eq!(named(Doc { title: "t".into() }, Handle(7),), Handle(7));
    assert_eq!(reordered(1), 2);
    assert_eq!(borrowed("hello", "x"), "h");
    assert!(early_return(-1).is_err());
    assert_eq!(early_return(1).ok(), Some(6));
    assert_eq!(io_alias().ok(), Some(1));
    assert_eq!(generic(&1u8, Handle(2)), (1, Handle(2)));
    assert_eq!(opaque(3).count(), 3);
    assert_eq!(opaque_arg([1, 2]), 3);
    assert_eq!(patterns((1, 2), 3, 4), 6);
    assert_eq!(r#type(4), 4);
    assert_eq!(recursive(3), 6);
    assert_eq!(must_use(), 1);
    assert_eq!(mutates(vec![]), vec![1]);
    let mut counter = Counter::associated();
    counter.by_mut(2).by_mut(3);
    assert_eq!(counter.by_ref(), 5);
    assert_eq!(counter.by_value(), 5);
    assert_eq!(World.greet("hello"), "hello, world");
}

/// A body whose type is fixed by the declared return type, as in any function: the early
/// `return` and the tail are both coerced to `Box<dyn Debug>` (before the body was bound to the
/// declared type, the closure holding it inferred `Box<u8>` from the `return` and this failed).
#[task]
fn coerced(flag: bool) -> Box<dyn std::fmt::Debug> {
    if flag {
        return Box::new(1u8);
    }
    Box::new("x")
}

/// The tail's `.into()` and `collect()` are resolved from the declared type.
#[tool]
fn inferred_from_declared(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).into()).collect()
}

#[test]
fn the_body_is_checked_against_the_declared_return_type() {
    assert_eq!(format!("{:?}", coerced(true)), "1");
    assert_eq!(format!("{:?}", coerced(false)), "\"x\"");
    assert_eq!(
        inferred_from_declared(&["a", "b"]),
        vec!["a".to_string(), "b".to_string()]
    );
}
