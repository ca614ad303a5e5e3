//! The plain values that go into and come out of the store.
//!
//! They are deliberately the store's own types, independent of the engine's
//! and the XMPP side's: the bridge maps engine events onto them, so the store
//! can be built, tested and changed without either. Everything here is data;
//! the SQL lives with the rules that use it (`store/apply.rs`, `store/reads.rs`, …).

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::goip::CallDirection;

use super::time::Timestamp;

/// The id of a `goippy_log` row: one inbound or outbound message, USSD or
/// delivery report, followed end to end by this number. It decodes as
/// the column it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
pub struct LogId(pub i64);

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A parsed keepalive (`req:`), as the engine saw it.
///
/// `None` means the device did not report the field (or reported it empty or
/// as `(null)`); it is stored as NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateUpdate {
    pub goip_id: String,
    /// When goippy received it.
    pub seen_at: Timestamp,
    /// Where it came from (the address commands must go to).
    pub source: Option<SocketAddr>,
    /// `num:` — the SIM's number as configured on the GoIP. When present it
    /// also becomes the gateway's `msisdn`.
    pub msisdn: Option<String>,
    /// `signal:` — GSM CSQ, 0–31, 99 unknown.
    pub gsm_signal: Option<i32>,
    pub gsm_status: Option<String>,
    pub voip_status: Option<String>,
    pub voip_state: Option<String>,
    /// `remain_time:` — minutes left, -1 unlimited.
    pub remain_time: Option<i64>,
    /// `pro:` — the carrier.
    pub provider: Option<String>,
    pub disable_status: Option<i32>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    /// `CELLINFO:` — `LAC:…,CELL ID:…`.
    pub cell_info: Option<String>,
    /// `SMS_LOGIN:` — `Y`/`N`.
    pub sms_login: Option<String>,
}

impl StateUpdate {
    /// An update with only the channel and time set.
    pub fn new(goip_id: impl Into<String>, seen_at: Timestamp) -> StateUpdate {
        StateUpdate {
            goip_id: goip_id.into(),
            seen_at,
            source: None,
            msisdn: None,
            gsm_signal: None,
            gsm_status: None,
            voip_status: None,
            voip_state: None,
            remain_time: None,
            provider: None,
            disable_status: None,
            imei: None,
            imsi: None,
            iccid: None,
            cell_info: None,
            sms_login: None,
        }
    }

    /// Whether `other` reports the same state, ignoring when it was seen.
    pub fn same_state_as(&self, other: &StateUpdate) -> bool {
        let mut a = self.clone();
        a.seen_at = other.seen_at;
        &a == other
    }

    /// Cut to the columns' widths; a blank field is not reported (NULL).
    pub(crate) fn fitted(mut self) -> StateUpdate {
        for (s, max) in [
            (&mut self.msisdn, widths::MSISDN),
            (&mut self.gsm_status, 32),
            (&mut self.voip_status, 32),
            (&mut self.voip_state, 64),
            (&mut self.provider, 64),
            (&mut self.imei, 32),
            (&mut self.imsi, 32),
            (&mut self.iccid, 32),
            (&mut self.cell_info, 128),
            (&mut self.sms_login, 8),
        ] {
            fit_opt(s, max);
            if s.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *s = None;
            }
        }
        self
    }
}

/// A call event from the GoIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallEvent {
    /// `RECORD:` — a call started. `remote` is empty for a hidden caller.
    Record {
        direction: Option<CallDirection>,
        remote: String,
    },
    /// `HANGUP:` — a call ended.
    Hangup { remote: String, cause: String },
    /// `EXPIRY:` — how long the call that just ended lasted. It is written as
    /// the `duration` of that call's newest row (its HANGUP, or its RECORD
    /// when the HANGUP never came); only when there is no such row in the
    /// last two hours does it get a row of its own.
    Expiry { seconds: i64 },
}

impl CallEvent {
    /// The value of `goippy_calls.event`.
    pub fn name(&self) -> &'static str {
        match self {
            CallEvent::Record { .. } => "RECORD",
            CallEvent::Hangup { .. } => "HANGUP",
            CallEvent::Expiry { .. } => "EXPIRY",
        }
    }

    /// The text the dedup key hashes: what the event says, so that a
    /// retransmission (the same datagram again) matches whatever `raw` the
    /// caller made of it, and a recvid the GoIP reused after a reboot for
    /// another event does not.
    pub(crate) fn dedup_text(&self) -> String {
        match self {
            CallEvent::Record { direction, remote } => {
                format!("{}:{remote}", direction.map_or(0, CallDirection::code))
            }
            CallEvent::Hangup { remote, cause } => format!("{remote}:{cause}"),
            CallEvent::Expiry { seconds } => seconds.to_string(),
        }
    }
}

