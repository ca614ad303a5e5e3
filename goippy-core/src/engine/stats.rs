//! Counters and sizes that show what the engine is doing, and prove that its
//! memory stays bounded whatever arrives on the socket.
//!
//! Counters are relaxed atomics bumped on the hot path; [`EngineStats`] is a
//! plain snapshot for tests, benchmarks and the `status` command.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the engine's state sizes and traffic counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    // Sizes: each is bounded (by the configured channels, a capacity, or a
    // window), never by what strangers send.
    /// Channels in the registry (heard from, or waited for by a job).
    pub channels: usize,
    pub online_channels: usize,
    /// Notifications remembered for recognising retransmissions.
    pub dedup_entries: usize,
    /// Exchanges (SMS sessions, USSD) waiting for replies.
    pub open_exchanges: usize,
    /// Finished exchanges remembered for late replies.
    pub recent_exchanges: usize,
    /// Sent SMS remembered for matching delivery reports.
    pub ledger_entries: usize,
    /// Per-channel job workers.
    pub workers: usize,
    /// Stored-confirmations the engine is waiting for.
    pub durable_in_flight: usize,

    // Counters since start.
    pub datagrams: u64,
    /// Datagrams that were not GoIP packets at all.
    pub garbage: u64,
    /// Notifications refused for an unknown id or a wrong password.
    pub rejected: u64,
    /// Acks and rejections sent.
    pub acks_sent: u64,
    /// Retransmissions recognised (acked again, not delivered again).
    pub duplicates: u64,
    pub events: u64,
    /// Events not delivered because the queue was full.
    pub events_dropped: u64,
    /// Notifications left unacked because the consumer did not confirm
    /// storing them (or the queue was full): the GoIP resends them.
    pub not_acked: u64,
    pub replies_routed: u64,
    /// Replies with a sendid no exchange is waiting for.
    pub replies_unmatched: u64,
    /// Replies from an address that is not their channel's.
    pub replies_wrong_source: u64,
    pub commands_sent: u64,
    pub send_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub datagrams: AtomicU64,
    pub garbage: AtomicU64,
    pub rejected: AtomicU64,
    pub acks_sent: AtomicU64,
    pub duplicates: AtomicU64,
    pub events: AtomicU64,
    pub events_dropped: AtomicU64,
    pub not_acked: AtomicU64,
    pub replies_routed: AtomicU64,
    pub replies_unmatched: AtomicU64,
    pub replies_wrong_source: AtomicU64,
    pub commands_sent: AtomicU64,
    pub send_errors: AtomicU64,
}

/// What the engine counts per channel (the per-line metrics): bumped where
/// the event is logged, next to the global counter of the same name.
#[derive(Debug, Default)]
pub(crate) struct ChannelCounters {
    pub acks_sent: AtomicU64,
    pub duplicates: AtomicU64,
}

/// One channel's traffic since the engine started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelTraffic {
    pub goip_id: String,
    /// Acks of its notifications (RECEIVE, DELIVER, USSN, call events,
    /// STATE…) sent, retransmissions' included; keepalive answers are not
    /// counted (one every 30 s would drown the rest).
    pub acks_sent: u64,
    /// Its retransmissions recognised (acked again, not delivered again).
    pub duplicates: u64,
}

impl ChannelCounters {
    pub(crate) fn traffic(&self, goip_id: String) -> ChannelTraffic {
        ChannelTraffic {
            goip_id,
            acks_sent: self.acks_sent.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Copies the counters into `stats`.
    pub(crate) fn fill(&self, stats: &mut EngineStats) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        stats.datagrams = get(&self.datagrams);
        stats.garbage = get(&self.garbage);
        stats.rejected = get(&self.rejected);
        stats.acks_sent = get(&self.acks_sent);
        stats.duplicates = get(&self.duplicates);
        stats.events = get(&self.events);
        stats.events_dropped = get(&self.events_dropped);
        stats.not_acked = get(&self.not_acked);
        stats.replies_routed = get(&self.replies_routed);
        stats.replies_unmatched = get(&self.replies_unmatched);
        stats.replies_wrong_source = get(&self.replies_wrong_source);
        stats.commands_sent = get(&self.commands_sent);
        stats.send_errors = get(&self.send_errors);
    }
}
