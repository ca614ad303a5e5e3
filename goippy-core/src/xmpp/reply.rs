//! The messages goippy sends to users, and error replies to any stanza.
//!
//! * [`InboundChat`]: an SMS (or USSD answer) as a `chat` message from the
//!   contact JID. It carries a stable id chosen by the caller (so a re-send
//!   after a reconnect has the same id), an XEP-0203 delay stamp with the
//!   time the SMS really arrived (clients then show that time, not the time
//!   of a late delivery) and, for sender names, an XEP-0172 nickname with the
//!   original spelling that nodeprep folded away. It asks for no receipt and
//!   is not markable: nobody on the SMS side could learn about it.
//! * [`receipt`]: the XEP-0184 `<received/>` for a message the user sent.
//! * [`delivery_error`]: the error for a message the user sent earlier.
//! * [`outcome_note`]: the same news as a chat message quoting that
//!   message, which a server stores for a user who is offline (the error
//!   it drops; see `bridge/notice.rs`).
//! * [`refuse`]: answer a received stanza with an error,
//!   from the address it was sent to, to its sender, with its id.
//!
//! * [`mark_answers`]: the mark mod_sms_alias needs to deliver an answer
//!   from the JID the user wrote to (see [`crate::alias`]).
//!
//! All outside text goes through [`xml_safe`].

use std::time::SystemTime;

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::parsers::date::DateTime;
use tokio_xmpp::parsers::delay::Delay;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Lang, Message};
use tokio_xmpp::parsers::nick::Nick;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::receipts::Received;
use tokio_xmpp::parsers::stanza_error::StanzaError;

use crate::alias;

use super::failure::{DeliveryFailure, Refusal};
use super::intent::Envelope;
use super::link::StanzaKind;
use super::text::xml_safe;

/// What kind of text arrived from the GSM side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// An SMS: the body as received.
    Sms,
    /// A USSD answer or network-initiated USSD: the body gets `[USSD] `.
    Ussd,
}

/// The prefix that marks USSD text.
pub const USSD_PREFIX: &str = "[USSD] ";

/// A message from the GSM side to a user.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundChat {
    /// The contact JID (`+37255512345@sms.example.org`).
    pub from: BareJid,
    /// The user (`2001@example.org`).
    pub to: Jid,
    /// A stable id (e.g. derived from the inbox row).
    pub id: String,
    pub text: String,
    pub kind: ChatKind,
    /// When the SMS reached goippy: becomes an XEP-0203 delay stamp.
    pub received_at: Option<SystemTime>,
    /// The sender name as the network sent it ("Swedbank"), for display.
    pub sender_name: Option<String>,
}

impl InboundChat {
    /// An SMS from `from` to `to`.
    pub fn sms(from: BareJid, to: Jid, id: impl Into<String>, text: impl Into<String>) -> Self {
        InboundChat {
            from,
            to,
            id: id.into(),
            text: text.into(),
            kind: ChatKind::Sms,
            received_at: None,
            sender_name: None,
        }
    }

    /// A USSD text from `from` (the gateway's own number) to `to`.
    pub fn ussd(from: BareJid, to: Jid, id: impl Into<String>, text: impl Into<String>) -> Self {
        InboundChat {
            kind: ChatKind::Ussd,
            ..Self::sms(from, to, id, text)
        }
    }

    pub fn received_at(mut self, at: SystemTime) -> Self {
        self.received_at = Some(at);
        self
    }

    pub fn sender_name(mut self, name: impl Into<String>) -> Self {
        self.sender_name = Some(name.into());
        self
    }

    /// The message; `component` is named as the entity that delayed it.
    pub fn build(&self, component: &BareJid) -> Message {
        let body = match self.kind {
            ChatKind::Sms => xml_safe(&self.text).into_owned(),
            ChatKind::Ussd => format!("{USSD_PREFIX}{}", xml_safe(&self.text)),
        };
        let mut message = Message::chat(Some(self.to.clone())).with_body(Lang::new(), body);
        message.from = Some(Jid::from(self.from.clone()));
        message.id = Some(Id(xml_safe(&self.id).into_owned()));
        if let Some(at) = self.received_at {
            let stamp = chrono::DateTime::<chrono::Utc>::from(at).fixed_offset();
            message.payloads.push(
                Delay {
                    from: Some(Jid::from(component.clone())),
                    stamp: DateTime(stamp),
                    data: None,
                }
                .into(),
            );
        }
        if let Some(name) = &self.sender_name {
            message
                .payloads
                .push(Nick(xml_safe(name).into_owned()).into());
        }
        message
    }
}

