//! What an inbound stanza asks for, decided before anything is done about it.
//!
//! [`classify`] is a pure function from what the link read ([`Inbound`]) to
//! an [`Intent`]. It looks only at the stanza and goippy's addressing, never
//! at the store: whether the sender may send SMS, whether a number is a
//! gateway's own MSISDN (bot and USSD) and whether a channel is online are
//! the bridge's decisions, so each intent carries what those need (the
//! sender's full JID, the addressed localpart, the destination parsed by
//! [`NumberRules::parse_destination`](crate::number::NumberRules::parse_destination)).
//!
//! Rules that protect users and the GSM side live here, once:
//! * only a message with a (non-blank) body can become an SMS; chat states,
//!   receipts, markers and headlines are [`Intent::Signal`] or
//!   [`Intent::ReceiptFromUser`] and are dropped silently;
//! * an encrypted message (OMEMO, OpenPGP, OTR) is never forwarded: its body
//!   is only a fallback text such as "I sent you an OMEMO encrypted message";
//! * stanzas of type `error` (and iq results) are never answered;
//! * bodies are read with `get_best_body`, because Prosody stamps `xml:lang`
//!   on what it forwards.

// A `Malformed` is built at most once per stanza and consumed at once:
// boxing the `Err` of the classifiers would only add an allocation.
#![allow(clippy::result_large_err)]

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::StanzaError;

use crate::alias;
use crate::number::{Destination, NumberError};

use super::address::{Addressing, Target};
use super::adhoc::{self, CommandRequest, NS_COMMANDS};
use super::failure::Refusal;
use super::link::{Inbound, Malformed, StanzaKind};

/// XEP-0100's namespace (xmpp-parsers has no module for it).
pub const NS_GATEWAY: &str = "jabber:iq:gateway";
/// XEP-0384 OMEMO, current version.
pub const NS_OMEMO: &str = "urn:xmpp:omemo:2";
/// XEP-0027, legacy OpenPGP.
pub const NS_LEGACY_PGP: &str = "jabber:x:encrypted";

/// Who sent a stanza, to whom, with which id.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The sender as Prosody stamped it (a full JID for a client).
    pub from: Jid,
    /// The address the stanza was sent to; replies come from here.
    pub to: Jid,
    pub id: Option<String>,
    /// What `to` means to goippy.
    pub target: Target,
    /// The JID the user wrote to: `to`, or the spelling on the users'
    /// domain mod_sms_alias re-addressed to `to` (see
    /// [`Addressing::written_to`]). Answers, also later ones, come from it.
    pub written: BareJid,
}

impl Envelope {
    /// The sender without resource (`2001@example.org`).
    pub fn sender(&self) -> BareJid {
        self.from.to_bare()
    }

    /// The iq result answering this stanza: from the address it was sent
    /// to, to its sender, with its id.
    pub fn iq_result(&self, payload: Option<Element>) -> Iq {
        Iq::Result {
            from: Some(self.to.clone()),
            to: Some(self.from.clone()),
            id: self.id.clone().unwrap_or_default(),
            payload,
        }
    }

    /// The iq error answering this stanza with `refusal`.
    pub fn iq_refusal(&self, refusal: &Refusal) -> Iq {
        Iq::from_error(self.id.clone().unwrap_or_default(), refusal.stanza_error())
            .with_from(self.to.clone())
            .with_to(self.from.clone())
    }
}

/// A message with a body to a contact JID: a candidate SMS, bot command or USSD.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatToContact {
    pub env: Envelope,
    /// The addressed localpart (`+37255512345`, `1345`, `swedbank`).
    pub node: String,
    /// That localpart read as an SMS destination (`00…` already became `+…`);
    /// an error for sender names and malformed numbers.
    pub destination: Result<Destination, NumberError>,
    pub body: String,
    /// The sender asked for an XEP-0184 receipt.
    pub receipt_requested: bool,
    /// XEP-0308: the id of the message this one corrects.
    pub corrects: Option<String>,
}

