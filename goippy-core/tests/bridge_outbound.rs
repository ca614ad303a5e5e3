//! User → GSM, through a real Prosody and a simulated GoIP: SMS sent,
//! receipts (on delivery and on "sent"), delivery reports, every failure as
//! an error stanza for the original message, who may send, the ACL, and the
//! stanzas that must never become an SMS or get an answer.
#![cfg(feature = "daemon")]

mod bridge_support;
mod store_support;

use std::time::Duration;

use bridge_support::*;
use goip_sim::{Event, Failure, FailureChange};
use goippy_core::config::ReceiptPolicy;
use tokio_xmpp::minidom::Element;

const BOB: &str = "+37255512345";

/// The device's `sms_sent` for `text`: (recipient, sms_no).
async fn sent_on_device(w: &mut World, text: &str) -> (String, u32) {
    let (to, sms_no, _) = sent_on_device_with_sendid(w, text).await;
    (to, sms_no)
}

/// The device's `sms_sent` for `text`: (recipient, sms_no, sendid).
async fn sent_on_device_with_sendid(w: &mut World, text: &str) -> (String, u32, u32) {
    let text = text.to_string();
    match w
        .device_event(
            "the SMS is sent",
            |e| matches!(e, Event::SmsSent { text: t, .. } if *t == text),
        )
        .await
    {
        Event::SmsSent {
            to, sms_no, sendid, ..
        } => (to, sms_no, sendid),
        _ => unreachable!(),
    }
}

