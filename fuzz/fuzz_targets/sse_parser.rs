//! The SSE parser and both providers' stream accumulators over arbitrary bytes in an
//! arbitrary chunking (the first byte picks the chunk size): no panic, bounded buffering.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openllmetry_core::provider::StreamAccumulator;
use openllmetry_core::{ApiFormat, Operation, SseParser};

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    for format in [ApiFormat::OpenAi, ApiFormat::Anthropic] {
        let mut parser = SseParser::new(4096);
        let mut acc = StreamAccumulator::new(format, Operation::Chat);
        let mut faults = Vec::new();
        let mut acc_faults = Vec::new();
        for chunk in body.chunks(step) {
            parser.push(chunk, |event| {
                acc.push(&event, &mut acc_faults);
            }, &mut faults);
        }
        let _ = acc.finish();
    }
});