/// The recvid as the store keeps it (`recvid` of an [`InboundRecord`] or a
/// [`CallRecord`], and of its dedup key): the number the GoIP sent, or for
/// an id that is no number a stable 63-bit hash of it, so that a
/// retransmission still finds the first copy.
pub fn recvid_number(recvid: &str) -> i64 {
    if let Ok(n) = recvid.trim().parse::<i64>() {
        return n;
    }
    crate::util::body_hash_column(recvid) & i64::MAX
}

/// One call event to log in `goippy_calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub goip_id: String,
    /// The datagram's recvid, as [`recvid_number`] makes it. `None`: no
    /// dedup key, the event is logged each time it comes.
    pub recvid: Option<i64>,
    /// When goippy received it (`goippy_calls.ts`, Unix seconds as in the original).
    pub at: Timestamp,
    pub event: CallEvent,
    /// The datagram as received, for operators (password removed by the caller).
    pub raw: String,
}

impl CallRecord {
    pub(crate) fn fitted(mut self) -> CallRecord {
        match &mut self.event {
            CallEvent::Record { remote, .. } => fit(remote, widths::NUMBER),
            CallEvent::Hangup { remote, cause } => {
                fit(remote, widths::NUMBER);
                fit(cause, 255);
            }
            // `duration` is an INT on MySQL: a larger value would be
            // refused (strict mode) on every resend, and never acked.
            CallEvent::Expiry { seconds } => {
                *seconds = (*seconds).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            }
        }
        // `recvid` is a BIGINT, as the i64 is; `direction` a code, 1 or 2.
        fit_bytes(&mut self.raw, widths::TEXT_BYTES);
        self
    }
}

/// What arrived from the GSM side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboundKind {
    /// `RECEIVE:` — an SMS from `sender` (`srcnum`, as the GoIP reported it).
    Sms { sender: String, body: String },
    /// `USSN:` — USSD text the network pushed.
    NetworkUssd { body: String },
    /// `USSD <sendid> <text>` — the answer to a USSD request goippy sent;
    /// the record's `recvid` is that request's sendid.
    UssdReply { body: String },
    /// `DELIVER:` — a delivery report for an SMS goippy sent. It is matched
    /// to the newest outbound SMS of the same channel with this `sms_no`
    /// sent within the last hour, whose row then carries the state.
    DeliveryReport {
        sms_no: i64,
        /// 0 = delivered to the handset.
        state: i64,
        /// `num:`, on newer firmware.
        destination: Option<String>,
    },
}

impl InboundKind {
    /// The datagram tag, part of the dedup key.
    pub fn tag(&self) -> &'static str {
        match self {
            InboundKind::Sms { .. } => "RECEIVE",
            InboundKind::NetworkUssd { .. } => "USSN",
            InboundKind::UssdReply { .. } => "USSD",
            InboundKind::DeliveryReport { .. } => "DELIVER",
        }
    }

    /// The value of `goippy_log.kind`.
    pub fn log_kind(&self) -> LogKind {
        match self {
            InboundKind::Sms { .. } => LogKind::Sms,
            InboundKind::NetworkUssd { .. } => LogKind::NetworkUssd,
            InboundKind::UssdReply { .. } => LogKind::Ussd,
            InboundKind::DeliveryReport { .. } => LogKind::DeliveryReport,
        }
    }

    /// The text the dedup key hashes: the body, or for a delivery report
    /// what it reports.
    pub(crate) fn dedup_text(&self) -> String {
        match self {
            InboundKind::Sms { body, .. }
            | InboundKind::NetworkUssd { body }
            | InboundKind::UssdReply { body } => body.clone(),
            InboundKind::DeliveryReport { sms_no, state, .. } => format!("{sms_no}:{state}"),
        }
    }
}

