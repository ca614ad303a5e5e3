//! The stanzas the scenarios send, and questions they ask of the ones they
//! receive (as minidom elements, see [`crate::XmppClient`]).

use std::str::FromStr;

use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message};
use tokio_xmpp::parsers::receipts::Request;

use crate::Result;
use crate::client::NS_CLIENT;

pub const NS_RECEIPTS: &str = "urn:xmpp:receipts";
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

/// A `chat` message with a body and an id; the text may hold anything
/// (it is escaped as XML when sent).
pub fn chat(to: &str, id: &str, text: &str) -> Result<Message> {
    let to = Jid::from_str(to).map_err(|e| format!("bad JID {to:?}: {e}"))?;
    let mut message = Message::chat(to).with_body(Lang::new(), text.to_string());
    message.id = Some(Id(id.to_string()));
    Ok(message)
}

/// [`chat`] asking for a delivery receipt (XEP-0184), as clients do for
/// contacts that support receipts.
pub fn chat_with_receipt_request(to: &str, id: &str, text: &str) -> Result<Message> {
    Ok(chat(to, id, text)?.with_payload(Request))
}

/// The message's body, if it has one.
pub fn body(el: &Element) -> Option<String> {
    el.get_child("body", NS_CLIENT).map(Element::text)
}

/// Whether `el` is a message from `from` (the bare JID or any resource).
pub fn is_message_from(el: &Element, from: &str) -> bool {
    el.name() == "message"
        && el
            .attr("from")
            .is_some_and(|f| f == from || f.starts_with(&format!("{from}/")))
}

/// A message with a body from `from`, and not an error.
pub fn is_text_from(el: &Element, from: &str) -> bool {
    is_message_from(el, from) && !is_error(el) && body(el).is_some()
}

pub fn is_error(el: &Element) -> bool {
    el.attr("type") == Some("error")
}

/// An error answering the stanza with id `id`.
pub fn is_error_for(el: &Element, id: &str) -> bool {
    is_error(el) && el.attr("id") == Some(id)
}

/// The defined condition of a stanza error (`service-unavailable`, …).
pub fn error_condition(el: &Element) -> Option<String> {
    let error = el.get_child("error", NS_CLIENT)?;
    error
        .children()
        .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
}

/// The error's type (`cancel`, `wait`, `modify`, `auth`).
pub fn error_type(el: &Element) -> Option<String> {
    el.get_child("error", NS_CLIENT)?
        .attr("type")
        .map(str::to_string)
}

/// The human-readable text of a stanza error.
pub fn error_text(el: &Element) -> Option<String> {
    el.get_child("error", NS_CLIENT)?
        .get_child("text", NS_STANZAS)
        .map(Element::text)
}

/// The id a XEP-0184 `<received/>` in this message confirms.
pub fn receipt_for(el: &Element) -> Option<String> {
    el.get_child("received", NS_RECEIPTS)
        .and_then(|r| r.attr("id"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::parse_stanza;

    #[test]
    fn reads_errors_and_receipts() {
        let el = Element::from(
            parse_stanza(
                "<message type='error' id='m1' from='+1@x'><error type='cancel'>\
                 <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text></error></message>",
            )
            .expect("stanza"),
        );
        assert!(is_error_for(&el, "m1"));
        assert_eq!(error_condition(&el).as_deref(), Some("service-unavailable"));
        assert_eq!(error_type(&el).as_deref(), Some("cancel"));
        assert_eq!(error_text(&el).as_deref(), Some("no"));
        let el = Element::from(
            parse_stanza(
                "<message from='+1@x/r'><received xmlns='urn:xmpp:receipts' id='m1'/></message>",
            )
            .expect("stanza"),
        );
        assert_eq!(receipt_for(&el).as_deref(), Some("m1"));
        assert!(is_message_from(&el, "+1@x"));
        assert!(!is_text_from(&el, "+1@x"));
    }

    #[test]
    fn builds_chat_messages_with_any_text() {
        let message =
            chat_with_receipt_request("+37255512345@example.org", "id1", "a<b & \"c\";\nd")
                .expect("message");
        let el = Element::from(message);
        assert_eq!(el.attr("type"), Some("chat"));
        assert_eq!(el.attr("id"), Some("id1"));
        assert_eq!(body(&el).as_deref(), Some("a<b & \"c\";\nd"));
        assert!(el.get_child("request", NS_RECEIPTS).is_some());
    }
}
