//! One condition of one line (offline, GSM, signal, balance) and the
//! hysteresis that tells each change once: pure, so its rules are
//! unit-tested here without clocks or sockets.
//!
//! A condition remembers what its users were last *told* (stored in
//! `goippy_alerts`, so it survives a restart) and what it has *seen* since.
//! A change is told only once the new state has held for the hold time
//! without a break: a signal that dips below the threshold for a moment,
//! or a GSM registration that drops for a few seconds, is never told, and
//! neither is a recovery that does not last. Unknown observations (the
//! line is offline, so its GSM state is unknown) neither confirm nor break
//! a change in progress: they reset it, so only an unbroken run counts.

use std::time::{Duration, Instant};

use crate::store::Timestamp;

/// The conditions a line is watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Condition {
    /// No keepalive for the engine's offline timeout.
    Offline,
    /// The keepalive reports a GSM status other than `LOGIN`.
    Gsm,
    /// The signal is below `ALERT_SIGNAL_BELOW`.
    Signal,
    /// The balance check found the balance below `BALANCE_BELOW`.
    Balance,
}

impl Condition {
    pub(crate) const ALL: [Condition; 4] = [
        Condition::Offline,
        Condition::Gsm,
        Condition::Signal,
        Condition::Balance,
    ];

    /// The name in `goippy_alerts.alert`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Condition::Offline => "offline",
            Condition::Gsm => "gsm",
            Condition::Signal => "signal",
            Condition::Balance => "balance",
        }
    }

    /// Its place in [`Condition::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn parse(s: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the users were last told about a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Told {
    pub active: bool,
    pub since: Timestamp,
    /// The reading that went with it (a balance, a CSQ, a GSM status).
    pub detail: String,
}

/// One reading of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub active: bool,
    pub detail: String,
}

/// A change to store: what the users know then (its `since` is the start
/// of the unbroken run), and whether they are told — `false` for a
/// baseline stored quietly (a line seen online for the first time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub told: Told,
    pub tell: bool,
}

/// A condition's memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    told: Option<Told>,
    /// The state seen differing from what was told, since when (monotonic
    /// and wall clock), with its latest reading.
    pending: Option<(bool, Instant, Timestamp, String)>,
}

impl Tracker {
    pub(crate) fn new(told: Option<Told>) -> Tracker {
        Tracker {
            told,
            pending: None,
        }
    }

    pub(crate) fn told(&self) -> Option<&Told> {
        self.told.as_ref()
    }

    /// Takes a reading at `now` (`None`: unknown). Returns the change to
    /// store, if one is due; it counts as told only once
    /// [`Tracker::stored`] says it was saved, so a failed write is tried
    /// again at the next reading.
    ///
    /// `quiet_baseline`: what to do while nothing was ever told. `true`
    /// (offline): an inactive reading is stored quietly as the baseline
    /// and an active one is ignored — a line nobody has seen online is not
    /// "offline", it is new. `false`: nothing told means inactive.
    pub(crate) fn observe(
        &mut self,
        seen: Option<Seen>,
        hold: Duration,
        quiet_baseline: bool,
        now: Instant,
        wall: Timestamp,
    ) -> Option<Change> {
        let Some(seen) = seen else {
            self.pending = None;
            return None;
        };
        let told_active = match &self.told {
            Some(t) => t.active,
            None if quiet_baseline => {
                self.pending = None;
                let told = Told {
                    active: false,
                    since: wall,
                    detail: seen.detail,
                };
                return (!seen.active).then_some(Change { told, tell: false });
            }
            None => false,
        };
        if seen.active == told_active {
            self.pending = None;
            return None;
        }
        let (since_instant, since_wall) = match &self.pending {
            Some((active, at, at_wall, _)) if *active == seen.active => (*at, *at_wall),
            _ => (now, wall),
        };
        self.pending = Some((seen.active, since_instant, since_wall, seen.detail.clone()));
        let told = Told {
            active: seen.active,
            since: since_wall,
            detail: seen.detail,
        };
        (now.saturating_duration_since(since_instant) >= hold)
            .then_some(Change { told, tell: true })
    }

    /// Whether a reading (`None`: unknown, else whether the condition is
    /// active) would change nothing: [`Tracker::observe`] would return
    /// `None` and leave the tracker as it is. A caller that reads often asks
    /// this first, and builds the reading's detail only when it is needed.
    pub(crate) fn settled_with(&self, active: Option<bool>, quiet_baseline: bool) -> bool {
        if self.pending.is_some() {
            return false;
        }
        match (active, &self.told) {
            (None, _) => true,
            (Some(active), Some(told)) => active == told.active,
            // Offline before any baseline: only an inactive reading counts.
            (Some(active), None) if quiet_baseline => active,
            // Nothing told means inactive.
            (Some(active), None) => !active,
        }
    }

    /// When the change in progress is due, if one is: it must be read again
    /// then, though nothing else changes.
    pub(crate) fn due_at(&self, hold: Duration) -> Option<Instant> {
        let (_, since, _, _) = self.pending.as_ref()?;
        since.checked_add(hold)
    }