/// The `goippy_log` columns an inbound row gets from its kind (both backends).
pub(crate) struct InboundColumns<'a> {
    /// `msisdn`: the SMS sender, or the destination a delivery report names.
    pub peer: Option<&'a str>,
    pub body: Option<&'a str>,
    pub sms_no: Option<i64>,
    pub dlr_state: Option<i64>,
    /// USSD rows carry the channel's own number as `msisdn`, as in the original.
    pub channel_number: bool,
}

impl InboundKind {
    pub(crate) fn columns(&self) -> InboundColumns<'_> {
        match self {
            InboundKind::Sms { sender, body } => InboundColumns {
                peer: Some(sender),
                body: Some(body),
                sms_no: None,
                dlr_state: None,
                channel_number: false,
            },
            InboundKind::NetworkUssd { body } | InboundKind::UssdReply { body } => InboundColumns {
                peer: None,
                body: Some(body),
                sms_no: None,
                dlr_state: None,
                channel_number: true,
            },
            InboundKind::DeliveryReport {
                sms_no,
                state,
                destination,
            } => InboundColumns {
                peer: destination.as_deref(),
                body: None,
                sms_no: Some(*sms_no),
                dlr_state: Some(*state),
                channel_number: false,
            },
        }
    }
}

/// Something received that must be stored before the GoIP gets its ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRecord {
    pub goip_id: String,
    /// The datagram's recvid (for a USSD reply: the request's sendid).
    pub recvid: i64,
    /// When goippy received it.
    pub at: Timestamp,
    /// The bare JID it is for, when already known.
    pub xmpp_jid: Option<String>,
    pub kind: InboundKind,
    /// The users of the line it came to, each getting its own inbox row in
    /// the one transaction that stores it (a shared line). Empty: one row,
    /// for `xmpp_jid` and the line's default owner, as before line pools
    /// (and as a spool written before them reads).
    #[serde(default)]
    pub recipients: Vec<InboundRecipient>,
}

/// One user an inbound SMS or USSN goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRecipient {
    pub ext: String,
    pub xmpp_jid: String,
    /// For an SMS: the contact's number as the conversation is keyed
    /// (`goippy_line_choice`), so that the user's answer goes out on the
    /// line the contact wrote to; `None` learns nothing.
    pub contact: Option<String>,
}

impl InboundRecord {
    pub(crate) fn fitted(mut self) -> InboundRecord {
        fit_opt(&mut self.xmpp_jid, widths::JID);
        for r in &mut self.recipients {
            fit(&mut r.ext, widths::EXT);
            fit(&mut r.xmpp_jid, widths::JID);
            fit_opt(&mut r.contact, widths::MSISDN);
        }
        match &mut self.kind {
            InboundKind::Sms { sender, body } => {
                fit(sender, widths::NUMBER);
                fit_bytes(body, widths::TEXT_BYTES);
            }
            InboundKind::NetworkUssd { body } | InboundKind::UssdReply { body } => {
                fit_bytes(body, widths::TEXT_BYTES)
            }
            InboundKind::DeliveryReport { destination, .. } => fit_opt(destination, widths::NUMBER),
        }
        self
    }
}

/// What [`super::Store::store_inbound`] did, with the `goippy_log` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored<Id = LogId> {
    /// Stored for the first time: deliver it (a call: tell the user, if
    /// they want call notices).
    New(Id),
    /// A retransmission of one already stored (also before a restart): ack
    /// it, do not deliver (or log and tell) it again.
    Duplicate(Id),
}

impl<Id: Copy> Stored<Id> {
    pub fn id(self) -> Id {
        match self {
            Stored::New(id) | Stored::Duplicate(id) => id,
        }
    }

    pub fn is_new(self) -> bool {
        matches!(self, Stored::New(_))
    }
}

/// What [`super::Store::store_call`] did. The id is `goippy_calls.id`: the
/// event's own row, or for an EXPIRY the row of the call it gave the
/// duration to.
pub type CallStored = Stored<i64>;

/// `goippy_log.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Sms,
    /// USSD goippy sent, or the answer to it.
    Ussd,
    /// USSD the network pushed (USSN).
    NetworkUssd,
    DeliveryReport,
    /// Something goippy itself must tell a user ([`NoticeRecord`]).
    Notice,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Sms => "sms",
            LogKind::Ussd => "ussd",
            LogKind::NetworkUssd => "ussn",
            LogKind::DeliveryReport => "dlr",
            LogKind::Notice => "notice",
        }
    }

    pub fn parse(s: &str) -> Option<LogKind> {
        match s {
            "sms" => Some(LogKind::Sms),
            "ussd" => Some(LogKind::Ussd),
            "ussn" => Some(LogKind::NetworkUssd),
            "dlr" => Some(LogKind::DeliveryReport),
            "notice" => Some(LogKind::Notice),
            _ => None,
        }
    }
}