/// Why a message without anything to forward is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatSignal {
    /// XEP-0085 chat state (composing, active…).
    ChatState,
    /// XEP-0333 chat marker (displayed…).
    Marker,
    /// A `headline` message (never answered, never forwarded).
    Headline,
    /// No body and nothing goippy knows.
    Empty,
}

/// The presence types goippy reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceKind {
    Available,
    Unavailable,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    Probe,
}

/// Why a message cannot be handled at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsupportedMessage {
    /// `type='groupchat'`: contacts are not rooms.
    GroupChat,
    /// Addressed to a JID goippy does not serve.
    Unroutable,
}

/// What an inbound stanza asks goippy to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// A message with a body to a contact JID.
    ChatToContact(ChatToContact),
    /// A message with a body to the component itself.
    ChatToComponent {
        env: Envelope,
        body: String,
    },
    /// An end-to-end encrypted message: cannot become an SMS.
    Encrypted {
        env: Envelope,
    },
    /// Nothing to forward; dropped silently.
    Signal {
        env: Envelope,
        signal: ChatSignal,
    },
    /// The user's client confirms one of goippy's messages (XEP-0184).
    ReceiptFromUser {
        env: Envelope,
        received_id: Option<String>,
    },
    /// A stanza of type `error`: logged, never answered.
    ErrorStanza {
        env: Envelope,
        kind: StanzaKind,
        error: Option<StanzaError>,
    },
    /// An iq result (goippy sends no iq the link does not consume itself).
    IqResult {
        env: Envelope,
    },
    /// XEP-0030 info request; `node` is the requested disco node.
    DiscoInfo {
        env: Envelope,
        node: Option<String>,
    },
    /// XEP-0030 items request.
    DiscoItems {
        env: Envelope,
        node: Option<String>,
    },
    /// XEP-0100: "what do I type to add a contact?"
    GatewayPromptGet {
        env: Envelope,
    },
    /// XEP-0100: "which JID is this phone number?"
    GatewayPromptSet {
        env: Envelope,
        prompt: Option<String>,
    },
    /// XEP-0199 ping.
    Ping {
        env: Envelope,
    },
    /// XEP-0050 ad-hoc command request (an iq set), or why it cannot be read.
    Command {
        env: Envelope,
        request: Result<CommandRequest, Refusal>,
    },
    Presence {
        env: Envelope,
        kind: PresenceKind,
    },
    /// A get/set iq goippy does not implement.
    UnsupportedIq {
        env: Envelope,
        payload: String,
    },
    UnsupportedMessage {
        env: Envelope,
        why: UnsupportedMessage,
    },
    /// A stanza that could not be parsed, or lacks `from`/`to`.
    Malformed(Malformed),
}

impl Intent {
    /// The envelope of the stanza this intent was read from, if it had one.
    pub fn envelope(&self) -> Option<&Envelope> {
        match self {
            Intent::ChatToContact(chat) => Some(&chat.env),
            Intent::ChatToComponent { env, .. }
            | Intent::Encrypted { env }
            | Intent::Signal { env, .. }
            | Intent::ReceiptFromUser { env, .. }
            | Intent::ErrorStanza { env, .. }
            | Intent::IqResult { env }
            | Intent::DiscoInfo { env, .. }
            | Intent::DiscoItems { env, .. }
            | Intent::GatewayPromptGet { env }
            | Intent::GatewayPromptSet { env, .. }
            | Intent::Ping { env }
            | Intent::Command { env, .. }
            | Intent::Presence { env, .. }
            | Intent::UnsupportedIq { env, .. }
            | Intent::UnsupportedMessage { env, .. } => Some(env),
            Intent::Malformed(_) => None,
        }
    }
}

