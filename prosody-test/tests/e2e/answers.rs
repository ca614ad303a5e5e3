//! Every answer to a message — its receipt, its error, the note about a
//! failure, the console's reply, a USSD answer, "Not sent yet" — comes from
//! the JID the user wrote the message to, so their client keeps it in the
//! window they wrote from; SMS that arrive later come from the number's
//! canonical JID. With mod_sms_alias the user may write to the alias
//! (`+N@example.org`), to another spelling of it (`00N@example.org`) or to
//! goippy's own JID (`+N@sms.example.org`). (Before, every answer came from
//! the canonical alias: a second window, and a message "pending" for ever.)

use goippy_testkit::mariadb::MariaDb;
use prosody_test::stanzas::{
    body, chat, chat_with_receipt_request, is_error_for, is_text_from, receipt_for,
};
use prosody_test::world::{QUIET, WAIT};
use prosody_test::{SimTiming, World};
use tokio_xmpp::minidom::Element;

use crate::{Must, NUMBER_1, basic, needs_throwaway_prosody};

/// Someone the user writes to.
const TO: &str = "+37255599999";

/// `00…` instead of `+…`: the same number, spelled another way.
fn spelled(number: &str, domain: &str) -> String {
    format!("00{}@{domain}", number.trim_start_matches('+'))
}

fn no_automatic_delivery_report() -> SimTiming {
    SimTiming {
        deliver_after: None,
        ..SimTiming::fast()
    }
}

fn from(el: &Element) -> &str {
    el.attr("from").unwrap_or_default()
}

/// Sends `text` with a receipt request to `to`, lets the GoIP send it and
/// the network confirm it; returns the receipt.
async fn send_and_confirm(w: &mut World, to: &str, id: &str, text: &str) -> Element {
    w.client("2001")
        .send(chat_with_receipt_request(to, id, text).must("build"))
        .await
        .must("send");
    let sent = w
        .sim(0)
        .wait_event("sms_sent", WAIT, |e| e["text"] == text)
        .await
        .must("the GoIP sends the SMS");
    w.sim(0)
        .send(&format!("deliver 1 {} 0 {}", sent["sms_no"], sent["to"]))
        .must("inject the DELIVER");
    w.client("2001")
        .wait_for("the receipt", WAIT, |el| {
            receipt_for(el).as_deref() == Some(id)
        })
        .await
        .must("a receipt for the message")
}

