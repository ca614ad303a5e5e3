//! Turning inbox rows into the stanzas users receive, and the notices goippy
//! stores for itself.
//!
//! Everything that goes from goippy to a user — an SMS, a USSD answer, a
//! delivery receipt, the error for an SMS that failed, a call notice — first
//! becomes a row of the store's inbox, and only the inbox pump sends it (see
//! `inbox.rs`). That is what makes every one of them survive an XMPP outage
//! and a restart, in order. Rows that goippy itself originates are *notices*
//! ([`NoticeRecord`]); [`Notice`] names what each one says, and this file
//! holds both directions of that naming: [`for_outbound`] builds the notice
//! for an outbound job's outcome, [`render`] turns any inbox row into its
//! stanza. Both are pure, so the exact stanzas are unit-tested here.

use std::time::{Duration, UNIX_EPOCH};

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};

use crate::config::ReceiptPolicy;
use crate::number::Sender;
use crate::store::{InboxItem, LogKind, NoticeRecord, OutboundRef, OutboxItem};
use crate::xmpp::Addressing;
use crate::xmpp::failure::DeliveryFailure;
use crate::xmpp::reply::{self, InboundChat};

/// What a notice row tells the user (`goippy_log.notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// XEP-0184 receipt: the GoIP sent the SMS (stored only when one is due).
    SmsSent,
    /// The GoIP reported the SMS failed; the text is the reason.
    SmsFailed,
    /// No result within the code's seconds: it may or may not have been sent.
    SmsUnknown,
    /// goippy stopped or restarted after SEND: it may or may not have been sent.
    SmsInterrupted,
    /// The channel stayed offline for the code's seconds; nothing was sent.
    SmsOffline,
    /// Nothing was sent, for the reason in the text.
    SmsNotSent,
    /// The network's answer to a USSD request (the text).
    UssdAnswer,
    /// The USSD request failed; the text is why.
    UssdFailed,
    /// No USSD answer within the code's seconds.
    UssdNoAnswer,
    /// The USSD request was never sent; the text is why.
    UssdNotSent,
    /// A plain chat message (call notices).
    Chat,
}

impl Notice {
    /// Every notice, for reading them back.
    const ALL: [Notice; 11] = [
        Notice::SmsSent,
        Notice::SmsFailed,
        Notice::SmsUnknown,
        Notice::SmsInterrupted,
        Notice::SmsOffline,
        Notice::SmsNotSent,
        Notice::UssdAnswer,
        Notice::UssdFailed,
        Notice::UssdNoAnswer,
        Notice::UssdNotSent,
        Notice::Chat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::SmsSent => "sms_sent",
            Notice::SmsFailed => "sms_failed",
            Notice::SmsUnknown => "sms_unknown",
            Notice::SmsInterrupted => "sms_interrupted",
            Notice::SmsOffline => "sms_offline",
            Notice::SmsNotSent => "sms_not_sent",
            Notice::UssdAnswer => "ussd_answer",
            Notice::UssdFailed => "ussd_failed",
            Notice::UssdNoAnswer => "ussd_no_answer",
            Notice::UssdNotSent => "ussd_not_sent",
            Notice::Chat => "chat",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// A chat message to the user's bare JID, rather than a receipt or an
    /// error for one resource's message.
    fn is_chat(self) -> bool {
        matches!(self, Notice::UssdAnswer | Notice::Chat)
    }
}

/// The notice reporting `what` about outbound job `item`: to the resource
/// that sent it (to its bare JID for a chat), from the JID it was sent to,
/// about its message id.
pub fn for_outbound(
    item: &OutboxItem,
    what: Notice,
    text: String,
    code: Option<i64>,
) -> NoticeRecord {
    let to = if what.is_chat() {
        bare_or_raw(&item.xmpp_from)
    } else {
        item.xmpp_from.clone()
    };
    NoticeRecord {
        goip_id: item.goip_id.clone(),
        to,
        from: contact_node(item.xmpp_to.as_deref(), &item.destination),
        about: item.xmpp_id.clone(),
        what: what.as_str().to_string(),
        text,
        code,
        outbound: Some(item.id),
    }
}

/// A chat notice (calls) from `from` (a localpart on the data domain, or the
/// gateway itself) to `to`.
pub fn chat(goip_id: &str, to: &BareJid, from: Option<String>, text: String) -> NoticeRecord {
    NoticeRecord {
        goip_id: goip_id.to_string(),
        to: to.to_string(),
        from,
        about: None,
        what: Notice::Chat.as_str().to_string(),
        text,
        code: None,
        outbound: None,
    }
}

fn bare_or_raw(jid: &str) -> String {
    Jid::new(jid)
        .map(|j| j.to_bare().to_string())
        .unwrap_or_else(|_| jid.to_string())
}

/// The localpart the user wrote to (`0037255512345`), else the destination.
fn contact_node(xmpp_to: Option<&str>, destination: &str) -> Option<String> {
    xmpp_to
        .and_then(|to| BareJid::new(to).ok())
        .and_then(|to| to.node().map(|n| n.as_str().to_string()))
        .or_else(|| Some(destination.trim().to_string()))
        .filter(|n| !n.is_empty())
}

/// What the pump knows besides the row.
#[derive(Debug, Clone, Copy)]
pub struct RenderEnv<'a> {
    pub addressing: &'a Addressing,
    pub receipts: ReceiptPolicy,
    /// The user an SMS or USSD row goes to, as the pump resolved it.
    pub recipient: Option<&'a Jid>,
}

