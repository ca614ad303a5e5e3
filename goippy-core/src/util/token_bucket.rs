//! A token bucket: at most so many events a second, with bursts of the
//! same size.
//!
//! Its user is the engine's global budget for answering strangers. A
//! notification with an unknown id or a wrong password is answered with a
//! rejection (`reg:<n>;status:404;` or `<TAG> <n> ERROR …`), like the vendor
//! server does, so a misconfigured GoIP shows the problem. But the source
//! address of a UDP packet can be forged, and each answer is a little larger
//! than the packet that caused it: unlimited, goippy could be used to flood a
//! third party. One token bucket for all senders (no per-sender state, so no
//! memory to exhaust) caps the rate; what exceeds it is dropped silently.

use std::time::Instant;

/// Tokens refill at `per_second`, up to `per_second`; each event takes one.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// Up to `per_second` answers a second, with bursts of the same size.
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        TokenBucket {
            per_second,
            tokens: per_second,
            last: None,
        }
    }

    /// True if one more answer may be sent now.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut r = TokenBucket::new(10);
        let burst = (0..100).filter(|_| r.allow(t0)).count();
        assert_eq!(burst, 10);
        assert!(!r.allow(t0));
        assert!(r.allow(t0 + Duration::from_millis(100)));
        assert!(!r.allow(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..100).filter(|_| r.allow(later)).count(), 10);
        assert!(!TokenBucket::new(0).allow(t0));
    }
}