/// An SMS from `number` arrives; returns it as the user got it.
async fn sms_arrives(w: &mut World, number: &str, text: &str) -> Element {
    w.sim(0)
        .send(&format!("sms 1 {number} {text}"))
        .must("inject the SMS");
    w.client("2001")
        .wait_for("the SMS", WAIT, |el| body(el).as_deref() == Some(text))
        .await
        .must("the SMS arrives")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_written_to_goippys_own_jid_is_answered_from_there() {
    let mut w = basic()
        .timing(no_automatic_delivery_report())
        .start()
        .await
        .must("start the world");
    let direct = w.component_jid(TO);
    let receipt = send_and_confirm(&mut w, &direct, "direct-1", "straight to goippy").await;
    assert_eq!(from(&receipt), direct, "{receipt:?}");

    // An SMS from that number still comes from its one canonical JID.
    let sms = sms_arrives(&mut w, TO, "a new message").await;
    assert_eq!(from(&sms), w.alias(TO), "{sms:?}");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_written_to_another_spelling_is_answered_from_that_spelling() {
    let mut w = basic().start().await.must("start the world");
    let written = spelled(TO, w.domain());

    // Refused at once (too long for an SMS): the error comes from there.
    w.client("2001")
        .send(chat(&written, "long-1", &"x".repeat(3001)).must("build"))
        .await
        .must("send");
    let refused = w
        .client("2001")
        .wait_for("the refusal", WAIT, |el| is_error_for(el, "long-1"))
        .await
        .must("the message is refused");
    assert_eq!(from(&refused), written, "{refused:?}");

    // Failed later, at the GoIP: the error and the note about it too.
    w.sim(0)
        .send("fail 1 errorstatus 38")
        .must("make the next send fail");
    w.sim(0)
        .wait_event("failures", WAIT, |e| e["channel"] == 1)
        .await
        .must("the failure mode is on");
    w.client("2001")
        .send(chat_with_receipt_request(&written, "fails-1", "this one fails").must("build"))
        .await
        .must("send");
    let error = w
        .client("2001")
        .wait_for("the error", WAIT, |el| is_error_for(el, "fails-1"))
        .await
        .must("an error for the message");
    assert_eq!(from(&error), written, "{error:?}");
    let note = w
        .client("2001")
        .wait_for("the note", WAIT, |el| {
            body(el).is_some_and(|b| b.starts_with("> this one fails"))
        })
        .await
        .must("the note quoting the SMS");
    assert_eq!(from(&note), written, "{note:?}");

    // Delivered: the receipt from there as well.
    let receipt = send_and_confirm(&mut w, &written, "spelled-2", "this one arrives").await;
    assert_eq!(from(&receipt), written, "{receipt:?}");

    let sms = sms_arrives(&mut w, TO, "and an answer").await;
    assert_eq!(from(&sms), w.alias(TO), "{sms:?}");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_answers_from_the_own_number_as_written() {
    let mut w = basic()
        .sim_arg("--ussd-reply")
        .sim_arg("*100#=Balance 5.00 EUR")
        .start()
        .await
        .must("start the world");
    let direct = w.component_jid(NUMBER_1);
    let spelled_own = spelled(NUMBER_1, w.domain());
    for (to, id, command) in [
        (&direct, "c-help", "help"),
        (&direct, "c-ussd", "*100#"),
        (&spelled_own, "c-status", "status"),
    ] {
        w.client("2001")
            .send(chat(to, id, command).must("build"))
            .await
            .must("send");
        let answer = w
            .client("2001")
            .wait_for(&format!("the answer to {command}"), WAIT, |el| {
                is_text_from(el, to) || is_error_for(el, id)
            })
            .await
            .must("the console answers");
        assert_eq!(from(&answer), to.as_str(), "{command}: {answer:?}");
        assert!(body(&answer).is_some(), "{command}: {answer:?}");
    }
    let canonical = w.alias(NUMBER_1);
    w.client("2001")
        .expect_none("anything from the canonical own JID", QUIET, |el| {
            from(el) == canonical
        })
        .await
        .must("no answer from the canonical JID");
    w.finish().await.must("clean shutdown");
}

/// "Not sent yet" is the answer goippy gives while its database does not
/// take the SMS (here: the MariaDB server is killed); it, and the receipt
/// once the SMS went out, come from the spelling written to.
#[tokio::test(flavor = "multi_thread")]
async fn not_sent_yet_comes_from_the_spelling_written_to() {
    if !needs_throwaway_prosody("not_sent_yet_comes_from_the_spelling_written_to") {
        return;
    }
    // A server of its own: this test kills it. Dropped after the world.
    let mut mariadb = tokio::task::block_in_place(MariaDb::start).must("start MariaDB");
    let database = tokio::task::block_in_place(|| mariadb.create_database()).must("a database");
    let mut w = basic()
        .managed()
        .mariadb_database(database)
        .start()
        .await
        .must("start the world");
    let written = spelled(TO, w.domain());
    tokio::task::block_in_place(|| mariadb.kill()).must("kill MariaDB");
    w.client("2001")
        .send(
            chat_with_receipt_request(&written, "spooled-1", "while the db is down").must("build"),
        )
        .await
        .must("send");
    let told = w
        .client("2001")
        .wait_for("word that the SMS waits", WAIT, |el| {
            body(el).is_some_and(|b| b.contains("Not sent yet"))
        })
        .await
        .must("the user hears the SMS waits");
    assert_eq!(from(&told), written, "{told:?}");

    tokio::task::block_in_place(|| mariadb.start_again()).must("MariaDB back");
    w.sim(0)
        .wait_event("sms_sent", WAIT * 3, |e| {
            e["text"] == "while the db is down"
        })
        .await
        .must("the SMS goes out once the database is back");
    let receipt = w
        .client("2001")
        .wait_for("the receipt", WAIT, |el| {
            receipt_for(el).as_deref() == Some("spooled-1")
        })
        .await
        .must("a receipt for the message");
    assert_eq!(from(&receipt), written, "{receipt:?}");
    w.finish().await.must("clean shutdown");
}

/// What goippy recommends to type is the deployment's canonical form: the
/// alias with mod_sms_alias, goippy's own JID without it.
async fn recommended_forms(w: &mut World) -> (String, String) {
    let component = w.component().to_string();
    w.client("2001")
        .send(chat(&component, "gw-help", "hello?").must("build"))
        .await
        .must("send");
    let help = w
        .client("2001")
        .wait_for("the gateway's help", WAIT, |el| {
            is_text_from(el, &component)
        })
        .await
        .must("the gateway answers");
    w.client("2001")
        .send_xml(&format!(
            "<iq type='get' to='{component}' id='prompt-1'><query xmlns='jabber:iq:gateway'/></iq>"
        ))
        .await
        .must("send");
    let prompt = w
        .client("2001")
        .wait_for("the XEP-0100 prompt", WAIT, |el| {
            el.attr("id") == Some("prompt-1")
        })
        .await
        .must("the prompt");
    let desc = prompt
        .get_child("query", "jabber:iq:gateway")
        .and_then(|q| q.get_child("desc", "jabber:iq:gateway"))
        .map(Element::text)
        .unwrap_or_default();
    (body(&help).unwrap_or_default(), desc)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_recommends_the_alias_when_the_module_is_on() {
    let mut w = basic().start().await.must("start the world");
    let (help, desc) = recommended_forms(&mut w).await;
    let canonical = w.alias("+37255512345");
    for (what, text) in [("help", &help), ("prompt", &desc)] {
        assert!(
            text.contains(&canonical),
            "{what} recommends {canonical}: {text:?}"
        );
    }
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_alias_module_answers_and_advice_use_goippys_own_jids() {
    if !needs_throwaway_prosody("without_the_alias_module_answers_and_advice_use_goippys_own_jids")
    {
        return;
    }
    let mut w = basic()
        .without_alias_module()
        .timing(no_automatic_delivery_report())
        .start()
        .await
        .must("start the world");
    let written = spelled(TO, w.component());
    let receipt = send_and_confirm(&mut w, &written, "plain-1", "no module").await;
    assert_eq!(from(&receipt), written, "{receipt:?}");
    let (help, desc) = recommended_forms(&mut w).await;
    let canonical = w.component_jid("+37255512345");
    for (what, text) in [("help", &help), ("prompt", &desc)] {
        assert!(
            text.contains(&canonical),
            "{what} recommends {canonical}: {text:?}"
        );
    }
    w.finish().await.must("clean shutdown");
}
