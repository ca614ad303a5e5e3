//! Counting writes by kind: what is still on its way, what was given up,
//! and the report an operator reads when goippy stops without saving
//! everything.

use std::fmt;
use std::sync::Mutex;

use super::op::Kind;
use crate::util::lock;

/// Writes counted by kind.
#[derive(Default)]
pub(super) struct Counts(Mutex<UnflushedWrites>);

impl Counts {
    pub(super) fn add(&self, kind: Kind) {
        if let Some(n) = lock(&self.0).count_of(kind) {
            *n += 1;
        }
    }

    pub(super) fn sub(&self, kind: Kind) {
        if let Some(n) = lock(&self.0).count_of(kind) {
            *n = n.saturating_sub(1);
        }
    }

    pub(super) fn snapshot(&self) -> UnflushedWrites {
        *lock(&self.0)
    }
}

/// One write counted in the unsaved counts until it is handed to the
/// writer: dropped before [`Counted::handed_over`] (refused, or the
/// caller's future dropped while it waited for room in the queue), it takes
/// the count back, so a write that never reached the queue is not reported
/// as unsaved.
pub(super) struct Counted<'a> {
    counts: &'a Counts,
    kind: Kind,
    handed_over: bool,
}

impl<'a> Counted<'a> {
    pub(super) fn new(counts: &'a Counts, kind: Kind) -> Counted<'a> {
        counts.add(kind);
        Counted {
            counts,
            kind,
            handed_over: false,
        }
    }

    /// The writer has the write now; it takes the count back when it
    /// resolves it.
    pub(super) fn handed_over(mut self) {
        self.handed_over = true;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if !self.handed_over {
            self.counts.sub(self.kind);
        }
    }
}

/// Writes that were not saved, counted by [`Kind`] (the store's close
/// reports them; see `StoreError::Unflushed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnflushedWrites([usize; WHAT.len()]);

/// What each count of [`UnflushedWrites`] is, in the order of [`Kind`]
/// (one per kind before the barrier, which is no write), and what becomes
/// of those writes. An inbound message or a call event is never acked
/// before its commit, so the GoIP sends it again.
const WHAT: [&str; Kind::Barrier as usize] = [
    "inbound SMS/USSD/delivery reports (none was acked: the GoIP will retransmit them)",
    "call events (none was acked: the GoIP will retransmit them)",
    "keepalive states (the next keepalive writes them)",
    "outbound messages (not queued, never sent: their senders are refused while the XMPP stream is up)",
    "outbox state changes (the next start settles those messages)",
    "delivered marks (those messages go to XMPP again at the next start)",
    "notices for users (not sent)",
    "sendid saves (the next start uses the outbound rows instead)",
];

impl UnflushedWrites {
    /// The count of writes of `kind` (a barrier, the last kind, is no write).
    pub(super) fn count_of(&mut self, kind: Kind) -> Option<&mut usize> {
        self.0.get_mut(kind as usize)
    }

    /// All writes not saved.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

impl fmt::Display for UnflushedWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} writes not saved", self.total())?;
        let parts = self.0.iter().zip(WHAT).filter(|(n, _)| **n > 0);
        for (i, (n, what)) in parts.enumerate() {
            write!(f, "{}{n} {what}", if i == 0 { ": " } else { "; " })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator's report, word for word: every kind, in this order.
    #[test]
    fn the_report_names_every_kind_in_order() {
        assert_eq!(UnflushedWrites::default().to_string(), "0 writes not saved");
        let mut unsaved = UnflushedWrites::default();
        let kinds = [
            Kind::Barrier,
            Kind::Counter,
            Kind::Notice,
            Kind::Delivered,
            Kind::Transition,
            Kind::Outbound,
            Kind::State,
            Kind::Call,
            Kind::Inbound,
        ];
        for (n, kind) in kinds.into_iter().enumerate() {
            if let Some(count) = unsaved.count_of(kind) {
                *count = n;
            }
        }
        assert_eq!(unsaved.total(), 36);
        assert_eq!(
            unsaved.to_string(),
            "36 writes not saved: \
             8 inbound SMS/USSD/delivery reports (none was acked: the GoIP will retransmit them); \
             7 call events (none was acked: the GoIP will retransmit them); \
             6 keepalive states (the next keepalive writes them); \
             5 outbound messages (not queued, never sent: their senders are refused while the \
             XMPP stream is up); \
             4 outbox state changes (the next start settles those messages); \
             3 delivered marks (those messages go to XMPP again at the next start); \
             2 notices for users (not sent); \
             1 sendid saves (the next start uses the outbound rows instead)"
        );
    }
}
