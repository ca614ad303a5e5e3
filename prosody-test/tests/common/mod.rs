//! Shared setup of the mod_sms_alias scenarios: example.org with the module
//! installed by `prosodyctl install`, and goippy's stand-in on sms.example.org.
#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use prosody_test::{Config, Host, Prosody, XmppClient};
use tokio_xmpp::minidom::Element;

pub const HOST: &str = "example.org";
pub const COMPONENT: &str = "sms.example.org";
pub const NUMBER: &str = "+37255512345";
pub const ALIAS: &str = "+37255512345@example.org";
pub const COMPONENT_JID: &str = "+37255512345@sms.example.org";

/// Generous bound for anything that should happen (it takes milliseconds).
pub const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(700);

pub const NS_CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const NS_MAM: &str = "urn:xmpp:mam:2";
pub const NS_FORWARD: &str = "urn:xmpp:forward:0";
pub const NS_ROSTER: &str = "jabber:iq:roster";
pub const NS_CLIENT: &str = prosody_test::NS_CLIENT;

/// What stands behind sms.example.org.
#[derive(Debug, Clone, Copy)]
pub enum Gateway {
    /// The `sms_echo_test` fixture component.
    Echo,
    /// An external component nobody connects to.
    Disconnected,
}

/// example.org with mod_sms_alias (plus `extra` host options) and the gateway.
pub fn alias_config(gateway: Gateway, extra: impl FnOnce(Host) -> Host) -> Config {
    let config = Config::new().virtual_host(HOST, |h| {
        extra(
            h.module("sms_alias")
                .option("sms_alias_component", COMPONENT),
        )
    });
    match gateway {
        Gateway::Echo => config.internal_component(COMPONENT, "sms_echo_test"),
        Gateway::Disconnected => config.external_component(COMPONENT),
    }
}

/// Prepares, installs mod_sms_alias (prosodyctl install of the binary rock),
/// registers `users` (name, password) on example.org and starts.
pub fn start(config: Config, users: &[(&str, &str)]) -> Prosody {
    let mut prosody = Prosody::new(config).expect("prepare prosody");
    prosody
        .install_mod_sms_alias()
        .expect("prosodyctl install mod_sms_alias");
    for (user, password) in users {
        prosody
            .register(user, HOST, password)
            .expect("register user");
    }
    prosody.start().expect("start prosody");
    prosody
}

pub async fn login(prosody: &Prosody, user: &str, password: &str) -> XmppClient {
    XmppClient::connect(prosody.c2s_addr(), &format!("{user}@{HOST}"), password)
        .await
        .expect("log in")
}

pub fn is_message_from(el: &Element, from: &str) -> bool {
    el.name() == "message"
        && el
            .attr("from")
            .is_some_and(|f| f == from || f.starts_with(&format!("{from}/")))
}

pub fn body(el: &Element) -> Option<String> {
    el.get_child("body", NS_CLIENT).map(Element::text)
}

pub fn is_error(el: &Element) -> bool {
    el.attr("type") == Some("error")
}

/// The defined condition of a stanza error (`service-unavailable`, …).
pub fn error_condition(el: &Element) -> Option<String> {
    let error = el.get_child("error", NS_CLIENT)?;
    error
        .children()
        .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
}

pub fn error_text(el: &Element) -> Option<String> {
    el.get_child("error", NS_CLIENT)?
        .get_child("text", NS_STANZAS)
        .map(Element::text)
}

/// Any attribute value anywhere in the tree, for "no component JID leaked" checks.
pub fn mentions(el: &Element, needle: &str) -> bool {
    el.attrs().values().any(|v| v.contains(needle)) || el.children().any(|c| mentions(c, needle))
}
