//! Choosing the `sendid` of each command sent to a GoIP.
//!
//! The GoIP echoes the sendid in every reply, so it routes replies to the job
//! waiting for them; it must be positive and fit in 31 bits (goipcron prints
//! it with `%d`). For USSD it must also keep increasing on a channel, across
//! restarts too: the device answers a USSD whose sendid is not larger than the
//! last one with its cached, stale reply.
//!
//! One allocator serves every command of the engine: each id is
//! `max(previous + 1, seconds since 2024-01-01, floor)`. Time makes ids grow
//! across restarts without any storage; the `floor` (the largest sendid the
//! store has recorded) covers a restart after a burst that ran ahead of the
//! clock. Ids are unique across all channels, so a reply can be routed by its
//! sendid alone.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::goip::MAX_SENDID;

/// 2024-01-01T00:00:00Z: the base of time-derived ids, which keeps them
/// within 31 bits until 2092.
const EPOCH_2024: u64 = 1_704_067_200;

/// Hands out strictly increasing sendids.
#[derive(Debug)]
pub struct SendIdAllocator {
    last: Mutex<u32>,
}

impl SendIdAllocator {
    /// `floor`: no id handed out will be smaller than or equal to it.
    pub fn new(floor: u32) -> Self {
        SendIdAllocator {
            last: Mutex::new(floor.min(MAX_SENDID - 1)),
        }
    }

    /// The largest id handed out so far (or the floor): what the store keeps
    /// as the next run's floor.
    pub fn highest(&self) -> u32 {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next id.
    pub fn next(&self) -> u32 {
        self.next_at(seconds_since_2024())
    }

    fn next_at(&self, clock: u32) -> u32 {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut id = last.saturating_add(1).max(clock).max(1);
        if id > MAX_SENDID {
            // Only reachable after ~68 years of uptime-free clock or a wildly
            // wrong floor: wrap to small ids rather than leave 31 bits.
            id = 1;
        }
        *last = id;
        id
    }
}

fn seconds_since_2024() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(EPOCH_2024);
    now.saturating_sub(EPOCH_2024).min(MAX_SENDID as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_and_positive() {
        let a = SendIdAllocator::new(0);
        let mut prev = 0;
        for _ in 0..10_000 {
            let id = a.next();
            assert!(id > prev && id <= MAX_SENDID);
            prev = id;
        }
    }

    #[test]
    fn follows_the_clock_and_the_floor() {
        let a = SendIdAllocator::new(0);
        assert_eq!(a.next_at(1000), 1000);
        assert_eq!(a.next_at(1000), 1001);
        assert_eq!(a.next_at(5000), 5000);
        // A restart after a burst: the floor wins over a clock that lags it.
        let b = SendIdAllocator::new(6000);
        assert_eq!(b.next_at(5001), 6001);
    }

    #[test]
    fn a_restart_gives_larger_ids() {
        let first = SendIdAllocator::new(0).next();
        let second = SendIdAllocator::new(first).next();
        assert!(second > first);
    }
}
