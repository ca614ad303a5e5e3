//! Restarts lose nothing and send nothing twice: Prosody going away in the
//! middle of traffic, goippy stopped and started with messages on the way
//! in both directions, goippy restarted while it holds undelivered SMS.
//! Each on SQLite and on MariaDB.

use std::time::Duration;

use prosody_test::stanzas::{body, chat, chat_with_receipt_request, is_text_from, receipt_for};
use prosody_test::world::{QUIET, WAIT};
use prosody_test::{Backend, SimTiming, World};

use crate::{Must, SENDER, basic, needs_throwaway_prosody};

/// How long the device keeps retransmitting an unacked RECEIVE: long
/// enough to outlast a goippy restart, as a real GoIP's 3 × 3 s does.
fn patient_device() -> SimTiming {
    SimTiming {
        retransmit_interval: Duration::from_millis(300),
        retransmits: 12,
        ..SimTiming::fast()
    }
}

/// Injects an SMS with `text` on channel 1.
fn inject(w: &mut World, text: &str) {
    w.sim(0).sms(1, SENDER, text).must("inject an SMS");
}

/// Waits until goippy acked the RECEIVE of every text (it stored them).
async fn wait_acked(w: &mut World, count: usize) {
    for _ in 0..count {
        w.sim(0)
            .wait_event("ack", WAIT, |e| e["tag"] == "RECEIVE")
            .await
            .must("goippy acks the RECEIVE");
    }
}

/// Waits for each text from the sender at 2001, then makes sure none of
/// them comes a second time.
async fn expect_each_once(w: &mut World, texts: &[String]) {
    let alias = w.alias(SENDER);
    for text in texts {
        w.client("2001")
            .wait_for(&format!("the SMS {text:?}"), WAIT, |el| {
                is_text_from(el, &alias) && body(el).as_deref() == Some(text.as_str())
            })
            .await
            .must("2001 gets every SMS");
    }
    w.client("2001")
        .expect_none("an SMS a second time", QUIET * 2, |el| {
            is_text_from(el, &alias) && body(el).is_some_and(|b| texts.contains(&b))
        })
        .await
        .must("each SMS arrives once");
}

fn texts(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix} {i}")).collect()
}

