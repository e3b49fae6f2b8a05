//! Every supported `async` form compiles, runs, and its future stays `Send`.
#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use openllmetry::{agent, task, tool, workflow};
use serde::Serialize;

#[derive(Debug)]
struct NotSerialize;

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[workflow(name = "async_workflow", version = 1)]
async fn workflow(items: Vec<u32>, _handle: NotSerialize) -> u32 {
    let mut sum = 0;
    for item in items {
        sum += step(item).await;
    }
    sum
}

#[task]
async fn step(item: u32) -> u32 {
    tokio::task::yield_now().await;
    item * 2
}

#[task]
async fn fallible(text: String) -> Result<i64, std::num::ParseIntError> {
    let value = text.parse::<i64>()?;
    if value < 0 {
        return Ok(0);
    }
    Ok(value)
}

#[tool]
async fn borrowed<'a>(text: &'a str) -> &'a str {
    &text[1..]
}

#[agent]
async fn generic<T: Serialize + Send>(value: T) -> T {
    value
}

#[task]
async fn opaque(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[task]
async fn unit() {}

struct Service {
    calls: u32,
}

impl Service {
    #[task]
    async fn by_ref(&self) -> u32 {
        self.calls
    }

    #[task]
    async fn by_mut(&mut self) {
        self.calls += 1;
    }

    /// Hands back the `&mut` it was given, as the plain `async fn` would.
    #[tool]
    async fn chained(&mut self) -> &mut Self {
        self.calls += 10;
        self
    }

    #[agent]
    async fn by_value(self) -> u32 {
        self.calls
    }
}

trait Lookup {
    async fn lookup(&self, key: &str) -> Option<String>;
}

impl Lookup for Service {
    #[tool]
    async fn lookup(&self, key: &str) -> Option<String> {
        Some(format!("{key}:{}", self.calls))
    }
}

#[test]
fn every_async_form_compiles_runs_and_stays_send() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let handle = tokio::spawn(assert_send(workflow(vec![1, 2], NotSerialize)));
        assert_eq!(handle.await.unwrap(), 6);
        assert_eq!(assert_send(fallible("12".into())).await.unwrap(), 12);
        assert!(fallible("x".into()).await.is_err());
        assert_eq!(borrowed("abc").await, "bc");
        assert_eq!(generic(3u8).await, 3);
        assert_eq!(opaque(2).await.count(), 2);
        unit().await;
        let mut service = Service { calls: 0 };
        service.by_mut().await;
        assert_eq!(assert_send(service.by_ref()).await, 1);
        assert_eq!(service.lookup("k").await.as_deref(), Some("k:1"));
        service.chained().await.calls -= 10;
        assert_eq!(service.by_value().await, 1);
    });
}

/// The async body is checked against the declared return type too: the early `return` and the
/// tail are both coerced to `Box<dyn Debug + Send>`.
#[task]
async fn coerced(flag: bool) -> Box<dyn std::fmt::Debug + Send> {
    if flag {
        return Box::new(1u8);
    }
    Box::new("x")
}

#[test]
fn the_async_body_is_checked_against_the_declared_return_type() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(format!("{:?}", runtime.block_on(coerced(true))), "1");
    assert_eq!(format!("{:?}", runtime.block_on(coerced(false))), "\"x\"");
}
