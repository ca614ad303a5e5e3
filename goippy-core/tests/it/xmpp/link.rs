//! The component link against a real Prosody: connecting, round trips,
//! confirmed sends, keepalive, reconnecting after a Prosody restart, wrong
//! secrets, refused connections, malformed stanzas, forbidden characters,
//! a busy consumer and a clean shutdown.
//!
//! Every test runs on a current-thread runtime so the link's log lines land
//! in the test's [`LogCapture`].

use std::time::Duration;

use goippy_core::xmpp::intent::{Intent, classify};
use goippy_core::xmpp::link::{Inbound, LinkState, SendError, StanzaKind, XmppLink};
use goippy_core::xmpp::reply;
use goippy_core::xmpp::service::{self, Handled};
use goippy_testkit::ports::free_tcp_port;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::message::{Lang, Message};

use crate::support::xmpp::*;

fn message(from: &str, to: &str, id: &str, body: &str) -> Message {
    let mut m = Message::chat(Some(jid(to))).with_body(Lang::new(), body.to_string());
    m.from = Some(jid(from));
    m.id = Some(tokio_xmpp::parsers::message::Id(id.to_string()));
    m
}

fn body_of(item: Inbound) -> (String, String) {
    match item {
        Inbound::Stanza(Stanza::Message(m)) => (
            m.id.as_ref().map(|id| id.0.clone()).unwrap_or_default(),
            m.get_best_body(vec![])
                .map(|(_, b)| b.clone())
                .unwrap_or_default(),
        ),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stanza_round_trips_and_confirmed_sends_resolve() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    let (peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    assert_eq!(connected(&mut sms_state).await, 1);
    connected(&mut peer_state).await;
    assert!(sms.state().is_connected());

    // Peer → component under test; confirmed means Prosody processed it.
    peer.send_confirmed(message(
        "alice@peer.example.org/res",
        "0037255512345@sms.example.org",
        "m1",
        "hello",
    ))
    .await
    .expect("confirmed send");
    let item = next(&mut sms_in).await;
    let Intent::ChatToContact(chat) = classify(item, &addressing()) else {
        panic!("not a chat to a number")
    };
    assert_eq!(chat.body, "hello");
    assert_eq!(chat.env.id.as_deref(), Some("m1"));
    assert_eq!(chat.env.from.as_str(), "alice@peer.example.org/res");
    assert_eq!(
        chat.destination.as_ref().map(|d| d.to_string()),
        Ok("+37255512345".to_string())
    );

    // And back, from the number JID.
    sms.send(reply::chat(&chat.env.to, &chat.env.from, "hi alice"))
        .await
        .expect("send resolves after the flush");
    let (_, body) = body_of(next(&mut peer_in).await);
    assert_eq!(body, "hi alice");
    assert!(log.contents().contains("XMPP component connected"));
    assert!(
        prosody
            .log()
            .contains("External component successfully authenticated")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn silence_longer_than_the_read_timeout_is_survived() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    let (peer, _peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    assert_eq!(connected(&mut sms_state).await, 1);
    connected(&mut peer_state).await;

    // keepalive 1 s + response 2 s: a dead-silent stream would be declared
    // dead after 3 s. Stay silent for three times that.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        matches!(sms.state(), LinkState::Connected { session: 1, .. }),
        "{:?}; log:\n{}",
        sms.state(),
        log.contents()
    );
    assert!(log.count("XMPP stream silent: pinging the server") >= 3);
    assert!(
        !log.contents().contains("XMPP stream ended"),
        "{}",
        log.contents()
    );
    assert!(
        prosody.log().contains("goippy-ping-1-"),
        "Prosody saw no ping"
    );

    peer.send(message(
        "bob@peer.example.org",
        "+37255512345@sms.example.org",
        "late",
        "still there?",
    ))
    .await
    .expect("send");
    assert_eq!(body_of(next(&mut sms_in).await).1, "still there?");
}

#[tokio::test(flavor = "current_thread")]
async fn a_prosody_restart_is_survived_and_sends_during_the_outage_fail() {
    let (log, _guard) = LogCapture::start();
    let mut prosody = prosody();
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    assert_eq!(connected(&mut sms_state).await, 1);

    let mut prosody = tokio::task::spawn_blocking(move || {
        prosody.stop().expect("stop prosody");
        prosody
    })
    .await
    .expect("stopper");
    tokio::time::timeout(
        PATIENCE,
        sms_state.wait_for(|s| *s == LinkState::Disconnected),
    )
    .await
    .expect("the link notices")
    .expect("watch open");
    let outage = sms
        .send(reply::chat(
            &jid("+37255512345@sms.example.org"),
            &jid("alice@peer.example.org"),
            "lost?",
        ))
        .await;
    assert_eq!(outage, Err(SendError::NotConnected));
    log.wait_for("XMPP connection failed", 1).await;

    let prosody = tokio::task::spawn_blocking(move || {
        prosody.restart().expect("start prosody again");
        prosody
    })
    .await
    .expect("starter");
    assert_eq!(connected(&mut sms_state).await, 2);
    let text = log.contents();
    assert!(text.contains("XMPP stream ended"), "{text}");
    assert_eq!(log.count("XMPP component connected"), 2, "{text}");

    // Traffic resumes in both directions.
    let (peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut peer_state).await;
    peer.send_confirmed(message(
        "alice@peer.example.org",
        "+37255512345@sms.example.org",
        "after",
        "back",
    ))
    .await
    .expect("send");
    assert_eq!(body_of(next(&mut sms_in).await).1, "back");
    sms.send_confirmed(reply::chat(
        &jid("+37255512345@sms.example.org"),
        &jid("alice@peer.example.org"),
        "welcome back",
    ))
    .await
    .expect("send after reconnect");
    assert_eq!(body_of(next(&mut peer_in).await).1, "welcome back");
}

#[tokio::test(flavor = "current_thread")]
async fn a_wrong_secret_is_reported_clearly_and_retried_with_backoff() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, _sms_in, sms_state) = XmppLink::spawn(link_config(&prosody, SMS, "not-the-secret"));
    log.wait_for("rejected the component secret", 3).await;
    let text = log.contents();
    assert!(
        text.contains("ERROR"),
        "a configuration problem is an error: {text}"
    );
    assert!(text.contains("XMPP_COMPONENT_SECRET"), "{text}");
    // Backoff: 200 ms, 400 ms, 800 ms, then the 1 s ceiling.
    assert!(text.contains("next attempt in 200ms"), "{text}");
    assert!(text.contains("next attempt in 400ms"), "{text}");
    assert_eq!(*sms_state.borrow(), LinkState::Disconnected);
    assert_eq!(
        sms.send(reply::chat(
            &jid("+1@sms.example.org"),
            &jid("a@example.org"),
            "x"
        ))
        .await,
        Err(SendError::NotConnected)
    );
    sms.shutdown().await;
    assert_eq!(*sms_state.borrow(), LinkState::Stopped);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connection_is_reported_and_retried() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let mut config = link_config(&prosody, SMS, SMS_SECRET);
    config.host = "127.0.0.1".into();
    config.port = free_tcp_port();
    let (sms, _sms_in, _state) = XmppLink::spawn(config);
    log.wait_for("refused: is Prosody running", 2).await;
    assert!(log.contents().contains("WARN"), "{}", log.contents());
    sms.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_malformed_stanza_costs_only_itself() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    assert_eq!(connected(&mut sms_state).await, 1);
    let mut raw = RawComponent::connect(&prosody).await;

    raw.write(
        "<message type='bogus' from='eve@raw.example.org/x' to='+37255512345@sms.example.org' id='bad1'>\
           <body>bad</body></message>\
         <message type='chat' from='eve@raw.example.org/x' to='+37255512345@sms.example.org' id='good1'>\
           <body>good</body></message>",
    )
    .await;

    let bad = next(&mut sms_in).await;
    let Inbound::Invalid(invalid) = &bad else {
        panic!("expected the invalid stanza first, got {bad:?}")
    };
    assert_eq!(invalid.kind, StanzaKind::Message);
    assert_eq!(invalid.id.as_deref(), Some("bad1"));
    assert_eq!(invalid.type_.as_deref(), Some("bogus"));
    assert_eq!(
        invalid.from.as_ref().map(|j| j.as_str()),
        Some("eve@raw.example.org/x")
    );
    assert_eq!(
        body_of(next(&mut sms_in).await),
        ("good1".into(), "good".into())
    );
    assert!(matches!(
        sms.state(),
        LinkState::Connected { session: 1, .. }
    ));
    assert!(log.contents().contains("skipped an invalid message stanza"));

    // The pure dispatcher answers it with bad-request, which reaches the sender.
    let intent = classify(bad, &addressing());
    let Some(Handled::Reply(replies)) = service::answer(&intent, &addressing()) else {
        panic!("no answer for {intent:?}")
    };
    for stanza in replies {
        sms.send(stanza).await.expect("send the error");
    }
    let got = raw.read_until("bad-request").await;
    assert!(
        got.contains("id='bad1'") || got.contains("id=\"bad1\""),
        "{got}"
    );
    assert!(
        got.contains("type='error'") || got.contains("type=\"error\""),
        "{got}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn forbidden_characters_are_replaced_not_fatal() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, _sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    let (_peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;

    // Built by hand, bypassing the sanitising builders.
    let raw = message(
        "+37255512345@sms.example.org",
        "alice@peer.example.org",
        "c1",
        "bell\u{7}\u{0}!\u{FFFE}",
    );
    sms.send_confirmed(raw)
        .await
        .expect("sent after sanitising");
    assert_eq!(
        body_of(next(&mut peer_in).await),
        ("c1".into(), "bell\u{FFFD}\u{FFFD}!\u{FFFD}".into())
    );
    assert!(log.contents().contains("characters XML forbids"));
    assert!(matches!(
        sms.state(),
        LinkState::Connected { session: 1, .. }
    ));
}

/// Sends `n` questions from the peer to the component under test.
async fn ask(peer: &goippy_core::xmpp::link::XmppHandle, n: usize) {
    for i in 0..n {
        peer.send(message(
            "alice@peer.example.org",
            "+37255512345@sms.example.org",
            &format!("q{i}"),
            &format!("question {i}"),
        ))
        .await
        .expect("send");
    }
}

fn answer(i: usize) -> Message {
    reply::chat(
        &jid("+37255512345@sms.example.org"),
        &jid("alice@peer.example.org"),
        &format!("answer {i}"),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn a_consumer_that_answers_before_reading_on_does_not_deadlock() {
    let (_log, _guard) = LogCapture::start();
    let prosody = prosody();
    let mut config = link_config(&prosody, SMS, SMS_SECRET);
    config.inbound_capacity = 16;
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(config);
    let (peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;

    // More questions than the inbound channel holds, all queued before the
    // consumer starts; it confirms each answer before taking the next
    // question. The ping answers sit behind the questions, so the link must
    // keep reading (within its read-ahead of another 16) while the channel
    // is full.
    const N: usize = 30;
    ask(&peer, N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let consumer = async {
        for i in 0..N {
            let (id, body) = body_of(next(&mut sms_in).await);
            assert_eq!((id, body), (format!("q{i}"), format!("question {i}")));
            sms.send_confirmed(answer(i))
                .await
                .expect("answer confirmed");
        }
    };
    tokio::time::timeout(PATIENCE, consumer)
        .await
        .expect("no deadlock");
    for i in 0..N {
        assert_eq!(body_of(next(&mut peer_in).await).1, format!("answer {i}"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn beyond_the_read_ahead_a_confirmation_fails_instead_of_hanging() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let mut config = link_config(&prosody, SMS, SMS_SECRET);
    config.inbound_capacity = 2;
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(config);
    let (peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;

    const N: usize = 30;
    ask(&peer, N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // 2 in the channel + 2 read ahead: the ping answer stays out of reach.
    let started = tokio::time::Instant::now();
    assert_eq!(
        sms.send_confirmed(answer(0)).await,
        Err(SendError::Unconfirmed(Duration::from_secs(2)))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        log.contents()
            .contains("inbound stanzas are not being taken")
    );
    // Plain sends still work, nothing inbound was lost or reordered, and the
    // stream stayed up.
    sms.send(answer(1)).await.expect("plain send");
    for i in 0..N {
        assert_eq!(body_of(next(&mut sms_in).await).1, format!("question {i}"));
    }
    sms.send_confirmed(answer(2))
        .await
        .expect("confirmed once drained");
    for i in 0..3 {
        assert_eq!(body_of(next(&mut peer_in).await).1, format!("answer {i}"));
    }
    assert!(matches!(
        sms.state(),
        LinkState::Connected { session: 1, .. }
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_closes_the_stream_cleanly() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, _sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    connected(&mut sms_state).await;
    sms.shutdown().await;
    assert_eq!(*sms_state.borrow(), LinkState::Stopped);
    assert_eq!(
        sms.send(reply::chat(
            &jid("+1@sms.example.org"),
            &jid("a@example.org"),
            "x"
        ))
        .await,
        Err(SendError::Stopped)
    );
    assert!(log.contents().contains("XMPP link shut down"));
    // Prosody saw a clean close, not a dropped connection.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let plog = prosody.log();
        if plog.contains("Component disconnected") || plog.contains("component disconnected") {
            assert!(!plog.contains("not-well-formed"), "{plog}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no disconnect in:\n{plog}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_consumer_stops_the_link() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let (sms, sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    connected(&mut sms_state).await;
    drop(sms_in);
    // The link notices as soon as it has something to deliver.
    let (peer, _peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut peer_state).await;
    peer.send(message(
        "alice@peer.example.org",
        "+37255512345@sms.example.org",
        "x",
        "anyone?",
    ))
    .await
    .expect("send");
    tokio::time::timeout(PATIENCE, sms_state.wait_for(|s| *s == LinkState::Stopped))
        .await
        .expect("stops")
        .expect("watch");
    assert!(log.contents().contains("nobody reads inbound stanzas"));
    drop(sms);
}

#[tokio::test(flavor = "current_thread")]
async fn stanzas_read_before_the_stream_died_are_still_delivered() {
    let (log, _guard) = LogCapture::start();
    let prosody = prosody();
    let mut config = link_config(&prosody, SMS, SMS_SECRET);
    config.inbound_capacity = 2;
    let (sms, mut sms_in, mut sms_state) = XmppLink::spawn(config);
    let (peer, _peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;

    // The consumer does not read: most questions wait in the socket.
    const N: usize = 20;
    ask(&peer, N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _prosody = tokio::task::spawn_blocking(move || {
        let mut prosody = prosody;
        prosody.stop().expect("stop prosody");
        prosody
    })
    .await
    .expect("stopper");

    // Writing into the dead connection ends the session while the
    // questions are still unread.
    let mut outcome = Ok(());
    for i in 0..50 {
        outcome = sms.send(answer(i)).await;
        if outcome.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        matches!(
            outcome,
            Err(SendError::ConnectionLost | SendError::NotConnected)
        ),
        "{outcome:?}"
    );
    for i in 0..N {
        assert_eq!(
            body_of(next(&mut sms_in).await).1,
            format!("question {i}"),
            "log:\n{}",
            log.contents()
        );
    }
}
