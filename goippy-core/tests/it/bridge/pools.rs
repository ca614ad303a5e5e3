//! Line pools end to end, through a real Prosody and goip-sim with several
//! channels: a line shared by two extensions, an extension with two lines.
//!
//! The world: extension 2001 has its default line `goip1` (channel 1,
//! +37255500000) and shares `pool2` (channel 2, +37255500002) with 2002,
//! whose only line it is.

use std::time::Duration;

use goip_sim::Event;
use tokio_xmpp::minidom::Element;

use crate::support::bridge::*;

const POOL: &str = "pool2";
const POOL_NUMBER: &str = "+37255500002";
const TEAMMATE: &str = "2002@users.example.org";
const CONTACT: &str = "+37255512345";

fn pool_options() -> Options {
    pool_options_on(false)
}

/// On SQLite, or on a throwaway MariaDB with `mysql`.
fn pool_options_on(mysql: bool) -> Options {
    Options {
        mysql,
        pool_lines: vec![PoolLine {
            goip_id: POOL,
            password: "pw2",
            number: POOL_NUMBER,
            users: vec!["2001", "2002"],
        }],
        ..Options::default()
    }
}

/// Starts the world and waits until the pool line is online with its number.
async fn pool_world() -> World {
    pool_world_on(false).await
}

async fn pool_world_on(mysql: bool) -> World {
    let w = World::start(pool_options_on(mysql)).await;
    w.wait_until("the shared line is online with its number", |w| {
        let b = w.bridge().probe();
        b.engine().channel(POOL).is_some_and(|c| c.online)
            && b.directory().gateway_by_msisdn(POOL_NUMBER).is_some()
    })
    .await;
    w
}

/// An SMS from `from` on the device's channel `channel`, acked.
async fn receive_on(w: &mut World, channel: usize, from: &str, text: &str) -> String {
    let recvid = w
        .device
        .inbound_sms(channel, from, text)
        .await
        .expect("inbound sms");
    let id = recvid.clone();
    w.device_event("the RECEIVE is acked", move |e| {
        matches!(e, Event::Ack { channel: c, tag, recvid, .. }
            if *c == channel && tag == "RECEIVE" && *recvid == id)
    })
    .await;
    recvid
}

/// The next two messages from the contact, in the order they came.
async fn from_contact_twice(w: &mut World) -> Vec<Element> {
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(
            w.users
                .expect("an SMS from the contact", |e| {
                    is_chat(e) && e.attr("from") == Some(contact(CONTACT).as_str())
                })
                .await,
        );
    }
    got
}

fn sms_to(user: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| {
        is_chat(e) && e.attr("from") == Some(contact(CONTACT).as_str()) && {
            e.attr("to").is_some_and(|to| to.starts_with(user))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_line_reaches_every_user_and_names_the_line_to_those_with_several() {
    let mut w = pool_world().await;
    let recvid = receive_on(&mut w, 2, CONTACT, "hello team").await;
    let mut got = from_contact_twice(&mut w).await;
    got.sort_by_key(|e| e.attr("to").map(str::to_string));
    // One conversation per contact: the same JID for both, whatever line.
    assert_eq!(got[0].attr("to"), Some(USER));
    assert_eq!(
        body(&got[0]),
        format!("[line 2 {POOL_NUMBER}] hello team"),
        "2001 has two lines: the line is named"
    );
    assert_eq!(got[1].attr("to"), Some(TEAMMATE));
    assert_eq!(
        body(&got[1]),
        "hello team",
        "2002 has one line: the text as before"
    );
    // One inbox row each, both delivered; the retransmission writes nothing.
    let rows = format!(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'sms' \
         AND goip_id = '{POOL}' AND recvid = {recvid} AND status = 'delivered'"
    );
    w.wait_for_count(&rows, 2).await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE goip_id = '{POOL}' AND recvid = {recvid} \
             AND ext = '2002' AND xmpp_jid = '{TEAMMATE}'"
        ))
        .await,
        1
    );

    // The default line: only 2001, and named too (2001 has two lines).
    receive_on(&mut w, 1, CONTACT, "just you").await;
    let m = w.users.expect("the SMS on line 1", sms_to(USER)).await;
    assert_eq!(body(&m), "[line 1 +37255500000] just you");
    w.users.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_sms_on_a_shared_line_is_delivered_once_to_each() {
    let mut w = pool_world().await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let datagram =
        format!("RECEIVE:1734804777;id:{POOL};password:pw2;srcnum:{CONTACT};msg:only once");
    let server = format!("127.0.0.1:{}", w.udp_port);
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
        let ack = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(ack.starts_with("RECEIVE 1734804777 OK"), "{ack}");
    }
    let mut got = from_contact_twice(&mut w).await;
    got.sort_by_key(|e| e.attr("to").map(str::to_string));
    assert_eq!(got[0].attr("to"), Some(USER));
    assert_eq!(got[1].attr("to"), Some(TEAMMATE));
    w.users.expect_silence(Duration::from_millis(800)).await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE goip_id = '{POOL}' AND recvid = 1734804777"
        ))
        .await,
        2
    );
}

