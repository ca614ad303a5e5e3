//! At most one log line per interval for a warning that can repeat many
//! times a second, with a count of what was left out.
//!
//! A misconfigured or hostile sender can send thousands of datagrams a
//! second, and an unreachable database fails every write; logging each would
//! flood the journal, and remembering each sender would grow memory without
//! bound. A [`WarnLimiter`] lets a warning through every `interval` and
//! counts the rest, which the next warning reports; it keeps no per-sender
//! state. [`SharedWarnLimiter`] is the same, made to live in a `static` that
//! any task may share.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock::lock;

/// One warning per interval, for an owner that holds it mutably.
#[derive(Debug)]
pub struct WarnLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimiter {
    /// At most one warning per `interval`.
    pub const fn new(interval: Duration) -> Self {
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

/// A [`WarnLimiter`] for a `static`: one per kind of warning, shared by
/// every task that may log it.
#[derive(Debug)]
pub(crate) struct SharedWarnLimiter(Mutex<WarnLimiter>);

impl SharedWarnLimiter {
    pub(crate) const fn new(interval: Duration) -> SharedWarnLimiter {
        SharedWarnLimiter(Mutex::new(WarnLimiter::new(interval)))
    }

    /// `Some(n)` when the caller should log now, `n` being how many
    /// occurrences were not logged since the last line.
    pub(crate) fn allow(&self) -> Option<u64> {
        lock(&self.0).allow(Instant::now())
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

    #[test]
    fn counts_what_it_suppresses() {
        let r = SharedWarnLimiter::new(Duration::from_secs(3600));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), None);
        assert_eq!(r.allow(), None);
        let r = SharedWarnLimiter::new(Duration::ZERO);
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), Some(0));
    }
}
