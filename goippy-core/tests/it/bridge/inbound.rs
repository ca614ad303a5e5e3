//! GSM → user, through a real Prosody: SMS, sender names, USSN, calls, a
//! retransmitted RECEIVE and RECORD (also with a recvid that is no
//! number), a Prosody restart between a RECEIVE
//! and its delivery, and goippy dying right after acking calls.

use std::time::Duration;

use goip_sim::{CallSpec, CallWay};
use goippy_core::store::{InboundKind, InboundRecord, Timestamp};
use tokio::net::UdpSocket;
use tokio_xmpp::parsers::ns;

use crate::support::bridge::*;

fn from_contact(number: &str) -> impl FnMut(&tokio_xmpp::minidom::Element) -> bool + '_ {
    move |e| is_chat(e) && e.attr("from") == Some(contact(number).as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_reaches_the_user_byte_exact_and_is_marked_delivered() {
    let mut w = World::start(Options::default()).await;
    let text = "Tere, Ülle! 😀 Привет; a;b:c\nsecond line\n\tthird: 100% <&>\"'";
    let recvid = w.receive("+37255512345", text).await;
    let m = w
        .users
        .expect("the SMS", from_contact("+37255512345"))
        .await;
    assert_eq!(body(&m), text);
    assert_eq!(m.attr("to"), Some(USER));
    let id = m.attr("id").expect("an id").to_string();
    assert!(id.starts_with("goippy-in-"), "{id}");
    assert!(
        m.has_child("delay", ns::DELAY),
        "the arrival time travels along"
    );
    w.wait_for_count(
        &format!(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'sms' \
             AND status = 'delivered' AND recvid = {recvid} AND body = '{}'",
            text.replace('\'', "''")
        ),
        1,
    )
    .await;
    // A short code keeps its digits; nothing else arrives.
    w.receive("1345", "short").await;
    let m = w
        .users
        .expect("the short code's SMS", from_contact("1345"))
        .await;
    assert_eq!(body(&m), "short");
    w.users.expect_silence(Duration::from_millis(500)).await;
}

/// The same RECEIVE datagram three times (as a GoIP resends it when an ack
/// is lost): acked every time, delivered once — also after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_receive_is_acked_each_time_and_delivered_once() {
    let mut w = World::start(Options::default()).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let datagram = format!(
        "RECEIVE:1734804704;id:{GOIP_ID};password:{GOIP_PASS};srcnum:+37255512345;msg:once; only"
    );
    let server = format!("127.0.0.1:{}", w.udp_port);
    let mut acks = 0;
    for round in 0..3 {
        if round == 2 {
            // The third copy crosses a restart of goippy.
            w.stop_bridge().await;
            w.start_bridge().await;
        }
        socket
            .send_to(datagram.as_bytes(), &server)
            .await
            .expect("send");
        let mut buf = [0u8; 512];
        let (n, _) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf))
            .await
            .expect("an ack")
            .expect("recv");
        assert_eq!(
            String::from_utf8_lossy(&buf[..n]).trim_end(),
            "RECEIVE 1734804704 OK"
        );
        acks += 1;
    }
    assert_eq!(acks, 3);
    let got = w
        .users
        .collect(Duration::from_secs(3), from_contact("+37255512345"))
        .await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(body(&got[0]), "once; only");
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND recvid = 1734804704")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_name_becomes_an_escaped_jid_that_cannot_be_answered() {
    let mut w = World::start(Options::default()).await;
    w.receive("My Bank", "Your code is 1234").await;
    let m = w
        .users
        .expect("the bank's SMS", |e| {
            is_chat(e) && e.attr("from") == Some("my\\20bank@sms.example.org")
        })
        .await;
    assert_eq!(body(&m), "Your code is 1234");
    assert_eq!(
        m.get_child("nick", ns::NICK)
            .map(tokio_xmpp::minidom::Element::text)
            .as_deref(),
        Some("My Bank")
    );
    // Replying to it gets a clear refusal, and sends nothing.
    w.users
        .chat(PHONE, "my\\20bank@sms.example.org", "r1", "thanks", false)
        .await;
    let e = w.users.expect("the refusal", is_error).await;
    assert_eq!(e.attr("id"), Some("r1"));
    assert_eq!(e.attr("from"), Some("my\\20bank@sms.example.org"));
    assert_eq!(e.attr("to"), Some(PHONE));
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "service-unavailable")
    );
    assert!(text.contains("\"my bank\" is a sender name"), "{text}");
    assert!(w.sent().await.is_empty());
}

