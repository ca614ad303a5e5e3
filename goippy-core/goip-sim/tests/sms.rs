//! The device side of the MSG / PASSWORD / SEND / WAIT / OK / DONE session,
//! driven by a server on a real UDP socket: sms_no counting up, a repeated
//! SEND answered from memory without sending again, at most five sessions,
//! the idle release, wrong passwords, replies to whoever asked, and the
//! DELIVER report after a successful send.

mod common;

use std::time::Duration;

use common::{Server, event, open_session, send, start};
use goip_sim::{Event, SentSms};
use goippy_core::goip::{Command, ErrorReply, NotificationKind, Reply};
use tokio::net::UdpSocket;

fn ok(sendid: u32, telid: u32, sms_no: u32) -> Reply {
    Reply::Ok {
        sendid,
        telid,
        sms_no: Some(sms_no),
    }
}

#[tokio::test]
async fn a_full_session_with_sms_no_counting_up() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let text = "Grüße; 你好\nline two";
    open_session(&server, to, 11, text).await;
    let opened = event(&mut events, "session_opened", |e| {
        matches!(e, Event::SessionOpened { .. })
    })
    .await;
    assert_eq!(
        opened,
        Event::SessionOpened {
            channel: 1,
            sendid: 11,
            text: text.into()
        }
    );

    assert_eq!(
        send(&server, to, 11, 1, "+37255512345").await,
        Reply::Wait {
            sendid: 11,
            telid: 1
        }
    );
    assert_eq!(server.expect_reply().await.0, ok(11, 1, 1));
    assert_eq!(
        send(&server, to, 11, 2, "+37255512346").await,
        Reply::Wait {
            sendid: 11,
            telid: 2
        }
    );
    assert_eq!(server.expect_reply().await.0, ok(11, 2, 2));
    assert_eq!(
        server.ask(to, Command::Done { sendid: 11 }).await,
        Reply::Done { sendid: 11 }
    );

    // A second session continues the channel's counter.
    open_session(&server, to, 12, "again").await;
    assert_eq!(
        send(&server, to, 12, 1, "+37255512345").await,
        Reply::Wait {
            sendid: 12,
            telid: 1
        }
    );
    assert_eq!(server.expect_reply().await.0, ok(12, 1, 3));

    let sent = event(&mut events, "sms_sent", |e| {
        matches!(e, Event::SmsSent { .. })
    })
    .await;
    assert_eq!(
        sent,
        Event::SmsSent {
            channel: 1,
            to: "+37255512345".into(),
            text: text.into(),
            sms_no: 1,
            sendid: 11,
            telid: 1
        }
    );
    let log = device.sent_log(1).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|s| (s.to.as_str(), s.sms_no))
            .collect::<Vec<_>>(),
        [
            ("+37255512345", 1),
            ("+37255512346", 2),
            ("+37255512345", 3)
        ]
    );
    let status = device.status(1).await.unwrap();
    assert_eq!((status.sms_sent, status.open_sessions), (3, 1));
    device.shutdown().await;
}

#[tokio::test]
async fn a_repeated_send_returns_the_status_and_does_not_send_again() {
    let server = Server::bind().await;
    let (device, mut events) =
        start(&server, 1, |c| c.timing.send_time = Duration::from_secs(1)).await;
    let to = device.local_addr(1).unwrap();
    open_session(&server, to, 21, "only once").await;
    assert_eq!(
        send(&server, to, 21, 1, "+3725551").await,
        Reply::Wait {
            sendid: 21,
            telid: 1
        }
    );
    // Repeated during WAIT (what the vendor server does): still WAIT.
    assert_eq!(
        send(&server, to, 21, 1, "+3725551").await,
        Reply::Wait {
            sendid: 21,
            telid: 1
        }
    );
    assert_eq!(server.expect_reply().await.0, ok(21, 1, 1));
    // Repeated after OK: the same OK, the same sms_no.
    assert_eq!(send(&server, to, 21, 1, "+3725551").await, ok(21, 1, 1));
    let repeated = event(&mut events, "send_repeated", |e| {
        matches!(e, Event::SendRepeated { .. })
    })
    .await;
    assert_eq!(
        repeated,
        Event::SendRepeated {
            channel: 1,
            sendid: 21,
            telid: 1,
            reply: "WAIT 21 1".into()
        }
    );
    server.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(
        device.sent_log(1).await.unwrap(),
        [SentSms {
            sendid: 21,
            telid: 1,
            to: "+3725551".into(),
            text: "only once".into(),
            sms_no: 1
        }]
    );
    assert_eq!(device.status(1).await.unwrap().sms_sent, 1);
    device.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_may_be_retried() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let msg = Command::Msg {
        sendid: 5,
        text: "x".into(),
    };
    assert_eq!(server.ask(to, msg).await, Reply::Password { sendid: 5 });
    let wrong = Command::Password {
        sendid: 5,
        password: "guess".into(),
    };
    assert_eq!(
        server.ask(to, wrong).await,
        Reply::Error(ErrorReply::Password { sendid: 5 })
    );
    event(&mut events, "password_rejected", |e| {
        matches!(e, Event::PasswordRejected { sendid: 5, .. })
    })
    .await;
    // SEND before the right password is not acted on.
    server
        .command(
            to,
            Command::Send {
                sendid: 5,
                telid: 1,
                number: "1".into(),
            },
        )
        .await;
    event(&mut events, "ignored", |e| {
        matches!(e, Event::Ignored { .. })
    })
    .await;
    let right = Command::Password {
        sendid: 5,
        password: "secret".into(),
    };
    assert_eq!(server.ask(to, right).await, Reply::Send { sendid: 5 });
    device.shutdown().await;
}