async fn prosody_restart_mid_traffic_loses_nothing(backend: Backend) {
    let mut w = basic()
        .backend(backend)
        .start()
        .await
        .must("start the world");
    let before = texts("before the restart", 3);
    for text in &before {
        inject(&mut w, text);
    }
    expect_each_once(&mut w, &before).await;

    // An outbound SMS goippy has taken when Prosody goes away.
    const TO: &str = "+37255588888";
    let to = w.alias(TO);
    w.client("2001")
        .send(chat(&to, "out-1", "sent as Prosody stops").must("build"))
        .await
        .must("send");
    w.sim(0)
        .wait_event("send_queued", WAIT, |e| e["to"] == TO)
        .await
        .must("goippy is sending it");
    w.stop_prosody().must("stop Prosody");

    // SMS arriving while Prosody is down: goippy stores and acks them.
    let during = texts("while Prosody is down", 3);
    for text in &during {
        inject(&mut w, text);
    }
    wait_acked(&mut w, during.len() + before.len()).await;

    w.start_prosody().must("start Prosody again");
    // And some right after, while goippy may still be reconnecting.
    let after = texts("after the restart", 3);
    for text in &after {
        inject(&mut w, text);
    }
    w.login("2001").await.must("2001 logs in again");
    w.wait_component_online(Duration::from_secs(30))
        .await
        .must("goippy reconnects to the restarted Prosody");
    expect_each_once(&mut w, &[during, after].concat()).await;

    let sent = w
        .sim(0)
        .take_received(|e| e["event"] == "sms_sent" && e["to"] == TO);
    let more = w
        .sim(0)
        .expect_none("the SMS sent again", QUIET, |e| {
            e["event"] == "sms_sent" && e["to"] == TO
        })
        .await;
    assert_eq!(sent.len(), 1, "the outbound SMS is sent once: {sent:?}");
    more.must("and not again");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_restart_mid_traffic_loses_nothing_sqlite() {
    if needs_throwaway_prosody("prosody_restart_mid_traffic_loses_nothing_sqlite") {
        prosody_restart_mid_traffic_loses_nothing(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_restart_mid_traffic_loses_nothing_mariadb() {
    if needs_throwaway_prosody("prosody_restart_mid_traffic_loses_nothing_mariadb") {
        prosody_restart_mid_traffic_loses_nothing(Backend::MariaDb).await;
    }
}

async fn goippy_restart_loses_nothing_and_sends_nothing_twice(backend: Backend) {
    let mut w = basic()
        .backend(backend)
        .timing(patient_device())
        .start()
        .await
        .must("start the world");

    // An SMS whose result comes only after goippy got its SIGTERM.
    const TO: &str = "+37255577777";
    w.sim(0)
        .send("fail 1 slow-wait 1500ms")
        .must("slow down the modem");
    w.sim(0)
        .wait_event("failures", WAIT, |e| e["channel"] == 1)
        .await
        .must("slow-wait is on");
    let to = w.alias(TO);
    w.client("2001")
        .send(
            chat_with_receipt_request(&to, "in-flight-1", "in flight during the restart")
                .must("build"),
        )
        .await
        .must("send");
    w.sim(0)
        .wait_event("send_queued", WAIT, |e| e["to"] == TO)
        .await
        .must("goippy has sent SEND");

    let before = texts("before goippy stops", 3);
    for text in &before {
        inject(&mut w, text);
    }
    wait_acked(&mut w, before.len()).await;

    w.goippy().stop().must("goippy stops cleanly");
    // The device keeps sending these until the new goippy acks them.
    let during = texts("while goippy is down", 3);
    for text in &during {
        inject(&mut w, text);
    }
    w.goippy().start().must("goippy starts again");
    w.wait_reregistered()
        .await
        .must("the channels register again");
    w.wait_component_online(Duration::from_secs(30))
        .await
        .must("goippy is back on Prosody");
    let after = texts("after goippy is back", 2);
    for text in &after {
        inject(&mut w, text);
    }
    expect_each_once(&mut w, &[before, during, after].concat()).await;
    let given_up = w.sim(0).take_received(|e| e["event"] == "not_acked");
    assert!(
        given_up.is_empty(),
        "every SMS was acked in time: {given_up:?}"
    );

    // The SMS in flight was sent once, and its delivery report still
    // reaches the user as a receipt.
    w.client("2001")
        .wait_for("the receipt for the SMS in flight", WAIT, |el| {
            receipt_for(el).as_deref() == Some("in-flight-1")
        })
        .await
        .must("2001 gets the receipt");
    let queued = w
        .sim(0)
        .take_received(|e| e["event"] == "send_queued" && e["to"] == TO);
    let sent = w
        .sim(0)
        .take_received(|e| e["event"] == "sms_sent" && e["to"] == TO);
    assert!(
        queued.is_empty(),
        "SEND only once (the first was matched above): {queued:?}"
    );
    assert_eq!(sent.len(), 1, "the SMS in flight is sent once: {sent:?}");
    w.sim(0)
        .expect_none("the SMS in flight sent again", QUIET, |e| {
            (e["event"] == "sms_sent" || e["event"] == "send_queued") && e["to"] == TO
        })
        .await
        .must("never sent twice");
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn goippy_restart_loses_nothing_and_sends_nothing_twice_sqlite() {
    goippy_restart_loses_nothing_and_sends_nothing_twice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn goippy_restart_loses_nothing_and_sends_nothing_twice_mariadb() {
    goippy_restart_loses_nothing_and_sends_nothing_twice(Backend::MariaDb).await;
}

async fn goippy_restart_keeps_sms_it_could_not_deliver_yet(backend: Backend) {
    let mut w = basic()
        .backend(backend)
        .start()
        .await
        .must("start the world");
    w.stop_prosody().must("stop Prosody");
    let held = texts("held while everything restarts", 2);
    for text in &held {
        inject(&mut w, text);
    }
    wait_acked(&mut w, held.len()).await;
    // What goippy acked is in its database, not only in its memory.
    w.goippy().stop().must("goippy stops cleanly");
    w.goippy().start().must("goippy starts again");
    w.start_prosody().must("start Prosody again");
    w.login("2001").await.must("2001 logs in again");
    w.wait_component_online(Duration::from_secs(30))
        .await
        .must("goippy connects");
    expect_each_once(&mut w, &held).await;
    w.finish().await.must("clean shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn goippy_restart_keeps_sms_it_could_not_deliver_yet_sqlite() {
    if needs_throwaway_prosody("goippy_restart_keeps_sms_it_could_not_deliver_yet_sqlite") {
        goippy_restart_keeps_sms_it_could_not_deliver_yet(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn goippy_restart_keeps_sms_it_could_not_deliver_yet_mariadb() {
    if needs_throwaway_prosody("goippy_restart_keeps_sms_it_could_not_deliver_yet_mariadb") {
        goippy_restart_keeps_sms_it_could_not_deliver_yet(Backend::MariaDb).await;
    }
}
