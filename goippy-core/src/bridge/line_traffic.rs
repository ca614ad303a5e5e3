//! What the bridge counts per line (GoIP channel) for the metrics: SMS
//! stored from the GSM side, the retransmissions the store recognised (a
//! copy that reached it before the engine's memory knew the original was
//! acked, or after a restart), and the outcomes of users' SMS. Each counter
//! is bumped where the event's log line is written, after the store took
//! it, so the numbers agree with `journalctl`; the engine counts acks and
//! retransmissions per line itself (`engine/stats.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::util::PerKey;

/// One line's counters (relaxed atomics: only their totals matter).
#[derive(Debug, Default)]
pub(crate) struct LineCounters {
    pub sms_received: AtomicU64,
    pub sms_sent: AtomicU64,
    pub sms_failed: AtomicU64,
    pub sms_unknown: AtomicU64,
    pub retransmissions: AtomicU64,
}

/// One line's SMS counts since goippy started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTraffic {
    pub goip_id: String,
    /// New inbound SMS stored (committed or kept in the spool); a
    /// retransmission the store recognised is not counted again.
    pub sms_received: u64,
    /// Users' SMS the GoIP accepted for sending.
    pub sms_sent: u64,
    /// Users' SMS that failed (the user was told).
    pub sms_failed: u64,
    /// Users' SMS whose outcome is unknown (sent at most once, never again).
    pub sms_unknown: u64,
    /// SMS and delivery reports the store recognised as retransmissions
    /// (the engine counts those its memory caught).
    pub retransmissions: u64,
}

/// The counters of every line that had traffic.
#[derive(Debug, Default)]
pub(crate) struct TrafficCounters {
    lines: PerKey<LineCounters>,
}

impl TrafficCounters {
    pub(crate) fn count(&self, goip_id: &str, which: fn(&LineCounters) -> &AtomicU64) {
        self.lines.with(goip_id, |c| {
            which(c).fetch_add(1, Ordering::Relaxed);
        });
    }

    pub(crate) fn snapshot(&self) -> Vec<LineTraffic> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.lines
            .snapshot()
            .into_iter()
            .map(|(goip_id, c)| LineTraffic {
                goip_id,
                sms_received: get(&c.sms_received),
                sms_sent: get(&c.sms_sent),
                sms_failed: get(&c.sms_failed),
                sms_unknown: get(&c.sms_unknown),
                retransmissions: get(&c.retransmissions),
            })
            .collect()
    }
}
