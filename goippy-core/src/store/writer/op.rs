//! The writer's vocabulary: what can be written, what a write returns, and
//! which writes may be answered from the spool.

use serde::{Deserialize, Serialize};

use super::super::Saved;
use super::super::alerts::AlertRecord;
use super::super::records::{
    CallRecord, InboundRecord, LogId, NoticeRecord, OutboundOptions, OutboundRecord, OutboxState,
    StateUpdate, fit, widths,
};

/// One write. Serialisable, because a batch the database does not take in
/// time is kept in the spool (`store/spool.rs`) as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WriteOp {
    /// Upsert `goippy_state` (and `goippy_gateways.msisdn` when `num` changed).
    State(StateUpdate),
    /// A call event, with the user's notice of it: stored in the same
    /// transaction, only when the event is new.
    Call {
        call: CallRecord,
        notice: Option<NoticeRecord>,
        /// The same notice for the other users of a shared line (a spool
        /// written before line pools has none).
        #[serde(default)]
        also_told: Vec<NoticeRecord>,
    },
    Inbound {
        record: InboundRecord,
        body_hash: i64,
        /// A delivery report's outbound row, when the caller already knows it.
        outbound: Option<LogId>,
    },
    Outbound {
        record: OutboundRecord,
        options: OutboundOptions,
    },
    /// An outbox state change; `notice` is stored with it, in the same
    /// transaction, only if the change is made.
    Transition {
        id: LogId,
        change: Transition,
        notice: Option<NoticeRecord>,
    },
    Delivered(LogId),
    /// A notice for the inbox ([`NoticeRecord`]).
    Notice(NoticeRecord),
    /// A line's alert state, with the notices that tell its users about
    /// the change: stored together, so a change is stored if and only if
    /// it is told (`store/alerts.rs`).
    Alert {
        state: AlertRecord,
        notices: Vec<NoticeRecord>,
    },
    /// Raises a named counter to `value` (never lowers it).
    Counter {
        name: String,
        value: i64,
    },
    /// Writes nothing; resolves once everything queued before it is committed.
    Barrier,
}

/// An outbox state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Transition {
    Sending {
        sendid: i64,
    },
    Sent {
        sms_no: Option<i64>,
        telid: Option<i64>,
    },
    Failed {
        reason: String,
        errorstatus: Option<i64>,
    },
    Unknown {
        reason: String,
    },
    /// Back to `queued` on another line (failover after the GoIP refused
    /// it for a reason of the line): `detail` keeps the lines tried.
    Moved {
        goip_id: String,
        tried: String,
    },
}

impl Transition {
    pub(crate) fn target(&self) -> OutboxState {
        match self {
            Transition::Sending { .. } => OutboxState::Sending,
            Transition::Sent { .. } => OutboxState::Sent,
            Transition::Failed { .. } => OutboxState::Failed,
            Transition::Unknown { .. } => OutboxState::Unknown,
            Transition::Moved { .. } => OutboxState::Queued,
        }
    }

    /// Cut to the columns' widths: a reason, or the lines tried, is the
    /// row's `detail`.
    pub(crate) fn fitted(mut self) -> Transition {
        if let Transition::Failed { reason, .. }
        | Transition::Unknown { reason }
        | Transition::Moved { tried: reason, .. } = &mut self
        {
            fit(reason, widths::DETAIL);
        }
        self
    }
}

/// The kinds of write, for counting what was not saved, in the order the
/// report lists them (`UnflushedWrites`); a barrier, last, is no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Inbound,
    Call,
    State,
    Outbound,
    Transition,
    Delivered,
    Notice,
    Counter,
    Barrier,
}

impl WriteOp {
    pub(super) fn kind(&self) -> Kind {
        match self {
            WriteOp::State(_) => Kind::State,
            WriteOp::Call { .. } => Kind::Call,
            WriteOp::Inbound { .. } => Kind::Inbound,
            WriteOp::Outbound { .. } => Kind::Outbound,
            WriteOp::Transition { .. } => Kind::Transition,
            WriteOp::Delivered(_) => Kind::Delivered,
            // Counted with the notices it carries: what a user is not told.
            WriteOp::Notice(_) | WriteOp::Alert { .. } => Kind::Notice,
            WriteOp::Counter { .. } => Kind::Counter,
            WriteOp::Barrier => Kind::Barrier,
        }
    }

    /// Whether the caller may be answered once the write is in the spool.
    /// Everything that only has to be *kept* may; two writes need the
    /// database itself: `queued → sending` must be refused for a job that
    /// is no longer queued (that refusal is what keeps an SMS from being
    /// sent twice), and a barrier promises that the database has it all.
    pub(super) fn kept_by_spool(&self) -> bool {
        !matches!(
            self,
            WriteOp::Barrier
                | WriteOp::Transition {
                    change: Transition::Sending { .. } | Transition::Moved { .. },
                    ..
                }
        )
    }
}

/// What one write returned. Stored (as JSON) with the batch marker, so it
/// can be recovered when the reply to COMMIT was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Done,
    Stored { id: i64, new: bool },
    Enqueued { id: i64 },
    TransitionRefused { id: i64, from: Option<String> },
    NoSuchInbound { id: i64 },
}

/// How a write the writer answered was saved: committed with what it
/// returned, or kept in the spool.
pub(crate) type Written = Saved<Outcome>;

/// Why a batch did not commit: the error, and which write caused it (if one did).
#[derive(Debug)]
pub(crate) struct BatchFailure {
    pub op: Option<usize>,
    pub error: sqlx::Error,
}

impl BatchFailure {
    pub(crate) fn at(op: usize) -> impl FnOnce(sqlx::Error) -> BatchFailure {
        move |error| BatchFailure {
            op: Some(op),
            error,
        }
    }

    pub(crate) fn outside(error: sqlx::Error) -> BatchFailure {
        BatchFailure { op: None, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcomes = vec![
            Outcome::Done,
            Outcome::Stored { id: 7, new: false },
            Outcome::Enqueued { id: 9 },
            Outcome::TransitionRefused {
                id: 3,
                from: Some("sent".into()),
            },
            Outcome::NoSuchInbound { id: 4 },
        ];
        let json = serde_json::to_string(&outcomes).expect("serialise");
        let back: Vec<Outcome> = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, outcomes);
    }

    #[test]
    fn only_sending_and_barriers_wait_for_the_database() {
        let sending = WriteOp::Transition {
            id: LogId(1),
            change: Transition::Sending { sendid: 5 },
            notice: None,
        };
        let sent = WriteOp::Transition {
            id: LogId(1),
            change: Transition::Sent {
                sms_no: None,
                telid: None,
            },
            notice: None,
        };
        assert!(!sending.kept_by_spool());
        assert!(!WriteOp::Barrier.kept_by_spool());
        assert!(sent.kept_by_spool());
        assert!(WriteOp::Delivered(LogId(2)).kept_by_spool());
    }
}
