//! Latency statistics and process memory.

/// Summary of a set of per-call latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Mean, µs.
    pub mean_us: f64,
    /// Median, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
}

impl Summary {
    /// Summarises latencies given in nanoseconds.
    pub fn from_nanos(samples: &[u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let mean = sorted.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        Summary {
            n,
            mean_us: mean / 1000.0,
            p50_us: percentile(&sorted, 0.50) / 1000.0,
            p99_us: percentile(&sorted, 0.99) / 1000.0,
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Resident memory of this process in KiB (`VmRSS` of `/proc/self/status`), if readable.
pub fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `x` formatted with a fixed number of significant-looking decimals for tables.
pub fn fmt_us(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let samples: Vec<u64> = (1..=100).map(|v| v * 1000).collect();
        let s = Summary::from_nanos(&samples);
        assert_eq!(s.n, 100);
        assert!((s.mean_us - 50.5).abs() < 1e-9);
        assert_eq!(s.p50_us, 50.0);
        assert_eq!(s.p99_us, 99.0);
        assert_eq!(Summary::from_nanos(&[]), Summary::default());
    }

    #[test]
    fn rss_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(vm_rss_kib().is_some_and(|k| k > 0));
        }
    }
}
