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
//!
//! # Every outcome reaches the user, also one who went offline
//!
//! What Prosody 0.12 does with a message for a session that is gone (read
//! in Prosody 0.12.3's modules, Debian 12, and checked against a real
//! server with mod_mam and mod_offline, which Prosody loads by default;
//! "gone" is a client that closed its stream or lost its TCP connection,
//! "hibernating" one whose XEP-0198 session mod_smacks keeps for resumption):
//!
//! | to the user's… | session gone | session hibernating |
//! |---|---|---|
//! | full JID, `type='error'` | dropped: `process_to_bare` in mod_message.lua discards every error; never stored offline. mod_mam archives it (`should_store`: an error to a full JID is a "bounce"), as an error, which clients do not show as a message | queued; delivered if the client resumes; dropped at the hibernation timeout (mod_smacks.lua `handle_unacked_stanzas`: its `delivery/failure` handler takes only chat and normal messages, and errors are never bounced) |
//! | full JID, `type='chat'` with a body | mod_message hands it to the user's other online resources, or else fires `message/offline/handle`: mod_offline.lua stores it and sends it after the next login's initial presence. mod_mam archives it (`should_store`: "body") | queued; at the timeout stored offline if that was the user's last session, otherwise bounced to the sender as `recipient-unavailable` (then only the archive has it) |
//! | full JID, receipt (`<received/>`, no body, `type='chat'`) | as a chat message: mod_offline stores any message it is handed, and `should_store` keeps receipts ("receipt") | as a chat message |
//! | bare JID, chat or receipt | delivered to the online resources, else stored offline; archived | as above |
//! | bare JID, `type='error'` | dropped, and not archived | — |
//!
//! A ping (XEP-0199) to a gone full JID is answered `service-unavailable`
//! by Prosody (mod_iq); one to a hibernating session is not answered until
//! the hibernation timeout (`smacks_hibernation_time`, 10 min by default).
//!
//! So goippy reports a failure twice, once in each form a user can receive:
//! * the **error** on the user's message, to the full JID that sent it, so
//!   that client marks the message failed — as long as it is online;
//! * a **note**: a chat message from the same contact JID, quoting the
//!   message and saying what happened ([`reply::outcome_note`]), to the
//!   bare JID, which Prosody stores and archives like any SMS.
//!
//! The note is always sent, not only when the session seems gone. Asking
//! first (a ping to the full JID) cannot answer in time: a hibernating
//! session, the common case of a phone that lost its network, answers only
//! at the timeout, when it would be too late to store the note for it. The
//! error also reaches only the device that sent the SMS, while the user's
//! other devices saw the SMS itself (carbons, the archive): only the note
//! tells them it failed. The price is one extra message per failure — never
//! more: each outcome is one inbox row, and its note's id is stable, so a
//! re-send after a reconnect is recognisable.
//!
//! Receipts need no twin: addressed to the full JID, as XEP-0184 wants,
//! they are stored like the note when that session is gone (third row).
//! One gap remains on Prosody's side: a note or receipt queued for a
//! hibernating session that a new session of the same user replaces before
//! the timeout is bounced to goippy and kept only in the user's archive.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};

use crate::config::ReceiptPolicy;
use crate::number::Sender;
use crate::store::{InboxItem, LogId, LogKind, NoticeRecord, OutboundRef, OutboxItem, widths};
use crate::xmpp::Addressing;
use crate::xmpp::failure::DeliveryFailure;
use crate::xmpp::node_escape::WITHHELD_NAME;
use crate::xmpp::reply::{self, InboundChat};

/// What a notice row tells the user (`goippy_log.notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// XEP-0184 receipt for the user's message (stored only when one is
    /// due): the GoIP sent the SMS, or answered the USSD code. (Named for
    /// its first use; the stored name stays.)
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

    /// A failure: an error on the user's message, and a note about it.
    fn is_failure(self) -> bool {
        !matches!(self, Notice::SmsSent | Notice::UssdAnswer | Notice::Chat)
    }
}

/// The notice reporting `what` about outbound job `item`: to the resource
/// that sent it (to its bare JID for a chat), from the JID it was sent to
/// (as the user wrote it: see [`stored_contact`]), about its message id.
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
        from: stored_contact(item.xmpp_to.as_deref(), &item.destination),
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

