//! Two GoIPs with two channels each, every channel owned by another user:
//! SMS arrive at the channel's owner only, and each user's SMS leave
//! through that user's own device and channel.

use prosody_test::Scenario;
use prosody_test::stanzas::{body, chat, is_text_from};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, SENDER};

/// (device index, channel number, goip_id, SIM number, user)
const LINES: [(usize, usize, &str, &str, &str); 4] = [
    (0, 1, "gwa1", "+37255500011", "2001"),
    (0, 2, "gwa2", "+37255500012", "2002"),
    (1, 1, "gwb1", "+37255500021", "2003"),
    (1, 2, "gwb2", "+37255500022", "2004"),
];

#[tokio::test(flavor = "multi_thread")]
async fn two_devices_with_several_channels_each_serve_their_own_users() {
    let mut scenario = Scenario::new()
        .device("goip-a", &[("gwa1", LINES[0].3), ("gwa2", LINES[1].3)])
        .device("goip-b", &[("gwb1", LINES[2].3), ("gwb2", LINES[3].3)]);
    for (_, _, goip_id, _, user) in LINES {
        scenario = scenario.user(user, goip_id);
    }
    let mut w = scenario.start().await.must("start the world");
    let alias = w.alias(SENDER);

    // Inbound: one SMS per channel, each to its owner only.
    for (device, channel, goip_id, _, _) in LINES {
        w.sim(device)
            .sms(channel, SENDER, &format!("via {goip_id}"))
            .must("inject an SMS");
    }
    for (_, _, goip_id, _, user) in LINES {
        let expected = format!("via {goip_id}");
        w.client(user)
            .wait_for(&format!("the SMS {expected:?}"), WAIT, |el| {
                is_text_from(el, &alias) && body(el).as_deref() == Some(expected.as_str())
            })
            .await
            .must("the channel's owner gets its SMS");
    }
    for (_, _, _, _, user) in LINES {
        let stray = w.take_received(user, |el| is_text_from(el, &alias));
        assert!(
            stray.is_empty(),
            "{user} got SMS of other channels: {:?}",
            stray.iter().map(body).collect::<Vec<_>>()
        );
    }

    // Outbound: each user's SMS leaves through that user's device and channel.
    for (n, (_, _, _, _, user)) in LINES.iter().enumerate() {
        let to = w.alias(&format!("+3725559000{n}"));
        w.client(user)
            .send(chat(&to, &format!("multi-{n}"), &format!("from {user}")).must("build"))
            .await
            .must("send");
    }
    for (n, (device, channel, goip_id, _, user)) in LINES.iter().enumerate() {
        let text = format!("from {user}");
        let sent = w
            .sim(*device)
            .wait_event("sms_sent", WAIT, |e| e["text"] == text.as_str())
            .await
            .must("the SMS leaves through the user's device");
        assert_eq!(sent["channel"], *channel, "{user} owns {goip_id}: {sent}");
        assert_eq!(sent["to"], format!("+3725559000{n}"), "{sent}");
    }
    for device in 0..2 {
        w.sim(device)
            .expect_none("an SMS of the other device's users", QUIET, |e| {
                e["event"] == "sms_sent"
            })
            .await
            .must("every SMS leaves through one device only");
    }
    w.finish().await.must("clean shutdown");
}