/// Waits until the device's channel `channel` has sent `n` SMS; returns them.
async fn sent_on(w: &World, channel: usize, n: usize) -> Vec<goip_sim::SentSms> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let sent = w.device.sent_log(channel).await.expect("sent log");
        if sent.len() >= n {
            return sent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "channel {channel} sent {} SMS, expected {n}: {sent:?}",
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next chat message from the contact's JID to 2001 (an answer to a
/// line command comes from the JID written to).
async fn answer_from_contact(w: &mut World) -> String {
    body(&w.users.expect("the answer", sms_to(USER)).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_goes_out_on_the_line_the_contact_wrote_to_unless_the_user_chose_one() {
    answer_on_the_line_written_to(false).await
}

/// The same on MariaDB: its statements for the fan-out and the learned line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_goes_out_on_the_line_the_contact_wrote_to_on_mariadb() {
    answer_on_the_line_written_to(true).await
}

async fn answer_on_the_line_written_to(mysql: bool) {
    let mut w = pool_world_on(mysql).await;
    // Before the contact wrote: line 1.
    w.users
        .chat(PHONE, &contact(CONTACT), "o1", "first", false)
        .await;
    let sent = sent_on(&w, 1, 1).await;
    assert_eq!(
        (sent[0].to.as_str(), sent[0].text.as_str()),
        (CONTACT, "first")
    );

    // The contact writes to the shared line: the answer goes out there.
    receive_on(&mut w, 2, CONTACT, "write me here").await;
    from_contact_twice(&mut w).await;
    w.users
        .chat(PHONE, &contact(CONTACT), "o2", "answer", false)
        .await;
    let sent = sent_on(&w, 2, 1).await;
    assert_eq!(sent[0].text, "answer");

    // `/line` says so, from the contact's JID; it is no SMS.
    w.users
        .chat(PHONE, &contact(CONTACT), "o3", "/line", true)
        .await;
    let text = answer_from_contact(&mut w).await;
    assert!(
        text.starts_with(&format!(
            "Your SMS to {CONTACT} go out on line 2 {POOL_NUMBER} ({CONTACT} last wrote to it).\n\
             Your lines:\n1: +37255500000\n2: {POOL_NUMBER}  <- this one\n"
        )),
        "{text}"
    );
    // The user chooses line 1; a new SMS from the contact on line 2 does
    // not change that.
    w.users
        .chat(PHONE, &contact(CONTACT), "o4", "/line 1", false)
        .await;
    let text = answer_from_contact(&mut w).await;
    assert!(
        text.starts_with(&format!(
            "Your SMS to {CONTACT} now go out on line 1 +37255500000."
        )),
        "{text}"
    );
    receive_on(&mut w, 2, CONTACT, "still here").await;
    from_contact_twice(&mut w).await;
    w.users
        .chat(PHONE, &contact(CONTACT), "o5", "pinned", false)
        .await;
    let sent = sent_on(&w, 1, 2).await;
    assert_eq!(sent[1].text, "pinned");
    let text = {
        w.users
            .chat(PHONE, &contact(CONTACT), "o6", "/line 7", false)
            .await;
        answer_from_contact(&mut w).await
    };
    assert!(
        text.starts_with("You have no line 7: you have 2 lines."),
        "{text}"
    );
    w.users
        .chat(PHONE, &contact(CONTACT), "o7", "/line auto", false)
        .await;
    let text = answer_from_contact(&mut w).await;
    assert!(text.contains("last writes to"), "{text}");
    // Nothing of that went out as an SMS.
    assert_eq!(w.device.sent_log(1).await.expect("log").len(), 2);
    assert_eq!(w.device.sent_log(2).await.expect("log").len(), 1);

    // 2002 has one line: "/line" is an SMS like any text, as always.
    w.users
        .chat(
            "2002@users.example.org/phone",
            &contact(CONTACT),
            "t1",
            "/line",
            false,
        )
        .await;
    let sent = sent_on(&w, 2, 2).await;
    assert_eq!(sent[1].text, "/line");

    // The console lists the lines.
    w.users.chat(PHONE, OWN_JID, "c1", "line", false).await;
    let m = w
        .users
        .expect("the console's answer", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID)
        })
        .await;
    let text = body(&m);
    assert!(
        text.starts_with(&format!(
            "Your lines:\n1: +37255500000, online, 2 SMS today\n\
             2: {POOL_NUMBER}, online, 2 SMS today, shared with 2002\nFailover: off."
        )),
        "{text}"
    );
    // And chooses the line of a conversation.
    w.users
        .chat(PHONE, OWN_JID, "c2", &format!("line {CONTACT} 2"), false)
        .await;
    let m = w
        .users
        .expect("the console's answer", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID)
        })
        .await;
    assert!(body(&m).contains("now go out on line 2"), "{}", body(&m));
    w.users
        .chat(PHONE, &contact(CONTACT), "o8", "via two", false)
        .await;
    let sent = sent_on(&w, 2, 3).await;
    assert_eq!(sent[2].text, "via two");
}

