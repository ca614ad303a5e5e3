//! A long SMS that the GoIP hands over one part at a time — each part its
//! own RECEIVE without the concatenation header, as some firmware does
//! (`goip-sim --split-sms`) — reaches the user as one message.

use std::time::Duration;

use prosody_test::stanzas::{body, is_text_from};
use prosody_test::world::WAIT;

use crate::{Must, SENDER, basic};

#[tokio::test(flavor = "multi_thread")]
async fn a_long_sms_handed_over_in_parts_arrives_as_one_message() {
    let mut w = basic()
        .sim_arg("--split-sms")
        .goippy_option("SMS_JOIN_WAIT", "5")
        .start()
        .await
        .must("start the world");
    // UCS-2 (Cyrillic and an emoji), 150 UTF-16 units: three parts of at
    // most 67 units.
    let text = format!(
        "{}😀 {}",
        "Привет! Это длинное сообщение. ".repeat(3),
        "Until tomorrow, see you. ".repeat(2)
    );
    assert!(text.encode_utf16().count() > 134, "three parts");
    w.sim(0).sms(1, SENDER, &text).must("inject the SMS");
    // The device sends, and goippy acks, each part on its own.
    for part in 1..=3 {
        w.sim(0)
            .wait_event("ack", WAIT, |e| e["tag"] == "RECEIVE" && e["channel"] == 1)
            .await
            .must(&format!("goippy acks part {part}"));
    }

    let alias = w.alias(SENDER);
    let message = w
        .client("2001")
        .wait_for("the SMS", WAIT, |el| is_text_from(el, &alias))
        .await
        .must("2001 gets the SMS");
    assert_eq!(body(&message).as_deref(), Some(text.as_str()), "all of it");
    w.client("2001")
        .expect_none("another message", Duration::from_secs(2), |el| {
            is_text_from(el, &alias)
        })
        .await
        .must("one message, not one per part");
    w.finish().await.must("clean shutdown");
}
