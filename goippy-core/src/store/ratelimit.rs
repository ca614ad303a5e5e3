//! At most one log line per interval for a warning that can repeat many
//! times a second (a full queue, an unreachable database), with a count of
//! what was left out: the engine's [`WarnLimiter`], made to live in a
//! `static` that any task may share.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::warn_limit::WarnLimiter;

#[derive(Debug)]
pub(crate) struct RateLimited {
    interval: Duration,
    /// Made on first use (`WarnLimiter::new` is not `const`).
    limiter: Mutex<Option<WarnLimiter>>,
}

impl RateLimited {
    pub(crate) const fn new(interval: Duration) -> RateLimited {
        RateLimited {
            interval,
            limiter: Mutex::new(None),
        }
    }

    /// `Some(n)` when the caller should log now, `n` being how many
    /// occurrences were not logged since the last line.
    pub(crate) fn allow(&self) -> Option<u64> {
        let mut limiter = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        limiter
            .get_or_insert_with(|| WarnLimiter::new(self.interval))
            .allow(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_it_suppresses() {
        let r = RateLimited::new(Duration::from_secs(3600));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), None);
        assert_eq!(r.allow(), None);
        let r = RateLimited::new(Duration::ZERO);
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), Some(0));
    }
}