/// Sets a line's daily limit in the store and waits until the running
/// bridge's directory has it.
async fn limit(w: &World, goip_id: &str, n: Option<i64>) {
    let store = w.store().await;
    store.set_daily_limit(goip_id, n).await.expect("limit");
    store.close().await.expect("close");
    let goip_id = goip_id.to_string();
    w.wait_until("the directory has the limit", |w| {
        w.bridge()
            .probe()
            .directory()
            .gateway_by_goip_id(&goip_id)
            .is_some_and(|g| g.daily_limit == n)
    })
    .await;
}

/// The text of the error answering message `id`.
async fn error_text(w: &mut World, id: &'static str) -> String {
    let e = w.users.expect("the error", error_for(id)).await;
    error_of(&e).2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_limits_refuse_or_fail_over_and_failover_avoids_an_offline_line() {
    let mut w = pool_world().await;
    limit(&w, POOL, Some(1)).await;
    // 2002's one line: one SMS today, then a clear error.
    let teammate = "2002@users.example.org/phone";
    w.users
        .chat(teammate, &contact(CONTACT), "t1", "one", false)
        .await;
    sent_on(&w, 2, 1).await;
    w.users
        .chat(teammate, &contact(CONTACT), "t2", "two", false)
        .await;
    let text = error_text(&mut w, "t2").await;
    assert_eq!(
        text,
        format!(
            "Your line {POOL_NUMBER} has sent its 1 SMS for today; it may send again after \
             00:00 UTC."
        )
    );

    // 2001 chose line 2 for the contact: refused, saying what helps.
    w.users
        .chat(PHONE, &contact(CONTACT), "p1", "/line 2", false)
        .await;
    answer_from_contact(&mut w).await;
    w.users
        .chat(PHONE, &contact(CONTACT), "p2", "capped", false)
        .await;
    let text = error_text(&mut w, "p2").await;
    assert!(
        text.starts_with(&format!(
            "Your line 2 {POOL_NUMBER} has sent its 1 SMS for today; it may send again after \
             00:00 UTC. /line N sends this conversation from another of your lines, and \
             failover on"
        )),
        "{text}"
    );

    // With failover on, it goes out on line 1, and 2001 is told.
    w.users
        .chat(PHONE, OWN_JID, "c1", "failover on", false)
        .await;
    w.users
        .expect("the console's answer", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID)
        })
        .await;
    w.users
        .chat(PHONE, &contact(CONTACT), "p3", "moved", false)
        .await;
    let note = answer_from_contact(&mut w).await;
    assert_eq!(
        note,
        format!(
            "Sent from line 1 +37255500000 (failover): line 2 {POOL_NUMBER} has sent its 1 SMS \
             for today."
        )
    );
    let sent = sent_on(&w, 1, 1).await;
    assert_eq!(sent[0].text, "moved");

    // Every line at its limit.
    limit(&w, GOIP_ID, Some(1)).await;
    w.users
        .chat(PHONE, &contact(CONTACT), "p4", "none left", false)
        .await;
    let text = error_text(&mut w, "p4").await;
    assert!(
        text.starts_with("All your lines have reached their daily limit of SMS"),
        "{text}"
    );

    // No limits, line 2 offline: failover sends on line 1.
    limit(&w, GOIP_ID, None).await;
    limit(&w, POOL, None).await;
    w.device
        .fail(2, goip_sim::FailureChange::Set(goip_sim::Failure::Silence))
        .await
        .expect("silence");
    w.wait_until("line 2 is offline", |w| {
        w.bridge()
            .probe()
            .engine()
            .channel(POOL)
            .is_some_and(|c| !c.online)
    })
    .await;
    w.users
        .chat(PHONE, &contact(CONTACT), "p5", "around", false)
        .await;
    let note = answer_from_contact(&mut w).await;
    assert_eq!(
        note,
        format!("Sent from line 1 +37255500000 (failover): line 2 {POOL_NUMBER} is offline.")
    );
    let sent = sent_on(&w, 1, 2).await;
    assert_eq!(sent[1].text, "around");
    assert_eq!(w.device.sent_log(2).await.expect("log").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_goip_refuses_for_its_line_moves_to_another_line_once() {
    refused_job_moves_once(false).await
}

/// The same on MariaDB: its statement for the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_goip_refuses_for_its_line_moves_once_on_mariadb() {
    refused_job_moves_once(true).await
}