/// What to do with an inbox row.
#[derive(Debug)]
pub enum Rendered {
    /// Send this; then the row is delivered.
    Send(Box<Stanza>),
    /// Nothing to send (why, for the log); the row is done.
    Nothing(&'static str),
    /// It cannot be sent yet (why); the row stays in the inbox.
    Wait(&'static str),
}

/// The stable id of the stanza for an inbox row: a re-send after a
/// reconnect carries the same id.
pub fn stanza_id(item: &InboxItem) -> String {
    format!("goippy-in-{}", item.id.0)
}

/// The stanza for an inbox row.
pub fn render(item: &InboxItem, env: &RenderEnv<'_>) -> Rendered {
    let a = env.addressing;
    let received_at = UNIX_EPOCH
        + Duration::from_secs(u64::try_from(item.received_at.unix()).unwrap_or_default());
    match item.kind {
        LogKind::Sms => {
            let Some(to) = env.recipient else {
                return Rendered::Wait("no user is mapped to this channel");
            };
            let sender = a
                .numbers()
                .classify_sender(item.peer.as_deref().unwrap_or_default());
            let mut chat = InboundChat::sms(
                a.sender_jid(&sender),
                to.clone(),
                stanza_id(item),
                item.body.clone(),
            )
            .received_at(received_at);
            if let Sender::Alphanumeric(name) = &sender
                && !name.is_empty()
            {
                chat = chat.sender_name(name.clone());
            }
            send(chat.build(a.component()))
        }
        LogKind::Ussd | LogKind::NetworkUssd => {
            let Some(to) = env.recipient else {
                return Rendered::Wait("no user is mapped to this channel");
            };
            let from = gateway_jid(a, item.peer.as_deref());
            let chat = InboundChat::ussd(from, to.clone(), stanza_id(item), item.body.clone())
                .received_at(received_at);
            send(chat.build(a.component()))
        }
        LogKind::DeliveryReport => {
            let Some(report) = &item.report else {
                return Rendered::Nothing("delivery report without its details");
            };
            let Some(out) = &report.outbound else {
                return Rendered::Nothing("delivery report for no known outbound SMS");
            };
            delivery_report(a, env.receipts, out, report.state)
        }
        LogKind::Notice => notice(item, a),
    }
}

fn delivery_report(
    a: &Addressing,
    receipts: ReceiptPolicy,
    out: &OutboundRef,
    state: i64,
) -> Rendered {
    let Ok(user) = Jid::new(&out.xmpp_from) else {
        return Rendered::Nothing("the SMS's sender is not a valid JID");
    };
    let contact = Jid::from(contact_jid(
        a,
        contact_node(out.xmpp_to.as_deref(), &out.destination).as_deref(),
    ));
    if state != 0 {
        return send(reply::delivery_error(
            &contact,
            &user,
            out.xmpp_id.as_deref(),
            &DeliveryFailure::NotDelivered {
                state: state.to_string(),
            },
        ));
    }
    match (&out.xmpp_id, receipts, out.receipt_requested) {
        (Some(id), ReceiptPolicy::Delivered, true) => send(reply::receipt(&contact, &user, id)),
        (None, _, _) => Rendered::Nothing("the SMS's message had no id to confirm"),
        (_, ReceiptPolicy::Sent, _) => Rendered::Nothing("receipts are given when sent"),
        (_, _, false) => Rendered::Nothing("no receipt was requested"),
    }
}

fn notice(item: &InboxItem, a: &Addressing) -> Rendered {
    let Some(info) = &item.notice else {
        return Rendered::Nothing("notice without its details");
    };
    let Some(what) = Notice::parse(&info.what) else {
        return Rendered::Nothing("a notice of an unknown kind");
    };
    let Some(to) = item.xmpp_jid.as_deref().and_then(|j| Jid::new(j).ok()) else {
        return Rendered::Nothing("a notice without a valid addressee");
    };
    let from = contact_jid(a, item.peer.as_deref());
    let about = info.about.as_deref();
    let seconds =
        || Duration::from_secs(info.code.and_then(|c| u64::try_from(c).ok()).unwrap_or(0));
    let text = item.body.clone();
    let failure = match what {
        Notice::SmsSent => {
            return match about {
                Some(id) => send(reply::receipt(&Jid::from(from), &to, id)),
                None => Rendered::Nothing("the SMS's message had no id to confirm"),
            };
        }
        Notice::UssdAnswer => {
            let text = if text.trim().is_empty() {
                "(the network ended the USSD session without an answer)".to_string()
            } else {
                text
            };
            let chat = InboundChat::ussd(from, to, stanza_id(item), text);
            return send(chat.build(a.component()));
        }
        Notice::Chat => {
            let received_at = UNIX_EPOCH
                + Duration::from_secs(u64::try_from(item.received_at.unix()).unwrap_or_default());
            let chat = InboundChat::sms(from, to, stanza_id(item), text).received_at(received_at);
            return send(chat.build(a.component()));
        }
        Notice::SmsFailed => DeliveryFailure::Failed { reason: text },
        Notice::SmsUnknown => DeliveryFailure::Unknown { waited: seconds() },
        Notice::SmsInterrupted => DeliveryFailure::Interrupted,
        Notice::SmsOffline => DeliveryFailure::ChannelOffline { waited: seconds() },
        Notice::SmsNotSent => DeliveryFailure::NotSent { reason: text },
        Notice::UssdFailed => DeliveryFailure::UssdFailed { reason: text },
        Notice::UssdNoAnswer => DeliveryFailure::UssdNoAnswer { waited: seconds() },
        Notice::UssdNotSent => DeliveryFailure::UssdNotSent { reason: text },
    };
    send(reply::delivery_error(
        &Jid::from(from),
        &to,
        about,
        &failure,
    ))
}

/// `node@data_domain` for a stored localpart, or the component itself.
fn contact_jid(a: &Addressing, node: Option<&str>) -> BareJid {
    node.filter(|n| !n.is_empty())
        .and_then(|n| BareJid::new(&format!("{n}@{}", a.data_domain())).ok())
        .unwrap_or_else(|| a.component().clone())
}

/// The contact JID of a gateway's own number (USSD comes from it), or the
/// component when the number is not known.
fn gateway_jid(a: &Addressing, number: Option<&str>) -> BareJid {
    match number.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => a.sender_jid(&a.numbers().classify_sender(n)),
        None => a.component().clone(),
    }
}

fn send(stanza: impl Into<Stanza>) -> Rendered {
    Rendered::Send(Box::new(stanza.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        DeliveryReportInfo, LogId, NoticeInfo, OutboundKind, OutboxState, Timestamp,
    };
    use crate::xmpp::testing::addressing;
    use tokio_xmpp::minidom::Element;
    use tokio_xmpp::parsers::ns;

    fn jid(s: &str) -> Jid {
        Jid::new(s).expect("jid")
    }

    fn item(kind: LogKind, peer: Option<&str>, body: &str) -> InboxItem {
        InboxItem {
            id: LogId(42),
            kind,
            goip_id: "goip1".into(),
            ext: Some("2001".into()),
            xmpp_jid: None,
            peer: peer.map(str::to_string),
            body: body.into(),
            recvid: Some(7),
            received_at: Timestamp::from_unix(1_700_000_000),
            report: None,
            notice: None,
        }
    }

    fn element(r: Rendered) -> Element {
        match r {
            Rendered::Send(s) => Element::from(&*s),
            other => panic!("{other:?}"),
        }
    }

    fn env<'a>(a: &'a Addressing, to: Option<&'a Jid>, receipts: ReceiptPolicy) -> RenderEnv<'a> {
        RenderEnv {
            addressing: a,
            receipts,
            recipient: to,
        }
    }

    fn body(e: &Element) -> String {
        e.get_child("body", ns::DEFAULT_NS)
            .map(Element::text)
            .unwrap_or_default()
    }

    fn error_text(e: &Element) -> String {
        let error = e.get_child("error", ns::DEFAULT_NS).expect("error");
        error
            .get_child("text", ns::XMPP_STANZAS)
            .map(Element::text)
            .unwrap_or_default()
    }

    #[test]
    fn notice_names_round_trip() {
        for n in Notice::ALL {
            assert_eq!(Notice::parse(n.as_str()), Some(n));
            assert!(n.as_str().len() <= 32, "fits the column");
        }
        assert_eq!(Notice::parse("bogus"), None);
    }

    #[test]
    fn an_sms_comes_from_its_sender_with_a_stable_id_and_its_time() {
        let a = addressing();
        let user = jid("2001@example.org");
        let text = "Tere; ütle\nhi 😀";
        let e = element(render(
            &item(LogKind::Sms, Some("+37255512345"), text),
            &env(&a, Some(&user), ReceiptPolicy::Delivered),
        ));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org"));
        assert_eq!(e.attr("id"), Some("goippy-in-42"));
        assert_eq!(e.attr("type"), Some("chat"));
        assert_eq!(body(&e), text);
        assert!(e.get_child("delay", ns::DELAY).is_some());
        // A sender name: escaped JID, the original spelling as nickname.
        let e = element(render(
            &item(LogKind::Sms, Some("My Bank"), "code 1"),
            &env(&a, Some(&user), ReceiptPolicy::Delivered),
        ));
        assert_eq!(e.attr("from"), Some("my\\20bank@sms.example.org"));
        assert_eq!(
            e.get_child("nick", ns::NICK).map(Element::text).as_deref(),
            Some("My Bank")
        );
        // Without a user it waits.
        assert!(matches!(
            render(
                &item(LogKind::Sms, Some("+37255512345"), "x"),
                &env(&a, None, ReceiptPolicy::Delivered)
            ),
            Rendered::Wait(_)
        ));
    }

    #[test]
    fn ussd_comes_from_the_gateways_number() {
        let a = addressing();
        let user = jid("2001@example.org");
        let e = element(render(
            &item(LogKind::NetworkUssd, Some("+37255500000"), "Balance 5 EUR"),
            &env(&a, Some(&user), ReceiptPolicy::Delivered),
        ));
        assert_eq!(e.attr("from"), Some("+37255500000@sms.example.org"));
        assert_eq!(body(&e), "[USSD] Balance 5 EUR");
        let e = element(render(
            &item(LogKind::Ussd, None, "late"),
            &env(&a, Some(&user), ReceiptPolicy::Delivered),
        ));
        assert_eq!(e.attr("from"), Some("sms.example.org"));
    }

    fn outbound_ref(receipt: bool) -> OutboundRef {
        OutboundRef {
            id: LogId(5),
            xmpp_from: "2001@example.org/phone".into(),
            xmpp_id: Some("m1".into()),
            destination: "+37255512345".into(),
            receipt_requested: receipt,
            xmpp_to: Some("0037255512345@sms.example.org".into()),
        }
    }

    fn dlr(state: i64, out: Option<OutboundRef>) -> InboxItem {
        let mut i = item(LogKind::DeliveryReport, Some("+37255512345"), "");
        i.report = Some(DeliveryReportInfo {
            sms_no: 3,
            state,
            outbound: out,
        });
        i
    }

    #[test]
    fn delivery_reports_answer_the_original_message() {
        let a = addressing();
        let delivered = env(&a, None, ReceiptPolicy::Delivered);
        let e = element(render(&dlr(0, Some(outbound_ref(true))), &delivered));
        let received = e.get_child("received", ns::RECEIPTS).expect("receipt");
        assert_eq!(received.attr("id"), Some("m1"));
        assert_eq!(e.attr("from"), Some("0037255512345@sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org/phone"));
        // Not requested, or receipts on "sent": nothing.
        assert!(matches!(
            render(&dlr(0, Some(outbound_ref(false))), &delivered),
            Rendered::Nothing(_)
        ));
        assert!(matches!(
            render(
                &dlr(0, Some(outbound_ref(true))),
                &env(&a, None, ReceiptPolicy::Sent)
            ),
            Rendered::Nothing(_)
        ));
        // Not delivered: an error for the original id, requested or not.
        let e = element(render(&dlr(70, Some(outbound_ref(false))), &delivered));
        assert_eq!(e.attr("type"), Some("error"));
        assert_eq!(e.attr("id"), Some("m1"));
        let error = e.get_child("error", ns::DEFAULT_NS).expect("error");
        assert_eq!(error.attr("type"), Some("wait"));
        assert!(error.has_child("recipient-unavailable", ns::XMPP_STANZAS));
        assert!(error_text(&e).contains("state 70"));
        assert!(matches!(
            render(&dlr(0, None), &delivered),
            Rendered::Nothing(_)
        ));
    }

    fn outbox_item(kind: OutboundKind) -> OutboxItem {
        OutboxItem {
            id: LogId(9),
            ext: "2001".into(),
            goip_id: "goip1".into(),
            xmpp_from: "2001@example.org/phone".into(),
            xmpp_id: Some("m9".into()),
            destination: "+37255512345".into(),
            body: "hi".into(),
            kind,
            state: OutboxState::Sending,
            sendid: None,
            telid: None,
            sms_no: None,
            detail: None,
            delivery_state: None,
            created_at: Timestamp::from_unix(0),
            sent_at: None,
            receipt_requested: true,
            xmpp_to: Some("+37255512345@sms.example.org".into()),
        }
    }

    /// The notice as the pump reads it back from the inbox.
    fn stored(n: NoticeRecord) -> InboxItem {
        let mut i = item(LogKind::Notice, n.from.as_deref(), &n.text);
        i.xmpp_jid = Some(n.to);
        i.notice = Some(NoticeInfo {
            what: n.what,
            about: n.about,
            code: n.code,
            outbound: n.outbound,
        });
        i
    }

    #[test]
    fn outcome_notices_become_receipts_and_errors() {
        let a = addressing();
        let e_env = env(&a, None, ReceiptPolicy::Sent);
        let sms = outbox_item(OutboundKind::Sms);
        let n = for_outbound(&sms, Notice::SmsSent, String::new(), None);
        assert_eq!(n.to, "2001@example.org/phone");
        assert_eq!(n.from.as_deref(), Some("+37255512345"));
        assert_eq!(n.outbound, Some(LogId(9)));
        let e = element(render(&stored(n), &e_env));
        assert_eq!(
            e.get_child("received", ns::RECEIPTS)
                .and_then(|r| r.attr("id")),
            Some("m9")
        );
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));

        let cases = [
            (
                Notice::SmsFailed,
                "errorstatus 38",
                None,
                "service-unavailable",
                "errorstatus 38",
            ),
            (
                Notice::SmsUnknown,
                "",
                Some(180),
                "remote-server-timeout",
                "3 min",
            ),
            (
                Notice::SmsInterrupted,
                "",
                None,
                "remote-server-timeout",
                "goippy restarted",
            ),
            (
                Notice::SmsOffline,
                "",
                Some(300),
                "remote-server-timeout",
                "offline for 5 min",
            ),
            (
                Notice::SmsNotSent,
                "the GoIP is busy",
                None,
                "service-unavailable",
                "the GoIP is busy",
            ),
        ];
        for (what, text, code, condition, needle) in cases {
            let e = element(render(
                &stored(for_outbound(&sms, what, text.into(), code)),
                &e_env,
            ));
            assert_eq!(e.attr("type"), Some("error"), "{what:?}");
            assert_eq!(e.attr("id"), Some("m9"), "{what:?}");
            assert_eq!(e.attr("to"), Some("2001@example.org/phone"));
            let error = e.get_child("error", ns::DEFAULT_NS).expect("error");
            assert!(error.has_child(condition, ns::XMPP_STANZAS), "{what:?}");
            assert!(
                error_text(&e).contains(needle),
                "{what:?}: {}",
                error_text(&e)
            );
        }
    }

