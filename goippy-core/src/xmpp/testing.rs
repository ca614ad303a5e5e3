//! Helpers for the unit tests of this module and of the bridge: the test
//! domains, stanzas written as XML, and stanzas turned back into XML for
//! assertions.

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;

use crate::number::NumberRules;

use super::address::Addressing;
use super::link::{Malformed, StanzaKind};

/// `example.org` users, `sms.example.org` component and contacts, alias on.
pub fn addressing() -> Addressing {
    Addressing::new(
        "example.org",
        "sms.example.org",
        "sms.example.org",
        NumberRules::international_only(),
        true,
    )
    .expect("valid test domains")
}

/// A message from a user to a contact that did not parse (a bogus `type`),
/// with everything needed to answer it.
pub fn invalid_message() -> Malformed {
    Malformed {
        kind: StanzaKind::Message,
        from: Jid::new("2001@example.org/a").ok(),
        to: Jid::new("+37255512345@sms.example.org").ok(),
        type_: Some("bogus".into()),
        id: Some("b1".into()),
        error: "Unknown value for 'type' attribute.".into(),
    }
}

/// Parses a stanza written without a namespace, as a component receives it.
pub fn parse_stanza(xml: &str) -> Stanza {
    let first_tag = &xml[..xml.find('>').unwrap_or(xml.len())];
    if first_tag.contains("xmlns=") {
        let element: Element = xml.parse().expect("well-formed XML");
        return Stanza::try_from(element).expect("a valid stanza");
    }
    let name_end = xml[1..]
        .find([' ', '>', '/'])
        .map(|i| i + 1)
        .expect("an element");
    let xml = format!(
        "{} xmlns='jabber:component:accept'{}",
        &xml[..name_end],
        &xml[name_end..]
    );
    let element: Element = xml.parse().expect("well-formed XML");
    Stanza::try_from(element).expect("a valid stanza")
}

/// The stanza as an element, for looking at what will go on the wire.
pub fn element(stanza: impl Into<Stanza>) -> Element {
    Element::from(&stanza.into())
}

/// The stanza serialised.
pub fn xml(stanza: impl Into<Stanza>) -> String {
    String::from(&element(stanza))
}
