//! A minimal OTLP/HTTP sink for benchmarks: accepts every export (`POST /v1/traces`,
//! `/v1/metrics`, `/v1/logs`) with an empty success answer and keeps only counts, so the
//! gateway's export costs what it costs against a fast collector.
//!
//! ```text
//! cargo run --release -p openllmetry-gateway --example otlp_sink -- 127.0.0.1:4318
//! ```
//!
//! On SIGINT/SIGTERM it prints what it received and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes: AtomicU64,
    traces: AtomicU64,
    metrics: AtomicU64,
    logs: AtomicU64,
}

async fn accept(State(c): State<Arc<Counts>>, uri: Uri, body: Bytes) -> impl IntoResponse {
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    match uri.path() {
        "/v1/traces" => c.traces.fetch_add(1, Ordering::Relaxed),
        "/v1/metrics" => c.metrics.fetch_add(1, Ordering::Relaxed),
        "/v1/logs" => c.logs.fetch_add(1, Ordering::Relaxed),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain")],
            );
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4318".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .fallback(axum::routing::post(accept))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(counts.clone());
    eprintln!("otlp_sink: listening on http://{}", listener.local_addr()?);
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await?;
    eprintln!(
        "otlp_sink: {} export requests, {} bytes (traces {}, metrics {}, logs {})",
        counts.requests.load(Ordering::Relaxed),
        counts.bytes.load(Ordering::Relaxed),
        counts.traces.load(Ordering::Relaxed),
        counts.metrics.load(Ordering::Relaxed),
        counts.logs.load(Ordering::Relaxed),
    );
    Ok(())
}