fn error_for(id: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_error(e) && e.attr("id") == Some(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_is_sent_and_its_delivery_report_answers_the_original_message() {
    let mut w = World::start(Options::default()).await;

    // Sent, receipt requested, delivered: <received/> for the original id.
    let first = "Tere! 😀 a;b\nline two";
    w.users.chat(PHONE, &contact(BOB), "m1", first, true).await;
    let (to, sms_no, sendid) = sent_on_device_with_sendid(&mut w, first).await;
    assert_eq!(to, BOB);
    // The outbox row names the session the GoIP saw, so an operator can
    // follow it from the log to the device.
    w.wait_for_count(
        &format!(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND xmpp_id = 'm1' \
             AND status = 'sent' AND sendid = {sendid}"
        ),
        1,
    )
    .await;
    // Under the "delivered" policy, "sent" alone says nothing.
    w.users.expect_silence(Duration::from_millis(300)).await;
    w.device
        .deliver_report(1, sms_no, 0, Some(BOB))
        .await
        .expect("deliver");
    let r = w
        .users
        .expect("the receipt", |e| receipt_id(e).is_some())
        .await;
    assert_eq!(receipt_id(&r).as_deref(), Some("m1"));
    assert_eq!(r.attr("from"), Some(contact(BOB).as_str()));
    assert_eq!(r.attr("to"), Some(PHONE));

    // Delivered without a receipt request: nothing.
    w.users
        .chat(PHONE, &contact(BOB), "m2", "no receipt", false)
        .await;
    let (_, sms_no) = sent_on_device(&mut w, "no receipt").await;
    w.device
        .deliver_report(1, sms_no, 0, Some(BOB))
        .await
        .expect("deliver");
    w.users.expect_silence(Duration::from_millis(800)).await;

    // Not delivered: wait / recipient-unavailable, with the state.
    w.users.chat(PHONE, &contact(BOB), "m3", "lost", true).await;
    let (_, sms_no) = sent_on_device(&mut w, "lost").await;
    w.device
        .deliver_report(1, sms_no, 70, Some(BOB))
        .await
        .expect("deliver");
    let e = w.users.expect("the delivery error", error_for("m3")).await;
    assert_eq!(e.attr("from"), Some(contact(BOB).as_str()));
    assert_eq!(e.attr("to"), Some(PHONE));
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("wait", "recipient-unavailable")
    );
    assert!(text.contains("state 70"), "{text}");

    // Written with 00: sent to +…, answered from the JID it was written to.
    w.users
        .chat(
            PHONE,
            "0037255512345@sms.example.org",
            "m4",
            "double zero",
            true,
        )
        .await;
    let (to, sms_no) = sent_on_device(&mut w, "double zero").await;
    assert_eq!(to, BOB);
    w.device
        .deliver_report(1, sms_no, 0, None)
        .await
        .expect("deliver");
    let r = w
        .users
        .expect("the receipt", |e| receipt_id(e).as_deref() == Some("m4"))
        .await;
    assert_eq!(r.attr("from"), Some("0037255512345@sms.example.org"));

    // Every message went out exactly once.
    let sent = w.sent().await;
    let texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, vec![first, "no receipt", "lost", "double zero"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_receipts_on_sent_the_receipt_comes_when_the_goip_sent_it() {
    let mut w = World::start(Options {
        receipts: ReceiptPolicy::Sent,
        ..Options::default()
    })
    .await;
    w.users
        .chat(PHONE, &contact(BOB), "s1", "quick", true)
        .await;
    let (_, sms_no) = sent_on_device(&mut w, "quick").await;
    let r = w
        .users
        .expect("the receipt", |e| receipt_id(e).is_some())
        .await;
    assert_eq!(receipt_id(&r).as_deref(), Some("s1"));
    assert_eq!(r.attr("to"), Some(PHONE));
    // The delivery report does not repeat it.
    w.device
        .deliver_report(1, sms_no, 0, Some(BOB))
        .await
        .expect("deliver");
    // Not requested: no receipt either way.
    w.users
        .chat(PHONE, &contact(BOB), "s2", "quiet", false)
        .await;
    sent_on_device(&mut w, "quiet").await;
    w.users.expect_silence(Duration::from_millis(800)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gateway_failure_becomes_an_error_for_the_original_message() {
    let mut w = World::start(Options::default()).await;

    // The GoIP reports errorstatus.
    w.device
        .fail(
            1,
            FailureChange::Set(Failure::ErrorStatus {
                code: 38,
                destination: None,
            }),
        )
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(BOB), "f1", "doomed", true)
        .await;
    let e = w.users.expect("the failure", error_for("f1")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "service-unavailable")
    );
    assert!(
        text.contains("errorstatus 38 (network out of order)"),
        "{text}"
    );
    assert_eq!(e.attr("from"), Some(contact(BOB).as_str()));
    assert_eq!(e.attr("to"), Some(PHONE));

    // No result within GOIP_SMS_TIMEOUT: unknown, never sent again.
    w.device
        .fail(1, FailureChange::Set(Failure::NoResult))
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(BOB), "f2", "limbo", false)
        .await;
    let e = w.users.expect("the unknown outcome", error_for("f2")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "remote-server-timeout")
    );
    assert!(text.contains("may or may not"), "{text}");
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'f2' AND status = 'unknown'",
        1,
    )
    .await;

    // The GoIP refuses every session ("too many sends"), also after the
    // back-off: nothing went out, and the user is told it is safe to resend.
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("fail off");
    w.device
        .fail(1, FailureChange::Set(Failure::TooMany))
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(BOB), "f4", "busy line", false)
        .await;
    let e = w.users.expect("the busy error", error_for("f4")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "service-unavailable")
    );
    assert_eq!(
        text,
        "The SMS was not sent: the GoIP was busy. Nothing went out, so it is safe to send it again."
    );
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("fail off");

    // The channel goes offline (no keepalives) and stays so.
    w.silence_channel().await;
    w.users
        .chat(PHONE, &contact(BOB), "f3", "nobody home", true)
        .await;
    let e = w.users.expect("the offline error", error_for("f3")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("wait", "remote-server-timeout")
    );
    assert!(text.contains("GSM channel was offline"), "{text}");

    // Nothing was sent at all (the failed one was refused by the "network").
    assert!(w.sent().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_enabled_extensions_of_the_users_domain_may_send() {
    let mut w = World::start(Options {
        gateways: vec![("2002", "goip2", None, false)],
        ..Options::default()
    })
    .await;
    // A user of another domain, even with the same localpart.
    w.other
        .chat("2001@other.example.org/x", &contact(BOB), "x1", "hi", false)
        .await;
    let e = w.other.expect("forbidden", error_for("x1")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!((kind.as_str(), condition.as_str()), ("auth", "forbidden"));
    assert!(text.contains("may not send SMS"), "{text}");
    assert_eq!(e.attr("to"), Some("2001@other.example.org/x"));
    // Not provisioned, and provisioned but disabled.
    for (from, id) in [
        ("9999@users.example.org/x", "x2"),
        ("2002@users.example.org/x", "x3"),
    ] {
        w.users.chat(from, &contact(BOB), id, "hi", false).await;
        let e = w
            .users
            .expect("forbidden", |e| is_error(e) && e.attr("id") == Some(id))
            .await;
        assert_eq!(error_of(&e).1, "forbidden");
        assert_eq!(e.attr("to"), Some(from));
    }
    // Nor may they use the console of someone else's number.
    w.other
        .chat("2001@other.example.org/x", OWN_JID, "x4", "status", false)
        .await;
    assert_eq!(
        error_of(&w.other.expect("forbidden", error_for("x4")).await).1,
        "forbidden"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(w.sent().await.is_empty());
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'out'")
            .await,
        0,
        "nothing was even queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_and_the_rules_for_numbers_and_texts() {
    let mut w = World::start(Options {
        // Searched, anchored as written (the original goippy's style).
        allow_regex: Some(r"^\+3725"),
        ..Options::default()
    })
    .await;
    w.users
        .chat(PHONE, &contact("+4915123456789"), "a1", "abroad", false)
        .await;
    let e = w.users.expect("the ACL refusal", error_for("a1")).await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "not-allowed")
    );
    assert_eq!(text, "Your account may not send SMS to +4915123456789.");

    w.users
        .chat(PHONE, &contact("+12"), "a2", "short", false)
        .await;
    let (_, condition, text) = error_of(&w.users.expect("not a number", error_for("a2")).await);
    assert_eq!(condition, "item-not-found");
    assert!(text.contains("not a phone number"), "{text}");

    let long = "x".repeat(3001);
    w.users.chat(PHONE, &contact(BOB), "a3", &long, false).await;
    let (kind, condition, text) = error_of(&w.users.expect("too long", error_for("a3")).await);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("modify", "not-acceptable")
    );
    assert!(text.contains("3001 characters; at most 3000"), "{text}");

    w.users
        .chat(PHONE, &contact(BOB), "a4", "allowed", false)
        .await;
    sent_on_device(&mut w, "allowed").await;
    assert_eq!(w.sent().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_states_receipts_markers_and_errors_are_neither_sent_nor_answered() {
    let mut w = World::start(Options::default()).await;
    let bob = contact(BOB);
    for xml in [
        format!(
            "<message from='{PHONE}' to='{bob}' type='chat' id='c1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
        ),
        format!(
            "<message from='{PHONE}' to='{bob}' type='chat' id='c2'><active xmlns='http://jabber.org/protocol/chatstates'/><body> </body></message>"
        ),
        format!(
            "<message from='{PHONE}' to='{bob}' id='c3'><received xmlns='urn:xmpp:receipts' id='goippy-in-1'/></message>"
        ),
        format!(
            "<message from='{PHONE}' to='{bob}' id='c4'><displayed xmlns='urn:xmpp:chat-markers:0' id='goippy-in-1'/></message>"
        ),
        format!(
            "<message from='{PHONE}' to='{bob}' type='error' id='c5'><body>x</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        ),
        format!(
            "<message from='{PHONE}' to='{bob}' type='headline' id='c6'><body>news</body></message>"
        ),
        format!("<iq from='{PHONE}' to='{SMS}' type='result' id='c7'/>"),
    ] {
        w.users.send_xml(&xml).await;
    }
    w.users.expect_silence(Duration::from_millis(800)).await;
    assert!(w.sent().await.is_empty());
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'out'")
            .await,
        0
    );
}

/// The channel's runner reads its queue from the database; when that read
/// fails, the queued message must not wait for the user's next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_cannot_be_read_is_read_again_without_another_message() {
    let mut w = World::start(Options::default()).await;
    // An outbound row the store cannot decode (a sendid that is no number,
    // as only a hand-edited SQLite file can hold) makes the runner's read of
    // this channel's queue fail, until it is repaired.
    w.db.exec(&format!(
        "INSERT INTO goippy_log (dir, status, kind, goip_id, ext, msisdn, body, xmpp_jid, sendid) \
         VALUES ('out', 'queued', 'sms', '{GOIP_ID}', '{EXT}', '{BOB}', 'poison', '{PHONE}', 'not a number')"
    ))
    .await;
    w.users
        .chat(PHONE, &contact(BOB), "r1", "after the repair", false)
        .await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'r1' AND status = 'queued'",
        1,
    )
    .await;
    // The runner was poked and has failed to read meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(w.sent().await.is_empty());
    w.db.exec("UPDATE goippy_log SET status = 'failed', sendid = NULL WHERE body = 'poison'")
        .await;
    let (to, _) = sent_on_device(&mut w, "after the repair").await;
    assert_eq!(to, BOB);
}
