//! Carbons (XEP-0280) keep the alias. mod_sms_alias runs ahead of
//! mod_carbons, so a user's other device sees the conversation with
//! `+N@example.org` — what it sent and what came back — and never goippy's
//! component JID, which it could not answer through the alias.

use prosody_test::stanzas::{body, chat};
use prosody_test::world::WAIT;
use prosody_test::{NS_CLIENT, XmppClient, xml_of};
use tokio_xmpp::minidom::Element;

use crate::{Must, basic};

const NS_CARBONS: &str = "urn:xmpp:carbons:2";
const NS_FORWARD: &str = "urn:xmpp:forward:0";
/// Someone on the GSM side.
const PEER: &str = "+37255577777";

/// The message a carbon of `kind` (`sent`, `received`) carries.
fn carbon<'a>(el: &'a Element, kind: &str) -> Option<&'a Element> {
    el.get_child(kind, NS_CARBONS)?
        .get_child("forwarded", NS_FORWARD)?
        .get_child("message", NS_CLIENT)
}

fn mentions(el: &Element, needle: &str) -> bool {
    el.attrs().values().any(|v| v.contains(needle)) || el.children().any(|c| mentions(c, needle))
}

#[tokio::test(flavor = "multi_thread")]
async fn carbons_on_the_users_other_device_show_the_alias_both_ways() {
    let mut w = basic().start().await.must("start the world");
    let alias = w.alias(PEER);
    let user = w.jid("2001");
    // The number's JID on goippy's component; only goippy may see it. (The
    // component's domain itself may show, as the `from` of a delay stamp.)
    let component_jid = format!("{PEER}@{}", w.component());

    // 2001's second device: it enables carbons, and its priority is below
    // the first's, so Prosody copies what reaches the account to it as a
    // carbon instead of delivering it there directly.
    let password = w.password("2001").expect("2001 has a password").to_string();
    let mut tablet = XmppClient::connect(w.c2s_addr(), &user, &password)
        .await
        .must("log 2001 in on a second device");
    tablet
        .send_xml("<presence><priority>-1</priority></presence>")
        .await
        .must("lower the second device's priority");
    tablet
        .send_xml(&format!(
            "<iq type='set' id='carbons-on'><enable xmlns='{NS_CARBONS}'/></iq>"
        ))
        .await
        .must("ask for carbons");
    let enabled = tablet
        .wait_for("the answer to enabling carbons", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("carbons-on")
        })
        .await
        .must("Prosody answers");
    if enabled.attr("type") != Some("result") && w.is_external() {
        eprintln!(
            "SKIPPED carbons_on_the_users_other_device_show_the_alias_both_ways: the external \
             Prosody has no mod_carbons: {}",
            xml_of(&enabled)
        );
        return;
    }
    assert_eq!(enabled.attr("type"), Some("result"), "{}", xml_of(&enabled));

    // The first device writes to the alias.
    w.client("2001")
        .send(chat(&alias, "carbon-out", "sent from the phone").must("build the message"))
        .await
        .must("send");
    let sent = tablet
        .wait_for("the sent carbon", WAIT, |el| {
            carbon(el, "sent").is_some_and(|m| body(m).as_deref() == Some("sent from the phone"))
        })
        .await
        .must("the second device gets a copy of what the first sent");
    assert_eq!(sent.attr("from"), Some(user.as_str()), "{}", xml_of(&sent));
    let inner = carbon(&sent, "sent").expect("the carbon carries the message");
    assert_eq!(
        inner.attr("to"),
        Some(alias.as_str()),
        "the copy is addressed to the alias: {}",
        xml_of(&sent)
    );
    assert!(
        !mentions(&sent, &component_jid),
        "the sent carbon must not show the component JID: {}",
        xml_of(&sent)
    );

    // The SMS leaves.
    w.sim(0)
        .wait_event("sms_sent", WAIT, |e| e["to"] == PEER)
        .await
        .must("the GoIP sends the SMS");

    // The answer comes back as an SMS.
    w.sim(0)
        .sms(1, PEER, "answer from the handset")
        .must("inject the SMS");
    let is_answer = |el: &Element| body(el).as_deref() == Some("answer from the handset");
    let direct = w
        .client("2001")
        .wait_for("the answer", WAIT, is_answer)
        .await
        .must("the first device gets the answer");
    assert_eq!(
        direct.attr("from"),
        Some(alias.as_str()),
        "{}",
        xml_of(&direct)
    );
    let received = tablet
        .wait_for("the answer, directly or as a carbon", WAIT, |el| {
            is_answer(el) || carbon(el, "received").is_some_and(is_answer)
        })
        .await
        .must("the second device gets the answer too");
    let answer = carbon(&received, "received").unwrap_or_else(|| {
        panic!(
            "a received carbon (the second device's priority is lower): {}",
            xml_of(&received)
        )
    });
    assert_eq!(
        answer.attr("from"),
        Some(alias.as_str()),
        "the copy comes from the alias: {}",
        xml_of(&received)
    );
    assert!(
        !mentions(&received, &component_jid),
        "the received carbon must not show the component JID: {}",
        xml_of(&received)
    );
    tablet.close().await.must("log the second device out");
    w.finish().await.must("clean shutdown");
}
