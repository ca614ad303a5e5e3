//! Every failure mode of the simulated channel, seen from the server: the
//! error handling of a server can only be tested against a device that
//! misbehaves on purpose.

mod common;

use std::time::{Duration, Instant};

use common::{Server, event, open_session, send, start};
use goip_sim::{Event, Failure, FailureChange, SimError};
use goippy_core::goip::{Command, ErrorReply, NotificationKind, Reply};

fn set(failure: Failure) -> FailureChange {
    FailureChange::Set(failure)
}

fn ok(sendid: u32, telid: u32, sms_no: u32) -> Reply {
    Reply::Ok {
        sendid,
        telid,
        sms_no: Some(sms_no),
    }
}

fn failed(sendid: u32, telid: u32, errorstatus: i32) -> Reply {
    Reply::Error(ErrorReply::Recipient {
        sendid,
        telid,
        errorstatus,
    })
}

#[tokio::test]
async fn errorstatus_for_the_next_send_or_a_destination() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    device
        .fail(
            1,
            set(Failure::ErrorStatus {
                code: 38,
                destination: None,
            }),
        )
        .await
        .unwrap();
    let active = device
        .fail(
            1,
            set(Failure::ErrorStatus {
                code: 500,
                destination: Some("+3725550".into()),
            }),
        )
        .await
        .unwrap();
    assert_eq!(active.len(), 2);
    open_session(&server, to, 1, "x").await;
    // The next send fails, once.
    send(&server, to, 1, 1, "+3725551").await;
    assert_eq!(server.expect_reply().await.0, failed(1, 1, 38));
    let e = event(&mut events, "sms_failed", |e| {
        matches!(e, Event::SmsFailed { .. })
    })
    .await;
    assert!(
        matches!(
            e,
            Event::SmsFailed {
                errorstatus: 38,
                telid: 1,
                ..
            }
        ),
        "{e:?}"
    );
    send(&server, to, 1, 2, "+3725551").await;
    assert_eq!(server.expect_reply().await.0, ok(1, 2, 1));
    // A destination rule stays.
    for telid in [3, 4] {
        send(&server, to, 1, telid, "+3725550").await;
        assert_eq!(server.expect_reply().await.0, failed(1, telid, 500));
    }
    // The failure is remembered for the telid like any status.
    assert_eq!(send(&server, to, 1, 3, "+3725550").await, failed(1, 3, 500));
    device.fail(1, FailureChange::Off).await.unwrap();
    send(&server, to, 1, 5, "+3725550").await;
    assert_eq!(server.expect_reply().await.0, ok(1, 5, 2));
    device.shutdown().await;
}

#[tokio::test]
async fn wrong_password_in_notifications() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    device.fail(1, set(Failure::WrongPassword)).await.unwrap();
    device.inbound_sms(1, "+1", "x").await.unwrap();
    let r = server.expect_tag("RECEIVE").await;
    let password = r.notification().password.clone().unwrap_or_default();
    assert_ne!(password, "secret");
    device.keepalive(1).await.unwrap();
    let k = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(
        k.notification().password.as_deref(),
        Some(password.as_str())
    );
    device.shutdown().await;
}

#[tokio::test]
async fn a_silent_channel_sends_and_answers_nothing() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.timing.keepalive_interval = Duration::from_millis(50);
    })
    .await;
    let to = device.local_addr(1).unwrap();
    device.fail(1, set(Failure::Silence)).await.unwrap();
    // Whatever was already on its way may still arrive; then nothing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..10 {
        if server
            .recv_within(Duration::from_millis(50))
            .await
            .is_none()
        {
            break;
        }
    }
    server
        .command(
            to,
            Command::Msg {
                sendid: 1,
                text: "x".into(),
            },
        )
        .await;
    assert!(
        server
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    event(
        &mut events,
        "dropped",
        |e| matches!(e, Event::Dropped { verb, .. } if verb == "MSG"),
    )
    .await;
    assert!(matches!(
        device.inbound_sms(1, "+1", "x").await,
        Err(SimError::Silent(1))
    ));
    assert!(matches!(
        device.keepalive(1).await,
        Err(SimError::Silent(1))
    ));
    // Awake again: keepalives resume.
    device.fail(1, FailureChange::Off).await.unwrap();
    server.expect("keepalive", |r| r.is_keepalive()).await;
    device.shutdown().await;
}

