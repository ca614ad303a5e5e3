//! What the bridge counts per line (GoIP channel) for the metrics: SMS
//! stored from the GSM side, the retransmissions the store recognised (a
//! copy that reached it before the engine's memory knew the original was
//! acked, or after a restart), and the outcomes of users' SMS. Each counter
//! is bumped where the event's log line is written, after the store took
//! it, so the numbers agree with `journalctl`; the engine counts acks and
//! retransmissions per line itself (`engine/stats.rs`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::util::lock;

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

/// The counters of every line that had traffic, by GoIP id. A std mutex:
/// held for one increment or one copy, never across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct TrafficCounters {
    lines: Mutex<BTreeMap<String, LineTraffic>>,
}

impl TrafficCounters {
    pub(crate) fn count(&self, goip_id: &str, which: fn(&mut LineTraffic) -> &mut u64) {
        let mut lines = lock(&self.lines);
        // Every SMS counts: a known line is found by reference, so no key
        // is allocated (`entry` would take an owned one each time).
        if let Some(line) = lines.get_mut(goip_id) {
            *which(line) += 1;
            return;
        }
        let mut line = LineTraffic {
            goip_id: goip_id.to_owned(),
            ..LineTraffic::default()
        };
        *which(&mut line) += 1;
        lines.insert(goip_id.to_owned(), line);
    }

    /// Every line's counts, sorted by GoIP id.
    pub(crate) fn snapshot(&self) -> Vec<LineTraffic> {
        lock(&self.lines).values().cloned().collect()
    }
}
