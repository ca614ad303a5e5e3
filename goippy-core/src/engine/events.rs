//! What the engine tells its consumer (the bridge): one bounded queue of
//! [`EngineEvent`]s.
//!
//! The receive loop never waits for the consumer — a slow database must not
//! delay the acks of other channels. It offers each event without waiting,
//! and what happens when the queue is full depends on what the event costs
//! to lose:
//!
//! * an inbound SMS, delivery report or USSN carries a [`DurableAck`]: the
//!   GoIP is acknowledged only after the consumer confirms it stored the
//!   message, so a full queue simply means no ack — the GoIP resends in 3 s;
//! * so does a call that is logged (RECORD, HANGUP, EXPIRY): a call log
//!   entry lost to a full store queue is as lost as an SMS;
//! * a line-state event (STATE, REMAIN) is acknowledged at once, but only if
//!   it fits in the queue;
//! * a keepalive or radio event is dropped (the next one repeats it).
//!
//! No event carries a channel password.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use super::dedup::DedupKey;
use super::ledger::SentSms;
use super::request::{MessageRef, RecipientOutcome};
use crate::goip::{Expiry, Hangup, Keepalive, NotificationKind, Record, Remain, State};

/// Something that happened on a GoIP channel.
#[derive(Debug)]
pub enum EngineEvent {
    /// A channel sent a keepalive after being offline (or for the first time).
    ChannelOnline { goip_id: String, addr: SocketAddr },
    /// A channel sent no keepalive for `offline_after`; nothing is sent to
    /// it until it comes back.
    ChannelOffline {
        goip_id: String,
        silent_for: Duration,
    },
    /// Every accepted keepalive, with all its fields (signal, GSM login,
    /// IMEI, …). Dropped when the queue is full.
    Keepalive {
        goip_id: String,
        addr: SocketAddr,
        keepalive: Arc<Keepalive>,
    },
    /// An inbound SMS. Acked once `durable` is confirmed.
    Sms(InboundSms),
    /// A delivery report. Acked once `durable` is confirmed.
    Delivery(DeliveryReport),
    /// USSD text: pushed by the network (`USSN:`, acked once `durable` is
    /// confirmed), or an answer that came after its request timed out.
    Ussd(UssdNotice),
    /// A call event. RECORD, HANGUP and EXPIRY are acked once `durable` is
    /// confirmed; STATE and REMAIN were acked already.
    Call(CallNotice),
    /// The result of an SMS recipient that had ended Unknown arrived after
    /// all (the GoIP sent it after the session's deadline).
    LateSmsResult(LateSmsResult),
    /// Any other notification (CELLS, CELLINFO, BCCH, CGATT, AT, NUMRECORD,
    /// unknown tags); already acked where the protocol acks it. Dropped when
    /// the queue is full.
    Other(OtherNotice),
}

/// The consumer's promise to say whether it stored a message. The GoIP is
/// acknowledged only after [`DurableAck::stored`]; [`DurableAck::failed`],
/// dropping it, or taking longer than the engine's `durable_ack_timeout`
/// leaves the packet unacknowledged, so the GoIP sends it again.
pub struct DurableAck {
    tx: oneshot::Sender<Result<(), String>>,
}

impl DurableAck {
    pub(crate) fn pair() -> (DurableAck, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        (DurableAck { tx }, rx)
    }

    /// The message is durably stored — or the store recognised it as one it
    /// already has (by its [`DedupKey`]). Either way the GoIP may stop
    /// resending it.
    pub fn stored(self) {
        let _ = self.tx.send(Ok(()));
    }

    /// The message could not be stored: do not ack, let the GoIP resend.
    pub fn failed(self, reason: impl Into<String>) {
        let _ = self.tx.send(Err(reason.into()));
    }
}

impl fmt::Debug for DurableAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DurableAck")
    }
}

/// An SMS that arrived on a channel.
#[derive(Debug)]
pub struct InboundSms {
    pub goip_id: String,
    pub recvid: String,
    /// The sender: `+E164`, a national number or an alphanumeric name.
    pub srcnum: String,
    pub smscnum: Option<String>,
    /// The text, verbatim; invalid UTF-8 replaced by U+FFFD.
    pub text: String,
    /// The exact bytes of the text when they were not valid UTF-8 (for the
    /// log); `None` when `text` is exact.
    pub raw_text: Option<Vec<u8>>,
    /// The identity the store should keep under a unique index: a
    /// retransmission after a restart has the same key.
    pub dedup_key: DedupKey,
    pub received_at: SystemTime,
    pub durable: DurableAck,
}

/// A carrier's delivery report for an SMS this engine sent.
#[derive(Debug)]
pub struct DeliveryReport {
    pub goip_id: String,
    pub recvid: String,
    pub sms_no: u32,
    /// `0` = delivered; other values look like GSM 03.40 TP-Status codes.
    pub state: i32,
    /// The recipient (newer firmware only).
    pub num: Option<String>,
    /// The newest message sent on this channel within the last hour with
    /// this `sms_no`, if the engine still remembers it (after a restart the
    /// store must match it instead).
    pub matched: Option<SentSms<MessageRef>>,
    pub dedup_key: DedupKey,
    pub received_at: SystemTime,
    pub durable: DurableAck,
}

impl DeliveryReport {
    pub fn delivered(&self) -> bool {
        self.state == 0
    }
}

/// USSD text that did not come back as the answer to a running request.
#[derive(Debug)]
pub struct UssdNotice {
    pub goip_id: String,
    /// Trailing `@` padding and line breaks removed.
    pub text: String,
    /// The text reports a failure (`USSDERROR`, or "USSD send failed!").
    pub failed: bool,
    pub source: UssdSource,
    /// Present for `USSN:`, which is acked once stored.
    pub durable: Option<DurableAck>,
    pub dedup_key: Option<DedupKey>,
}

/// Where USSD text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UssdSource {
    /// A `USSN:` notification: the network pushed it.
    Network { recvid: String },
    /// The answer to `send_reserved_ussd` with this sendid, after it had
    /// timed out.
    LateReply { sendid: u32 },
}

/// A call event.
#[derive(Debug)]
pub struct CallNotice {
    pub goip_id: String,
    pub recvid: String,
    pub event: CallNoticeKind,
    /// Present for RECORD, HANGUP and EXPIRY, which the consumer logs: the
    /// GoIP is acked once it is confirmed. `None` for STATE and REMAIN,
    /// which were acked at once.
    pub durable: Option<DurableAck>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallNoticeKind {
    /// A call started.
    Record(Record),
    /// A call ended, with its cause.
    Hangup(Hangup),
    /// The duration of the call that ended.
    Expiry(Expiry),
    /// The line state changed.
    State(State),
    /// Call-time budget left.
    Remain(Remain),
}

/// An SMS result that arrived after the recipient had ended Unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateSmsResult {
    pub goip_id: String,
    pub sendid: u32,
    pub telid: u32,
    pub recipient: String,
    pub message_ref: MessageRef,
    /// `Sent` or `Failed`.
    pub outcome: RecipientOutcome,
}

/// A notification with no dedicated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherNotice {
    pub goip_id: String,
    pub recvid: String,
    pub kind: NotificationKind,
}