#[tokio::test]
async fn the_first_msg_datagrams_are_lost() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.channels[0].failures = vec![Failure::DropMsg(2)]
    })
    .await;
    let to = device.local_addr(1).unwrap();
    let msg = Command::Msg {
        sendid: 4,
        text: "x".into(),
    };
    for _ in 0..2 {
        server.command(to, msg.clone()).await;
        event(
            &mut events,
            "dropped",
            |e| matches!(e, Event::Dropped { verb, sendid: Some(4), .. } if verb == "MSG"),
        )
        .await;
    }
    assert_eq!(server.ask(to, msg).await, Reply::Password { sendid: 4 });
    assert!(device.status(1).await.unwrap().failures.is_empty());
    device.shutdown().await;
}

#[tokio::test]
async fn a_slow_wait_delays_the_result() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let slow = Duration::from_millis(400);
    device.fail(1, set(Failure::SlowWait(slow))).await.unwrap();
    open_session(&server, to, 2, "x").await;
    let asked = Instant::now();
    assert_eq!(
        send(&server, to, 2, 1, "+1").await,
        Reply::Wait {
            sendid: 2,
            telid: 1
        }
    );
    assert_eq!(server.expect_reply().await.0, ok(2, 1, 1));
    // Never early (a timer cannot fire before it is due).
    assert!(asked.elapsed() >= slow, "{:?}", asked.elapsed());
    device.shutdown().await;
}

#[tokio::test]
async fn no_result_leaves_the_send_waiting() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    device.fail(1, set(Failure::NoResult)).await.unwrap();
    open_session(&server, to, 3, "x").await;
    assert_eq!(
        send(&server, to, 3, 1, "+1").await,
        Reply::Wait {
            sendid: 3,
            telid: 1
        }
    );
    server.expect_silence(Duration::from_millis(300)).await;
    // A status poll with the same telid: still waiting.
    assert_eq!(
        send(&server, to, 3, 1, "+1").await,
        Reply::Wait {
            sendid: 3,
            telid: 1
        }
    );
    assert_eq!(device.status(1).await.unwrap().sms_sent, 0);
    device.shutdown().await;
}

#[tokio::test]
async fn no_answer_ignores_send() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    open_session(&server, to, 4, "x").await;
    device.fail(1, set(Failure::NoAnswer)).await.unwrap();
    server
        .command(
            to,
            Command::Send {
                sendid: 4,
                telid: 1,
                number: "+1".into(),
            },
        )
        .await;
    event(
        &mut events,
        "dropped",
        |e| matches!(e, Event::Dropped { verb, .. } if verb == "SEND"),
    )
    .await;
    server.expect_silence(Duration::from_millis(300)).await;
    device.fail(1, FailureChange::Off).await.unwrap();
    // Nothing was remembered: the same telid is a new send now.
    assert_eq!(
        send(&server, to, 4, 1, "+1").await,
        Reply::Wait {
            sendid: 4,
            telid: 1
        }
    );
    device.shutdown().await;
}

#[tokio::test]
async fn too_many_refuses_every_msg() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    device.fail(1, set(Failure::TooMany)).await.unwrap();
    let reply = server
        .ask(
            to,
            Command::Msg {
                sendid: 7,
                text: "x".into(),
            },
        )
        .await;
    assert_eq!(
        reply,
        Reply::Error(ErrorReply::Rejected {
            sendid: 7,
            text: "too_many_sends_in_server".into()
        })
    );
    device.shutdown().await;
}

#[tokio::test]
async fn delivery_reports_can_say_failed() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |c| {
        c.timing.deliver_after = Some(Duration::from_millis(10));
        c.channels[0].failures = vec![Failure::DeliverState(70)];
    })
    .await;
    let to = device.local_addr(1).unwrap();
    open_session(&server, to, 5, "x").await;
    send(&server, to, 5, 1, "+1").await;
    let r = server.expect_tag("DELIVER").await;
    let NotificationKind::Deliver(d) = &r.notification().kind else {
        panic!()
    };
    assert_eq!((d.sms_no, d.state), (1, 70));
    device.shutdown().await;
}

#[tokio::test]
async fn ussd_requests_can_fail() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    device.fail(1, set(Failure::UssdFail)).await.unwrap();
    let reply = server
        .ask(
            to,
            Command::Ussd {
                sendid: 9,
                password: "secret".into(),
                code: "*100#".into(),
            },
        )
        .await;
    assert_eq!(
        reply,
        Reply::Ussd {
            sendid: 9,
            text: "USSD send failed!".into()
        }
    );
    device.shutdown().await;
}

#[tokio::test]
async fn fail_errors_name_the_channel() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    assert!(matches!(
        device.fail(2, FailureChange::Off).await,
        Err(SimError::NoSuchChannel {
            channel: 2,
            count: 1
        })
    ));
    device.shutdown().await;
}
