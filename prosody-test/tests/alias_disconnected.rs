//! goippy not connected: Prosody's own bounces reach the user from the alias,
//! so the failure shows up in the conversation it belongs to.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn bounces_come_from_the_alias() {
    let prosody = start(
        alias_config(Gateway::Disconnected, |h| h),
        &[("alice", "alicepw")],
    );
    let mut alice = login(&prosody, "alice", "alicepw").await;

    alice
        .send_xml(&format!(
            "<message to='{ALIAS}' type='chat' id='m1'><body>anyone?</body></message>"
        ))
        .await
        .expect("send message");
    let bounce = alice
        .wait_for("the bounced message", WAIT, |el| {
            el.name() == "message" && el.attr("id") == Some("m1")
        })
        .await
        .expect("bounce");
    assert!(is_error(&bounce), "{}", prosody_test::xml_of(&bounce));
    assert_eq!(bounce.attr("from"), Some(ALIAS));
    assert_eq!(
        error_condition(&bounce).as_deref(),
        Some("remote-server-timeout")
    );

    alice
        .send_xml(&format!(
            "<iq type='get' to='{ALIAS}' id='i1'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await
        .expect("send iq");
    let bounce = alice
        .wait_for("the bounced iq", WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some("i1")
        })
        .await
        .expect("iq bounce");
    assert!(is_error(&bounce), "{}", prosody_test::xml_of(&bounce));
    assert_eq!(bounce.attr("from"), Some(ALIAS));

    // It was mod_component that bounced them (nothing connected), not mod_message.
    prosody
        .wait_for_log("Component not connected, bouncing error", WAIT)
        .expect("mod_component bounced");
}
