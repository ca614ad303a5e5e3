//! A user who goes offline still learns what became of their SMS. 2001
//! writes from a phone whose connection the test then cuts, as a lost
//! network does; the outcome comes while no session of 2001 is online; when
//! 2001 logs in again, Prosody hands over what it stored (mod_offline; the
//! failure note is in the archive too, mod_mam). What Prosody 0.12 stores,
//! and why goippy sends a failure as an error *and* a note: goippy-core's
//! `bridge/notice.rs`. A line alert (`bridge/alerts/`) raised while the
//! user is offline waits for them the same way.

use std::time::Duration;

use prosody_test::relay::Relay;
use prosody_test::stanzas::{body, chat_with_receipt_request, is_error, is_text_from, receipt_for};
use prosody_test::world::{QUIET, WAIT};
use prosody_test::{NS_CLIENT, SimTiming, World, XmppClient, xml_of};
use tokio::time::{Instant, sleep};
use tokio_xmpp::minidom::Element;

use crate::{Must, basic};

const TO: &str = "+37255566666";
const NS_MAM: &str = "urn:xmpp:mam:2";
const NS_FORWARD: &str = "urn:xmpp:forward:0";

/// The device answers a SEND only after this long: time for the test to
/// cut the user's connection in between. No automatic delivery reports.
fn slow_network() -> SimTiming {
    SimTiming {
        send_time: Duration::from_millis(1500),
        deliver_after: None,
        ..SimTiming::fast()
    }
}

/// 2001 on a phone whose connection the test can cut. The world's own
/// session of 2001 is logged out first: the phone is 2001's only session.
async fn phone(w: &mut World) -> (Relay, XmppClient) {
    w.logout("2001").await.must("log 2001's first session out");
    let relay = Relay::start(w.c2s_addr()).await.must("start a relay");
    let jid = w.jid("2001");
    let password = w.password("2001").expect("2001 has a password").to_string();
    let phone = XmppClient::connect(relay.addr(), &jid, &password)
        .await
        .must("log 2001 in on the phone");
    (relay, phone)
}

/// The phone loses its network: both ends of its connection are reset,
/// without a `</stream:stream>`; the phone itself only learns of it.
async fn lose_network(relay: Relay, mut phone: XmppClient) {
    relay.cut();
    let deadline = Instant::now() + WAIT;
    while phone.poll(Duration::from_millis(100)).await.is_ok() {
        assert!(Instant::now() < deadline, "the phone never noticed the cut");
    }
    drop(phone);
    drop(relay);
}

/// Waits until goippy's log says it delivered an inbox row whose log line
/// mentions `needle` (Prosody has then taken the stanzas).
async fn wait_delivered(w: &mut World, needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = w.goippy().log();
        if log
            .lines()
            .any(|l| l.contains("inbound delivered to XMPP") && l.contains(needle))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "goippy logged no delivery of {needle:?}:\n{}",
            w.goippy().log_tail(40)
        );
        sleep(Duration::from_millis(50)).await;
    }
}

