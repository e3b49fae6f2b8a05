//! The request and response parsers of every provider format and operation over arbitrary
//! bytes: no panic (faults are recorded instead).
#![no_main]

use libfuzzer_sys::fuzz_target;
use openllmetry_core::{ApiFormat, Operation, provider};

fuzz_target!(|data: &[u8]| {
    for format in [ApiFormat::OpenAi, ApiFormat::Anthropic] {
        for op in [
            Operation::Chat,
            Operation::TextCompletion,
            Operation::Embeddings,
            Operation::Responses,
        ] {
            let mut faults = Vec::new();
            let _ = provider::parse_response(format, op, data, &mut faults);
            let _ = provider::parse_request(format, op, data, &mut faults);
        }
    }
});
