//! The log of refused stanzas, rate-limited per sender.
//!
//! Every refusal is answered, but logging each would let anyone flood the
//! journal: a stranger on another server can send thousands of messages a
//! second to `+N@sms.example.org`. So each sender (bare JID) gets at most one
//! `refused` line per [`INTERVAL`], and the next line says how many were not
//! logged meanwhile — a [`WarnLimiter`], one per sender, as the
//! UDP side has one for all strangers.
//!
//! Memory stays bounded: at most [`TRACKED`] senders are remembered. When a
//! new one comes and the table is full, senders not logged for an interval
//! are forgotten (with a line for what they had left unlogged); if none can
//! go, the newcomer shares one limiter with every other sender beyond the
//! table, so a flood from many addresses still costs at most a line per
//! interval more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::{WarnLimiter, lock};

/// At most one `refused` line per sender in this time.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// How many senders are remembered one by one.
pub(crate) const TRACKED: usize = 64;

/// A forgotten sender's unlogged refusals, for one last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forgotten {
    pub sender: String,
    pub not_logged: u64,
}

#[derive(Debug)]
struct Limiter {
    /// When its last line was let through.
    logged_at: Instant,
    limiter: WarnLimiter,
}

#[derive(Debug)]
struct Table {
    senders: HashMap<String, Limiter>,
    /// Everyone beyond the table.
    others: WarnLimiter,
}

/// Shared by the router and the jobs it starts; the lock is a std mutex,
/// held for a lookup and never across an `.await`.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    interval: Duration,
    tracked: usize,
    table: Mutex<Table>,
}

impl RefusalLog {
    pub(crate) fn new(interval: Duration, tracked: usize) -> RefusalLog {
        RefusalLog {
            interval,
            tracked,
            table: Mutex::new(Table {
                senders: HashMap::new(),
                others: WarnLimiter::new(interval),
            }),
        }
    }

    /// Whether a refusal of `sender` is logged now — as a [`WarnLimiter`]
    /// says it: `Some(n)`, log it, saying that `n` refusals of this sender
    /// were not; `None`, leave it out (a later line counts it) — and the
    /// senders forgotten to make room (log their counts).
    pub(crate) fn check(&self, sender: &str, now: Instant) -> (Option<u64>, Vec<Forgotten>) {
        let mut table = lock(&self.table);
        let mut forgotten = Vec::new();
        if !table.senders.contains_key(sender) && table.senders.len() >= self.tracked {
            let interval = self.interval;
            table.senders.retain(|sender, l| {
                if now.saturating_duration_since(l.logged_at) < interval {
                    return true;
                }
                // Its interval is over, so this lets a line through with its count.
                let not_logged = l.limiter.allow(now).unwrap_or(0);
                if not_logged > 0 {
                    forgotten.push(Forgotten {
                        sender: sender.clone(),
                        not_logged,
                    });
                }
                false
            });
        }
        let allowed = if table.senders.contains_key(sender) || table.senders.len() < self.tracked {
            let interval = self.interval;
            let entry = table
                .senders
                .entry(sender.to_string())
                .or_insert_with(|| Limiter {
                    logged_at: now,
                    limiter: WarnLimiter::new(interval),
                });
            let allowed = entry.limiter.allow(now);
            if allowed.is_some() {
                entry.logged_at = now;
            }
            allowed
        } else {
            table.others.allow(now)
        };
        (allowed, forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn one_line_per_sender_and_interval_with_the_count() {
        let log = RefusalLog::new(10 * SEC, 8);
        let t0 = Instant::now();
        assert_eq!(log.check("a@x", t0).0, Some(0));
        for i in 1..=100 {
            assert_eq!(log.check("a@x", t0 + i * SEC / 20).0, None);
        }
        // Another sender is not held back by the first one's flood.
        assert_eq!(log.check("b@x", t0 + SEC).0, Some(0));
        assert_eq!(log.check("a@x", t0 + 10 * SEC).0, Some(100));
    }

    #[test]
    fn a_full_table_forgets_quiet_senders_and_shares_the_rest() {
        let log = RefusalLog::new(10 * SEC, 2);
        let t0 = Instant::now();
        assert!(log.check("a@x", t0).0.is_some());
        assert_eq!(log.check("a@x", t0).0, None);
        assert!(log.check("b@x", t0 + SEC).0.is_some());
        // Full, and both logged within the interval: c shares the others' limiter.
        assert!(log.check("c@x", t0 + SEC).0.is_some());
        assert_eq!(log.check("d@x", t0 + SEC).0, None);
        // a's interval is over: it is forgotten, with its unlogged count.
        let (verdict, forgotten) = log.check("e@x", t0 + 10 * SEC);
        assert_eq!(verdict, Some(0));
        assert_eq!(
            forgotten,
            vec![Forgotten {
                sender: "a@x".into(),
                not_logged: 1
            }]
        );
        let table = log.table.lock().expect("lock");
        assert_eq!(table.senders.len(), 2, "never more than the table holds");
        assert!(table.senders.contains_key("e@x"));
    }
}
