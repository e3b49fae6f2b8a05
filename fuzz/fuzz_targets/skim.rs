//! The bounded JSON skim over arbitrary bytes in an arbitrary chunking (the first byte picks
//! the chunk size): no panic, output within its bound, the same result whatever the chunking,
//! and the output of a body that is a JSON object is itself valid JSON when the body is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openllmetry_core::skim::{MAX_SKIM_BYTES, Skim, skim};

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut chunked = Skim::new();
    for chunk in body.chunks(step) {
        chunked.push(chunk);
    }
    let chunked = chunked.finish();
    let whole = skim(body);
    assert_eq!(chunked, whole, "the chunking changed the skim");
    if let Some(out) = whole {
        assert!(out.len() <= MAX_SKIM_BYTES + 1, "skim of {} bytes", out.len());
        if serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object()) {
            let parsed = serde_json::from_slice::<serde_json::Value>(&out);
            assert!(parsed.is_ok_and(|v| v.is_object()), "invalid skim of a valid object");
        }
    }
});
