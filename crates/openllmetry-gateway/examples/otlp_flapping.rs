//! The testkit's OTLP receiver as a flapping collector, for `scripts/soak.sh`: it accepts
//! exports for `UP` seconds, then answers every export with 503 for `DOWN` seconds, and so
//! on. It prints its OTLP/HTTP endpoint on stdout's first line, each flip on stderr, and on
//! SIGINT/SIGTERM the number of spans it decoded and of exports it refused.
//!
//! ```text
//! cargo run --release -p openllmetry-gateway --example otlp_flapping -- [UP_SECS] [DOWN_SECS]
//! ```

use std::io::Write as _;
use std::time::Duration;

use openllmetry_testkit::otlp::OtlpReceiver;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let up = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(20));
    let down = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(10));
    let receiver = OtlpReceiver::start();
    println!("{}", receiver.http_endpoint());
    let _ = std::io::stdout().flush();
    let started = tokio::time::Instant::now();
    let mut available = true;
    let mut flip = started + up;
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("otlp_flapping: cannot listen for SIGTERM: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(flip) => {
                available = !available;
                receiver.set_unavailable(!available);
                eprintln!(
                    "otlp_flapping: t={}s collector {} (spans so far {})",
                    started.elapsed().as_secs(),
                    if available { "up" } else { "down (503)" },
                    receiver.spans().len()
                );
                flip += if available { up } else { down };
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!(
        "spans_received {} refused_exports {}",
        receiver.spans().len(),
        receiver.rejected_count()
    );
    receiver.stop();
}
