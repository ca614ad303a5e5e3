//! Mistakes get an explanation a person understands: a number that is no
//! number, a reply to a sender who withheld the number, text to the own
//! number that the console does not understand.

use prosody_test::World;
use prosody_test::stanzas::{body, chat, error_text, is_error, is_error_for, is_text_from};
use prosody_test::world::{QUIET, WAIT};
use tokio_xmpp::minidom::Element;

use crate::{Must, basic, needs_throwaway_prosody};

const NS_NICK: &str = "http://jabber.org/protocol/nick";

/// Sends `text` to `to` and returns the error it gets.
async fn refused(w: &mut World, to: &str, id: &str, text: &str) -> Element {
    w.client("2001")
        .send(chat(to, id, text).must("build"))
        .await
        .must("send");
    w.client("2001")
        .wait_for(&format!("the error for {to}"), WAIT, |el| {
            is_error_for(el, id)
        })
        .await
        .must("an error")
}

/// `+12@example.org` is meant as a number like `+12@sms.example.org`: it
/// gets the same explanation, from the JID written to. (mod_sms_alias took
/// it for a user, and Prosody answered a bare `service-unavailable`.)
#[tokio::test(flavor = "multi_thread")]
async fn a_plus_that_is_no_number_is_explained_wherever_it_was_written() {
    let mut w = basic().start().await.must("start the world");
    let at_users = format!("+12@{}", w.domain());
    let at_goippy = w.component_jid("+12");
    let mut texts = Vec::new();
    for (to, id) in [(&at_users, "short-1"), (&at_goippy, "short-2")] {
        let error = refused(&mut w, to, id, "hello").await;
        assert_eq!(error.attr("from"), Some(to.as_str()), "{error:?}");
        let text = error_text(&error).unwrap_or_default();
        assert!(
            text.contains("too short") && text.contains("e.g. +37255512345"),
            "{to}: {text:?}"
        );
        texts.push(text);
    }
    assert_eq!(texts[0], texts[1], "one rule, one text");
    w.sim(0)
        .expect_none("an SMS", QUIET, |e| e["event"] == "sms_sent")
        .await
        .must("nothing is sent");
    w.finish().await.must("clean shutdown");
}

/// A sender who withheld the number (the GoIP reports a placeholder such as
/// "Anonymous", or nothing) appears as "Withheld number", from a JID no
/// sender name has; a reply to it is refused saying why. (It came from
/// `anonymous@sms.example.org`, like a sender called "Anonymous".)
#[tokio::test(flavor = "multi_thread")]
async fn a_withheld_number_is_shown_as_such_and_cannot_be_answered() {
    let mut w = basic().start().await.must("start the world");
    w.sim(0)
        .send("sms 1 Anonymous guess who")
        .must("inject the SMS");
    let sms = w
        .client("2001")
        .wait_for("the SMS", WAIT, |el| {
            body(el).as_deref() == Some("guess who")
        })
        .await
        .must("the SMS arrives");
    let withheld = w.component_jid("withheld-number");
    assert_eq!(sms.attr("from"), Some(withheld.as_str()), "{sms:?}");
    assert_eq!(
        sms.get_child("nick", NS_NICK).map(Element::text).as_deref(),
        Some("Withheld number"),
        "{sms:?}"
    );
    let error = refused(&mut w, &withheld, "reply-1", "who are you?").await;
    assert_eq!(error.attr("from"), Some(withheld.as_str()), "{error:?}");
    let text = error_text(&error).unwrap_or_default();
    assert!(text.contains("withheld their number"), "{text:?}");
    w.sim(0)
        .expect_none("an SMS", QUIET, |e| e["event"] == "sms_sent")
        .await
        .must("nothing is sent");
    w.finish().await.must("clean shutdown");
}

/// Text to the own number that is neither a command nor a USSD code is
/// answered with a chat message, which every client shows, instead of an
/// error that several show only as a red mark on the sent message.
async fn unknown_console_text_is_answered_in_the_chat(mut w: World) {
    let own = w.own_alias("2001").unwrap_or_default();
    w.client("2001")
        .send(chat(&own, "what-1", "what is my balance?").must("build"))
        .await
        .must("send");
    let answer = w
        .client("2001")
        .wait_for("the console's answer", WAIT, |el| {
            is_text_from(el, &own) || is_error_for(el, "what-1")
        })
        .await
        .must("the console answers");
    assert!(
        !is_error(&answer),
        "a chat message, not an error: {answer:?}"
    );
    let text = body(&answer).unwrap_or_default();
    for part in [
        "\"what is my balance?\" is neither a command nor a USSD code",
        "status, log, log N, help",
        "*100#",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    w.client("2001")
        .expect_none("an error", QUIET, is_error)
        .await
        .must("no error as well");
    w.sim(0)
        .expect_none("a USSD request", QUIET, |e| e["event"] == "ussd")
        .await
        .must("nothing goes to the network");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_text_to_the_own_number_is_answered_with_a_chat_message() {
    let w = basic().start().await.must("start the world");
    unknown_console_text_is_answered_in_the_chat(w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_console_text_is_answered_in_the_chat_without_the_alias_module_too() {
    if !needs_throwaway_prosody(
        "unknown_console_text_is_answered_in_the_chat_without_the_alias_module_too",
    ) {
        return;
    }
    let w = basic()
        .without_alias_module()
        .start()
        .await
        .must("start the world");
    unknown_console_text_is_answered_in_the_chat(w).await;
}

/// Without the alias module, a withheld number is named the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_withheld_number_is_named_without_the_alias_module_too() {
    if !needs_throwaway_prosody("a_withheld_number_is_named_without_the_alias_module_too") {
        return;
    }
    let mut w = basic()
        .without_alias_module()
        .start()
        .await
        .must("start the world");
    w.sim(0)
        .send("sms 1 unknown who knows")
        .must("inject the SMS");
    let sms = w
        .client("2001")
        .wait_for("the SMS", WAIT, |el| {
            body(el).as_deref() == Some("who knows")
        })
        .await
        .must("the SMS arrives");
    assert_eq!(
        sms.attr("from"),
        Some(w.component_jid("withheld-number").as_str()),
        "{sms:?}"
    );
    w.finish().await.must("clean shutdown");
}
