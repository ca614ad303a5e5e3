//! Senders on other servers, over real server-to-server links.
//!
//! Two Prosody processes talk s2s on loopback: example.org (mod_sms_alias,
//! the echo gateway) and remote.test (mallory). Streams, dialback and routing
//! are Prosody's own; only the "DNS" is a fixture (`mod_test_s2s_route`
//! sends each domain to the other process's free s2s port instead of SRV
//! lookups and port 5269). A second VirtualHost in one process would not do:
//! Prosody routes between its own hosts locally, never over s2s, so the
//! module would rightly see a local sender.
//!
//! goippy serves only users of its own domain, so remote senders are always
//! refused; `sms_alias_allow_remote`, which once let them through, is
//! ignored with a warning.

mod common;

use common::*;
use prosody_test::{Config, LuaValue, Prosody, XmppClient};

const REMOTE: &str = "remote.test";

struct TwoServers {
    // Field order is drop order: stop the remote one first.
    remote: Prosody,
    local: Prosody,
}

/// `allow_remote`: the retired `sms_alias_allow_remote`, when set.
fn two_servers(allow_remote: Option<bool>) -> TwoServers {
    let mut local = Prosody::new(
        alias_config(Gateway::Echo, |h| match allow_remote {
            Some(allow) => h.option("sms_alias_allow_remote", allow),
            None => h,
        })
        .with_s2s()
        .module("test_s2s_route"),
    )
    .expect("prepare example.org");
    let mut remote = Prosody::new(
        Config::new()
            .virtual_host(REMOTE, |h| h)
            .with_s2s()
            .module("test_s2s_route"),
    )
    .expect("prepare remote.test");
    let route = |domain: &str, port: Option<u16>| {
        LuaValue::Map(vec![(
            domain.to_string(),
            i64::from(port.unwrap_or(0)).into(),
        )])
    };
    let remote_s2s = remote.ports().s2s;
    let local_s2s = local.ports().s2s;
    local
        .reconfigure(|c| c.option("test_s2s_routes", route(REMOTE, remote_s2s)))
        .expect("route to remote.test");
    remote
        .reconfigure(|c| c.option("test_s2s_routes", route(HOST, local_s2s)))
        .expect("route to example.org");
    local
        .install_mod_sms_alias()
        .expect("install mod_sms_alias");
    remote
        .register("mallory", REMOTE, "mallorypw")
        .expect("register mallory");
    local.start().expect("start example.org");
    remote.start().expect("start remote.test");
    assert_eq!(
        local.ports().s2s,
        local_s2s,
        "example.org moved ports during start-up"
    );
    assert_eq!(
        remote.ports().s2s,
        remote_s2s,
        "remote.test moved ports during start-up"
    );
    TwoServers { remote, local }
}

async fn mallory(servers: &TwoServers) -> XmppClient {
    XmppClient::connect(
        servers.remote.c2s_addr(),
        "mallory@remote.test",
        "mallorypw",
    )
    .await
    .expect("mallory logs in")
}

/// s2s setup (connect, dialback both ways) takes a moment the first time.
const S2S_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Mallory's message to the alias is refused by mod_sms_alias
/// (`service-unavailable` from the alias, with its text), and the gateway
/// never sees it.
async fn mallory_is_refused(servers: &TwoServers) {
    let mut mallory = mallory(servers).await;
    mallory
        .send_xml(&format!(
            "<message to='{ALIAS}' type='chat' id='r1'><body>free sms?</body></message>"
        ))
        .await
        .expect("send");
    let refusal = mallory
        .wait_for("the refusal", S2S_WAIT, |el| {
            el.name() == "message" && el.attr("id") == Some("r1")
        })
        .await
        .expect("refusal arrives over s2s");
    assert!(is_error(&refusal), "{}", prosody_test::xml_of(&refusal));
    assert_eq!(refusal.attr("from"), Some(ALIAS));
    assert_eq!(
        error_condition(&refusal).as_deref(),
        Some("service-unavailable")
    );
    // mod_sms_alias's refusal, not mod_message's "no such user".
    assert!(
        error_text(&refusal).is_some_and(|t| t.contains("serves its own users only")),
        "{}",
        prosody_test::xml_of(&refusal)
    );
    mallory
        .expect_none("an echo from the gateway", QUIET, |el| {
            body(el).is_some_and(|b| b.starts_with("echo "))
        })
        .await
        .expect("the gateway never saw it");
    // It really came in over s2s, and mod_sms_alias turned it away.
    servers
        .local
        .wait_for_log(
            "Incoming s2s connection remote.test->example.org complete",
            WAIT,
        )
        .expect("s2s link from remote.test");
    servers
        .local
        .wait_for_log("Refusing message from remote mallory@remote.test/", WAIT)
        .expect("refusal logged");
}

const RETIRED: &str = "sms_alias_allow_remote is no longer supported and is ignored";

#[tokio::test(flavor = "multi_thread")]
async fn remote_senders_are_refused() {
    let servers = two_servers(None);
    mallory_is_refused(&servers).await;
    assert!(
        !servers.local.log().contains(RETIRED),
        "no warning without the option"
    );
}

/// `sms_alias_allow_remote = true` once let Mallory through to goippy,
/// which refuses everyone but its own domain's users anyway; now it changes
/// nothing, and Prosody's log says so once.
#[tokio::test(flavor = "multi_thread")]
async fn the_retired_allow_remote_option_is_ignored_with_a_warning() {
    let servers = two_servers(Some(true));
    mallory_is_refused(&servers).await;
    let log = servers.local.log();
    assert_eq!(log.matches(RETIRED).count(), 1, "{log}");
}