/// A GoIP reports a sender who withheld the number with an empty `srcnum`
/// (or a placeholder word): the user sees "Withheld number", from a JID no
/// sender name has, and a reply says why it cannot be sent. (It came from
/// `unknown@sms.example.org`, which looks like a sender named "unknown".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_number_is_shown_as_such_and_a_reply_says_why_it_cannot_go() {
    const WITHHELD: &str = "withheld-number@sms.example.org";
    let mut w = World::start(Options::default()).await;
    w.receive("", "guess who").await;
    let m = w
        .users
        .expect("the SMS", |e| is_chat(e) && body(e) == "guess who")
        .await;
    assert_eq!(m.attr("from"), Some(WITHHELD));
    assert_eq!(
        m.get_child("nick", ns::NICK)
            .map(tokio_xmpp::minidom::Element::text)
            .as_deref(),
        Some("Withheld number")
    );
    w.users
        .chat(PHONE, WITHHELD, "w1", "who is this?", false)
        .await;
    let e = w.users.expect("the refusal", is_error).await;
    assert_eq!(e.attr("id"), Some("w1"));
    assert_eq!(e.attr("from"), Some(WITHHELD));
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "service-unavailable")
    );
    assert!(text.contains("withheld their number"), "{text}");
    assert!(w.sent().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_ussd_comes_from_the_own_number_and_calls_are_only_logged_by_default() {
    let mut w = World::start(Options::default()).await;
    w.device.ussn(1, "Your bonus: 5 EUR").await.expect("ussn");
    let m = w
        .users
        .expect("the USSN", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID)
        })
        .await;
    assert_eq!(body(&m), "[USSD] Your bonus: 5 EUR");

    w.device
        .call(
            1,
            CallSpec {
                way: CallWay::In,
                number: "+37255512345".into(),
                seconds: 1,
                cause: "Normal call clearing".into(),
            },
        )
        .await
        .expect("call");
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_calls WHERE goip_id = 'goip1' AND event = 'HANGUP' \
         AND cause = 'Normal call clearing' AND duration = 1",
        1,
    )
    .await;
    assert_eq!(
        w.scalar(
            "SELECT COUNT(*) FROM goippy_calls WHERE event = 'RECORD' AND direction = 1 \
             AND remote_num = '+37255512345' AND ext = '2001'"
        )
        .await,
        1
    );
    w.users.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_notices_when_configured() {
    let mut w = World::start(Options {
        call_notices: true,
        ..Options::default()
    })
    .await;
    w.device
        .call(
            1,
            CallSpec {
                way: CallWay::In,
                number: "+37255512345".into(),
                seconds: 0,
                cause: "User busy".into(),
            },
        )
        .await
        .expect("call");
    let start = w
        .users
        .expect("the call notice", from_contact("+37255512345"))
        .await;
    assert_eq!(body(&start), "Incoming call from +37255512345");
    let end = w
        .users
        .expect("the hangup notice", from_contact("+37255512345"))
        .await;
    assert_eq!(body(&end), "Call with +37255512345 ended: User busy");
    assert_eq!(end.attr("to"), Some(USER));
}

/// Prosody is down when an SMS arrives: the GoIP is acked anyway (it is
/// stored), and after Prosody is back the user gets it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_restarted_between_a_receive_and_its_delivery_delivers_it_once() {
    let mut w = World::start(Options::default()).await;
    let mut link = w.bridge().probe().link_state();
    tokio::task::block_in_place(|| w.prosody.stop()).expect("prosody stops");
    tokio::time::timeout(PATIENCE, link.wait_for(|s| !s.is_connected()))
        .await
        .expect("the bridge notices")
        .expect("state");
    let recvid = w.receive("+37255512345", "while prosody was down").await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE recvid = {recvid} AND status = 'inbox'"
        ))
        .await,
        1,
        "stored and waiting"
    );
    tokio::task::block_in_place(|| w.prosody.restart()).expect("prosody starts again");
    w.users.wait_connected().await;
    let got = w
        .users
        .collect(Duration::from_secs(5), from_contact("+37255512345"))
        .await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(body(&got[0]), "while prosody was down");
    w.wait_for_count(
        &format!(
            "SELECT COUNT(*) FROM goippy_log WHERE recvid = {recvid} AND status = 'delivered'"
        ),
        1,
    )
    .await;
}