#[tokio::test]
async fn at_most_five_sessions() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let msg = |sendid| Command::Msg {
        sendid,
        text: "hi".into(),
    };
    for sendid in 1..=5 {
        assert_eq!(
            server.ask(to, msg(sendid)).await,
            Reply::Password { sendid }
        );
    }
    assert_eq!(
        server.ask(to, msg(6)).await,
        Reply::Error(ErrorReply::Rejected {
            sendid: 6,
            text: "too_many_sends_in_server".into()
        })
    );
    event(&mut events, "session_rejected", |e| {
        matches!(e, Event::SessionRejected { sendid: 6, .. })
    })
    .await;
    assert_eq!(
        server.ask(to, Command::Done { sendid: 3 }).await,
        Reply::Done { sendid: 3 }
    );
    assert_eq!(server.ask(to, msg(6)).await, Reply::Password { sendid: 6 });
    assert_eq!(device.status(1).await.unwrap().open_sessions, 5);
    device.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_are_released() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.timing.session_idle = Duration::from_millis(200)
    })
    .await;
    let to = device.local_addr(1).unwrap();
    open_session(&server, to, 8, "x").await;
    let closed = event(&mut events, "session_closed", |e| {
        matches!(e, Event::SessionClosed { .. })
    })
    .await;
    assert_eq!(
        closed,
        Event::SessionClosed {
            channel: 1,
            sendid: 8,
            reason: goip_sim::CloseReason::Idle
        }
    );
    // The session is gone: SEND is not answered.
    server
        .command(
            to,
            Command::Send {
                sendid: 8,
                telid: 1,
                number: "1".into(),
            },
        )
        .await;
    server.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(device.status(1).await.unwrap().open_sessions, 0);
    device.shutdown().await;
}

#[tokio::test]
async fn replies_go_to_whoever_asked_from_the_channel_socket() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 2, |_| {}).await;
    let other = Server {
        socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        addr: "127.0.0.1:0".parse().unwrap(),
    };
    let to = device.local_addr(2).unwrap();
    other
        .command(
            to,
            Command::Msg {
                sendid: 3,
                text: "x".into(),
            },
        )
        .await;
    let r = other.expect_non_keepalive().await;
    assert_eq!(r.reply(), &Reply::Password { sendid: 3 });
    assert_eq!(r.from, to);
    device.shutdown().await;
}

#[tokio::test]
async fn a_delivery_report_follows_a_successful_send() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.timing.deliver_after = Some(Duration::from_millis(50))
    })
    .await;
    let to = device.local_addr(1).unwrap();
    open_session(&server, to, 9, "report me").await;
    send(&server, to, 9, 1, "+3725559").await;
    assert_eq!(server.expect_reply().await.0, ok(9, 1, 1));
    let r = server.expect_tag("DELIVER").await;
    let NotificationKind::Deliver(d) = &r.notification().kind else {
        panic!()
    };
    assert_eq!(
        (d.sms_no, d.state, d.num.as_deref()),
        (1, 0, Some("+3725559"))
    );
    server.ack(&r).await;
    event(
        &mut events,
        "DELIVER ack",
        |e| matches!(e, Event::Ack { tag, .. } if tag == "DELIVER"),
    )
    .await;
    device.shutdown().await;
}
