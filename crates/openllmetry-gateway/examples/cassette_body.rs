//! Prints the recorded request body of one interaction of a cassette (a file, or a bundled
//! cassette's name) to stdout, for load generators (`scripts/bench-gateway.sh`).
//!
//! ```text
//! cargo run -p openllmetry-gateway --example cassette_body -- openai/test_chat/test_chat.yaml [INDEX]
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use openllmetry_testkit::cassette::Cassette;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        eprintln!("usage: cassette_body CASSETTE [INDEX]");
        return ExitCode::FAILURE;
    };
    let index: usize = args.next().and_then(|i| i.parse().ok()).unwrap_or(0);
    let cassette = if std::path::Path::new(&name).exists() {
        Cassette::load(&name)
    } else {
        Cassette::load_named(&name)
    };
    let body = match cassette {
        Ok(c) => match c.interactions.into_iter().nth(index) {
            Some(it) => it.request.body,
            None => {
                eprintln!("cassette_body: {name} has no interaction #{index}");
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!("cassette_body: {e}");
            return ExitCode::FAILURE;
        }
    };
    if std::io::stdout().write_all(&body).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
