//! Status and control commands against the simulated GoIP, and their
//! effects on what it sends afterwards.

mod common;

use std::time::Duration;

use common::{GsmReadings, KeepaliveReadings, Server, event, start};
use goip_sim::Event;
use goippy_core::goip::{CfMode, CfReason, Command, ControlKind, NotificationKind, Reply};

fn control(sendid: u32, kind: ControlKind, value: Option<&str>, password: &str) -> Command {
    Command::Control {
        sendid,
        kind,
        value: value.map(str::to_owned),
        password: password.into(),
    }
}

#[tokio::test]
async fn the_number_can_be_read_and_set_and_the_keepalive_follows() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let get = server
        .ask(to, control(1, ControlKind::GetGsmNum, None, "secret"))
        .await;
    assert_eq!(
        get,
        Reply::Control {
            kind: ControlKind::GetGsmNum,
            sendid: 1,
            value: Some(String::new()),
            ok: false
        }
    );
    let set = server
        .ask(
            to,
            control(2, ControlKind::SetGsmNum, Some("+37255500001"), "secret"),
        )
        .await;
    assert_eq!(
        set,
        Reply::Control {
            kind: ControlKind::SetGsmNum,
            sendid: 2,
            value: Some("+37255500001".into()),
            ok: true
        }
    );
    let e = event(&mut events, "command", |e| {
        matches!(e, Event::Command { sendid: 2, .. })
    })
    .await;
    assert_eq!(
        e,
        Event::Command {
            channel: 1,
            verb: "set_gsm_num".into(),
            sendid: 2,
            value: Some("+37255500001".into()),
            reply: "set_gsm_num 2 +37255500001 ok".into()
        }
    );
    device.keepalive(1).await.unwrap();
    let k = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(k.keepalive().unwrap().number(), Some("+37255500001"));
    let refused = server
        .ask(to, control(3, ControlKind::GetGsmNum, None, "guess"))
        .await;
    assert!(matches!(refused, Reply::Error(_)), "{refused:?}");
    device.shutdown().await;
}

#[tokio::test]
async fn gsm_query_and_call_forwarding() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let Reply::Gsm(status) = server
        .ask(
            to,
            Command::Gsm {
                sendid: 4,
                password: "secret".into(),
            },
        )
        .await
    else {
        panic!("not a GSM reply")
    };
    assert_eq!(status.sendid, 4);
    assert_eq!(
        status.line_state(),
        Some(goippy_core::goip::LineState::Idle)
    );
    assert_eq!(status.is_module_down(), Some(false));
    assert_eq!(status.imei.as_deref().map(str::len), Some(15));

    let cf = |sendid, mode, number: Option<&str>| Command::Cf {
        sendid,
        password: "secret".into(),
        reason: CfReason::Busy,
        mode,
        number: number.map(str::to_owned),
        ftime: None,
    };
    assert_eq!(
        server
            .ask(to, cf(5, CfMode::Register, Some("+3725559")))
            .await,
        Reply::CfOk { sendid: 5 }
    );
    assert_eq!(
        server.ask(to, cf(6, CfMode::Query, None)).await,
        Reply::CfState {
            sendid: 6,
            active: true,
            number: "+3725559".into()
        }
    );
    device.shutdown().await;
}

#[tokio::test]
async fn disabling_the_module_shows_in_the_keepalive() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    let reply = server
        .ask(to, control(1, ControlKind::ModuleCtlI, Some("0"), "secret"))
        .await;
    assert!(matches!(reply, Reply::Control { ok: true, .. }));
    device.keepalive(1).await.unwrap();
    let k = server.expect("keepalive", |r| r.is_keepalive()).await;
    let k = k.keepalive().unwrap();
    assert_eq!((k.is_disabled(), k.gsm_login()), (Some(true), Some(false)));
    assert!(!device.status(1).await.unwrap().module_enabled);
    device.shutdown().await;
}

#[tokio::test]
async fn the_cell_list_arrives_as_a_notification() {
    let server = Server::bind().await;
    let (device, _events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    server
        .command(to, control(1, ControlKind::GetCellsList, None, "secret"))
        .await;
    let (reply, _) = server.expect_reply().await;
    assert!(matches!(reply, Reply::Control { ok: true, .. }));
    let r = server.expect_tag("CELLS").await;
    let NotificationKind::Cells(cells) = &r.notification().kind else {
        panic!()
    };
    assert!(!cells.cells.is_empty());
    server.ack(&r).await;
    device.shutdown().await;
}

#[tokio::test]
async fn a_reboot_starts_the_keepalive_count_and_login_over() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    device.keepalive(1).await.unwrap();
    let k = server.expect("keepalive", |r| r.is_keepalive()).await;
    server.ack(&k).await;
    event(&mut events, "sms_login", |e| {
        matches!(e, Event::SmsLogin { value: true, .. })
    })
    .await;
    let reply = server
        .ask(to, control(9, ControlKind::SvrRebootModule, None, "secret"))
        .await;
    assert!(matches!(reply, Reply::Control { ok: true, .. }));
    event(&mut events, "sms_login", |e| {
        matches!(e, Event::SmsLogin { value: false, .. })
    })
    .await;
    device.keepalive(1).await.unwrap();
    let k = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(k.notification().recvid, "1");
    assert_eq!(k.keepalive().unwrap().sms_server_login(), Some(false));
    server.expect_silence(Duration::from_millis(100)).await;
    device.shutdown().await;
}

#[tokio::test]
async fn the_old_one_shot_form_is_not_answered() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |_| {}).await;
    let to = device.local_addr(1).unwrap();
    server.send(to, b"SMS 123 1 secret +3725551 hello").await;
    let e = event(&mut events, "ignored", |e| {
        matches!(e, Event::Ignored { .. })
    })
    .await;
    assert!(
        matches!(e, Event::Ignored { ref reason, .. } if reason.contains("not the vendor protocol"))
    );
    server.send(to, b"complete garbage").await;
    event(&mut events, "ignored", |e| {
        matches!(e, Event::Ignored { .. })
    })
    .await;
    server.expect_silence(Duration::from_millis(200)).await;
    device.shutdown().await;
}
