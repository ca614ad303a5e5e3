//! When the monitor must look at a line again although its channel did not
//! change: a change held for the hold time becomes due, a balance check is
//! due, a write that failed is tried again. The monitor looks at a line only
//! when its channel changed or one of these times has come, so a tick with a
//! thousand quiet lines costs next to nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The times to look again, earliest first. A line has at most one time
/// that counts (the earliest asked for, see [`Wakes::at`]); a later one it
/// replaced stays in the heap until its time and is skipped then.
#[derive(Debug, Default)]
pub(super) struct Wakes {
    heap: BinaryHeap<Reverse<(Instant, String)>>,
}

impl Wakes {
    /// Asks for a look at `goip_id` at `at`, unless `scheduled` (the line's
    /// own record of its next look) is earlier already.
    pub(super) fn at(&mut self, goip_id: &str, at: Instant, scheduled: &mut Option<Instant>) {
        if scheduled.is_some_and(|s| s <= at) {
            return;
        }
        *scheduled = Some(at);
        self.heap.push(Reverse((at, goip_id.to_owned())));
    }

    /// The next line whose time has come by `now`. `record` gives a line's
    /// own record of its next look (`None` for a line that is gone), which
    /// is cleared: a time the line no longer holds was replaced, and is
    /// skipped.
    pub(super) fn next_due(
        &mut self,
        now: Instant,
        mut record: impl FnMut(&str, &mut dyn FnMut(&mut Option<Instant>)),
    ) -> Option<String> {
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > now {
                return None;
            }
            let Reverse((at, goip_id)) = self.heap.pop()?;
            let mut holds = false;
            record(&goip_id, &mut |scheduled| {
                if *scheduled == Some(at) {
                    *scheduled = None;
                    holds = true;
                }
            });
            if holds {
                return Some(goip_id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    type Lines = HashMap<String, Option<Instant>>;

    fn ask(wakes: &mut Wakes, lines: &mut Lines, id: &str, at: Instant) {
        let record = lines.entry(id.to_owned()).or_default();
        wakes.at(id, at, record);
    }

    fn due(wakes: &mut Wakes, lines: &mut Lines, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(id) = wakes.next_due(now, |id, f| lines.get_mut(id).into_iter().for_each(f))
        {
            out.push(id);
        }
        out
    }

    #[test]
    fn the_earliest_time_counts_and_each_line_comes_once() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let (mut wakes, mut lines) = (Wakes::default(), Lines::new());
        ask(&mut wakes, &mut lines, "a", s(5));
        ask(&mut wakes, &mut lines, "a", s(2)); // replaces 5
        ask(&mut wakes, &mut lines, "a", s(3)); // later than 2: ignored
        ask(&mut wakes, &mut lines, "b", s(4));
        ask(&mut wakes, &mut lines, "c", s(1));
        assert!(due(&mut wakes, &mut lines, s(0)).is_empty());
        assert_eq!(due(&mut wakes, &mut lines, s(2)), ["c", "a"]);
        assert_eq!(due(&mut wakes, &mut lines, s(4)), ["b"]);
        assert!(
            due(&mut wakes, &mut lines, s(9)).is_empty(),
            "a's 5 was replaced"
        );
        assert!(wakes.heap.is_empty());
        // Once looked at, a line can be asked for again.
        ask(&mut wakes, &mut lines, "a", s(10));
        assert_eq!(due(&mut wakes, &mut lines, s(10)), ["a"]);
    }

    #[test]
    fn a_line_that_is_gone_is_skipped() {
        let t0 = Instant::now();
        let mut wakes = Wakes::default();
        let mut record = None;
        wakes.at("gone", t0, &mut record);
        assert_eq!(wakes.next_due(t0, |_, _| {}), None);
        assert!(wakes.heap.is_empty());
    }
}