/// What a user asked goippy to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundKind {
    Sms,
    Ussd,
}

impl OutboundKind {
    pub fn log_kind(self) -> LogKind {
        match self {
            OutboundKind::Sms => LogKind::Sms,
            OutboundKind::Ussd => LogKind::Ussd,
        }
    }
}

/// An outbound job, stored before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRecord {
    pub ext: String,
    pub goip_id: String,
    /// The sender's full JID (errors and receipts go back to that resource).
    pub xmpp_from: String,
    /// The id of the XMPP message, for receipts and for operators.
    pub xmpp_id: Option<String>,
    /// The number (SMS) as the GoIP will dial it; for USSD the channel's own number, if known.
    pub destination: String,
    /// The SMS text or the USSD code.
    pub body: String,
    pub kind: OutboundKind,
}

impl OutboundRecord {
    pub(crate) fn fitted(mut self) -> OutboundRecord {
        fit(&mut self.ext, widths::EXT);
        fit(&mut self.goip_id, widths::GOIP_ID);
        fit(&mut self.xmpp_from, widths::JID);
        if let Some(id) = &mut self.xmpp_id {
            fit_bytes(id, widths::TEXT_BYTES);
        }
        fit(&mut self.destination, widths::NUMBER);
        fit_bytes(&mut self.body, widths::TEXT_BYTES);
        self
    }
}

/// What an outbound job keeps besides the original goippy's columns
/// ([`super::Store::enqueue_outbound`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundOptions {
    /// The sender asked for an XEP-0184 receipt.
    pub receipt_requested: bool,
    /// The JID the user wrote to (receipts and errors come from it).
    pub xmpp_to: Option<String>,
}

impl OutboundOptions {
    pub(crate) fn fitted(mut self) -> OutboundOptions {
        fit_opt(&mut self.xmpp_to, widths::JID);
        self
    }
}

/// Something goippy must tell a user: an outbound message's outcome, a USSD
/// answer, a call. It is stored as an inbox row (`kind = 'notice'`) and
/// delivered like an inbound SMS, so neither an XMPP outage nor a restart
/// loses it. What `what` means is the bridge's business; the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRecord {
    /// The channel it concerns.
    pub goip_id: String,
    /// Who gets it (a full or bare JID).
    pub to: String,
    /// The contact it comes from (a number or localpart); `None`: the gateway itself.
    pub from: Option<String>,
    /// The id of the user's message it answers, if any.
    pub about: Option<String>,
    /// What to tell, as a short code.
    pub what: String,
    /// Text for the user (an answer, a reason); may be empty.
    pub text: String,
    /// A number that goes with it (an errorstatus, a delivery state…).
    pub code: Option<i64>,
    /// The outbound job it reports on.
    pub outbound: Option<LogId>,
}

impl NoticeRecord {
    pub(crate) fn fitted(mut self) -> NoticeRecord {
        fit(&mut self.goip_id, widths::GOIP_ID);
        fit(&mut self.to, widths::JID);
        fit_opt(&mut self.from, widths::NUMBER);
        if let Some(about) = &mut self.about {
            fit_bytes(about, widths::TEXT_BYTES);
        }
        fit(&mut self.what, widths::NOTICE);
        fit_bytes(&mut self.text, widths::TEXT_BYTES);
        self
    }
}

/// A notice in the inbox: the parts of [`NoticeRecord`] that
/// [`InboxItem`] has no field for (`to` is its `xmpp_jid`, `from` its
/// `peer`, `text` its `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeInfo {
    pub what: String,
    pub about: Option<String>,
    pub code: Option<i64>,
    pub outbound: Option<LogId>,
}