    #[test]
    fn ussd_notices() {
        let a = addressing();
        let e_env = env(&a, None, ReceiptPolicy::Delivered);
        let mut ussd = outbox_item(OutboundKind::Ussd);
        ussd.destination = "+37255500000".into();
        ussd.xmpp_to = Some("+37255500000@sms.example.org".into());
        let n = for_outbound(&ussd, Notice::UssdAnswer, "Saldo 5 EUR".into(), None);
        assert_eq!(n.to, "2001@example.org", "a chat goes to the bare JID");
        let e = element(render(&stored(n), &e_env));
        assert_eq!(e.attr("type"), Some("chat"));
        assert_eq!(e.attr("from"), Some("+37255500000@sms.example.org"));
        assert_eq!(body(&e), "[USSD] Saldo 5 EUR");
        let e = element(render(
            &stored(for_outbound(&ussd, Notice::UssdAnswer, String::new(), None)),
            &e_env,
        ));
        assert!(body(&e).contains("without an answer"));
        for (what, needle) in [
            (Notice::UssdFailed, "USSD request failed"),
            (Notice::UssdNoAnswer, "No USSD answer"),
            (Notice::UssdNotSent, "was not sent"),
        ] {
            let e = element(render(
                &stored(for_outbound(&ussd, what, "x".into(), Some(60))),
                &e_env,
            ));
            assert_eq!(e.attr("type"), Some("error"));
            assert_eq!(e.attr("id"), Some("m9"));
            assert!(error_text(&e).contains(needle), "{}", error_text(&e));
        }
    }

    #[test]
    fn chat_notices_and_broken_rows() {
        let a = addressing();
        let e_env = env(&a, None, ReceiptPolicy::Delivered);
        let user = BareJid::new("2001@example.org").expect("jid");
        let e = element(render(
            &stored(chat(
                "goip1",
                &user,
                Some("+37255512345".into()),
                "Incoming call from +37255512345".into(),
            )),
            &e_env,
        ));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(body(&e), "Incoming call from +37255512345");
        let e = element(render(
            &stored(chat("goip1", &user, None, "hidden".into())),
            &e_env,
        ));
        assert_eq!(e.attr("from"), Some("sms.example.org"));

        let mut bad = stored(chat("goip1", &user, None, "x".into()));
        bad.xmpp_jid = Some("not a jid@@".into());
        assert!(matches!(render(&bad, &e_env), Rendered::Nothing(_)));
        let mut unknown = stored(chat("goip1", &user, None, "x".into()));
        if let Some(n) = unknown.notice.as_mut() {
            n.what = "future".into();
        }
        assert!(matches!(render(&unknown, &e_env), Rendered::Nothing(_)));
    }
}