async fn refused_job_moves_once(mysql: bool) {
    use goip_sim::{Failure, FailureChange};
    let mut w = pool_world_on(mysql).await;
    // Without failover, a refusal of the line fails the SMS as before.
    w.device
        .fail(
            1,
            FailureChange::Set(Failure::ErrorStatus {
                code: 331,
                destination: None,
            }),
        )
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(CONTACT), "f1", "no failover", false)
        .await;
    let text = error_text(&mut w, "f1").await;
    assert!(text.contains("331"), "{text}");
    assert!(w.device.sent_log(2).await.expect("log").is_empty());

    // With failover: the GSM network refuses it on line 1 (errorstatus
    // 331, no network service), so it goes out on line 2, once.
    w.users
        .chat(PHONE, OWN_JID, "c1", "failover on", false)
        .await;
    w.users
        .expect("the console's answer", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID)
        })
        .await;
    w.device
        .fail(
            1,
            FailureChange::Set(Failure::ErrorStatus {
                code: 331,
                destination: None,
            }),
        )
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(CONTACT), "f2", "moved along", true)
        .await;
    let note = answer_from_contact(&mut w).await;
    assert_eq!(
        note,
        format!(
            "Line 1 +37255500000 could not send your SMS: the network refused it (errorstatus \
             331, no network service). It goes out on line 2 {POOL_NUMBER} instead (failover)."
        )
    );
    let sent = sent_on(&w, 2, 1).await;
    assert_eq!(sent[0].text, "moved along");
    // One row, now on line 2, sent.
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND xmpp_id = 'f2' \
         AND goip_id = 'pool2' AND status = 'sent' AND detail = 'failover from goip1'",
        1,
    )
    .await;

    // "Too many sends" on line 2 as well: it comes to line 1, and from
    // there nowhere again: it fails instead of going round.
    w.device
        .fail(2, FailureChange::Set(Failure::TooMany))
        .await
        .expect("fail");
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
    w.users
        .chat(PHONE, &contact(CONTACT), "/line 2", "/line 2", false)
        .await;
    answer_from_contact(&mut w).await;
    w.users
        .chat(PHONE, &contact(CONTACT), "f3", "round and round", false)
        .await;
    let note = answer_from_contact(&mut w).await;
    assert!(
        note.starts_with(&format!(
            "Line 2 {POOL_NUMBER} could not send your SMS: the GoIP refused it ("
        )),
        "{note}"
    );
    let text = error_text(&mut w, "f3").await;
    assert!(text.contains("38"), "{text}");
    assert_eq!(
        w.scalar(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND xmpp_id = 'f3' \
             AND status = 'failed' AND goip_id = 'goip1'"
        )
        .await,
        1
    );
    assert_eq!(w.device.sent_log(1).await.expect("log").len(), 0);
    assert_eq!(w.device.sent_log(2).await.expect("log").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_messages_and_call_notices_of_a_shared_line_reach_every_user() {
    use goip_sim::{CallSpec, CallWay};
    let mut options = pool_options();
    options.call_notices = true;
    let w = World::start(options).await;
    w.wait_until("the shared line is online with its number", |w| {
        w.bridge()
            .probe()
            .directory()
            .gateway_by_msisdn(POOL_NUMBER)
            .is_some()
    })
    .await;
    let mut w = w;
    // A USSN comes from the line's own number, which names the line.
    w.device.ussn(2, "Your bonus: 5 EUR").await.expect("ussn");
    let pool_jid = contact(POOL_NUMBER);
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(
            w.users
                .expect("the USSN", |e| {
                    is_chat(e) && e.attr("from") == Some(pool_jid.as_str())
                })
                .await,
        );
    }
    got.sort_by_key(|e| e.attr("to").map(str::to_string));
    assert_eq!(got[0].attr("to"), Some(USER));
    assert_eq!(got[1].attr("to"), Some(TEAMMATE));
    for m in &got {
        assert_eq!(body(m), "[USSD] Your bonus: 5 EUR");
    }
    // A call on the shared line: both are told.
    w.device
        .call(
            2,
            CallSpec {
                way: CallWay::In,
                number: CONTACT.into(),
                seconds: 0,
                cause: "User busy".into(),
            },
        )
        .await
        .expect("call");
    let mut told = Vec::new();
    for _ in 0..4 {
        let m = w
            .users
            .expect("a call notice", |e| {
                is_chat(e) && e.attr("from") == Some(contact(CONTACT).as_str())
            })
            .await;
        told.push((m.attr("to").map(str::to_string), body(&m)));
    }
    told.sort();
    assert_eq!(
        told,
        vec![
            (
                Some(USER.to_string()),
                format!("Call with {CONTACT} ended: User busy")
            ),
            (
                Some(USER.to_string()),
                format!("Incoming call from {CONTACT}")
            ),
            (
                Some(TEAMMATE.to_string()),
                format!("Call with {CONTACT} ended: User busy")
            ),
            (
                Some(TEAMMATE.to_string()),
                format!("Incoming call from {CONTACT}")
            ),
        ]
    );
}

