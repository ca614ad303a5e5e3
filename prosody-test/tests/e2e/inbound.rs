//! SMS from the GSM side reach the user who owns the channel, exactly as
//! sent and exactly once.

use std::time::Duration;

use prosody_test::SimTiming;
use prosody_test::stanzas::{body, is_message_from, is_text_from};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, SENDER, basic};

#[tokio::test(flavor = "multi_thread")]
async fn an_inbound_sms_arrives_byte_exact_from_the_alias() {
    let mut w = basic().start().await.must("start the world");
    // What the GoIP protocol and XML both treat specially: `;` and `:`
    // (field separators on the wire), newlines, `<&>`, a backslash, and
    // text outside the BMP.
    let text =
        "Tere! Ünïcödé ✓ 😀; semi;colons: id:1;pass:x\nsecond line\n\tindented <b>&amp;</b> \\ end";
    w.sim(0).sms(1, SENDER, text).must("inject the SMS");
    w.sim(0)
        .wait_event("ack", WAIT, |e| e["tag"] == "RECEIVE" && e["channel"] == 1)
        .await
        .must("goippy acks the RECEIVE");

    let alias = w.alias(SENDER);
    let message = w
        .client("2001")
        .wait_for("the SMS", WAIT, |el| is_text_from(el, &alias))
        .await
        .must("2001 gets the SMS");
    assert_eq!(body(&message).as_deref(), Some(text));
    assert_eq!(message.attr("type"), Some("chat"));
    assert_eq!(
        message.attr("from"),
        Some(alias.as_str()),
        "the sender is the alias, not the component JID"
    );
    w.client("2002")
        .expect_none("2001's SMS", QUIET, |el| is_message_from(el, &alias))
        .await
        .must("2002 owns another channel");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retransmitted_receive_is_acked_again_but_delivered_once() {
    // Retransmissions slow enough that goippy catches up before the device
    // gives up, and sure to come while goippy is frozen.
    let timing = SimTiming {
        retransmit_interval: Duration::from_millis(300),
        retransmits: 6,
        ..SimTiming::fast()
    };
    let mut w = basic().timing(timing).start().await.must("start the world");
    // A frozen goippy reads nothing: the GoIP sends the same RECEIVE again,
    // and every copy waits in goippy's socket.
    w.goippy().pause().must("SIGSTOP goippy");
    w.sim(0)
        .sms(1, SENDER, "only once, please")
        .must("inject the SMS");
    w.sim(0)
        .wait_event("notify", WAIT, |e| {
            e["tag"] == "RECEIVE" && e["attempt"] == 3
        })
        .await
        .must("the GoIP sends the RECEIVE a third time");
    w.goippy().resume().must("SIGCONT goippy");
    let ack = w
        .sim(0)
        .wait_event("ack", WAIT, |e| e["tag"] == "RECEIVE")
        .await
        .must("goippy acks it");
    assert!(
        ack["attempts"].as_u64().is_some_and(|n| n >= 3),
        "acked after the copies: {ack}"
    );

    let alias = w.alias(SENDER);
    let is_it = |el: &tokio_xmpp::minidom::Element| {
        is_text_from(el, &alias) && body(el).as_deref() == Some("only once, please")
    };
    w.client("2001")
        .wait_for("the SMS", WAIT, is_it)
        .await
        .must("2001 gets the SMS");
    // The later copies are acked too (the device reports acks for nothing
    // pending as `ignored`), and none of them becomes a second message.
    w.client("2001")
        .expect_none("a second copy of the SMS", Duration::from_secs(2), is_it)
        .await
        .must("delivered once");
    w.finish().await.must("clean shutdown");
}