/// Decides what `inbound` asks for.
pub fn classify(inbound: Inbound, addressing: &Addressing) -> Intent {
    let intent = match inbound {
        Inbound::Invalid(malformed) => Err(malformed),
        Inbound::Stanza(Stanza::Message(m)) => classify_message(m, addressing),
        Inbound::Stanza(Stanza::Iq(iq)) => classify_iq(iq, addressing),
        Inbound::Stanza(Stanza::Presence(p)) => classify_presence(p, addressing),
    };
    intent.unwrap_or_else(Intent::Malformed)
}

/// The envelope, or why the stanza is malformed (an address is missing).
/// `payloads` may hold mod_sms_alias's mark of the JID the user wrote to.
fn envelope(
    kind: StanzaKind,
    from: Option<Jid>,
    to: Option<Jid>,
    id: Option<String>,
    type_: &str,
    payloads: &[Element],
    addressing: &Addressing,
) -> Result<Envelope, Malformed> {
    match (from, to) {
        (Some(from), Some(to)) => Ok(Envelope {
            target: addressing.target(&to),
            written: addressing.written_to(&to, addressed_mark(payloads)),
            from,
            to,
            id,
        }),
        (from, to) => Err(Malformed {
            kind,
            error: format!(
                "missing '{}' address",
                if from.is_none() { "from" } else { "to" }
            ),
            from,
            to,
            id,
            type_: Some(type_.to_string()),
        }),
    }
}

fn classify_message(m: Message, addressing: &Addressing) -> Result<Intent, Malformed> {
    let type_name = match m.type_ {
        MessageType::Chat => "chat",
        MessageType::Error => "error",
        MessageType::Groupchat => "groupchat",
        MessageType::Headline => "headline",
        MessageType::Normal => "normal",
    };
    let id = m.id.as_ref().map(|id| id.0.clone());
    let env = envelope(
        StanzaKind::Message,
        m.from.clone(),
        m.to.clone(),
        id,
        type_name,
        &m.payloads,
        addressing,
    )?;
    match m.type_ {
        MessageType::Error => {
            return Ok(Intent::ErrorStanza {
                env,
                kind: StanzaKind::Message,
                error: payload_error(&m.payloads),
            });
        }
        MessageType::Headline => {
            return Ok(Intent::Signal {
                env,
                signal: ChatSignal::Headline,
            });
        }
        MessageType::Groupchat => {
            return Ok(Intent::UnsupportedMessage {
                env,
                why: UnsupportedMessage::GroupChat,
            });
        }
        MessageType::Chat | MessageType::Normal => {}
    }
    let body = m
        .get_best_body(vec![])
        .map(|(_, body)| body.clone())
        .filter(|body| !body.trim().is_empty());
    let Some(body) = body else {
        if let Some(received) = find(&m.payloads, "received", ns::RECEIPTS) {
            return Ok(Intent::ReceiptFromUser {
                env,
                received_id: received.attr("id").map(str::to_string),
            });
        }
        let signal = if m.payloads.iter().any(|p| p.has_ns(ns::CHATSTATES)) {
            ChatSignal::ChatState
        } else if m.payloads.iter().any(|p| p.has_ns(ns::DISPLAYED_MARKERS)) {
            ChatSignal::Marker
        } else {
            ChatSignal::Empty
        };
        return Ok(Intent::Signal { env, signal });
    };
    if is_encrypted(&m.payloads, &body) {
        return Ok(Intent::Encrypted { env });
    }
    Ok(match env.target.clone() {
        Target::Contact { node } => Intent::ChatToContact(ChatToContact {
            destination: addressing.numbers().parse_destination(&node),
            node,
            receipt_requested: find(&m.payloads, "request", ns::RECEIPTS).is_some(),
            corrects: find(&m.payloads, "replace", ns::MESSAGE_CORRECT)
                .and_then(|r| r.attr("id"))
                .map(str::to_string),
            body,
            env,
        }),
        Target::Component => Intent::ChatToComponent { env, body },
        Target::Elsewhere => Intent::UnsupportedMessage {
            env,
            why: UnsupportedMessage::Unroutable,
        },
    })
}

