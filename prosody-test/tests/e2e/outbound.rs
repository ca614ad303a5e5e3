//! A user writes to `+N@example.org`; the text leaves as an SMS through the
//! user's own channel, and what the network says comes back: a receipt for
//! a delivery report, an error for a failure.

use prosody_test::SimTiming;
use prosody_test::stanzas::{
    chat, chat_with_receipt_request, error_condition, error_text, error_type, is_error,
    is_error_for, is_message_from, receipt_for,
};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, basic};

const TO: &str = "+37255599999";

#[tokio::test(flavor = "multi_thread")]
async fn a_message_to_the_alias_leaves_as_an_sms_through_the_users_channel() {
    let mut w = basic().start().await.must("start the world");
    let text = "Outbound ✓ 😀; semi;colons: id:7\nsecond line <&>";
    let to = w.alias(TO);
    w.client("2001")
        .send(chat(&to, "out-1", text).must("build the message"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["text"] == text)
        .await
        .must("the GoIP sends the SMS");
    assert_eq!(sent["channel"], 1, "2001's channel is gw1: {sent}");
    assert_eq!(sent["to"], TO, "{sent}");
    w.sim(0)
        .expect_none("a second SMS", QUIET, |e| e["event"] == "sms_sent")
        .await
        .must("sent once");
    w.client("2001")
        .expect_none("an error", QUIET, is_error)
        .await
        .must("no error for a sent SMS");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_delivery_report_becomes_a_receipt_from_the_alias() {
    // No automatic delivery report: the test sends it, so the receipt can
    // only come from that DELIVER.
    let timing = SimTiming {
        deliver_after: None,
        ..SimTiming::fast()
    };
    let mut w = basic().timing(timing).start().await.must("start the world");
    let alias = w.alias(TO);
    w.client("2001")
        .send(chat_with_receipt_request(&alias, "receipt-1", "did it arrive?").must("build"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP sends the SMS");
    w.client("2001")
        .expect_none("a receipt before the delivery report", QUIET, |el| {
            receipt_for(el).is_some()
        })
        .await
        .must("no receipt yet: the SMS is sent, not delivered");

    let sms_no = &sent["sms_no"];
    w.sim(0)
        .send(&format!("deliver 1 {sms_no} 0 {TO}"))
        .must("inject the DELIVER");
    w.sim(0)
        .wait_event("ack", WAIT, |e| e["tag"] == "DELIVER")
        .await
        .must("goippy acks the DELIVER");
    let receipt = w
        .client("2001")
        .wait_for("the receipt", WAIT, |el| {
            receipt_for(el).as_deref() == Some("receipt-1")
        })
        .await
        .must("2001 gets a receipt for its message");
    assert!(is_message_from(&receipt, &alias), "{receipt:?}");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_send_comes_back_as_an_error_on_the_message() {
    let mut w = basic().start().await.must("start the world");
    w.sim(0)
        .send("fail 1 errorstatus 38")
        .must("make the next send fail");
    w.sim(0)
        .wait_event("failures", WAIT, |e| e["channel"] == 1)
        .await
        .must("the failure mode is on");
    let alias = w.alias(TO);
    w.client("2001")
        .send(chat_with_receipt_request(&alias, "fails-1", "this one fails").must("build"))
        .await
        .must("send");
    let failed = w
        .sim(0)
        .wait_event("sms_failed", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP reports the failure");
    assert_eq!(failed["errorstatus"], 38);
    let error = w
        .client("2001")
        .wait_for("the error", WAIT, |el| is_error_for(el, "fails-1"))
        .await
        .must("2001 gets an error for its message");
    assert!(is_message_from(&error, &alias), "{error:?}");
    assert_eq!(
        error_condition(&error).as_deref(),
        Some("service-unavailable"),
        "{error:?}"
    );
    assert_eq!(error_type(&error).as_deref(), Some("cancel"), "{error:?}");
    assert!(
        error_text(&error).is_some_and(|t| !t.is_empty()),
        "the error says what happened: {error:?}"
    );
    w.client("2001")
        .expect_none("a receipt for a failed SMS", QUIET, |el| {
            receipt_for(el).is_some()
        })
        .await
        .must("no receipt");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_report_saying_not_delivered_comes_back_as_an_error() {
    let timing = SimTiming {
        deliver_after: None,
        ..SimTiming::fast()
    };
    let mut w = basic().timing(timing).start().await.must("start the world");
    let alias = w.alias(TO);
    w.client("2001")
        .send(chat_with_receipt_request(&alias, "undelivered-1", "nobody home").must("build"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["to"] == TO)
        .await
        .must("the GoIP sends the SMS");
    // TP-Status 70 (0x46): permanent error, SC specific.
    w.sim(0)
        .send(&format!("deliver 1 {} 70 {TO}", sent["sms_no"]))
        .must("inject the DELIVER");
    let error = w
        .client("2001")
        .wait_for("the error", WAIT, |el| is_error_for(el, "undelivered-1"))
        .await
        .must("2001 learns the SMS was not delivered");
    assert!(is_message_from(&error, &alias), "{error:?}");
    assert_eq!(
        error_condition(&error).as_deref(),
        Some("recipient-unavailable"),
        "{error:?}"
    );
    w.finish().await.must("clean shutdown");
}