/// A plain chat message (bot answers, notices) from `from` to `to`.
pub fn chat(from: &Jid, to: &Jid, text: &str) -> Message {
    let mut message =
        Message::chat(Some(to.clone())).with_body(Lang::new(), xml_safe(text).into_owned());
    message.from = Some(from.clone());
    message.id = Some(Id(new_id()));
    message
}

/// The XEP-0184 receipt for message `original_id` that `user` sent to `contact`.
pub fn receipt(contact: &Jid, user: &Jid, original_id: &str) -> Message {
    let mut message = Message::chat(Some(user.clone())).with_payload(Received {
        id: xml_safe(original_id).into_owned(),
    });
    message.from = Some(contact.clone());
    message.id = Some(Id(new_id()));
    message
}

/// The error for message `original_id` that `user` sent to `contact` and
/// that could not be delivered.
pub fn delivery_error(
    contact: &Jid,
    user: &Jid,
    original_id: Option<&str>,
    failure: &DeliveryFailure,
) -> Message {
    message_error(contact, user, original_id, failure.stanza_error())
}

/// How many characters of the user's message an [`outcome_note`] quotes.
pub const QUOTE_CHARS: usize = 60;

/// The chat message telling `user` what became of the message they sent to
/// `contact`: a quote of it ([`quote`]), then the text of `failure` (the
/// one its [`delivery_error`] carries). From the contact, to the user's
/// bare JID, so that it reaches every device and is stored for a user with
/// none online; `quoted` is `None` when the message is no longer known.
/// [`InboundChat::received_at`] can stamp it with when the outcome came.
pub fn outcome_note(
    contact: BareJid,
    user: BareJid,
    id: impl Into<String>,
    quoted: Option<&str>,
    failure: &DeliveryFailure,
) -> InboundChat {
    let what = failure.to_string();
    let text = match quoted.map(quote).filter(|q| !q.is_empty()) {
        Some(q) => format!("> {q}\n{what}"),
        None => what,
    };
    InboundChat::sms(contact, Jid::from(user), id, text)
}

/// `text` as a one-line quote: every run of white space (line breaks too)
/// one space, at most [`QUOTE_CHARS`] characters, `…` where it was cut.
pub fn quote(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
        None => line,
    }
}

/// A `type='error'` message carrying `error`.
pub fn message_error(from: &Jid, to: &Jid, id: Option<&str>, error: StanzaError) -> Message {
    let mut message = Message::error(Some(to.clone())).with_payload(error);
    message.from = Some(from.clone());
    message.id = id.map(|id| Id(xml_safe(id).into_owned()));
    message
}

/// Answers a received stanza with the error for `refusal`: from where it
/// was sent to, to its sender, with its id and kind.
pub fn refuse(env: &Envelope, kind: StanzaKind, refusal: &Refusal) -> Stanza {
    let error = refusal.stanza_error();
    error_stanza(&env.to, &env.from, env.id.as_deref(), kind, error)
}

/// An error stanza of `kind` from `from` to `to`.
pub fn error_stanza(
    from: &Jid,
    to: &Jid,
    id: Option<&str>,
    kind: StanzaKind,
    error: StanzaError,
) -> Stanza {
    match kind {
        StanzaKind::Message => message_error(from, to, id, error).into(),
        StanzaKind::Iq => Iq::from_error(id.unwrap_or_default(), error)
            .with_from(from.clone())
            .with_to(to.clone())
            .into(),
        StanzaKind::Presence => {
            let mut presence = Presence::new(PresenceType::Error)
                .with_from(from.clone())
                .with_to(to.clone())
                .with_payload(error);
            presence.id = id.map(str::to_string);
            presence.into()
        }
    }
}

/// Marks each of `stanzas` that comes from `from` (the address a stanza
/// was sent to; compared without resource) with the JID the user wrote to,
/// `written`, so that mod_sms_alias delivers it from there. An iq cannot
/// carry the mark (its reader takes exactly one payload): the module
/// remembers the iqs it forwards instead.
pub fn mark_answers(stanzas: &mut [Stanza], from: &Jid, written: &BareJid) {
    let from = from.to_bare();
    for stanza in stanzas {
        let (sender, payloads) = match stanza {
            Stanza::Message(m) => (m.from.as_ref(), &mut m.payloads),
            Stanza::Presence(p) => (p.from.as_ref(), &mut p.payloads),
            Stanza::Iq(_) => continue,
        };
        if sender.is_some_and(|s| s.to_bare() == from) {
            payloads.push(addressed(written));
        }
    }
}

