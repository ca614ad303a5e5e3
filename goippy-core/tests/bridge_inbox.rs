//! What the inbox pump sends, through a real Prosody: a failure is an error
//! on the user's message *and* a note quoting it, which Prosody stores for a
//! user who is offline (what Prosody keeps, and why both, is in
//! `bridge/notice.rs`).
#![cfg(feature = "daemon")]

mod bridge_support;
mod store_support;

use std::time::Duration;

use bridge_support::*;
use goippy_core::sim::{Event, Failure, FailureChange};
use tokio_xmpp::minidom::Element;

const BOB: &str = "+37255599999";
/// How the user wrote BOB's number: notes and errors come from this JID.
const BOB_AS_WRITTEN: &str = "0037255599999";

fn error_for(id: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_error(e) && e.attr("id") == Some(id)
}

fn chat_from(node: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_chat(e) && e.attr("from") == Some(contact(node).as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_an_error_on_the_message_and_a_note_quoting_it() {
    let mut w = World::start(Options::default()).await;

    // The GoIP refuses the SMS.
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
    let to = contact(BOB_AS_WRITTEN);
    w.users
        .chat(PHONE, &to, "f1", "Meet me\n  at five", true)
        .await;
    let error = w.users.expect("the error", error_for("f1")).await;
    assert_eq!(error.attr("to"), Some(PHONE), "the sending device");
    assert_eq!(error.attr("from"), Some(to.as_str()));
    let (_, condition, said) = error_of(&error);
    assert_eq!(condition, "service-unavailable");
    let note = w.users.expect("the note", chat_from(BOB_AS_WRITTEN)).await;
    assert_eq!(note.attr("to"), Some(USER), "every device: the bare JID");
    assert_eq!(body(&note), format!("> Meet me at five\n{said}"));
    assert!(said.contains("errorstatus 38"), "{said}");
    // One error and one note, nothing more.
    w.users.expect_silence(Duration::from_millis(800)).await;

    // Sent, but the network reports it not delivered (state 70).
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("fail off");
    w.users.chat(PHONE, &to, "f2", "are you there?", true).await;
    let Event::SmsSent { sms_no, .. } = w
        .device_event(
            "the SMS is sent",
            |e| matches!(e, Event::SmsSent { text, .. } if text == "are you there?"),
        )
        .await
    else {
        unreachable!("matched above")
    };
    w.device
        .deliver_report(1, sms_no, 70, Some(BOB))
        .await
        .expect("deliver");
    let error = w.users.expect("the delivery error", error_for("f2")).await;
    let (_, condition, said) = error_of(&error);
    assert_eq!(condition, "recipient-unavailable");
    let note = w.users.expect("the note", chat_from(BOB_AS_WRITTEN)).await;
    assert_eq!(note.attr("to"), Some(USER));
    assert_eq!(body(&note), format!("> are you there?\n{said}"));
    w.users.expect_silence(Duration::from_millis(800)).await;
}