    /// The change was saved: it is what the users know now.
    pub(crate) fn stored(&mut self, change: &Change) {
        self.pending = None;
        self.told = Some(change.told.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_secs(10);

    fn seen(active: bool) -> Option<Seen> {
        Some(Seen {
            active,
            detail: String::new(),
        })
    }

    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    /// Readings at the given seconds; returns the seconds at which a
    /// change was due (and stored).
    fn run(tracker: &mut Tracker, readings: &[(u64, Option<bool>)]) -> Vec<(u64, bool)> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for (s, r) in readings {
            let wall = Timestamp::from_unix(1_700_000_000 + *s as i64);
            let seen = r.map(|a| Seen {
                active: a,
                detail: String::new(),
            });
            if let Some(c) = tracker.observe(seen, HOLD, false, at(t0, *s), wall) {
                tracker.stored(&c);
                out.push((*s, c.told.active));
            }
        }
        out
    }

    #[test]
    fn a_change_is_told_once_it_has_held() {
        let mut t = Tracker::default();
        let told = run(
            &mut t,
            &[
                (0, Some(true)),
                (5, Some(true)),
                (10, Some(true)),
                (11, Some(true)),
                (30, Some(true)),
            ],
        );
        assert_eq!(told, vec![(10, true)], "once, after the hold");
        assert_eq!(
            t.told().map(|t| t.since),
            Some(Timestamp::from_unix(1_700_000_000)),
            "since the start of the run"
        );
    }

    #[test]
    fn a_dip_shorter_than_the_hold_is_never_told() {
        let mut t = Tracker::default();
        let told = run(
            &mut t,
            &[
                (0, Some(true)),
                (9, Some(true)),
                (10, Some(false)),
                (11, Some(true)),
                (20, Some(true)),
                (21, None),
                (22, Some(true)),
                (31, Some(true)),
            ],
        );
        assert_eq!(told, Vec::<(u64, bool)>::new(), "every run was broken");
    }

    #[test]
    fn the_recovery_must_hold_too() {
        let mut t = Tracker::new(Some(Told {
            active: true,
            since: Timestamp::from_unix(0),
            detail: String::new(),
        }));
        let told = run(
            &mut t,
            &[
                (0, Some(false)),
                (5, Some(true)),
                (6, Some(false)),
                (15, Some(false)),
                (16, Some(false)),
            ],
        );
        assert_eq!(told, vec![(16, false)]);
    }

    #[test]
    fn without_a_hold_the_first_reading_counts() {
        let mut t = Tracker::default();
        let now = Instant::now();
        let wall = Timestamp::from_unix(5);
        let c = t
            .observe(seen(true), Duration::ZERO, false, now, wall)
            .expect("due");
        assert!(c.told.active && c.tell);
        // Not stored (the write failed): due again at the next reading.
        assert!(
            t.observe(seen(true), Duration::ZERO, false, now, wall)
                .is_some()
        );
    }

    /// `settled_with` says "no change" exactly when `observe` would change
    /// nothing, in every state a tracker can be in.
    #[test]
    fn settled_means_observe_would_change_nothing() {
        let t0 = Instant::now();
        let wall = Timestamp::from_unix(5);
        let told = |active| {
            Some(Told {
                active,
                since: Timestamp::from_unix(0),
                detail: String::new(),
            })
        };
        let mut states = Vec::new();
        for before in [None, told(false), told(true)] {
            states.push(Tracker::new(before.clone()));
            for pending in [false, true] {
                let mut t = Tracker::new(before.clone());
                let _ = t.observe(seen(pending), HOLD, false, t0, wall);
                states.push(t);
            }
        }
        for tracker in states {
            for reading in [None, Some(false), Some(true)] {
                for quiet in [false, true] {
                    let mut t = tracker.clone();
                    let settled = t.settled_with(reading, quiet);
                    let seen = reading.map(|active| Seen {
                        active,
                        detail: "x".into(),
                    });
                    let change = t.observe(seen, HOLD, quiet, t0 + HOLD, wall);
                    let unchanged =
                        change.is_none() && t.told == tracker.told && t.pending == tracker.pending;
                    assert_eq!(
                        settled, unchanged,
                        "{tracker:?} reading {reading:?} quiet {quiet}"
                    );
                }
            }
        }
    }

    #[test]
    fn due_at_is_the_end_of_the_hold() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        assert_eq!(t.due_at(HOLD), None);
        let _ = t.observe(seen(true), HOLD, false, t0, Timestamp::from_unix(5));
        assert_eq!(t.due_at(HOLD), Some(t0 + HOLD));
        assert!(
            t.observe(seen(true), HOLD, false, t0 + HOLD, Timestamp::from_unix(15))
                .is_some(),
            "due then"
        );
    }

    #[test]
    fn each_condition_has_its_place() {
        for (i, c) in Condition::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn a_line_never_seen_online_is_new_not_offline() {
        let mut t = Tracker::default();
        let now = Instant::now();
        let wall = Timestamp::from_unix(5);
        assert_eq!(t.observe(seen(true), Duration::ZERO, true, now, wall), None);
        let baseline = t
            .observe(seen(false), Duration::ZERO, true, now, wall)
            .expect("the baseline is stored");
        assert!(!baseline.told.active && !baseline.tell);
        t.stored(&baseline);
        let offline = t
            .observe(seen(true), Duration::ZERO, true, now, wall)
            .expect("now it is a change");
        assert!(offline.told.active && offline.tell);
    }
}
