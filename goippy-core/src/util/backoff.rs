//! How long to wait before trying again something that just failed.
//!
//! Three loops retry against a peer that may be away for seconds or hours:
//! the XMPP link dialling Prosody, the store's writer and its reconnect loop
//! waiting for the database, and the bridge's outbox runners after a round
//! without progress. The first retry comes quickly (Prosody bounces every
//! stanza for the component while it is away, nothing is queued); repeated
//! failures (server down, wrong secret) double the wait up to a ceiling so a
//! broken setup does not flood the log or the peer. Success resets it.

use std::time::Duration;

/// Exponential backoff between attempts, doubling from a floor to a ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits start at `min` and double up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The wait before the next attempt; each call doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// Back to the shortest wait (after a successful connection).
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let waits: Vec<u64> = (0..8).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn a_ceiling_below_the_floor_is_the_floor() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::from_secs(5));
        assert_eq!(b.next_delay(), Duration::from_secs(5));
    }
}
