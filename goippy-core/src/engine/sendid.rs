//! Choosing the `sendid` of each command sent to a GoIP.
//!
//! The GoIP echoes the sendid in every reply, and a reply carries nothing
//! else that ties it to its request — no channel id, no password. So the
//! sendid, with the address the reply comes from, is all that tells a real
//! reply from a forged one: anyone who can send UDP with the GoIP's source
//! address could otherwise mark an SMS sent or failed, or put words in a
//! USSD answer. Sendids must therefore be unguessable for someone who cannot
//! see the traffic. Real firmware reads them as signed 32-bit numbers
//! (goipcron prints them with `%d`), so they stay in `1..=`[`MAX_SENDID`].
//!
//! * **SMS sessions and one-shot stamps**: uniformly random
//!   in `1..=MAX_SENDID` ([`SendIdAllocator::random`]), from the thread-local
//!   CSPRNG. The reply table (`pending`) draws again while one is in use or
//!   was used recently, because late replies are matched to recent
//!   exchanges.
//! * **USSD**: the GoIP answers a USSD whose sendid is not larger than the
//!   last one from its cache (a stale answer), so USSD sendids strictly
//!   increase — across restarts too — each by a random step in
//!   [`USSD_STEP`]. A guess of "the last one plus one" (or any of the next
//!   thousand) is never right, and which of the ~7,000 values the step took
//!   is unknown. The price is room: at ~4,600 per request on average, the
//!   31 bits last for about 450,000 USSD requests.
//!
//! Across restarts, USSD sendids stay above the `floor` the store kept (the
//! highest one saved, or recorded on a USSD outbox row), and above the
//! seconds since 2024 (which covers a new database on a device that an
//! earlier installation drove). A crash must not lose a sendid that reached
//! the wire, so the caller draws the id of a USSD request itself
//! ([`SendIdAllocator::next_ussd`], through `Engine::reserve_ussd_sendid`),
//! stores it, and hands it to the engine with the request, which sends
//! exactly that id: the id stored on the request's row is the one on the
//! wire, whatever happened to the requests before it.

use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::goip::MAX_SENDID;
use crate::util::lock;

/// How much each USSD sendid exceeds the one before. The lower bound puts
/// the next thousand ids out of a guesser's reach; the width (~13 bits) is
/// what a guesser who somehow learnt the previous id must still cover.
pub const USSD_STEP: RangeInclusive<u32> = 1024..=8191;

/// 2024-01-01T00:00:00Z: the base of the clock's lower bound, which keeps it
/// within 31 bits until 2092.
const EPOCH_2024: u64 = 1_704_067_200;

/// Hands out random sendids, and strictly increasing ones for USSD.
#[derive(Debug)]
pub struct SendIdAllocator {
    /// The largest USSD id handed out (or the starting floor).
    last_ussd: Mutex<u32>,
}

impl SendIdAllocator {
    /// `floor`: no USSD id handed out will be smaller than or equal to it.
    pub fn new(floor: u32) -> Self {
        Self::starting_at(floor.max(seconds_since_2024()))
    }

    fn starting_at(last: u32) -> Self {
        SendIdAllocator {
            last_ussd: Mutex::new(last.min(MAX_SENDID - 1)),
        }
    }

    /// The largest USSD id handed out so far (or the floor):
    /// what the store keeps as the next run's floor.
    pub fn highest(&self) -> u32 {
        *lock(&self.last_ussd)
    }

    /// A random sendid for anything but USSD. The caller makes sure it is
    /// not in use (see `pending`).
    pub fn random(&self) -> u32 {
        rand::random_range(1..=MAX_SENDID)
    }

    /// A USSD sendid larger than every one handed out before.
    ///
    /// Each channel runs one request at a time, so a caller that draws the
    /// id of each request just before submitting it (and the engine sends
    /// exactly that id) gives every channel increasing ids. An id drawn for
    /// a request that never reaches the wire is simply skipped.
    pub fn next_ussd(&self) -> u32 {
        let mut last = lock(&self.last_ussd);
        let step = rand::random_range(USSD_STEP);
        *last = match last.checked_add(step) {
            Some(id) if id <= MAX_SENDID => id,
            // After ~450,000 USSD requests: the GoIP reads larger ids as
            // negative numbers. Starting over from small ids is the lesser
            // harm (its cache answers the first few from memory).
            _ => {
                tracing::error!(
                    "USSD sendids ran out of 31 bits: starting over from small ones; \
                     the next USSD answers on each channel may be stale"
                );
                step
            }
        };
        *last
    }
}

fn seconds_since_2024() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(EPOCH_2024);
    now.saturating_sub(EPOCH_2024).min(u64::from(MAX_SENDID)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ussd_ids_increase_by_an_unguessable_step() {
        let a = SendIdAllocator::new(0);
        let mut prev = a.highest();
        let mut steps = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = a.next_ussd();
            assert!(id <= MAX_SENDID);
            assert!(USSD_STEP.contains(&(id - prev)), "{prev} -> {id}");
            steps.insert(id - prev);
            prev = id;
        }
        assert_eq!(a.highest(), prev);
        // The step is not a constant (10,000 draws over ~7,000 values).
        assert!(steps.len() > 3000, "{}", steps.len());
    }

    #[test]
    fn ussd_ids_start_above_the_floor_and_the_clock() {
        let clock = seconds_since_2024();
        assert!(SendIdAllocator::new(0).next_ussd() > clock);
        let floor = clock + 1_000_000;
        let a = SendIdAllocator::new(floor);
        assert_eq!(a.highest(), floor);
        assert!(a.next_ussd() > floor);
        // A restart from the saved highest gives larger ids.
        let b = SendIdAllocator::new(a.highest());
        assert!(b.next_ussd() > a.highest());
    }

    #[test]
    fn running_out_of_31_bits_starts_over() {
        let a = SendIdAllocator::starting_at(MAX_SENDID - 1);
        let id = a.next_ussd();
        assert!(USSD_STEP.contains(&id), "{id}");
    }

    #[test]
    fn random_ids_fit_31_bits_and_differ() {
        let a = SendIdAllocator::new(0);
        let ids: std::collections::HashSet<u32> = (0..1000).map(|_| a.random()).collect();
        assert!(ids.iter().all(|id| (1..=MAX_SENDID).contains(id)));
        assert!(ids.len() > 990);
    }
}