/// Several SMS arrive while Prosody is down: after it is back they reach
/// the user in the order the GoIP sent them (the inbox goes out oldest
/// first), each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_stored_while_prosody_is_down_arrive_in_their_original_order() {
    let mut w = World::start(Options::default()).await;
    let mut link = w.bridge().probe().link_state();
    tokio::task::block_in_place(|| w.prosody.stop()).expect("prosody stops");
    tokio::time::timeout(PATIENCE, link.wait_for(|s| !s.is_connected()))
        .await
        .expect("the bridge notices")
        .expect("state");
    // Different senders too, so that no grouping by sender could pass as
    // the original order.
    let sent: Vec<(&str, String)> = (1..=6)
        .map(|i| {
            let from = if i % 2 == 0 {
                "+37255512345"
            } else {
                "+37255567890"
            };
            (from, format!("queued {i} of 6"))
        })
        .collect();
    for (from, text) in &sent {
        w.receive(from, text).await;
    }
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'inbox'")
            .await,
        6,
        "all stored and waiting"
    );
    tokio::task::block_in_place(|| w.prosody.restart()).expect("prosody starts again");
    w.users.wait_connected().await;
    let got = w
        .users
        .collect(Duration::from_secs(5), |e| {
            is_chat(e) && body(e).starts_with("queued ")
        })
        .await;
    let got: Vec<(String, String)> = got
        .iter()
        .map(|m| (m.attr("from").unwrap_or_default().to_string(), body(m)))
        .collect();
    let expected: Vec<(String, String)> = sent
        .iter()
        .map(|(from, text)| (contact(from), text.clone()))
        .collect();
    assert_eq!(got, expected, "delivered in the order received, once each");
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND status = 'delivered'",
        6,
    )
    .await;
}

/// An SMS stored for a channel no extension is mapped to (its gateway was
/// removed meanwhile) waits without holding up anyone else's, and goes to
/// XMPP_FALLBACK_DEST once one is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_without_a_user_waits_without_blocking_and_goes_to_the_fallback() {
    let mut w = World::start(Options::default()).await;
    let store = w.store().await;
    let ghost = store
        .store_inbound(
            InboundRecord {
                recipients: Vec::new(),
                goip_id: "ghost".into(),
                recvid: 5,
                at: Timestamp::now(),
                xmpp_jid: None,
                kind: InboundKind::Sms {
                    sender: "+37255599999".into(),
                    body: "for nobody".into(),
                },
            },
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    store.close().await.expect("close");
    w.receive("+37255512345", "for 2001").await;
    let m = w
        .users
        .expect("the mapped SMS", from_contact("+37255512345"))
        .await;
    assert_eq!(body(&m), "for 2001");
    w.users.expect_silence(Duration::from_millis(1500)).await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE id = {} AND status = 'inbox'",
            ghost.0
        ))
        .await,
        1
    );

    w.stop_bridge().await;
    w.options.fallback_dest = Some("0000@users.example.org");
    w.start_bridge().await;
    let m = w
        .users
        .expect("the orphan SMS", from_contact("+37255599999"))
        .await;
    assert_eq!(m.attr("to"), Some("0000@users.example.org"));
    assert_eq!(body(&m), "for nobody");
}

