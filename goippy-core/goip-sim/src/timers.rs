//! What a channel must do later, in time order: the next keepalive, a
//! retransmission, the result of an SMS the modem is sending, a delivery
//! report, a USSD answer, the end of a call.
//!
//! A channel is one task with one loop; instead of a task per timer, it
//! keeps its timers here and sleeps until the earliest. Timers are never
//! cancelled: each one is checked against the channel's state when it fires
//! (an acked notification's retransmission finds nothing pending and does
//! nothing), which keeps cancellation bugs out. The queue holds at most one
//! entry per pending thing, so it is as bounded as the channel's state.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    /// Keeps timers due at the same instant in the order they were set.
    seq: u64,
    what: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Timers of kind `T`, earliest first.
#[derive(Debug)]
pub(crate) struct Timers<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Does `what` at `at`.
    pub(crate) fn at(&mut self, at: Instant, what: T) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            what,
        }));
    }

    /// When the earliest timer is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// The earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.next_due()? <= now {
            self.heap.pop().map(|Reverse(e)| e.what)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_then_in_order_set() {
        let now = Instant::now();
        let mut t = Timers::new();
        t.at(now + Duration::from_secs(2), "late");
        t.at(now, "first");
        t.at(now, "second");
        assert_eq!(t.next_due(), Some(now));
        assert_eq!(t.pop_due(now), Some("first"));
        assert_eq!(t.pop_due(now), Some("second"));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.pop_due(now + Duration::from_secs(2)), Some("late"));
        assert_eq!(t.next_due(), None);
    }
}
