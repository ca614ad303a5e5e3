//! The stanzas goippy answers the same way for everyone.
//!
//! Disco, XEP-0100, pings, unsupported iqs, unreadable stanzas, encrypted
//! and group chat messages, signals and errors need no store and no
//! decision about the sender, so [`answer`] settles them from the intent
//! alone. Everything else (a message to a number, presence, an ad-hoc
//! command that could be read) is the bridge's business: for those `answer`
//! returns `None`. So is disco about ad-hoc commands, whose answer depends
//! on the requester: the bridge asks before it calls `answer`.

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use super::address::Addressing;
use super::disco;
use super::failure::Refusal;
use super::gateway;
use super::intent::{Intent, UnsupportedMessage};
use super::link::{Malformed, StanzaKind};
use super::reply::{error_stanza, refuse};

/// What to do with a stanza [`answer`] settled.
#[derive(Debug)]
pub enum Handled {
    /// Send these, in order.
    Reply(Vec<Stanza>),
    /// Send nothing; the reason is for a debug log line.
    Ignore(&'static str),
}

/// Settles `intent` if it needs no business decision.
pub fn answer(intent: &Intent, addressing: &Addressing) -> Option<Handled> {
    let reply = |stanza: Stanza| Some(Handled::Reply(vec![stanza]));
    match intent {
        Intent::DiscoInfo { env, node } => reply(disco::info(env, node.as_deref(), &[]).into()),
        Intent::DiscoItems { env, node } => reply(disco::items(env, node.as_deref()).into()),
        Intent::GatewayPromptGet { env } => reply(gateway::prompt(env, addressing).into()),
        Intent::GatewayPromptSet { env, prompt } => {
            reply(gateway::answer(env, prompt.as_deref(), addressing).into())
        }
        Intent::Ping { env } => reply(env.iq_result(None).into()),
        Intent::UnsupportedIq { env, .. } => {
            reply(refuse(env, StanzaKind::Iq, &Refusal::UnsupportedIq))
        }
        Intent::Encrypted { env } => reply(refuse(env, StanzaKind::Message, &Refusal::Encrypted)),
        Intent::UnsupportedMessage { env, why } => {
            let refusal = match why {
                UnsupportedMessage::GroupChat => Refusal::GroupChat,
                UnsupportedMessage::Unroutable => Refusal::Unroutable {
                    to: env.to.to_string(),
                },
            };
            reply(refuse(env, StanzaKind::Message, &refusal))
        }
        Intent::Malformed(m) => match malformed_reply(m, addressing) {
            Some(stanza) => reply(stanza),
            None => Some(Handled::Ignore("unanswerable malformed stanza")),
        },
        Intent::ErrorStanza { .. } => Some(Handled::Ignore("error stanzas are never answered")),
        Intent::IqResult { .. } => Some(Handled::Ignore("iq result")),
        Intent::Signal { .. } => Some(Handled::Ignore("chat state, marker or empty message")),
        Intent::ReceiptFromUser { .. } => Some(Handled::Ignore("receipt from a user")),
        Intent::Command {
            env,
            request: Err(refusal),
        } => reply(refuse(env, StanzaKind::Iq, refusal)),
        Intent::ChatToContact(_)
        | Intent::ChatToComponent { .. }
        | Intent::Presence { .. }
        | Intent::Command { .. } => None,
    }
}

/// `bad-request` for a stanza that could not be read, when RFC 6120 allows
/// an answer. It comes from the address the stanza was sent to, or from the
/// component when that address itself was unreadable.
fn malformed_reply(m: &Malformed, addressing: &Addressing) -> Option<Stanza> {
    if !m.answerable() {
        return None;
    }
    let to = m.from.as_ref()?;
    let from =
        m.to.clone()
            .unwrap_or_else(|| Jid::from(addressing.component().clone()));
    let refusal = Refusal::BadRequest {
        detail: m.error.clone(),
    };
    Some(error_stanza(
        &from,
        to,
        m.id.as_deref(),
        m.kind,
        refusal.stanza_error(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::intent::classify;
    use crate::xmpp::link::{Inbound, Malformed};
    use crate::xmpp::testing::{addressing, element, invalid_message, parse_stanza};
    use tokio_xmpp::parsers::ns;

    fn handle(xml: &str) -> Option<Handled> {
        let intent = classify(Inbound::Stanza(parse_stanza(xml)), &addressing());
        answer(&intent, &addressing())
    }

    fn single_reply(handled: Option<Handled>) -> tokio_xmpp::minidom::Element {
        match handled {
            Some(Handled::Reply(mut stanzas)) if stanzas.len() == 1 => element(stanzas.remove(0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pings_are_answered() {
        let e = single_reply(handle(
            "<iq from='2001@example.org/a' to='sms.example.org' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
        ));
        assert_eq!(e.attr("type"), Some("result"));
        assert_eq!(e.attr("id"), Some("p1"));
        assert_eq!(e.attr("from"), Some("sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org/a"));
    }

    #[test]
    fn unknown_iqs_get_service_unavailable() {
        let e = single_reply(handle(
            "<iq from='2001@example.org/a' to='sms.example.org' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>",
        ));
        assert_eq!(e.attr("type"), Some("error"));
        let error = e.get_child("error", ns::DEFAULT_NS).expect("error");
        assert!(error.has_child("service-unavailable", ns::XMPP_STANZAS));
    }

    #[test]
    fn encrypted_and_group_messages_are_refused() {
        let e = single_reply(handle(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' id='e1' type='chat'><body>x</body><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>",
        ));
        assert_eq!(e.attr("type"), Some("error"));
        assert_eq!(e.attr("id"), Some("e1"));
        assert!(
            e.get_child("error", ns::DEFAULT_NS)
                .is_some_and(|err| err.has_child("not-acceptable", ns::XMPP_STANZAS))
        );
        let e = single_reply(handle(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='groupchat'><body>x</body></message>",
        ));
        assert_eq!(e.attr("type"), Some("error"));
    }

    #[test]
    fn silence_for_errors_signals_and_results() {
        for xml in [
            "<message from='2001@example.org' to='+37255512345@sms.example.org' type='error'/>",
            "<message from='2001@example.org' to='+37255512345@sms.example.org'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
            "<iq from='example.org' to='sms.example.org' id='r' type='result'/>",
            "<message from='2001@example.org' to='+37255512345@sms.example.org'><received xmlns='urn:xmpp:receipts' id='x'/></message>",
        ] {
            assert!(matches!(handle(xml), Some(Handled::Ignore(_))), "{xml}");
        }
    }

    #[test]
    fn business_is_left_to_the_bridge() {
        for xml in [
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='chat'><body>hi</body></message>",
            "<presence from='2001@example.org' to='+37255512345@sms.example.org' type='probe'/>",
        ] {
            assert!(handle(xml).is_none(), "{xml}");
        }
    }

    #[test]
    fn malformed_stanzas_get_bad_request_unless_unanswerable() {
        let invalid = invalid_message();
        let intent = classify(Inbound::Invalid(invalid.clone()), &addressing());
        let e = single_reply(answer(&intent, &addressing()));
        assert_eq!(e.name(), "message");
        assert_eq!(e.attr("type"), Some("error"));
        assert_eq!(e.attr("id"), Some("b1"));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org/a"));
        assert!(String::from(&e).contains("bad-request"));

        // The link keeps no `to` that is not a JID.
        let unreadable_to = Malformed {
            kind: StanzaKind::Iq,
            to: None,
            type_: Some("get".into()),
            ..invalid.clone()
        };
        let intent = classify(Inbound::Invalid(unreadable_to), &addressing());
        let e = single_reply(answer(&intent, &addressing()));
        assert_eq!(e.name(), "iq");
        assert_eq!(e.attr("from"), Some("sms.example.org"));

        let error = Malformed {
            type_: Some("error".into()),
            ..invalid
        };
        let intent = classify(Inbound::Invalid(error), &addressing());
        assert!(matches!(
            answer(&intent, &addressing()),
            Some(Handled::Ignore(_))
        ));
    }
}