/// Where an outbound job is. Stored in `goippy_log.status`.
///
/// ```text
/// queued ──mark_sending──▶ sending ──mark_sent──▶ sent
///   │                        │  └──mark_unknown──▶ unknown ──mark_sent/mark_failed──▶ …
///   └──────mark_failed───────┴──mark_failed──▶ failed
/// ```
/// A job is never sent twice: only a `queued` job may become `sending`, and
/// one that was `sending` when goippy stopped must be ended as `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Queued,
    Sending,
    Sent,
    Failed,
    Unknown,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "queued" => Some(OutboxState::Queued),
            "sending" => Some(OutboxState::Sending),
            "sent" => Some(OutboxState::Sent),
            "failed" => Some(OutboxState::Failed),
            "unknown" => Some(OutboxState::Unknown),
            _ => None,
        }
    }
}

/// `goippy_log.status` of an inbound row not yet written to the XMPP stream.
pub(crate) const STATUS_INBOX: &str = "inbox";
/// `goippy_log.status` of an inbound row written to the XMPP stream.
pub(crate) const STATUS_DELIVERED: &str = "delivered";

/// An outbound job as stored, read straight from the row the outbox reads
/// select (`store/reads.rs`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: LogId,
    pub ext: String,
    pub goip_id: String,
    pub xmpp_from: String,
    pub xmpp_id: Option<String>,
    pub destination: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub kind: OutboundKind,
    #[sqlx(rename = "status", try_from = "String")]
    pub state: OutboxState,
    pub sendid: Option<i64>,
    pub telid: Option<i64>,
    pub sms_no: Option<i64>,
    /// Why it failed or why its outcome is unknown.
    pub detail: Option<String>,
    /// The latest delivery report's state (0 = delivered).
    #[sqlx(rename = "dlr_state")]
    pub delivery_state: Option<i64>,
    #[sqlx(rename = "created_unix")]
    pub created_at: Timestamp,
    /// When the GoIP reported it sent.
    #[sqlx(rename = "sent_unix")]
    pub sent_at: Option<Timestamp>,
    /// The sender asked for an XEP-0184 receipt.
    #[sqlx(rename = "receipt_req")]
    pub receipt_requested: bool,
    /// The JID the user wrote to, when stored.
    pub xmpp_to: Option<String>,
}

/// A delivery report in the inbox, with the outbound SMS it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReportInfo {
    pub sms_no: i64,
    pub state: i64,
    /// The matching outbound SMS, when one was found.
    pub outbound: Option<OutboundRef>,
}

/// The parts of an outbound row a delivery receipt needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRef {
    pub id: LogId,
    pub xmpp_from: String,
    pub xmpp_id: Option<String>,
    pub destination: String,
    /// The sender asked for an XEP-0184 receipt.
    pub receipt_requested: bool,
    /// The JID the user wrote to, when stored.
    pub xmpp_to: Option<String>,
}

/// An inbound row not yet written to the XMPP stream, read from the row
/// the inbox read selects (`store/rows.rs` adds `report` and `notice`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxItem {
    pub id: LogId,
    #[sqlx(try_from = "String")]
    pub kind: LogKind,
    pub goip_id: String,
    /// The extension the channel belonged to when it arrived.
    pub ext: Option<String>,
    /// The bare JID it was addressed to when stored, if known then; for a
    /// notice, whoever gets it (a full JID for a receipt or an error).
    pub xmpp_jid: Option<String>,
    /// The sender of an SMS; the channel's own number for USSD; the
    /// destination of the reported SMS for a delivery report; the contact a
    /// notice comes from.
    pub peer: Option<String>,
    pub body: String,
    pub recvid: Option<i64>,
    #[sqlx(rename = "created_unix")]
    pub received_at: Timestamp,
    /// For delivery reports.
    #[sqlx(skip)]
    pub report: Option<DeliveryReportInfo>,
    /// For notices ([`LogKind::Notice`]).
    #[sqlx(skip)]
    pub notice: Option<NoticeInfo>,
}

/// One row of `goippy_calls`, read straight from the row the call log
/// selects (`store/reads.rs`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallEntry {
    pub id: i64,
    pub ts: Option<Timestamp>,
    pub goip_id: Option<String>,
    pub ext: Option<String>,
    /// `RECORD`, `HANGUP`, `EXPIRY`; `None` for rows the original goippy wrote.
    pub event: Option<String>,
    #[sqlx(try_from = "super::rows::DirectionCode")]
    pub direction: Option<CallDirection>,
    pub remote_num: Option<String>,
    pub cause: Option<String>,
    /// Seconds, from EXPIRY.
    pub duration: Option<i64>,
    /// The channel's own number at the time.
    pub msisdn: Option<String>,
}