fn classify_iq(iq: Iq, addressing: &Addressing) -> Result<Intent, Malformed> {
    let (type_name, payload) = match &iq {
        Iq::Get { payload, .. } => ("get", Some(payload)),
        Iq::Set { payload, .. } => ("set", Some(payload)),
        Iq::Result { .. } => ("result", None),
        Iq::Error { .. } => ("error", None),
    };
    let env = envelope(
        StanzaKind::Iq,
        iq.from().cloned(),
        iq.to().cloned(),
        Some(iq.id().to_string()),
        type_name,
        &[],
        addressing,
    )?;
    let Some(payload) = payload else {
        return Ok(match iq {
            Iq::Error { error, .. } => Intent::ErrorStanza {
                env,
                kind: StanzaKind::Iq,
                error: Some(error),
            },
            _ => Intent::IqResult { env },
        });
    };
    let node = || payload.attr("node").map(str::to_string);
    let is_get = type_name == "get";
    Ok(if is_get && payload.is("query", ns::DISCO_INFO) {
        Intent::DiscoInfo { node: node(), env }
    } else if is_get && payload.is("query", ns::DISCO_ITEMS) {
        Intent::DiscoItems { node: node(), env }
    } else if is_get && payload.is("ping", ns::PING) {
        Intent::Ping { env }
    } else if type_name == "set" && payload.is("command", NS_COMMANDS) {
        Intent::Command {
            request: adhoc::parse(payload),
            env,
        }
    } else if payload.is("query", NS_GATEWAY) && env.target == Target::Component {
        if is_get {
            Intent::GatewayPromptGet { env }
        } else {
            let prompt = payload
                .children()
                .find(|c| c.name() == "prompt")
                .map(Element::text);
            Intent::GatewayPromptSet { env, prompt }
        }
    } else {
        Intent::UnsupportedIq {
            payload: format!("{{{}}}{}", payload.ns(), payload.name()),
            env,
        }
    })
}

fn classify_presence(p: Presence, addressing: &Addressing) -> Result<Intent, Malformed> {
    let (kind, type_name) = match p.type_ {
        PresenceType::None => (Some(PresenceKind::Available), "available"),
        PresenceType::Unavailable => (Some(PresenceKind::Unavailable), "unavailable"),
        PresenceType::Subscribe => (Some(PresenceKind::Subscribe), "subscribe"),
        PresenceType::Subscribed => (Some(PresenceKind::Subscribed), "subscribed"),
        PresenceType::Unsubscribe => (Some(PresenceKind::Unsubscribe), "unsubscribe"),
        PresenceType::Unsubscribed => (Some(PresenceKind::Unsubscribed), "unsubscribed"),
        PresenceType::Probe => (Some(PresenceKind::Probe), "probe"),
        PresenceType::Error => (None, "error"),
    };
    let env = envelope(
        StanzaKind::Presence,
        p.from.clone(),
        p.to.clone(),
        p.id.clone(),
        type_name,
        &p.payloads,
        addressing,
    )?;
    Ok(match kind {
        Some(kind) => Intent::Presence { env, kind },
        None => Intent::ErrorStanza {
            env,
            kind: StanzaKind::Presence,
            error: payload_error(&p.payloads),
        },
    })
}

/// The JID in mod_sms_alias's `<addressed/>` mark, if the stanza has one.
fn addressed_mark(payloads: &[Element]) -> Option<&str> {
    find(payloads, alias::ADDRESSED_NAME, alias::ADDRESSED_NS)
        .and_then(|mark| mark.attr(alias::ADDRESSED_ATTR))
}

fn find<'a>(payloads: &'a [Element], name: &str, namespace: &str) -> Option<&'a Element> {
    payloads.iter().find(|p| p.is(name, namespace))
}

