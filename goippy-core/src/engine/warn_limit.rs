//! Rate-limited warnings for traffic goippy rejects.
//!
//! A misconfigured or hostile sender can send thousands of datagrams a
//! second; logging each would flood the journal, and remembering each sender
//! would grow memory without bound. One global limiter with no per-sender
//! state lets a warning through every `interval` and counts the rest, which
//! the next warning reports.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct WarnLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimiter {
    pub fn new(interval: Duration) -> Self {
        WarnLimiter {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when a warning may be logged now, `n` being how many were
    /// suppressed since the last one; `None` when this one should be dropped.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(at) if now.saturating_duration_since(at) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_with_a_count() {
        let t0 = Instant::now();
        let mut w = WarnLimiter::new(Duration::from_secs(10));
        assert_eq!(w.allow(t0), Some(0));
        for i in 1..=5 {
            assert_eq!(w.allow(t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(w.allow(t0 + Duration::from_secs(10)), Some(5));
    }
}
