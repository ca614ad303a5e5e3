//! Line pools as a user meets them through mod_sms_alias: a line shared by
//! two users, one of whom has two lines.
//!
//! The world: 2001 owns gw1 (`NUMBER_1`); 2002 owns gw2 (`NUMBER_2`) and
//! shares gw1, its line 2.

use prosody_test::stanzas::{body, chat, is_error, is_text_from};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, NUMBER_1, SENDER, basic};

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_line_reaches_both_users_and_the_answer_leaves_on_it() {
    let mut w = basic()
        .shares("2002", "gw1")
        .start()
        .await
        .must("start the world");
    w.sim(0).sms(1, SENDER, "hello team").must("inject the SMS");
    let alias = w.alias(SENDER);
    let for_2001 = w
        .client("2001")
        .wait_for("the SMS", WAIT, |el| is_text_from(el, &alias))
        .await
        .must("2001 gets the SMS");
    assert_eq!(
        body(&for_2001).as_deref(),
        Some("hello team"),
        "2001 has one line: no tag"
    );
    let for_2002 = w
        .client("2002")
        .wait_for("the SMS", WAIT, |el| is_text_from(el, &alias))
        .await
        .must("2002 gets the SMS too");
    assert_eq!(
        body(&for_2002).as_deref(),
        Some(format!("[line 2 {NUMBER_1}] hello team").as_str()),
        "2002 has two lines: the line is named, the contact's JID is the same"
    );

    // 2002 answers the contact: it leaves on the line the contact wrote to.
    w.client("2002")
        .send(chat(&alias, "answer-1", "on my way").must("build"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["text"] == "on my way")
        .await
        .must("the GoIP sends the answer");
    assert_eq!(sent["channel"], 1, "the shared line gw1: {sent}");
    w.client("2002")
        .expect_none("an error", QUIET, is_error)
        .await
        .must("no error");
    w.finish().await.must("clean shutdown");
}
