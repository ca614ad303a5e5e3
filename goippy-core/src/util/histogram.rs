//! A histogram of durations in fixed buckets, made of atomics: recording
//! takes no lock, so the store's writer can time every batch commit without
//! waiting on a scrape. The metrics endpoint reads it as a Prometheus
//! histogram (cumulative buckets, sum, count).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds, in seconds, of the buckets (`+Inf` is implied): a
/// commit is a few milliseconds on a healthy SQLite or MariaDB, and
/// `DB_WRITE_WAIT` (1 s by default) is where the spool takes over.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Counts of durations per bucket, their sum and their number.
#[derive(Debug, Default)]
pub struct DurationHistogram {
    /// Non-cumulative: `buckets[i]` counts durations in
    /// (`DURATION_BUCKETS[i-1]`, `DURATION_BUCKETS[i]`]; the last one above all.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A copy for the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, count in this bucket alone), `+Inf` last:
    /// what prometheus-client's encoder takes (it writes them cumulative).
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl DurationHistogram {
    pub fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let at = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        if let Some(bucket) = self.buckets.get(at) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let bounds = DURATION_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        HistogramSnapshot {
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            // The buckets' total, not `count`: read a moment apart, the two
            // could disagree, and a histogram whose +Inf bucket differs from
            // its count is malformed.
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_duration_lands_in_its_bucket() {
        let h = DurationHistogram::default();
        h.record(Duration::from_micros(500));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(30));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets.first(), Some(&(0.001, 1)));
        assert_eq!(s.buckets.get(2), Some(&(0.005, 1)));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(s.buckets.iter().map(|b| b.1).sum::<u64>(), 3);
        assert!((s.sum_seconds - 30.0035).abs() < 1e-9);
    }
}
