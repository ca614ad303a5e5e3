//! Chatting with your own SIM's number is a console: `status`, `log`,
//! `log N`, and anything else is a USSD code whose answer comes back.

use prosody_test::World;
use prosody_test::stanzas::{
    body, chat, chat_with_receipt_request, is_error, is_error_for, is_text_from, receipt_for,
};
use prosody_test::world::{QUIET, WAIT};

use crate::{Must, NUMBER_1, SENDER, basic, needs_throwaway_prosody};

/// Sends `text` to 2001's own number; returns the answer's body.
async fn ask(w: &mut World, id: &str, text: &str) -> String {
    let own = w.own_alias("2001").must_some("2001's own number");
    w.client("2001")
        .send(chat(&own, id, text).must("build"))
        .await
        .must("send");
    let answer = w
        .client("2001")
        .wait_for(&format!("the answer to {text:?}"), WAIT, |el| {
            is_text_from(el, &own) || (is_error(el) && el.attr("id") == Some(id))
        })
        .await
        .must("the console answers");
    assert!(!is_error(&answer), "{text:?} was refused: {answer:?}");
    body(&answer).unwrap_or_default()
}

trait MustSome<T> {
    fn must_some(self, what: &str) -> T;
}

impl<T> MustSome<T> for Option<T> {
    #[track_caller]
    fn must_some(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("no {what}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ussd_code_goes_to_the_network_and_its_answer_comes_back() {
    let mut w = basic()
        .sim_arg("--ussd-reply")
        .sim_arg("*123#=Balance 5.00 EUR; valid: 31.12.\\nBonus 100 MB")
        .start()
        .await
        .must("start the world");
    let answer = ask(&mut w, "ussd-1", "*123#").await;
    let asked = w
        .sim(0)
        .wait_event("ussd", WAIT, |e| e["code"] == "*123#")
        .await
        .must("the GoIP gets the USSD request");
    assert_eq!(asked["channel"], 1, "2001's channel: {asked}");
    assert_eq!(
        answer, "[USSD] Balance 5.00 EUR; valid: 31.12.\nBonus 100 MB",
        "the network's answer, whole, marked as USSD"
    );
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_the_channel_without_asking_the_network() {
    let mut w = basic().start().await.must("start the world");
    let answer = ask(&mut w, "status-1", "status").await;
    for part in ["2001", "gw1", NUMBER_1, "online", "LOGIN"] {
        assert!(
            answer.contains(part),
            "the status names the line and its state ({part}): {answer:?}"
        );
    }
    w.sim(0)
        .expect_none("a USSD request for `status`", QUIET, |e| {
            e["event"] == "ussd"
        })
        .await
        .must("status is answered by goippy itself");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_lists_the_calls_and_log_n_the_last_n() {
    const CALLEE: &str = "+37255577777";
    let mut w = basic().start().await.must("start the world");
    // An answered incoming call of a second, then an unanswered outgoing one.
    for (line, number) in [
        (format!("call 1 in {SENDER} 1"), SENDER),
        (format!("call 1 out {CALLEE} 0"), CALLEE),
    ] {
        w.sim(0).send(&line).must("start the call");
        w.sim(0)
            .wait_event("call_ended", WAIT, |e| e["number"] == number)
            .await
            .must("the call ends");
        w.sim(0)
            .wait_event("ack", WAIT, |e| e["tag"] == "HANGUP")
            .await
            .must("goippy acks the HANGUP");
    }
    let all = ask(&mut w, "log-1", "log").await;
    let (newer, older) = (all.find(CALLEE), all.find(SENDER));
    assert!(
        newer.is_some() && older.is_some() && newer < older,
        "`log` lists both calls, newest first: {all:?}"
    );
    let last = ask(&mut w, "log-2", "log 1").await;
    assert!(
        last.contains(CALLEE),
        "`log 1` shows the latest call: {last:?}"
    );
    assert!(
        !last.contains(SENDER),
        "`log 1` shows only the latest call: {last:?}"
    );
    w.sim(0)
        .expect_none("a USSD request for `log`", QUIET, |e| e["event"] == "ussd")
        .await
        .must("log is answered by goippy itself");
    w.finish().await.must("clean shutdown");
}

/// A channel reports its SIM number in every keepalive; from its first one,
/// text to that number is the console. (goippy once learned the number only
/// at its next gateway reload, 5 s later, and until then sent `status` as an
/// SMS to the user's own SIM.)
#[tokio::test(flavor = "multi_thread")]
async fn the_console_is_there_as_soon_as_the_channel_reported_its_number() {
    let mut w = basic().start().await.must("start the world");
    let own = w.own_alias("2001").must_some("2001's own number");
    w.client("2001")
        .send(chat(&own, "early-status", "status").must("build"))
        .await
        .must("send");
    w.sim(0)
        .expect_none(
            "`status` sent as an SMS to the user's own number",
            QUIET,
            |e| e["event"] == "session_opened",
        )
        .await
        .must("a console command right after registration is no SMS");
    let answer = w
        .client("2001")
        .wait_for("the status", WAIT, |el| {
            is_text_from(el, &own) || (is_error(el) && el.attr("id") == Some("early-status"))
        })
        .await
        .must("the console answers");
    assert!(!is_error(&answer), "{answer:?}");
    w.finish().await.must("clean shutdown");
}

/// Every console message that asks for a receipt (XEP-0184; clients ask,
/// since the number's disco promises receipts) gets one, from the JID it
/// was written to: `help`, `status`, `log` and unknown text once goippy has
/// taken them, a USSD code once the GoIP has answered it. (None came; the
/// client showed the commands undelivered for ever.)
async fn every_console_command_gets_its_receipt(mut w: World) {
    let own = w.own_alias("2001").must_some("2001's own number");
    for (id, command) in [
        ("r-help", "help"),
        ("r-status", "status"),
        ("r-log", "log"),
        ("r-what", "what is this?"),
        ("r-ussd", "*100#"),
    ] {
        w.client("2001")
            .send(chat_with_receipt_request(&own, id, command).must("build"))
            .await
            .must("send");
        let receipt = w
            .client("2001")
            .wait_for(&format!("the receipt for {command:?}"), WAIT, |el| {
                receipt_for(el).as_deref() == Some(id) || is_error_for(el, id)
            })
            .await
            .must("a receipt");
        assert_eq!(
            receipt.attr("from"),
            Some(own.as_str()),
            "{command}: {receipt:?}"
        );
        assert_eq!(
            receipt_for(&receipt).as_deref(),
            Some(id),
            "{command}: {receipt:?}"
        );
        w.client("2001")
            .wait_for(&format!("the answer to {command:?}"), WAIT, |el| {
                is_text_from(el, &own)
            })
            .await
            .must("the console answers too");
    }
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn console_commands_that_ask_for_a_receipt_get_one() {
    let w = basic().start().await.must("start the world");
    every_console_command_gets_its_receipt(w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_commands_get_receipts_without_the_alias_module_too() {
    if !needs_throwaway_prosody("console_commands_get_receipts_without_the_alias_module_too") {
        return;
    }
    let w = basic()
        .without_alias_module()
        .start()
        .await
        .must("start the world");
    every_console_command_gets_its_receipt(w).await;
}
