//! Presence from contacts and from the component.
//!
//! A user who adds `+N@…` (or the gateway itself) to the roster sends
//! `subscribe`; goippy accepts with `subscribed` and asks back with
//! `subscribe`, so the roster entry ends up mutual ("both") and the contact
//! does not sit in "pending" forever. A contact's presence reflects its
//! gateway: `available` while the GSM channel is online, `unavailable`
//! otherwise; the bridge decides which and when (probes after a login, every
//! reconnect of the link, channel changes).

use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::presence::{Presence, Type};

use super::intent::Envelope;
use super::reply::new_id;
use super::text::xml_safe;

/// The answer to `subscribe`: `subscribed`, then a `subscribe` back.
pub fn accept_subscription(env: &Envelope) -> [Presence; 2] {
    let subscribe = back(env, Presence::subscribe()).with_id(new_id());
    [answer(env, Presence::subscribed()), subscribe]
}

/// The answer to `unsubscribe`: `unsubscribed`, and the contact goes offline.
pub fn confirm_unsubscription(env: &Envelope) -> [Presence; 2] {
    let gone = back(env, Presence::unavailable());
    [answer(env, Presence::new(Type::Unsubscribed)), gone]
}

/// `presence` from the (bare) address `env` was sent to, to its sender.
fn back(env: &Envelope, presence: Presence) -> Presence {
    presence
        .with_from(Jid::from(env.to.to_bare()))
        .with_to(Jid::from(env.sender()))
}

/// [`back`], answering `env`'s id.
fn answer(env: &Envelope, presence: Presence) -> Presence {
    let mut answer = back(env, presence);
    answer.id = env.id.clone();
    answer
}

/// `from` (a contact or the component) is online, with an optional status.
pub fn available(from: &BareJid, to: &Jid, status: Option<&str>) -> Presence {
    with_status(Presence::available(), from, to, status)
}

/// `from` is offline, with an optional status (e.g. why).
pub fn unavailable(from: &BareJid, to: &Jid, status: Option<&str>) -> Presence {
    with_status(Presence::unavailable(), from, to, status)
}

fn with_status(presence: Presence, from: &BareJid, to: &Jid, status: Option<&str>) -> Presence {
    let mut presence = presence
        .with_from(Jid::from(from.clone()))
        .with_to(to.clone());
    if let Some(status) = status {
        presence.set_status("en", xml_safe(status).into_owned());
    }
    presence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::intent::{Intent, classify};
    use crate::xmpp::link::Inbound;
    use crate::xmpp::testing::{addressing, element, parse_stanza};

    fn env(xml: &str) -> Envelope {
        match classify(Inbound::Stanza(parse_stanza(xml)), &addressing()) {
            Intent::Presence { env, .. } => env,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subscriptions_are_accepted_and_returned() {
        let env = env(
            "<presence from='2001@example.org/phone' to='+37255512345@sms.example.org' id='s1' type='subscribe'/>",
        );
        let [subscribed, subscribe] = accept_subscription(&env);
        let e = element(subscribed);
        assert_eq!(e.attr("type"), Some("subscribed"));
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org"));
        assert_eq!(e.attr("id"), Some("s1"));
        let e = element(subscribe);
        assert_eq!(e.attr("type"), Some("subscribe"));
        assert_eq!(e.attr("to"), Some("2001@example.org"));
        assert!(e.attr("id").is_some_and(|id| id != "s1"));
    }

    #[test]
    fn unsubscriptions_are_confirmed() {
        let env = env(
            "<presence from='2001@example.org' to='sms.example.org' id='u1' type='unsubscribe'/>",
        );
        let [unsubscribed, gone] = confirm_unsubscription(&env);
        let e = element(unsubscribed);
        assert_eq!(e.attr("type"), Some("unsubscribed"));
        assert_eq!(e.attr("from"), Some("sms.example.org"));
        assert_eq!(e.attr("id"), Some("u1"));
        assert_eq!(element(gone).attr("type"), Some("unavailable"));
    }

    #[test]
    fn contact_presence() {
        let from = BareJid::new("+37255512345@sms.example.org").expect("valid");
        let to = Jid::new("2001@example.org").expect("valid");
        let e = element(available(&from, &to, Some("GSM channel 1 online")));
        assert_eq!(e.attr("type"), None);
        assert_eq!(e.attr("from"), Some("+37255512345@sms.example.org"));
        assert!(String::from(&e).contains("GSM channel 1 online"));
        let e = element(unavailable(&from, &to, None));
        assert_eq!(e.attr("type"), Some("unavailable"));
    }
}