/// The messages of 2001's archive (MAM), or `None` when the server has no
/// archive (an external Prosody without mod_mam).
async fn archive(w: &mut World) -> Option<Vec<Element>> {
    let client = w.client("2001");
    client
        .send_xml(&format!(
            "<iq type='set' id='offline-mam'><query xmlns='{NS_MAM}' queryid='offline'/></iq>"
        ))
        .await
        .must("query the archive");
    let end = client
        .wait_for("the end of the archive", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("offline-mam")
        })
        .await
        .must("Prosody answers the archive query");
    if end.attr("type") != Some("result") {
        assert!(w.is_external(), "mod_mam is on: {}", xml_of(&end));
        return None;
    }
    let results = w
        .client("2001")
        .take_received(|el| el.get_child("result", NS_MAM).is_some());
    Some(
        results
            .iter()
            .filter_map(|el| {
                el.get_child("result", NS_MAM)?
                    .get_child("forwarded", NS_FORWARD)?
                    .get_child("message", NS_CLIENT)
                    .cloned()
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_while_the_user_is_offline_waits_for_them_as_a_note() {
    let mut w = basic()
        .timing(slow_network())
        .start()
        .await
        .must("start the world");
    let alias = w.alias(TO);
    w.sim(0)
        .send("fail 1 errorstatus 38")
        .must("make the next send fail");
    w.sim(0)
        .wait_event("failures", WAIT, |e| e["channel"] == 1)
        .await
        .must("the failure mode is on");
    let (relay, mut phone) = phone(&mut w).await;
    let text = "Sent just before the tunnel";
    phone
        .send(chat_with_receipt_request(&alias, "offline-1", text).must("build"))
        .await
        .must("send");
    w.sim(0)
        .wait_event("send_queued", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP takes the SEND");
    lose_network(relay, phone).await;
    w.sim(0)
        .wait_event("sms_failed", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP reports the failure");
    wait_delivered(&mut w, "offline-1").await;

    // Back online: the note was kept for 2001.
    w.login("2001").await.must("log 2001 in again");
    let is_note = |el: &Element| {
        is_text_from(el, &alias) && body(el).is_some_and(|b| b.starts_with(&format!("> {text}\n")))
    };
    let note = w
        .client("2001")
        .wait_for("the note about the failed SMS", WAIT, is_note)
        .await
        .must("2001 learns that the SMS was not sent");
    let said = body(&note).unwrap_or_default();
    assert!(
        said.contains("not sent") && said.contains("errorstatus 38"),
        "it says what happened: {}",
        xml_of(&note)
    );
    assert_eq!(note.attr("type"), Some("chat"), "{}", xml_of(&note));
    w.client("2001")
        .expect_none("the note a second time", QUIET, is_note)
        .await
        .must("one note");

    // The archive has it too, for clients that sync from there.
    if let Some(archived) = archive(&mut w).await {
        assert!(
            archived.iter().any(|m| is_note(m) && !is_error(m)),
            "the note is archived: {:#?}",
            archived.iter().map(xml_of).collect::<Vec<_>>()
        );
    }
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_while_the_user_is_offline_waits_for_them() {
    let mut w = basic()
        .timing(slow_network())
        .start()
        .await
        .must("start the world");
    let alias = w.alias(TO);
    let (relay, mut phone) = phone(&mut w).await;
    phone
        .send(chat_with_receipt_request(&alias, "offline-2", "did it arrive?").must("build"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP sends the SMS");
    lose_network(relay, phone).await;
    w.sim(0)
        .send(&format!("deliver 1 {} 0 {TO}", sent["sms_no"]))
        .must("inject the DELIVER");
    w.sim(0)
        .wait_event("ack", WAIT, |e| e["tag"] == "DELIVER")
        .await
        .must("goippy acks the DELIVER");
    wait_delivered(&mut w, "\"dlr\"").await;

    w.login("2001").await.must("log 2001 in again");
    let receipt = w
        .client("2001")
        .wait_for("the receipt", WAIT, |el| {
            receipt_for(el).as_deref() == Some("offline-2")
        })
        .await
        .must("2001 gets the receipt it missed");
    assert!(
        receipt
            .attr("from")
            .is_some_and(|f| f == alias || f.starts_with(&format!("{alias}/"))),
        "{}",
        xml_of(&receipt)
    );
    w.finish().await.must("clean shutdown");
}

/// A line alert (issue 15: GSM registration lost) raised while the line's
/// user has no session online is kept by Prosody and handed over at the
/// next login: a chat message from the line's own number, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_alert_while_the_user_is_offline_waits_for_them() {
    let mut w = basic()
        .goippy_option("ALERT_HOLD", "0")
        .start()
        .await
        .must("start the world");
    let own = w.own_alias("2001").expect("2001 has an own number");
    w.logout("2001").await.must("log 2001 out");
    w.sim(0).send("fail 1 gsm-lost").must("lose GSM");
    w.sim(0)
        .wait_event("failures", WAIT, |e| e["channel"] == 1)
        .await
        .must("the failure mode is on");
    wait_delivered(&mut w, "\"notice\"").await;

    w.login("2001").await.must("log 2001 in again");
    let is_alert = |el: &Element| {
        is_text_from(el, &own)
            && body(el).is_some_and(|b| b.starts_with("Line 2001 (gw1): GSM not registered since "))
    };
    let alert = w
        .client("2001")
        .wait_for("the GSM alert", WAIT, is_alert)
        .await
        .must("2001 learns that the line lost GSM");
    assert_eq!(alert.attr("type"), Some("chat"), "{}", xml_of(&alert));
    w.client("2001")
        .expect_none("the alert a second time", QUIET, is_alert)
        .await
        .must("one alert");
    w.finish().await.must("clean shutdown");
}
