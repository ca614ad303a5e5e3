//! Who may send what: the destination ACL of a gateway, users goippy does
//! not know, and senders from other domains.

use prosody_test::Scenario;
use prosody_test::stanzas::{chat, error_condition, is_error_for};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, NUMBER_1, basic, needs_throwaway_prosody};

#[tokio::test(flavor = "multi_thread")]
async fn the_acl_lets_matching_destinations_through_and_refuses_the_rest() {
    let mut w = Scenario::new()
        .device("goip", &[("gw1", NUMBER_1)])
        .user_with_acl("2001", "gw1", r"\+3725\d+")
        .start()
        .await
        .must("start the world");
    let abroad = w.alias("+4915112345678");
    w.client("2001")
        .send(chat(&abroad, "acl-1", "not allowed abroad").must("build"))
        .await
        .must("send");
    let error = w
        .client("2001")
        .wait_for("the refusal", WAIT, |el| is_error_for(el, "acl-1"))
        .await
        .must("a destination outside the ACL is refused");
    assert_eq!(
        error_condition(&error).as_deref(),
        Some("not-allowed"),
        "{error:?}"
    );
    w.sim(0)
        .expect_none("an SMS abroad", QUIET, |e| e["event"] == "session_opened")
        .await
        .must("nothing reaches the GoIP");

    let home = w.alias("+37255512345");
    w.client("2001")
        .send(chat(&home, "acl-2", "allowed at home").must("build"))
        .await
        .must("send");
    w.sim(0)
        .wait_event("sms_sent", WAIT, |e| e["text"] == "allowed at home")
        .await
        .must("a matching destination is sent");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_a_gateway_may_not_send() {
    let mut w = basic()
        .stranger("mallory")
        .start()
        .await
        .must("start the world");
    let to = w.alias("+37255512345");
    w.client("mallory")
        .send(chat(&to, "stranger-1", "let me in").must("build"))
        .await
        .must("send");
    let error = w
        .client("mallory")
        .wait_for("the refusal", WAIT, |el| is_error_for(el, "stranger-1"))
        .await
        .must("mallory is refused");
    assert_eq!(
        error_condition(&error).as_deref(),
        Some("forbidden"),
        "{error:?}"
    );
    w.sim(0)
        .expect_none("an SMS from mallory", QUIET, |e| {
            e["event"] == "session_opened"
        })
        .await
        .must("nothing reaches the GoIP");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_from_another_domain_is_refused() {
    if !needs_throwaway_prosody("a_sender_from_another_domain_is_refused") {
        return;
    }
    // eve is a user of other.example on the same server: her messages reach
    // goippy both through the alias and addressed to the component directly.
    let mut w = basic()
        .foreign_user("eve", "other.example")
        .start()
        .await
        .must("start the world");
    let via_alias = w.alias("+37255512345");
    let direct = format!("+37255512345@{}", w.component());
    for (id, to) in [("foreign-1", via_alias), ("foreign-2", direct)] {
        w.client("eve")
            .send(chat(&to, id, "from abroad").must("build"))
            .await
            .must("send");
        let error = w
            .client("eve")
            .wait_for("the refusal", WAIT, |el| is_error_for(el, id))
            .await
            .must("eve is refused");
        assert_eq!(
            error_condition(&error).as_deref(),
            Some("forbidden"),
            "to {to}: {error:?}"
        );
    }
    w.sim(0)
        .expect_none("an SMS from eve", QUIET, |e| e["event"] == "session_opened")
        .await
        .must("nothing reaches the GoIP");
    w.finish().await.must("clean shutdown");
}