/// What waits in the database (the metrics' queue depths).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Users' SMS and USSD requests not handed to the GoIP yet (`queued`).
    pub outbox_queued: u64,
    /// Handed to the GoIP, outcome not recorded yet (`sending`).
    pub outbox_sending: u64,
    /// Inbox rows (SMS, reports, notices) not yet delivered to their user.
    pub inbox: u64,
}

/// The last stored keepalive of a channel (`goippy_state`), read straight
/// from the row the backends select (its columns aliased to these names).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelState {
    pub goip_id: String,
    pub ext: Option<String>,
    pub msisdn: Option<String>,
    pub gsm_signal: Option<i64>,
    pub gsm_status: Option<String>,
    pub voip_status: Option<String>,
    pub voip_state: Option<String>,
    pub remain_time: Option<i64>,
    pub provider: Option<String>,
    pub disable_status: Option<i64>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    pub cell_info: Option<String>,
    pub sms_login: Option<String>,
    #[sqlx(rename = "source_addr")]
    pub source: Option<String>,
    #[sqlx(rename = "updated_unix")]
    pub updated_at: Option<Timestamp>,
}

/// A row of `goippy_gateways`: one line (GoIP channel), with the users it
/// has besides its default owner. Read straight from the row the store
/// selects (`store/gateways.rs`), which then drops blank `ext`/`msisdn`
/// and fills in `shared_with`.
///
/// The spool's gateway cache (`store/cache.rs`) is these as JSON, without
/// their times and with the password in clear: nothing else serializes one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, Deserialize)]
pub struct Gateway {
    /// The extension whose default line (line 1) this is; `None` for a line
    /// made only to be shared (`goippy --add-line`).
    #[serde(default, deserialize_with = "super::cache::ext")]
    pub ext: Option<String>,
    /// The channel's GoIP "SMS Client ID".
    pub goip_id: String,
    #[sqlx(rename = "goip_pass", try_from = "String")]
    #[serde(with = "super::cache::password")]
    pub password: Secret,
    /// The GoIP line (CH1 = 1, …) the goip_id is configured on, as given to
    /// `goippy --add`; for the operator's overview (`--listExt`), the bridge
    /// goes by goip_id.
    pub channel: Option<i64>,
    pub msisdn: Option<String>,
    /// Outbound destinations must match this whole; `None` or empty allows all.
    pub allow_regex: Option<String>,
    pub enabled: bool,
    #[sqlx(rename = "created_unix")]
    #[serde(skip)]
    pub created_at: Option<Timestamp>,
    /// The last stored keepalive.
    #[sqlx(rename = "last_seen_unix")]
    #[serde(skip)]
    pub last_seen: Option<Timestamp>,
    /// The most SMS it may send per UTC day; `None`: no cap.
    #[serde(default)]
    pub daily_limit: Option<i64>,
    /// The further users of this line (`goippy_line_users`), by when they
    /// were given it.
    #[sqlx(skip)]
    #[serde(default)]
    pub shared_with: Vec<LineShare>,
}

impl Gateway {
    /// Every extension that may use this line: its default owner first,
    /// then the others by when they were given it.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.ext
            .as_deref()
            .into_iter()
            .chain(self.shared_with.iter().map(|s| s.ext.as_str()))
    }
}

/// One extension's use of a line that is not its default line. `order`
/// (the row id) places it among the extension's lines: after its default
/// line, lines are numbered in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineShare {
    pub ext: String,
    pub order: i64,
}

/// What `goippy --add-line` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAdded {
    /// A new line was made, used by this extension.
    Created,
    /// The extension now shares a line that already existed.
    Shared,
    /// The extension had this line already; nothing changed.
    AlreadyHad,
    /// A shared line the extension has got a new definition.
    Updated,
}

/// What `goippy --add` defines, for [`super::Store::save_gateway`]. It is
/// the whole definition: on an update too, what is `None` gets its default
/// (goip_id `goippy_<ext>`, no channel, any destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayDefinition<'a> {
    pub ext: &'a str,
    pub password: &'a str,
    /// The GoIP "SMS Client ID"; `None`, empty or `-`: `goippy_<ext>`.
    pub goip_id: Option<&'a str>,
    /// The GoIP line number (1–999).
    pub channel: Option<i64>,
    /// Must match a whole destination for it to be allowed; `None` or empty allows all.
    pub allow_regex: Option<&'a str>,
}

