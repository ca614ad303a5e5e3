//! Rows as both backends' SELECTs return them, and their conversion into the
//! public record types.
//!
//! Each backend's SQL aliases its columns to these names and converts its
//! own column types (TIMESTAMP, TINYINT(1), ENUM; SQLite's free typing) into
//! the few that decode the same on both: `i64`, `String` and their `Option`s.
//! `#[derive(sqlx::FromRow)]` is generic over the row type, so one definition
//! serves both drivers. A record that is its row already, column for column
//! (`ChannelState`, `Gateway`, `OutboxItem`, `CallEntry`), derives `FromRow`
//! itself instead of having a twin here, with the conversions below; the
//! inbox row is assembled into nested records (`InboxItem`).

use crate::config::Secret;
use crate::goip::CallDirection;

use super::records::{
    DeliveryReportInfo, InboxItem, LogId, LogKind, NoticeInfo, OutboundKind, OutboundRef,
    OutboxState,
};

/// `goip_pass` as the gateway row gives it (`Gateway` decodes itself).
impl From<String> for Secret {
    fn from(password: String) -> Secret {
        Secret::new(password)
    }
}

/// An inbox row: the item, with what a delivery report or a notice adds.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InboxRow {
    #[sqlx(flatten)]
    pub item: InboxItem,
    pub sms_no: Option<i64>,
    pub dlr_state: Option<i64>,
    pub out_id: Option<i64>,
    pub out_xmpp_from: Option<String>,
    pub out_xmpp_id: Option<String>,
    pub out_destination: Option<String>,
    pub out_receipt_req: Option<i64>,
    pub out_xmpp_to: Option<String>,
    /// Notices: what to tell, the message it answers, its code and outbound row.
    pub notice: Option<String>,
    pub xmpp_id: Option<String>,
    pub error_code: Option<i64>,
    pub ref_id: Option<i64>,
}

impl From<InboxRow> for InboxItem {
    fn from(r: InboxRow) -> InboxItem {
        let mut item = r.item;
        let kind = item.kind;
        item.report = (kind == LogKind::DeliveryReport).then(|| DeliveryReportInfo {
            sms_no: r.sms_no.unwrap_or_default(),
            state: r.dlr_state.unwrap_or_default(),
            outbound: r.out_id.map(|id| OutboundRef {
                id: LogId(id),
                xmpp_from: r.out_xmpp_from.unwrap_or_default(),
                xmpp_id: r.out_xmpp_id,
                destination: r.out_destination.unwrap_or_default(),
                receipt_requested: r.out_receipt_req.unwrap_or(0) != 0,
                xmpp_to: r.out_xmpp_to,
            }),
        });
        item.notice = (kind == LogKind::Notice).then(|| NoticeInfo {
            what: r.notice.unwrap_or_default(),
            about: r.xmpp_id,
            code: r.error_code,
            outbound: r.ref_id.map(LogId),
        });
        item
    }
}

/// `goippy_log.kind` as an inbox row has it: a row the original goippy
/// wrote has none (selected as `sms`), and what is no kind of ours is an SMS.
impl From<String> for LogKind {
    fn from(kind: String) -> LogKind {
        LogKind::parse(&kind).unwrap_or(LogKind::Sms)
    }
}

/// Conversions for the columns `OutboxItem` decodes itself from.
impl From<String> for OutboundKind {
    fn from(kind: String) -> OutboundKind {
        if kind == LogKind::Ussd.as_str() {
            OutboundKind::Ussd
        } else {
            OutboundKind::Sms
        }
    }
}

/// The outbox reads select only rows whose status is an outbox state (the
/// original goippy's own outbound rows have others), so this never fails there.
impl TryFrom<String> for OutboxState {
    type Error = String;

    fn try_from(status: String) -> Result<OutboxState, String> {
        OutboxState::parse(&status).ok_or_else(|| format!("{status:?} is no outbox state"))
    }
}

/// `goippy_calls.direction` as stored: a [`CallDirection`] code, if any
/// (`CallEntry` decodes itself from it).
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct DirectionCode(Option<i64>);

impl From<DirectionCode> for Option<CallDirection> {
    fn from(code: DirectionCode) -> Option<CallDirection> {
        code.0.and_then(CallDirection::from_code)
    }
}