/// `<addressed xmlns='…' jid='…'/>` naming `written`.
pub fn addressed(written: &BareJid) -> Element {
    let mark = Element::builder(alias::ADDRESSED_NAME, alias::ADDRESSED_NS);
    // A constant name: the conversion cannot fail (a unit test checks).
    match NcName::try_from(alias::ADDRESSED_ATTR) {
        Ok(name) => mark.attr(name, written.as_str()).build(),
        Err(_) => mark.build(),
    }
}

/// A fresh stanza id for what goippy originates.
pub fn new_id() -> String {
    format!("goippy-{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::xmpp::address::Target;
    use crate::xmpp::testing::{element, parse_stanza, xml};
    use tokio_xmpp::parsers::message::MessageType;
    use tokio_xmpp::parsers::ns;

    /// The first child element of `message` named `name` in `namespace`.
    fn payload<'a>(message: &'a Message, name: &str, namespace: &str) -> Option<&'a Element> {
        message.payloads.iter().find(|p| p.is(name, namespace))
    }
    use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType};

    fn jid(s: &str) -> Jid {
        Jid::new(s).expect("valid jid")
    }

    fn bare(s: &str) -> BareJid {
        BareJid::new(s).expect("valid jid")
    }

    #[test]
    fn an_sms_becomes_a_chat_message() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let m = InboundChat::sms(
            bare("+37255512345@sms.example.org"),
            jid("2001@example.org"),
            "in-42",
            "Tere\u{0}!",
        )
        .received_at(at)
        .build(&bare("sms.example.org"));
        assert_eq!(m.type_, MessageType::Chat);
        assert_eq!(m.from, Some(jid("+37255512345@sms.example.org")));
        assert_eq!(m.to, Some(jid("2001@example.org")));
        assert_eq!(m.id, Some(Id("in-42".into())));
        assert_eq!(
            m.get_best_body(vec![]).map(|(_, b)| b.as_str()),
            Some("Tere\u{FFFD}!")
        );
        let delay = payload(&m, "delay", ns::DELAY).expect("delay stamp");
        assert_eq!(delay.attr("stamp"), Some("2023-11-14T22:13:20+00:00"));
        assert_eq!(delay.attr("from"), Some("sms.example.org"));
        assert!(payload(&m, "request", ns::RECEIPTS).is_none());
        let text = xml(m);
        assert!(text.contains("type='chat'"), "{text}");
    }

    #[test]
    fn ussd_is_prefixed_and_names_travel_as_nicknames() {
        let m = InboundChat::ussd(
            bare("+37255500000@sms.example.org"),
            jid("2001@example.org"),
            "u1",
            "Balance 5 EUR",
        )
        .build(&bare("sms.example.org"));
        assert_eq!(
            m.get_best_body(vec![]).map(|(_, b)| b.as_str()),
            Some("[USSD] Balance 5 EUR")
        );
        let m = InboundChat::sms(
            bare("swedbank@sms.example.org"),
            jid("2001@example.org"),
            "s1",
            "Code 1234",
        )
        .sender_name("Swedbank")
        .build(&bare("sms.example.org"));
        assert_eq!(
            payload(&m, "nick", ns::NICK).map(Element::text).as_deref(),
            Some("Swedbank")
        );
    }

    #[test]
    fn receipts_and_delivery_errors_name_the_original_message() {
        let contact = jid("+37255512345@sms.example.org");
        let user = jid("2001@example.org/phone");
        let r = receipt(&contact, &user, "m1");
        let received = payload(&r, "received", ns::RECEIPTS).expect("received");
        assert_eq!(received.attr("id"), Some("m1"));
        assert_eq!(r.from.as_ref(), Some(&contact));
        assert_eq!(r.to.as_ref(), Some(&user));
        assert!(r.id.is_some());

        let e = delivery_error(
            &contact,
            &user,
            Some("m1"),
            &DeliveryFailure::NotDelivered { state: "3".into() },
        );
        assert_eq!(e.type_, MessageType::Error);
        assert_eq!(e.id, Some(Id("m1".into())));
        let error = payload(&e, "error", ns::DEFAULT_NS).expect("error");
        let error = StanzaError::try_from(error.clone()).expect("valid error");
        assert_eq!(error.type_, ErrorType::Wait);
        assert_eq!(
            error.defined_condition,
            DefinedCondition::RecipientUnavailable
        );
    }

    #[test]
    fn an_outcome_note_quotes_the_message_and_says_what_happened() {
        let failure = DeliveryFailure::Failed {
            reason: "errorstatus 38".into(),
        };
        let m = outcome_note(
            bare("0037255512345@sms.example.org"),
            bare("2001@example.org"),
            "goippy-in-7",
            Some("Meet me\n  at 5"),
            &failure,
        )
        .build(&bare("sms.example.org"));
        assert_eq!(m.type_, MessageType::Chat);
        assert_eq!(m.from, Some(jid("0037255512345@sms.example.org")));
        assert_eq!(m.to, Some(jid("2001@example.org")));
        assert_eq!(m.id, Some(Id("goippy-in-7".into())));
        let error_text = failure.stanza_error().texts.into_values().next();
        assert_eq!(
            m.get_best_body(vec![]).map(|(_, b)| b.clone()),
            error_text.map(|t| format!("> Meet me at 5\n{t}"))
        );
        assert!(payload(&m, "request", ns::RECEIPTS).is_none());
        // Without the message, only what happened.
        let m = outcome_note(
            bare("+1@sms.example.org"),
            bare("2001@example.org"),
            "n",
            None,
            &DeliveryFailure::Interrupted,
        )
        .build(&bare("sms.example.org"));
        assert!(
            m.get_best_body(vec![])
                .is_some_and(|(_, b)| b.starts_with("goippy restarted"))
        );
    }

    #[test]
    fn quotes_are_one_short_line() {
        assert_eq!(quote("  a\n\tb  c "), "a b c");
        assert_eq!(quote(""), "");
        let long = "ü".repeat(QUOTE_CHARS + 5);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert!(q.ends_with('…'));
        let exact = "x".repeat(QUOTE_CHARS);
        assert_eq!(quote(&exact), exact);
        // Cut at a word's end: no space before the ellipsis.
        let spaced = format!("{} tail", "y".repeat(QUOTE_CHARS - 1));
        assert_eq!(quote(&spaced), format!("{}…", "y".repeat(QUOTE_CHARS - 1)));
    }

    #[test]
    fn error_replies_swap_addresses_and_keep_the_id() {
        let env = Envelope {
            from: jid("2001@example.org/phone"),
            to: jid("+37255512345@sms.example.org"),
            id: Some("q1".into()),
            target: Target::Contact {
                node: "+37255512345".into(),
            },
            written: bare("+37255512345@sms.example.org"),
        };
        for kind in [StanzaKind::Message, StanzaKind::Iq, StanzaKind::Presence] {
            let reply = refuse(&env, kind, &Refusal::SenderNotAllowed);
            let e = element(reply);
            assert_eq!(
                e.attr("from"),
                Some("+37255512345@sms.example.org"),
                "{kind:?}"
            );
            assert_eq!(e.attr("to"), Some("2001@example.org/phone"), "{kind:?}");
            assert_eq!(e.attr("id"), Some("q1"), "{kind:?}");
            assert_eq!(e.attr("type"), Some("error"), "{kind:?}");
            let error = e.get_child("error", ns::DEFAULT_NS).expect("error child");
            assert!(error.has_child("forbidden", ns::XMPP_STANZAS), "{kind:?}");
            // It reads back as the same kind of stanza.
            let back = parse_stanza(&String::from(&e));
            assert_eq!(
                matches!(back, Stanza::Message(_)),
                kind == StanzaKind::Message
            );
        }
    }

    #[test]
    fn answers_from_the_address_written_to_are_marked() {
        let contact = jid("+37255512345@sms.example.org");
        let user = jid("2001@example.org/phone");
        let written = bare("0037255512345@example.org");
        let mut stanzas: Vec<Stanza> = vec![
            receipt(&contact, &user, "m1").into(),
            chat(&jid("+37255512345@sms.example.org/x"), &user, "hi").into(),
            chat(&jid("sms.example.org"), &user, "not an answer from there").into(),
            Presence::new(PresenceType::Subscribed)
                .with_from(contact.clone())
                .with_to(user.clone())
                .into(),
            Iq::Result {
                from: Some(contact.clone()),
                to: Some(user.clone()),
                id: "i1".into(),
                payload: None,
            }
            .into(),
        ];
        mark_answers(&mut stanzas, &contact, &written);
        let marks: Vec<Option<String>> = stanzas
            .into_iter()
            .map(|s| {
                element(s)
                    .get_child(alias::ADDRESSED_NAME, alias::ADDRESSED_NS)
                    .and_then(|m| m.attr(alias::ADDRESSED_ATTR).map(str::to_string))
            })
            .collect();
        let w = Some(written.to_string());
        assert_eq!(marks, vec![w.clone(), w.clone(), None, w, None]);
    }

    #[test]
    fn chat_messages_get_fresh_ids() {
        let a = chat(&jid("+1@sms.example.org"), &jid("2001@example.org"), "hi");
        let b = chat(&jid("+1@sms.example.org"), &jid("2001@example.org"), "hi");
        assert_ne!(a.id, b.id);
    }
}
