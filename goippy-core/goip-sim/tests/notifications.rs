//! Notifications from the simulated GoIP: RECEIVE, DELIVER, USSN and the
//! call events, each retransmitted until the server acks it, exactly as the
//! vendor documents describe (every 3 s — shortened here — at most 3 more
//! times).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Server, event, start};
use goip_sim::{CallSpec, CallWay, Event};
use goippy_core::goip::{Command, ControlKind, NotificationKind, Reply};

#[tokio::test]
async fn receive_is_retransmitted_until_acked() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let text = "hello; world:\nsecond line\\ with a backslash";
    let recvid = device.inbound_sms(1, "+37255512345", text).await.unwrap();

    let first = server.expect_tag("RECEIVE").await;
    let n = first.notification();
    assert_eq!(n.recvid, recvid);
    assert_eq!(
        (n.id.as_str(), n.password.as_deref()),
        ("goip1", Some("secret"))
    );
    let NotificationKind::Receive(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!((r.srcnum.as_str(), r.msg.as_str()), ("+37255512345", text));

    // Not acked: the very same datagram comes again.
    let second = server.expect_tag("RECEIVE").await;
    assert_eq!(second.text, first.text);
    assert_eq!(second.from, first.from);
    server.ack(&second).await;
    let acked = event(&mut events, "ack", |e| matches!(e, Event::Ack { .. })).await;
    assert_eq!(
        acked,
        Event::Ack {
            channel: 1,
            tag: "RECEIVE".into(),
            recvid: recvid.clone(),
            attempts: 2
        }
    );
    // And then no more.
    server.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(device.status(1).await.unwrap().pending_notifications, 0);
    device.shutdown().await;
}

/// The RECEIVE texts the server gets next, acking each.
async fn receive_texts(server: &Server, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < n {
        let r = server.expect_tag("RECEIVE").await;
        server.ack(&r).await;
        let NotificationKind::Receive(receive) = &r.notification().kind else {
            panic!("not a RECEIVE: {}", r.text)
        };
        if !texts.contains(&receive.msg) {
            texts.push(receive.msg.clone());
        }
    }
    texts
}

#[tokio::test]
async fn a_long_sms_is_handed_over_in_parts_when_splitting_is_on() {
    use goip_sim::{ScriptCommand, parse_line};
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |c| c.split_sms = true).await;
    let sms = |text: &str| -> ScriptCommand {
        parse_line(&format!("sms 1 +37255512345 {text}"))
            .unwrap()
            .unwrap()
    };
    // GSM-7: 153 septets a part; the € (two septets) does not fit the
    // first part's last septet and opens the second.
    let gsm = format!("{}€ and the rest", "a".repeat(152));
    device.execute(sms(&gsm)).await.unwrap();
    assert_eq!(
        receive_texts(&server, 2).await,
        ["a".repeat(152), "€ and the rest".to_string()]
    );
    // UCS-2 (an emoji makes it so): 67 UTF-16 units a part, the emoji two.
    let ucs = format!("{}😀{}", "д".repeat(100), "b".repeat(40));
    device.execute(sms(&ucs)).await.unwrap();
    let parts = receive_texts(&server, 3).await;
    assert_eq!(parts[0], "д".repeat(67));
    assert_eq!(parts[1], format!("{}😀{}", "д".repeat(33), "b".repeat(32)));
    assert_eq!(parts[2], "b".repeat(8));
    assert_eq!(parts.concat(), ucs);
    // A text that fits one SMS is one RECEIVE; `split off` sends whole.
    device.execute(sms("short")).await.unwrap();
    assert_eq!(receive_texts(&server, 1).await, ["short"]);
    device
        .execute(parse_line("split off").unwrap().unwrap())
        .await
        .unwrap();
    device.execute(sms(&gsm)).await.unwrap();
    assert_eq!(receive_texts(&server, 1).await, [gsm]);
    server.expect_silence(Duration::from_millis(300)).await;
    device.shutdown().await;
}

#[tokio::test]
async fn after_four_copies_the_device_gives_up() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let recvid = device.inbound_sms(1, "BANK", "code 1234").await.unwrap();
    for _ in 0..4 {
        let copy = server.expect_tag("RECEIVE").await;
        assert_eq!(copy.notification().recvid, recvid);
    }
    let gave_up = event(&mut events, "not_acked", |e| {
        matches!(e, Event::NotAcked { .. })
    })
    .await;
    assert_eq!(
        gave_up,
        Event::NotAcked {
            channel: 1,
            tag: "RECEIVE".into(),
            recvid,
            attempts: 4
        }
    );
    server.expect_silence(Duration::from_millis(400)).await;
    device.shutdown().await;
}

#[tokio::test]
async fn an_error_ack_stops_retransmission() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    device.inbound_sms(1, "+1", "x").await.unwrap();
    let r = server.expect_tag("RECEIVE").await;
    let refusal = r.notification().ack(false).unwrap();
    server.send(r.from, &refusal.encode()).await;
    let e = event(&mut events, "ack_error", |e| {
        matches!(e, Event::AckError { .. })
    })
    .await;
    let Event::AckError { text, attempts, .. } = e else {
        unreachable!()
    };
    assert_eq!(text, "not find this id:goip1, or password error");
    assert_eq!(attempts, 1);
    server.expect_silence(Duration::from_millis(400)).await;
    device.shutdown().await;
}