/// A long SMS the GoIP hands over part by part, on a shared line: each user
/// gets it whole, the tag once before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parts_of_a_long_sms_on_a_shared_line_join_for_each_user() {
    let mut options = pool_options();
    options.sms_join_wait = Duration::from_secs(10);
    let w = World::start(options).await;
    w.wait_until("the shared line is online with its number", |w| {
        w.bridge()
            .probe()
            .directory()
            .gateway_by_msisdn(POOL_NUMBER)
            .is_some()
    })
    .await;
    let mut w = w;
    let text = format!(
        "{} {}",
        "Your order has shipped and is on its way.".repeat(3),
        "Track it with the code we sent you by e-mail earlier today.".repeat(2)
    );
    let parts = goippy_core::segments::split(&text);
    assert_eq!(parts.len(), 2, "{parts:?}");
    for part in &parts {
        receive_on(&mut w, 2, CONTACT, part).await;
    }
    let mut got = from_contact_twice(&mut w).await;
    got.sort_by_key(|e| e.attr("to").map(str::to_string));
    assert_eq!(body(&got[0]), format!("[line 2 {POOL_NUMBER}] {text}"));
    assert_eq!(body(&got[1]), text);
    w.users.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_tells_the_state_of_the_line_whose_number_it_asks() {
    let mut w = pool_world().await;
    w.device
        .fail(2, goip_sim::FailureChange::Set(goip_sim::Failure::Silence))
        .await
        .expect("silence");
    w.wait_until("line 2 is offline", |w| {
        w.bridge()
            .probe()
            .engine()
            .channel(POOL)
            .is_some_and(|c| !c.online)
    })
    .await;
    let pool_jid = contact(POOL_NUMBER);
    let mut probe = async |from: &str, to: &str| -> Option<String> {
        w.users
            .send_xml(&format!("<presence from='{from}' to='{to}' type='probe'/>"))
            .await;
        let p = w
            .users
            .expect("the probe's answer", |e| {
                e.name() == "presence" && e.attr("from") == Some(to)
            })
            .await;
        p.attr("type").map(str::to_string)
    };
    // 2001's own numbers: each its line's state.
    assert_eq!(probe(USER, &pool_jid).await.as_deref(), Some("unavailable"));
    assert_eq!(probe(USER, OWN_JID).await, None);
    // A contact: 2001 can still send from line 1; 2002 from nothing.
    assert_eq!(probe(USER, &contact(CONTACT)).await, None);
    assert_eq!(
        probe(TEAMMATE, &contact(CONTACT)).await.as_deref(),
        Some("unavailable")
    );
}