fn payload_error(payloads: &[Element]) -> Option<StanzaError> {
    payloads
        .iter()
        .find(|p| p.name() == "error")
        .and_then(|e| StanzaError::try_from(e.clone()).ok())
}

/// OMEMO (legacy and current), OpenPGP (XEP-0373 and XEP-0027), an XEP-0380
/// encryption marker, or an OTR body.
fn is_encrypted(payloads: &[Element], body: &str) -> bool {
    let namespaces = [ns::LEGACY_OMEMO, NS_OMEMO, ns::OX, NS_LEGACY_PGP, ns::EME];
    payloads
        .iter()
        .any(|p| namespaces.iter().any(|n| p.has_ns(*n)))
        || body.trim_start().starts_with("?OTR")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::E164;
    use crate::xmpp::testing::{addressing, invalid_message, parse_stanza};
    use tokio_xmpp::parsers::stanza_error::DefinedCondition;

    fn stanza(xml: &str) -> Inbound {
        Inbound::Stanza(parse_stanza(xml))
    }

    fn classify_xml(xml: &str) -> Intent {
        classify(stanza(xml), &addressing())
    }

    #[test]
    fn chat_with_body_to_a_number() {
        let intent = classify_xml(
            "<message from='2001@example.org/phone' to='0037255512345@sms.example.org' id='m1' type='chat'>\
               <body xml:lang='en'>Hello</body><request xmlns='urn:xmpp:receipts'/></message>",
        );
        let Intent::ChatToContact(chat) = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(chat.env.from.as_str(), "2001@example.org/phone");
        assert_eq!(chat.env.sender().as_str(), "2001@example.org");
        assert_eq!(chat.env.id.as_deref(), Some("m1"));
        assert_eq!(chat.node, "0037255512345");
        assert_eq!(
            chat.destination,
            Ok(Destination::International(
                E164::parse_canonical("+37255512345").expect("valid")
            ))
        );
        assert_eq!(chat.body, "Hello");
        assert!(chat.receipt_requested);
        assert_eq!(chat.corrects, None);
    }

    #[test]
    fn the_alias_modules_mark_names_the_jid_written_to() {
        let intent = classify_xml(
            "<message from='2001@example.org/phone' to='+37255512345@sms.example.org' id='m1' type='chat'>\
               <body>Hi</body><addressed xmlns='urn:goippy:sms-alias:addressed:0' jid='0037255512345@example.org'/></message>",
        );
        let Intent::ChatToContact(chat) = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(chat.env.written.as_str(), "0037255512345@example.org");
        assert_eq!(chat.env.to.as_str(), "+37255512345@sms.example.org");
        assert_eq!(chat.body, "Hi");
        // A mark naming another contact is not believed.
        let intent = classify_xml(
            "<presence from='2001@example.org/phone' to='+37255512345@sms.example.org' type='subscribe'>\
               <addressed xmlns='urn:goippy:sms-alias:addressed:0' jid='+37255599999@example.org'/></presence>",
        );
        let env = intent.envelope().expect("an envelope");
        assert_eq!(env.written.as_str(), "+37255512345@sms.example.org");
    }

    #[test]
    fn body_language_does_not_matter() {
        let intent = classify_xml(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='normal'>\
               <body xml:lang='de'>Hallo</body><replace xmlns='urn:xmpp:message-correct:0' id='old'/></message>",
        );
        let Intent::ChatToContact(chat) = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(chat.body, "Hallo");
        assert!(!chat.receipt_requested);
        assert_eq!(chat.corrects.as_deref(), Some("old"));
    }

    #[test]
    fn sender_names_and_bad_numbers_keep_the_node() {
        let intent = classify_xml(
            "<message from='2001@example.org/a' to='my\\20bank@sms.example.org' type='chat'><body>hi</body></message>",
        );
        let Intent::ChatToContact(chat) = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(chat.node, "my\\20bank");
        assert!(chat.destination.is_err());

        let intent = classify_xml(
            "<message from='2001@example.org/a' to='+123@sms.example.org' type='chat'><body>hi</body></message>",
        );
        let Intent::ChatToContact(chat) = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(chat.destination, Err(NumberError::TooShort { digits: 3 }));
    }

    #[test]
    fn signals_are_not_messages() {
        let cases = [
            (
                "<active xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatSignal::ChatState,
            ),
            (
                "<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/>",
                ChatSignal::Marker,
            ),
            ("", ChatSignal::Empty),
            ("<body>   </body>", ChatSignal::Empty),
        ];
        for (payload, expected) in cases {
            let intent = classify_xml(&format!(
                "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='chat'>{payload}</message>"
            ));
            assert!(
                matches!(intent, Intent::Signal { signal, .. } if signal == expected),
                "{payload}: {intent:?}"
            );
        }
        let intent = classify_xml(
            "<message from='news@example.org' to='+37255512345@sms.example.org' type='headline'><body>x</body></message>",
        );
        assert!(matches!(
            intent,
            Intent::Signal {
                signal: ChatSignal::Headline,
                ..
            }
        ));
    }

    #[test]
    fn receipts_from_users() {
        let intent = classify_xml(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org'><received xmlns='urn:xmpp:receipts' id='in-7'/></message>",
        );
        assert!(
            matches!(&intent, Intent::ReceiptFromUser { received_id: Some(id), .. } if id == "in-7"),
            "{intent:?}"
        );
    }

    #[test]
    fn encrypted_messages_are_recognised() {
        for payload in [
            "<encrypted xmlns='eu.siacs.conversations.axolotl'/>",
            "<encrypted xmlns='urn:xmpp:omemo:2'/>",
            "<openpgp xmlns='urn:xmpp:openpgp:0'>x</openpgp>",
            "<x xmlns='jabber:x:encrypted'>x</x>",
        ] {
            let intent = classify_xml(&format!(
                "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='chat'><body>I sent you an encrypted message</body>{payload}</message>"
            ));
            assert!(
                matches!(intent, Intent::Encrypted { .. }),
                "{payload}: {intent:?}"
            );
        }
        let intent = classify_xml(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='chat'><body>?OTRv23?</body></message>",
        );
        assert!(matches!(intent, Intent::Encrypted { .. }));
        // An OMEMO key exchange has no body: a signal, not an error.
        let intent = classify_xml(
            "<message from='2001@example.org/a' to='+37255512345@sms.example.org' type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>",
        );
        assert!(matches!(intent, Intent::Signal { .. }));
    }

    #[test]
    fn errors_are_never_answered() {
        let intent = classify_xml(
            "<message from='2001@example.org' to='+37255512345@sms.example.org' id='x' type='error'>\
               <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
        );
        let Intent::ErrorStanza { kind, error, env } = intent else {
            panic!("{intent:?}")
        };
        assert_eq!(kind, StanzaKind::Message);
        assert_eq!(env.id.as_deref(), Some("x"));
        assert_eq!(
            error.map(|e| e.defined_condition),
            Some(DefinedCondition::ItemNotFound)
        );
        let intent =
            classify_xml("<presence from='2001@example.org' to='sms.example.org' type='error'/>");
        assert!(matches!(
            intent,
            Intent::ErrorStanza {
                kind: StanzaKind::Presence,
                ..
            }
        ));
    }

    #[test]
    fn group_chat_and_strangers() {
        let intent = classify_xml(
            "<message from='2001@example.org' to='+37255512345@sms.example.org' type='groupchat'><body>x</body></message>",
        );
        assert!(matches!(
            intent,
            Intent::UnsupportedMessage {
                why: UnsupportedMessage::GroupChat,
                ..
            }
        ));
        let intent = classify_xml(
            "<message from='2001@example.org' to='sms.example.org' type='chat'><body>help</body></message>",
        );
        assert!(matches!(&intent, Intent::ChatToComponent { body, .. } if body == "help"));
    }

    #[test]
    fn iqs() {
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        );
        assert!(
            matches!(&intent, Intent::DiscoInfo { env, node: None } if env.target == Target::Component && env.id.as_deref() == Some("d1")),
            "{intent:?}"
        );
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='+37255512345@sms.example.org' id='d2' type='get'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>",
        );
        assert!(
            matches!(&intent, Intent::DiscoInfo { env, node: Some(n) } if n == "n" && matches!(env.target, Target::Contact { .. })),
            "{intent:?}"
        );
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='d3' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
        );
        assert!(matches!(intent, Intent::DiscoItems { .. }));
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='g1' type='get'><query xmlns='jabber:iq:gateway'/></iq>",
        );
        assert!(matches!(intent, Intent::GatewayPromptGet { .. }));
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='g2' type='set'><query xmlns='jabber:iq:gateway'><prompt>+372 555 12345</prompt></query></iq>",
        );
        assert!(
            matches!(&intent, Intent::GatewayPromptSet { prompt: Some(p), .. } if p == "+372 555 12345"),
            "{intent:?}"
        );
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
        );
        assert!(matches!(intent, Intent::Ping { .. }));
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='sms.example.org' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>",
        );
        assert!(
            matches!(&intent, Intent::UnsupportedIq { payload, .. } if payload == "{jabber:iq:version}query"),
            "{intent:?}"
        );
        // XEP-0100 is the component's, not a contact's.
        let intent = classify_xml(
            "<iq from='2001@example.org/a' to='+37255512345@sms.example.org' id='g3' type='get'><query xmlns='jabber:iq:gateway'/></iq>",
        );
        assert!(matches!(intent, Intent::UnsupportedIq { .. }));
        let intent =
            classify_xml("<iq from='example.org' to='sms.example.org' id='r1' type='result'/>");
        assert!(matches!(intent, Intent::IqResult { .. }));
    }

    #[test]
    fn presences() {
        for (type_attr, kind) in [
            ("", PresenceKind::Available),
            (" type='unavailable'", PresenceKind::Unavailable),
            (" type='subscribe'", PresenceKind::Subscribe),
            (" type='subscribed'", PresenceKind::Subscribed),
            (" type='unsubscribe'", PresenceKind::Unsubscribe),
            (" type='unsubscribed'", PresenceKind::Unsubscribed),
            (" type='probe'", PresenceKind::Probe),
        ] {
            let intent = classify_xml(&format!(
                "<presence from='2001@example.org' to='+37255512345@sms.example.org'{type_attr}/>"
            ));
            assert!(
                matches!(&intent, Intent::Presence { kind: k, .. } if *k == kind),
                "{type_attr}: {intent:?}"
            );
        }
    }

    #[test]
    fn malformed_stanzas() {
        let invalid = invalid_message();
        let Intent::Malformed(m) = classify(Inbound::Invalid(invalid.clone()), &addressing())
        else {
            panic!("not malformed")
        };
        assert!(m.answerable());
        assert_eq!(m.id.as_deref(), Some("b1"));
        let silent = Malformed {
            type_: Some("error".into()),
            ..invalid.clone()
        };
        let Intent::Malformed(m) = classify(Inbound::Invalid(silent), &addressing()) else {
            panic!("not malformed")
        };
        assert!(!m.answerable());
        // The link keeps no `from` that is not a JID.
        let anonymous = Malformed {
            from: None,
            ..invalid
        };
        let Intent::Malformed(m) = classify(Inbound::Invalid(anonymous), &addressing()) else {
            panic!("not malformed")
        };
        assert!(!m.answerable());

        let intent =
            classify_xml("<message to='+37255512345@sms.example.org'><body>x</body></message>");
        assert!(
            matches!(intent, Intent::Malformed(ref m) if m.error.contains("from")),
            "{intent:?}"
        );
    }
}