/// What a notice keeps of the contact its answer comes from: the JID the
/// user wrote to (`0037255512345@example.org`, `+37255512345@sms.example.org`)
/// when it fits the column, else its localpart (which [`answerer`] puts on
/// the data domain), else the destination. Rows from before goippy kept
/// whole JIDs hold a localpart too.
fn stored_contact(xmpp_to: Option<&str>, destination: &str) -> Option<String> {
    let written = xmpp_to.and_then(|to| BareJid::new(to).ok());
    written
        .as_ref()
        .filter(|jid| jid.node().is_some() && jid.as_str().chars().count() <= widths::NUMBER)
        .map(|jid| jid.to_string())
        .or_else(|| {
            written
                .as_ref()
                .and_then(|jid| jid.node().map(|n| n.as_str().to_string()))
        })
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
    /// The text of the message the row reports a failure of
    /// ([`reports_on`]), as the pump read it; `None` if it has none or the
    /// message is gone.
    pub reported_text: Option<&'a str>,
    /// What goes before a received SMS, naming the line it came to, for a
    /// user with several lines (`line_pool.rs`).
    pub line_tag: Option<&'a str>,
}

/// What to do with an inbox row.
#[derive(Debug)]
pub enum Rendered {
    /// Send these, in this order; then the row is delivered.
    Send(Vec<Stanza>),
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

/// The outbound message whose failure `item` reports (an outcome notice, a
/// "not delivered" delivery report): the note about it quotes its text,
/// which the pump reads for [`RenderEnv::reported_text`].
pub fn reports_on(item: &InboxItem) -> Option<LogId> {
    match item.kind {
        LogKind::Notice => {
            let info = item.notice.as_ref()?;
            let failure = Notice::parse(&info.what).is_some_and(Notice::is_failure);
            info.outbound.filter(|_| failure)
        }
        LogKind::DeliveryReport => {
            let report = item.report.as_ref()?;
            let out = report.outbound.as_ref().filter(|_| report.state != 0)?;
            Some(out.id)
        }
        _ => None,
    }
}

/// When the row's content reached goippy (an SMS) or happened (a notice).
pub(crate) fn received_at(item: &InboxItem) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(item.received_at.unix()).unwrap_or_default())
}

/// The stanzas for an inbox row.
pub fn render(item: &InboxItem, env: &RenderEnv<'_>) -> Rendered {
    let a = env.addressing;
    let received_at = received_at(item);
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
                // After the line tag, if there is one.
                format!("{}{}", env.line_tag.unwrap_or_default(), item.body),
            )
            .received_at(received_at);
            match &sender {
                Sender::Alphanumeric(name) if !name.is_empty() => {
                    chat = chat.sender_name(name.clone());
                }
                Sender::Withheld => chat = chat.sender_name(WITHHELD_NAME),
                _ => {}
            }
            send(chat.build(a.component()))
        }
        LogKind::Ussd | LogKind::NetworkUssd => {
            let Some(to) = env.recipient else {
                return Rendered::Wait("no user is mapped to this channel");
            };
            // From the line's own number, which names the line: no tag.
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
            delivery_report(item, env, out, report.state)
        }
        LogKind::Notice => notice(item, env),
    }
}

fn delivery_report(
    item: &InboxItem,
    env: &RenderEnv<'_>,
    out: &OutboundRef,
    state: i64,
) -> Rendered {
    let a = env.addressing;
    let Ok(user) = Jid::new(&out.xmpp_from) else {
        return Rendered::Nothing("the SMS's sender is not a valid JID");
    };
    let contact = answerer(
        a,
        stored_contact(out.xmpp_to.as_deref(), &out.destination).as_deref(),
    );
    if state != 0 {
        return failed(
            item,
            env,
            &contact,
            &user,
            out.xmpp_id.as_deref(),
            &DeliveryFailure::NotDelivered {
                state: state.to_string(),
            },
        );
    }
    match (&out.xmpp_id, env.receipts, out.receipt_requested) {
        (Some(id), ReceiptPolicy::Delivered, true) => {
            contact.send(reply::receipt(&contact.jid(), &user, id))
        }
        (None, _, _) => Rendered::Nothing("the SMS's message had no id to confirm"),
        (_, ReceiptPolicy::Sent, _) => Rendered::Nothing("receipts are given when sent"),
        (_, _, false) => Rendered::Nothing("no receipt was requested"),
    }
}