#[tokio::test]
async fn recvids_follow_the_clock_and_are_unique() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 2, |_| {}).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let a: i64 = device
        .inbound_sms(1, "+1", "a")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let b: i64 = device
        .inbound_sms(1, "+1", "b")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let c: i64 = device.ussn(2, "Bonus!").await.unwrap().parse().unwrap();
    assert!((now - 5..now + 5).contains(&a), "{a} vs {now}");
    assert!(b > a);
    assert!((now - 5..now + 5).contains(&c), "{c} vs {now}");
    device.shutdown().await;
}

#[tokio::test]
async fn deliver_and_ussn_on_request() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    device
        .deliver_report(1, 7, 70, Some("+3725551"))
        .await
        .unwrap();
    let r = server.expect_tag("DELIVER").await;
    assert!(
        r.text
            .ends_with(";id:goip1;password:secret;sms_no:7;state:70;num:+3725551"),
        "{}",
        r.text
    );
    server.ack(&r).await;
    device.ussn(1, "Your bonus: 5 MB; enjoy").await.unwrap();
    let r = server.expect_tag("USSN").await;
    let NotificationKind::Ussn(u) = &r.notification().kind else {
        panic!()
    };
    assert_eq!(u.msg, "Your bonus: 5 MB; enjoy");
    server.ack(&r).await;
    for tag in ["DELIVER", "USSN"] {
        event(
            &mut events,
            tag,
            |e| matches!(e, Event::Ack { tag: t, .. } if t == tag),
        )
        .await;
    }
    device.shutdown().await;
}

/// Acks everything and returns the notifications (not keepalives) as
/// `TAG fields…`, until `last` arrives. A retransmission (a slow machine
/// may ack late) is acked and skipped.
async fn notifications_until(server: &Server, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut recvids = std::collections::HashSet::new();
    loop {
        let r = server.expect_non_keepalive().await;
        server.ack(&r).await;
        if !recvids.insert(r.notification().recvid.clone()) {
            continue;
        }
        let tag = r.tag().unwrap_or_default().to_owned();
        let body = r
            .text
            .split_once(";password:secret;")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        seen.push(format!("{tag} {body}"));
        if tag == last {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_call_is_record_states_hangup_expiry_remain() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    device
        .call(
            1,
            CallSpec {
                way: CallWay::In,
                number: "+3725551".into(),
                seconds: 1,
                cause: "Normal call clearing".into(),
            },
        )
        .await
        .unwrap();
    // A second call while the first is on is refused.
    let busy = CallSpec {
        way: CallWay::Out,
        number: "1".into(),
        seconds: 0,
        cause: "x".into(),
    };
    assert!(device.call(1, busy).await.is_err());
    assert_eq!(
        notifications_until(&server, "REMAIN").await,
        [
            "RECORD dir:1;num:+3725551",
            "STATE gsm_remain_state:INCOMING:+3725551",
            "STATE gsm_remain_state:CONNECTED:+3725551",
            "HANGUP num:+3725551,cause:Normal call clearing",
            "STATE gsm_remain_state:IDLE",
            "EXPIRY exp:1",
            "REMAIN gsm_remain_time:-1",
        ]
    );
    let ended = event(&mut events, "call_ended", |e| {
        matches!(e, Event::CallEnded { .. })
    })
    .await;
    assert_eq!(
        ended,
        Event::CallEnded {
            channel: 1,
            direction: CallWay::In,
            number: "+3725551".into(),
            seconds: 1,
            cause: "Normal call clearing".into()
        }
    );
    device.shutdown().await;
}

#[tokio::test]
async fn the_server_can_drop_a_call() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    device
        .call(
            1,
            CallSpec {
                way: CallWay::Out,
                number: "+3725551".into(),
                seconds: 3600,
                cause: "Normal call clearing".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        notifications_until(&server, "STATE").await,
        [
            "RECORD dir:2;num:+3725551",
            "STATE gsm_remain_state:DIALING:+3725551"
        ]
    );
    let to = device.local_addr(1).unwrap();
    let state = |sendid| Command::Control {
        sendid,
        kind: ControlKind::GetGsmState,
        value: None,
        password: "secret".into(),
    };
    // Let the rest of the call set-up arrive and be acked.
    assert_eq!(
        notifications_until(&server, "STATE").await,
        ["STATE gsm_remain_state:ALERTING:+3725551"]
    );
    assert_eq!(
        notifications_until(&server, "STATE").await,
        ["STATE gsm_remain_state:CONNECTED:+3725551"]
    );
    let reply = server.ask(to, state(1)).await;
    assert!(
        matches!(reply, Reply::Control { value: Some(ref v), .. } if v == "ACTIVE"),
        "{reply:?}"
    );
    let drop = Command::Control {
        sendid: 2,
        kind: ControlKind::SvrDropCall,
        value: None,
        password: "secret".into(),
    };
    assert!(matches!(
        server.ask(to, drop).await,
        Reply::Control { ok: true, .. }
    ));
    let rest = notifications_until(&server, "REMAIN").await;
    assert_eq!(rest[0], "HANGUP num:+3725551,cause:Normal call clearing");
    assert!(rest[2].starts_with("EXPIRY exp:"), "{rest:?}");
    let reply = server.ask(to, state(3)).await;
    assert!(
        matches!(reply, Reply::Control { value: Some(ref v), .. } if v == "IDLE"),
        "{reply:?}"
    );
    device.shutdown().await;
}
