//! mod_sms_alias in a real Prosody, with a component answering behind it:
//! a local user talks to +N@example.org and everything — messages, chat
//! states, iq, presence, the archive, the roster — shows the alias, while the
//! component sees +N@sms.example.org.

mod common;

use common::*;
use tokio_xmpp::minidom::Element;

async fn setup() -> (prosody_test::Prosody, prosody_test::XmppClient) {
    let prosody = start(alias_config(Gateway::Echo, |h| h), &[("alice", "alicepw")]);
    let alice = login(&prosody, "alice", "alicepw").await;
    (prosody, alice)
}

#[tokio::test(flavor = "multi_thread")]
async fn message_reaches_the_component_and_the_reply_comes_from_the_alias() {
    let (prosody, mut alice) = setup().await;
    alice
        .send_xml(&format!(
            "<message to='{ALIAS}' type='chat' id='m1'><body>hello</body></message>"
        ))
        .await
        .expect("send");
    let echo = alice
        .wait_for("the echo from the alias", WAIT, |el| {
            is_message_from(el, ALIAS) && body(el).is_some()
        })
        .await
        .expect("echo");
    // What the component saw: the component JID, and alice as sender.
    assert_eq!(
        body(&echo).as_deref(),
        Some(format!("echo to={COMPONENT_JID} from={}: hello", alice.jid()).as_str())
    );
    assert_eq!(echo.attr("from"), Some(ALIAS));
    assert_eq!(echo.attr("to"), Some(alice.jid().to_string().as_str()));
    // One debug line per rewrite, in both directions.
    prosody
        .wait_for_log(&format!("now to {COMPONENT_JID}"), WAIT)
        .expect("outbound rewrite logged");
    prosody
        .wait_for_log(&format!("from {COMPONENT_JID} now from {ALIAS}"), WAIT)
        .expect("inbound rewrite logged");
    alice.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_keeps_one_thread_with_the_alias() {
    let (prosody, mut alice) = setup().await;
    alice
        .send_xml(&format!(
            "<message to='{ALIAS}' type='chat' id='m1'><body>archive me</body></message>"
        ))
        .await
        .expect("send");
    alice
        .wait_for("the echo", WAIT, |el| {
            is_message_from(el, ALIAS) && body(el).is_some()
        })
        .await
        .expect("echo");

    alice
        .send_xml(&format!(
            "<iq type='set' id='mam1'><query xmlns='{NS_MAM}' queryid='q1'/></iq>"
        ))
        .await
        .expect("MAM query");
    let fin = alice
        .wait_for("the MAM query's result", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("mam1")
        })
        .await
        .expect("MAM result");
    assert_eq!(
        fin.attr("type"),
        Some("result"),
        "{}",
        prosody_test::xml_of(&fin)
    );
    let archived: Vec<Element> = alice
        .take_received(|el| el.get_child("result", NS_MAM).is_some())
        .iter()
        .filter_map(|el| {
            el.get_child("result", NS_MAM)?
                .get_child("forwarded", NS_FORWARD)?
                .get_child("message", NS_CLIENT)
                .cloned()
        })
        .collect();
    let sent = archived
        .iter()
        .find(|m| body(m).as_deref() == Some("archive me"))
        .expect("the sent message is archived");
    assert_eq!(sent.attr("to"), Some(ALIAS));
    let received = archived
        .iter()
        .find(|m| body(m).is_some_and(|b| b.starts_with("echo ")))
        .expect("the reply is archived");
    assert_eq!(received.attr("from"), Some(ALIAS));
    for message in &archived {
        assert!(
            !mentions(message, COMPONENT),
            "the archive must not know the component JID: {}",
            prosody_test::xml_of(message)
        );
    }
    // Nothing treated the number as a local user and stored data for it
    // (offline messages, an archive, a roster). Prosody 0.12.3's mod_mam
    // would not archive for a missing user anyway; this guards the rest.
    let stores = files_under(&prosody.dir().join("data"));
    assert!(
        stores.iter().all(|p| !p.contains("37255512345")),
        "the number got storage of its own: {stores:#?}"
    );
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            found.push(path.display().to_string());
            if path.is_dir() {
                found.extend(files_under(&path));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_states_travel_and_do_not_bounce() {
    let (_prosody, mut alice) = setup().await;
    alice
        .send_xml(&format!(
            "<message to='{ALIAS}' type='chat' id='cs1'><composing xmlns='{NS_CHATSTATES}'/></message>"
        ))
        .await
        .expect("send");
    // The echo component returns what it got: proof it got there.
    alice
        .wait_for("the echoed chat state", WAIT, |el| {
            is_message_from(el, ALIAS) && el.get_child("composing", NS_CHATSTATES).is_some()
        })
        .await
        .expect("chat state echoed");
    alice
        .expect_none("error for a chat state", QUIET, is_error)
        .await
        .expect("no bounce");
}

#[tokio::test(flavor = "multi_thread")]
async fn iq_requests_get_their_answer_from_the_alias() {
    let (_prosody, mut alice) = setup().await;
    alice
        .send_xml(&format!(
            "<iq type='get' to='{ALIAS}' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        ))
        .await
        .expect("send");
    let answer = alice
        .wait_for("the iq answer", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("disco1")
        })
        .await
        .expect("iq answer");
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        prosody_test::xml_of(&answer)
    );
    assert_eq!(answer.attr("from"), Some(ALIAS));
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_gives_one_roster_item_for_the_alias() {
    let (_prosody, mut alice) = setup().await;
    alice
        .send_xml(&format!("<presence to='{ALIAS}' type='subscribe'/>"))
        .await
        .expect("subscribe");
    alice
        .wait_for("presence of the alias", WAIT, |el| {
            el.name() == "presence" && el.attr("from") == Some(ALIAS) && el.attr("type").is_none()
        })
        .await
        .expect("available presence from the alias");
    alice
        .send_xml(&format!(
            "<iq type='get' id='roster1'><query xmlns='{NS_ROSTER}'/></iq>"
        ))
        .await
        .expect("roster get");
    let roster = alice
        .wait_for("the roster", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("roster1")
        })
        .await
        .expect("roster");
    let items: Vec<(String, String)> = roster
        .get_child("query", NS_ROSTER)
        .expect("roster query")
        .children()
        .map(|item| {
            (
                item.attr("jid").unwrap_or_default().to_string(),
                item.attr("subscription").unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(items, vec![(ALIAS.to_string(), "to".to_string())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_users_are_untouched() {
    let prosody = start(
        alias_config(Gateway::Echo, |h| h),
        &[("alice", "alicepw"), ("bob", "bobpw")],
    );
    let mut alice = login(&prosody, "alice", "alicepw").await;
    let mut bob = login(&prosody, "bob", "bobpw").await;
    alice
        .send_xml("<message to='bob@example.org' type='chat' id='b1'><body>hi bob</body></message>")
        .await
        .expect("send");
    let got = bob
        .wait_for("alice's message", WAIT, |el| {
            body(el).as_deref() == Some("hi bob")
        })
        .await
        .expect("bob gets it");
    assert_eq!(got.attr("from"), Some(alice.jid().to_string().as_str()));
    assert_eq!(got.attr("to"), Some("bob@example.org"));
    alice
        .expect_none("anything from the gateway", QUIET, |el| {
            mentions(el, NUMBER)
        })
        .await
        .expect("the gateway never saw it");
    assert!(
        !prosody.log().contains("Outbound message from alice"),
        "no rewrite for bob"
    );
}