/// A call event is acked only once it is committed: goippy dying right
/// after an ack (here: its runtime dropped, tasks, writer and all, with
/// calls still queued for the database) loses no call it acked. Acking on
/// queueing would lose the queued ones, which the GoIP never sends again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_call_is_logged_even_if_goippy_dies_right_after() {
    let mut w = World::start(Options::default()).await;
    w.stop_bridge().await;
    // One write per transaction, so that a burst of calls waits in the
    // store's queue for a while.
    let settings = w.db.settings.clone();
    let config = w.config();
    let (runtime, bridge) = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let bridge = runtime.block_on(async move {
            let store = goippy_core::store::Store::open_with(
                &settings,
                goippy_core::store::StoreOptions {
                    queue_capacity: 64,
                    max_batch: 1,
                    ..goippy_core::store::StoreOptions::default()
                },
            )
            .await
            .expect("store opens");
            goippy_core::bridge::Bridge::start(config, store)
                .await
                .expect("bridge starts")
        });
        (runtime, bridge)
    })
    .await
    .expect("join");
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let server = format!("127.0.0.1:{}", w.udp_port);
    const CALLS: u32 = 200;
    const DIE_AFTER: usize = 50;
    for recvid in 1..=CALLS {
        let datagram =
            format!("RECORD:{recvid};id:{GOIP_ID};password:{GOIP_PASS};dir:1;num:+37255512345");
        socket
            .send_to(datagram.as_bytes(), &server)
            .await
            .expect("send");
    }
    let mut acked = std::collections::BTreeSet::new();
    let mut buf = [0u8; 512];
    while acked.len() < DIE_AFTER {
        let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf)).await
        else {
            break;
        };
        let ack = String::from_utf8_lossy(&buf[..n]).trim_end().to_owned();
        let recvid = ack
            .strip_prefix("RECORD ")
            .and_then(|rest| rest.strip_suffix(" OK"))
            .and_then(|id| id.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("unexpected answer {ack:?}"));
        acked.insert(recvid);
    }
    // Dies: no shutdown, no flush.
    runtime.shutdown_background();
    drop(bridge);
    assert_eq!(
        acked.len(),
        DIE_AFTER,
        "{DIE_AFTER} of {CALLS} calls should have been acked"
    );
    for recvid in &acked {
        assert_eq!(
            w.scalar(&format!(
                "SELECT COUNT(*) FROM goippy_calls WHERE event = 'RECORD' AND recvid = {recvid}"
            ))
            .await,
            1,
            "call {recvid} was acked, so it must be logged"
        );
    }
}

/// A RECORD the GoIP sends again after its ack (the ack was lost, and
/// goippy restarted meanwhile, so only the store can know it): acked again,
/// one row in the call log, one notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_call_is_acked_again_but_logged_and_told_once() {
    let w = a_call_sent_three_times_is_told_once("77").await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_calls WHERE event = 'RECORD' AND recvid = 77")
            .await,
        1
    );
}

/// A RECORD whose recvid is no number is recognised when resent, as an
/// SMS's is: one row in the call log, one notice — also after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_call_with_a_recvid_that_is_no_number_is_told_once() {
    let w = a_call_sent_three_times_is_told_once("abc").await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_calls WHERE event = 'RECORD'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE kind = 'notice'")
            .await,
        1
    );
}

/// Sends one RECORD with `recvid` three times — to goippy, again to the
/// same goippy (its engine remembers it), and to a restarted one — and
/// checks each is acked and the user is told once. Returns the world for
/// the caller's look at the call log.
async fn a_call_sent_three_times_is_told_once(recvid: &str) -> World {
    let mut w = World::start(Options {
        call_notices: true,
        ..Options::default()
    })
    .await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let server = format!("127.0.0.1:{}", w.udp_port);
    let datagram =
        format!("RECORD:{recvid};id:{GOIP_ID};password:{GOIP_PASS};dir:1;num:+37255512345");
    send_and_expect_ack(&socket, &server, &datagram).await;
    let notice = w
        .users
        .expect("the call notice", from_contact("+37255512345"))
        .await;
    assert_eq!(body(&notice), "Incoming call from +37255512345");
    send_and_expect_ack(&socket, &server, &datagram).await;
    w.stop_bridge().await;
    w.start_bridge().await;
    send_and_expect_ack(&socket, &server, &datagram).await;
    w.users.expect_silence(Duration::from_secs(1)).await;
    w
}

/// Sends a datagram and waits for its ack.
async fn send_and_expect_ack(socket: &UdpSocket, server: &str, datagram: &str) {
    socket
        .send_to(datagram.as_bytes(), server)
        .await
        .expect("send");
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf))
        .await
        .expect("an ack within 3 s")
        .expect("recv");
    let tag_and_id = datagram
        .split(';')
        .next()
        .unwrap_or_default()
        .replacen(':', " ", 1);
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]).trim_end(),
        format!("{tag_and_id} OK")
    );
}