/// Whether [`super::Store::save_gateway`] created the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayChange {
    Created,
    Updated,
}

/// What one cleanup pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub log_rows: u64,
    pub dedup_keys: u64,
    pub batch_markers: u64,
}

/// Column widths of the schema (characters; `TEXT_BYTES` in bytes).
/// Values from the network are cut to fit, so that one odd datagram can
/// never make a whole batch fail on MySQL's strict mode.
pub(crate) mod widths {
    pub use crate::config::gateway::widths::{EXT, GOIP_ID};
    pub const MSISDN: usize = 32;
    pub const NUMBER: usize = 64;
    pub const JID: usize = 1023;
    pub const DETAIL: usize = 255;
    pub const NOTICE: usize = 32;
    /// MySQL `TEXT` holds 65 535 bytes.
    pub const TEXT_BYTES: usize = 65_000;
}

/// Cuts `s` to at most `max` characters.
pub(crate) fn fit(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

fn fit_opt(s: &mut Option<String>, max: usize) {
    if let Some(s) = s {
        fit(s, max);
    }
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
pub(crate) fn fit_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_respects_characters() {
        let mut s = "ääää".to_string();
        fit(&mut s, 2);
        assert_eq!(s, "ää");
        let mut s = "ääää".to_string();
        fit_bytes(&mut s, 3);
        assert_eq!(s, "ä");
        let mut s = "abc".to_string();
        fit(&mut s, 10);
        assert_eq!(s, "abc");
    }

    #[test]
    fn a_call_duration_fits_an_int_column() {
        let expiry = |seconds| {
            CallRecord {
                goip_id: "g".into(),
                recvid: Some(1),
                at: Timestamp::from_unix(1),
                event: CallEvent::Expiry { seconds },
                raw: String::new(),
            }
            .fitted()
            .event
        };
        assert_eq!(
            expiry(i64::from(u32::MAX)),
            CallEvent::Expiry {
                seconds: i64::from(i32::MAX)
            }
        );
        assert_eq!(
            expiry(i64::MIN),
            CallEvent::Expiry {
                seconds: i64::from(i32::MIN)
            }
        );
        assert_eq!(expiry(42), CallEvent::Expiry { seconds: 42 });
    }

    #[test]
    fn recvids_become_numbers_stably() {
        assert_eq!(recvid_number("1734804704"), 1_734_804_704);
        assert_eq!(recvid_number("-12"), -12);
        assert_eq!(recvid_number(" 7 "), 7);
        let odd = recvid_number("abc");
        assert_eq!(odd, recvid_number("abc"));
        assert_ne!(odd, recvid_number("abd"));
        assert!(odd >= 0);
    }

    #[test]
    fn state_comparison_ignores_the_time() {
        let mut a = StateUpdate::new("g", Timestamp::from_unix(1));
        a.gsm_signal = Some(20);
        let mut b = a.clone();
        b.seen_at = Timestamp::from_unix(31);
        assert!(a.same_state_as(&b));
        b.gsm_signal = Some(21);
        assert!(!a.same_state_as(&b));
    }

    #[test]
    fn empty_state_fields_become_none() {
        let mut a = StateUpdate::new("g", Timestamp::from_unix(1));
        a.msisdn = Some("  ".into());
        a.provider = Some("x".repeat(100));
        let a = a.fitted();
        assert_eq!(a.msisdn, None);
        assert_eq!(a.provider.as_deref().map(str::len), Some(64));
    }

    #[test]
    fn names_round_trip() {
        for s in [
            OutboxState::Queued,
            OutboxState::Sending,
            OutboxState::Sent,
            OutboxState::Failed,
            OutboxState::Unknown,
        ] {
            assert_eq!(OutboxState::parse(s.as_str()), Some(s));
        }
        for k in [
            LogKind::Sms,
            LogKind::Ussd,
            LogKind::NetworkUssd,
            LogKind::DeliveryReport,
            LogKind::Notice,
        ] {
            assert_eq!(LogKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(CallDirection::from_code(2), Some(CallDirection::Outgoing));
        assert_eq!(CallDirection::from_code(0), None);
    }
}
