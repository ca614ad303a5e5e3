//! Shared setup of the mod_sms_alias scenarios: example.org with the module
//! installed by `prosodyctl install`, and goippy's stand-in on sms.example.org.
#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

#[allow(unused_imports)] // as dead_code above: each test binary uses some
pub use prosody_test::stanzas::{
    NS_STANZAS, body, error_condition, error_text, is_error, is_message_from,
};
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

/// Any attribute value anywhere in the tree, for "no component JID leaked" checks.
pub fn mentions(el: &Element, needle: &str) -> bool {
    el.attrs().values().any(|v| v.contains(needle)) || el.children().any(|c| mentions(c, needle))
}
