//! The response observer with a gzip or deflate body: the input is used both as raw
//! (mostly broken) compressed bytes and, compressed, as a valid body; chunked by the first
//! byte. No panic, inflated bytes within the cap plus one step's output.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use openllmetry_core::Instrumentation;
use openllmetry_core::instrument::INFLATE_INPUT_STEP;

const CAP: usize = 256 * 1024;

fn run(body: &[u8], step: usize, encoding: &str, content_type: &str) {
    let i = Instrumentation::builder()
        .with_metrics(false)
        .with_max_inflated_bytes(CAP)
        .build();
    let Some(call) = i.start(
        "POST",
        "https://api.openai.com/v1/chat/completions",
        Some(br#"{"model":"m","stream":true}"#),
    ) else {
        return;
    };
    let mut obs = call.on_response(200, Some(content_type), Some(encoding));
    for chunk in body.chunks(step) {
        obs.on_data(chunk);
        assert!(obs.inflated_bytes() <= CAP + INFLATE_INPUT_STEP * 1100);
    }
    obs.on_end();
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(rest);
    let valid = gz.finish().unwrap_or_default();
    for ct in ["application/json", "text/event-stream"] {
        run(rest, step, "gzip", ct);
        run(rest, step, "deflate", ct);
        run(&valid, step, "gzip", ct);
    }
});