/// A USSD answer that comes after the user was told it timed out reaches
/// the user who asked, on a shared line too — not the line's other user;
/// a USSN, which answers nobody, still reaches every user of the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_ussd_answer_on_a_shared_line_reaches_the_user_who_asked() {
    late_ussd_answer_reaches_the_asker(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_ussd_answer_reaches_the_user_who_asked_on_mariadb() {
    late_ussd_answer_reaches_the_asker(true).await
}

async fn late_ussd_answer_reaches_the_asker(mysql: bool) {
    let mut options = pool_options_on(mysql);
    // The network answers well after goippy gave up (one resend, two
    // timeouts of 1 s): the answer is late.
    options.timing.ussd_delay = Duration::from_secs(3);
    let w = World::start(options).await;
    w.wait_until("the shared line is online with its number", |w| {
        w.bridge()
            .probe()
            .directory()
            .gateway_by_msisdn(POOL_NUMBER)
            .is_some()
    })
    .await;
    let mut w = w;
    let pool_jid = contact(POOL_NUMBER);
    let teammate_phone = format!("{TEAMMATE}/phone");
    w.users
        .chat(&teammate_phone, &pool_jid, "late1", "*100#", false)
        .await;
    let e = w.users.expect("the USSD timeout", is_error).await;
    assert_eq!(e.attr("id"), Some("late1"));
    assert_eq!(e.attr("to"), Some(teammate_phone.as_str()));
    let (_, _, text) = error_of(&e);
    assert!(text.contains("No USSD answer"), "{text}");
    // (The note that quotes the code comes with the error.)
    let answer = w
        .users
        .expect("the late USSD answer", |e| {
            is_chat(e) && e.attr("from") == Some(pool_jid.as_str()) && body(e).starts_with("[USSD]")
        })
        .await;
    assert_eq!(body(&answer), "[USSD] Your balance is 10.00 EUR");
    assert!(
        answer.attr("to").is_some_and(|to| to.starts_with(TEAMMATE)),
        "to the user who asked: {answer:?}"
    );
    // Nobody else: 2001 shares the line but did not ask.
    w.users.expect_silence(Duration::from_millis(800)).await;
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'ussd' \
             AND goip_id = '{POOL}' AND ext = '2002'"
        ))
        .await,
        1
    );
}