fn notice(item: &InboxItem, env: &RenderEnv<'_>) -> Rendered {
    let a = env.addressing;
    let Some(info) = &item.notice else {
        return Rendered::Nothing("notice without its details");
    };
    let Some(what) = Notice::parse(&info.what) else {
        return Rendered::Nothing("a notice of an unknown kind");
    };
    let Some(to) = item.xmpp_jid.as_deref().and_then(|j| Jid::new(j).ok()) else {
        return Rendered::Nothing("a notice without a valid addressee");
    };
    let contact = answerer(a, item.peer.as_deref());
    let about = info.about.as_deref();
    let seconds =
        || Duration::from_secs(info.code.and_then(|c| u64::try_from(c).ok()).unwrap_or(0));
    let text = item.body.clone();
    let failure = match what {
        Notice::SmsSent => {
            return match about {
                Some(id) => contact.send(reply::receipt(&contact.jid(), &to, id)),
                None => Rendered::Nothing("the SMS's message had no id to confirm"),
            };
        }
        Notice::UssdAnswer => {
            let text = if text.trim().is_empty() {
                "(the network ended the USSD session without an answer)".to_string()
            } else {
                text
            };
            let chat = InboundChat::ussd(contact.from.clone(), to, stanza_id(item), text);
            return contact.send(chat.build(a.component()));
        }
        Notice::Chat => {
            // Not an answer (a call): from the contact as any SMS is.
            let chat = InboundChat::sms(contact.from, to, stanza_id(item), text)
                .received_at(received_at(item));
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
    failed(item, env, &contact, &to, about, &failure)
}

/// A failure of the message `about` that `user` sent to `contact`: the
/// error on it, then the note a server keeps for a user who is offline
/// (see the module docs).
fn failed(
    item: &InboxItem,
    env: &RenderEnv<'_>,
    contact: &Answerer,
    user: &Jid,
    about: Option<&str>,
    failure: &DeliveryFailure,
) -> Rendered {
    let a = env.addressing;
    let error = reply::delivery_error(&contact.jid(), user, about, failure);
    let note = reply::outcome_note(
        contact.from.clone(),
        user.to_bare(),
        stanza_id(item),
        env.reported_text,
        failure,
    )
    .received_at(received_at(item))
    .build(a.component());
    contact.send_all(vec![error.into(), note.into()])
}

/// Where a stored answer comes from: the component JID goippy sends it
/// from, and the mark that makes mod_sms_alias deliver it from the JID the
/// user wrote to (see `crate::alias`).
#[derive(Debug, Clone)]
struct Answerer {
    from: BareJid,
    mark: Option<BareJid>,
}

impl Answerer {
    fn jid(&self) -> Jid {
        Jid::from(self.from.clone())
    }

    fn send(&self, stanza: impl Into<Stanza>) -> Rendered {
        self.send_all(vec![stanza.into()])
    }

    fn send_all(&self, mut stanzas: Vec<Stanza>) -> Rendered {
        if let Some(written) = &self.mark {
            reply::mark_answers(&mut stanzas, &self.jid(), written);
        }
        Rendered::Send(stanzas)
    }
}

/// The answerer for a stored contact ([`stored_contact`]): a whole JID the
/// user wrote to, answered from there; a localpart (a call's number, a row
/// from before whole JIDs were kept, one too long to keep) on the data
/// domain, without a mark, so the alias module shows it as it shows an SMS;
/// the component itself for none, or one goippy cannot send from.
fn answerer(a: &Addressing, stored: Option<&str>) -> Answerer {
    let component = || Answerer {
        from: a.component().clone(),
        mark: None,
    };
    match stored.map(str::trim).filter(|s| !s.is_empty()) {
        Some(jid) if jid.contains('@') => {
            let Some(written) = BareJid::new(jid).ok() else {
                return component();
            };
            match a.sender_for(&written) {
                Some(from) => Answerer {
                    mark: a.mark_for(&written).cloned(),
                    from,
                },
                None => component(),
            }
        }
        Some(node) => BareJid::new(&format!("{node}@{}", a.data_domain()))
            .map(|from| Answerer { from, mark: None })
            .unwrap_or_else(|_| component()),
        None => component(),
    }
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
    Rendered::Send(vec![stanza.into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alias;
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

    fn elements(r: Rendered) -> Vec<Element> {
        match r {
            Rendered::Send(stanzas) => stanzas.iter().map(Element::from).collect(),
            other => panic!("{other:?}"),
        }
    }

    /// The one stanza a row becomes.
    fn element(r: Rendered) -> Element {
        let mut all = elements(r);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    /// The error and the note a failure becomes.
    fn error_and_note(r: Rendered) -> (Element, Element) {
        let mut all = elements(r);
        assert_eq!(all.len(), 2, "{all:?}");
        let note = all.remove(1);
        (all.remove(0), note)
    }

    fn env<'a>(a: &'a Addressing, to: Option<&'a Jid>, receipts: ReceiptPolicy) -> RenderEnv<'a> {
        RenderEnv {
            addressing: a,
            receipts,
            recipient: to,
            reported_text: None,
            line_tag: None,
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
        // Not delivered: an error for the original id, requested or not,
        // and the note quoting the SMS.
        let undelivered = dlr(70, Some(outbound_ref(false)));
        assert_eq!(reports_on(&undelivered), Some(LogId(5)));
        let quoting = RenderEnv {
            reported_text: Some("are you there?"),
            ..delivered
        };
        let (e, note) = error_and_note(render(&undelivered, &quoting));
        assert_eq!(e.attr("type"), Some("error"));
        assert_eq!(e.attr("id"), Some("m1"));
        assert_eq!(e.attr("to"), Some("2001@example.org/phone"));
        let error = e.get_child("error", ns::DEFAULT_NS).expect("error");
        assert_eq!(error.attr("type"), Some("wait"));
        assert!(error.has_child("recipient-unavailable", ns::XMPP_STANZAS));
        assert!(error_text(&e).contains("state 70"));
        assert_eq!(note.attr("type"), Some("chat"));
        assert_eq!(note.attr("to"), Some("2001@example.org"), "the bare JID");
        assert_eq!(note.attr("from"), Some("0037255512345@sms.example.org"));
        assert_eq!(note.attr("id"), Some("goippy-in-42"));
        assert_eq!(body(&note), format!("> are you there?\n{}", error_text(&e)));
        // A receipt quotes nothing: no text is read for it.
        assert_eq!(reports_on(&dlr(0, Some(outbound_ref(true)))), None);
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
        assert_eq!(n.from.as_deref(), Some("+37255512345@sms.example.org"));
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
        let quoting = RenderEnv {
            reported_text: Some("hi\nthere"),
            ..e_env
        };
        for (what, text, code, condition, needle) in cases {
            let row = stored(for_outbound(&sms, what, text.into(), code));
            assert_eq!(reports_on(&row), Some(LogId(9)), "{what:?}");
            let (e, note) = error_and_note(render(&row, &quoting));
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
            // The note: a chat from the same contact to the bare JID,
            // quoting the SMS, saying what the error says, stamped.
            assert_eq!(note.attr("type"), Some("chat"), "{what:?}");
            assert_eq!(note.attr("from"), Some("+37255512345@sms.example.org"));
            assert_eq!(note.attr("to"), Some("2001@example.org"), "{what:?}");
            assert_eq!(note.attr("id"), Some("goippy-in-42"), "{what:?}");
            assert_eq!(body(&note), format!("> hi there\n{}", error_text(&e)));
            assert!(note.get_child("delay", ns::DELAY).is_some(), "{what:?}");
        }
        // The SMS no longer known: the note says what happened anyway.
        let (e, note) = error_and_note(render(
            &stored(for_outbound(
                &sms,
                Notice::SmsInterrupted,
                String::new(),
                None,
            )),
            &e_env,
        ));
        assert_eq!(body(&note), error_text(&e));
        // A receipt quotes nothing.
        let receipt = stored(for_outbound(&sms, Notice::SmsSent, String::new(), None));
        assert_eq!(reports_on(&receipt), None);
    }

    /// The JID in the `<addressed/>` mark of a stanza, if any.
    fn mark(e: &Element) -> Option<String> {
        e.get_child(alias::ADDRESSED_NAME, alias::ADDRESSED_NS)
            .and_then(|m| m.attr(alias::ADDRESSED_ATTR))
            .map(str::to_string)
    }

    #[test]
    fn answers_come_from_the_address_the_user_wrote_to() {
        let a = addressing();
        let quoting = RenderEnv {
            reported_text: Some("hi"),
            ..env(&a, None, ReceiptPolicy::Sent)
        };
        let mut sms = outbox_item(OutboundKind::Sms);
        // Written to an alias in another spelling: sent from the number's
        // JID, marked so that mod_sms_alias delivers it from the spelling.
        sms.xmpp_to = Some("0037255512345@example.org".into());
        let receipt = stored(for_outbound(&sms, Notice::SmsSent, String::new(), None));
        let e = element(render(&receipt, &quoting));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(mark(&e).as_deref(), Some("0037255512345@example.org"));
        let failed = stored(for_outbound(&sms, Notice::SmsFailed, "x".into(), None));
        let (e, note) = error_and_note(render(&failed, &quoting));
        for stanza in [&e, &note] {
            assert_eq!(stanza.attr("from"), Some("+37255512345@sms.example.org"));
            assert_eq!(mark(stanza).as_deref(), Some("0037255512345@example.org"));
        }
        // Written straight to goippy: from there, marked to stay there.
        sms.xmpp_to = Some("+37255512345@sms.example.org".into());
        let e = element(render(
            &stored(for_outbound(&sms, Notice::SmsSent, String::new(), None)),
            &quoting,
        ));
        assert_eq!(mark(&e).as_deref(), Some("+37255512345@sms.example.org"));
        // Without the alias module nothing is marked: nothing would remove it.
        let plain = Addressing::new(
            "example.org",
            "sms.example.org",
            "sms.example.org",
            crate::number::NumberRules::international_only(),
            false,
        )
        .expect("valid");
        let e = element(render(
            &stored(for_outbound(&sms, Notice::SmsSent, String::new(), None)),
            &env(&plain, None, ReceiptPolicy::Sent),
        ));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(mark(&e), None);
        // A row from before whole JIDs were kept: as then, unmarked.
        let mut legacy = stored(for_outbound(&sms, Notice::SmsSent, String::new(), None));
        legacy.peer = Some("+37255512345".into());
        let e = element(render(&legacy, &quoting));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(mark(&e), None);
        // A JID too long for the column keeps its localpart.
        sms.xmpp_to = Some(format!("+37255512345@{}.example.org", "x".repeat(60)));
        let n = for_outbound(&sms, Notice::SmsSent, String::new(), None);
        assert_eq!(n.from.as_deref(), Some("+37255512345"));
        // A call is no answer: from the number, unmarked.
        let user = BareJid::new("2001@example.org").expect("jid");
        let e = element(render(
            &stored(chat(
                "goip1",
                &user,
                Some("+37255512345".into()),
                "call".into(),
            )),
            &quoting,
        ));
        assert_eq!(mark(&e), None);
    }

    #[test]
    fn a_withheld_number_is_named_as_such() {
        let a = addressing();
        let user = jid("2001@example.org");
        for srcnum in [None, Some(""), Some("Anonymous")] {
            let e = element(render(
                &item(LogKind::Sms, srcnum, "who am I"),
                &env(&a, Some(&user), ReceiptPolicy::Delivered),
            ));
            assert_eq!(e.attr("from"), Some("withheld-number@sms.example.org"));
            assert_eq!(
                e.get_child("nick", ns::NICK).map(Element::text).as_deref(),
                Some("Withheld number"),
                "{srcnum:?}"
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
        let quoting = RenderEnv {
            reported_text: Some("*100#"),
            ..e_env
        };
        for (what, needle) in [
            (Notice::UssdFailed, "USSD request failed"),
            (Notice::UssdNoAnswer, "No USSD answer"),
            (Notice::UssdNotSent, "was not sent"),
        ] {
            let (e, note) = error_and_note(render(
                &stored(for_outbound(&ussd, what, "x".into(), Some(60))),
                &quoting,
            ));
            assert_eq!(e.attr("type"), Some("error"));
            assert_eq!(e.attr("id"), Some("m9"));
            assert!(error_text(&e).contains(needle), "{}", error_text(&e));
            assert_eq!(note.attr("from"), Some("+37255500000@sms.example.org"));
            assert_eq!(body(&note), format!("> *100#\n{}", error_text(&e)));
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
