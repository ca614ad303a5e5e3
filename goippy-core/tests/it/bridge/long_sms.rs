//! A long SMS that the GoIP hands over one part at a time (each part its
//! own RECEIVE, without the concatenation header) reaches the user as one
//! message, through a real Prosody: parts in order, in GSM-7 and in UCS-2;
//! parts out of order, as far as their lengths tell; a lone part of full
//! length after the wait, without holding up anyone else; and a part that
//! waits across a restart of goippy, delivered once. The rule itself is
//! `bridge/inbox/concat.rs`.

use std::time::Duration;

use goippy_core::segments::split;
use tokio_xmpp::parsers::ns;

use crate::support::bridge::*;
use crate::support::log;

const ANN: &str = "+37255512345";
const BOB: &str = "+37255599999";

impl World {
    /// Each part as its own RECEIVE, in the order given.
    async fn receive_parts(&mut self, from: &str, parts: &[&str]) {
        for part in parts {
            self.receive(from, part).await;
        }
    }

    /// The log id of the inbox row with this text.
    async fn row_id(&self, body: &str) -> i64 {
        self.scalar(&format!(
            "SELECT id FROM goippy_log WHERE dir = 'in' AND body = '{body}'"
        ))
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_in_order_become_one_message_in_both_alphabets() {
    let log = log::watch();
    let mut w = World::start(Options {
        sms_join_wait: Duration::from_secs(10),
        ..Options::default()
    })
    .await;

    // GSM-7, two parts; the € counts two septets.
    let text = format!(
        "{} Total: 25€. {}",
        "Your order has shipped and is on its way.".repeat(3),
        "Track it with the code we sent you by e-mail earlier today.".repeat(2)
    );
    let parts = split(&text);
    assert_eq!(parts.len(), 2, "{parts:?}");
    w.receive_parts(ANN, &parts).await;
    let m = w.users.expect("the whole SMS", chat_from(ANN)).await;
    assert_eq!(body(&m), text);
    let first = w.row_id(parts[0]).await;
    assert_eq!(
        m.attr("id"),
        Some(format!("goippy-in-{first}").as_str()),
        "the first part's id"
    );
    assert!(
        m.has_child("delay", ns::DELAY),
        "the first part's arrival time"
    );
    w.users.expect_silence(Duration::from_secs(1)).await;

    // UCS-2, three parts: Cyrillic, and an emoji that did not fit the
    // first part's last unit (so it has 66).
    let text = format!("{}😀 {}", "д".repeat(66), "Привет, как дела? ".repeat(6));
    let parts = split(&text);
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(parts[0].encode_utf16().count(), 66);
    w.receive_parts(BOB, &parts).await;
    let m = w.users.expect("the whole SMS", chat_from(BOB)).await;
    assert_eq!(body(&m), text);
    w.users.expect_silence(Duration::from_secs(1)).await;

    // Every part is marked delivered, once Prosody had the message.
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'delivered'",
        5,
    )
    .await;
    // The log: a line per part, and one naming the parts joined.
    let mut ids = Vec::new();
    for part in &parts {
        ids.push(w.row_id(part).await.to_string());
    }
    for id in &ids {
        let delivered = log.lines(&format!("log_id={id} "));
        assert!(
            delivered
                .iter()
                .any(|l| l.contains("inbound delivered to XMPP")),
            "{delivered:#?}"
        );
    }
    let joined = log.lines("the parts of a long SMS were delivered as one message");
    assert!(
        joined
            .iter()
            .any(|l| l.contains(&format!("log_ids={} ", ids.join(",")))
                && l.contains(&format!("xmpp_id=goippy-in-{}", ids[0]))),
        "{joined:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_out_of_order_as_far_as_their_lengths_tell() {
    let mut w = World::start(Options {
        sms_join_wait: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    let head = "a".repeat(153);
    let tail = "and that was all.";

    // The short last part first: it looks like any short SMS and goes at
    // once; the head then waits in vain and follows alone.
    w.receive(ANN, tail).await;
    let m = w.users.expect("the tail", chat_from(ANN)).await;
    assert_eq!(body(&m), tail);
    w.receive(ANN, &head).await;
    let m = w.users.expect("the head, alone", chat_from(ANN)).await;
    assert_eq!(body(&m), head);

    // Two full parts that swapped places, then the last: one message, in
    // the order they came (nothing in them tells the order).
    let p1 = "1".repeat(153);
    let p2 = "2".repeat(153);
    w.receive_parts(BOB, &[&p2, &p1, "3"]).await;
    let m = w.users.expect("one message", chat_from(BOB)).await;
    assert_eq!(body(&m), format!("{p2}{p1}3"));
    w.users.expect_silence(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_full_length_part_goes_after_the_wait_and_holds_up_nobody() {
    let mut w = World::start(Options {
        sms_join_wait: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    // Exactly one segment: a standalone SMS of 67 UCS-2 characters.
    let lone = "ж".repeat(67);
    w.receive(ANN, &lone).await;
    w.receive(BOB, "hi").await;
    // The other sender's SMS is not held behind it.
    let m = w.users.expect("a chat", is_chat).await;
    assert_eq!(m.attr("from"), Some(contact(BOB).as_str()));
    let m = w.users.expect("the lone part", chat_from(ANN)).await;
    assert_eq!(body(&m), lone);
    w.users.expect_silence(Duration::from_secs(1)).await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'delivered'",
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_waiting_across_a_restart_is_delivered_once() {
    let mut w = World::start(Options {
        sms_join_wait: Duration::from_secs(8),
        ..Options::default()
    })
    .await;
    let text = format!(
        "{} {}",
        "Meeting moved to room 4.".repeat(7),
        "See you there!"
    );
    let parts = split(&text);
    assert_eq!(parts.len(), 2);
    let lone = "b".repeat(153);

    // Ann's first part and Bob's lone part wait; goippy stops meanwhile.
    w.receive(ANN, parts[0]).await;
    w.receive(BOB, &lone).await;
    w.stop_bridge().await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'inbox'")
            .await,
        2,
        "both still wait in the inbox"
    );
    let early = w.users.collect(Duration::from_millis(300), is_chat).await;
    assert!(early.is_empty(), "nothing was sent: {early:#?}");

    // Started again, the continuation comes: one message. Bob's part goes
    // alone when its time is up.
    w.start_bridge().await;
    w.receive(ANN, parts[1]).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = w.users.expect("a chat", is_chat).await;
        got.push((m.attr("from").unwrap_or_default().to_string(), body(&m)));
    }
    got.sort();
    assert_eq!(
        got,
        [(contact(ANN), text.clone()), (contact(BOB), lone.clone())]
    );
    w.users.expect_silence(Duration::from_secs(2)).await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'delivered'",
        3,
    )
    .await;
}
