//! Keepalives from the simulated GoIP, as a server sees them on a real UDP
//! socket: the fields real firmware sends, the counter, one socket (and
//! source port) per channel, and SMS_LOGIN turning Y only after a proper
//! `reg:` ack.

mod common;

use std::time::Duration;

use common::{KeepaliveReadings, Server, event, fast};
use goip_sim::{Device, DeviceConfig, Event};
use goippy_core::goip::Ack;

async fn with_keepalives(server: &Server, channels: usize) -> (Device, goip_sim::Events) {
    let mut config = DeviceConfig::numbered(server.addr, channels, "goip", "secret");
    config.timing = fast();
    config.timing.keepalive_interval = Duration::from_millis(100);
    config.channels[0].number = "+37255500001".into();
    Device::start(config).await.expect("start")
}

#[tokio::test]
async fn keepalives_carry_the_fields_real_firmware_sends() {
    let server = Server::bind().await;
    let (device, _events) = with_keepalives(&server, 1).await;
    let first = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(first.from, device.local_addr(1).unwrap());
    assert!(
        first
            .text
            .starts_with("req:1;id:goip1;pass:secret;num:+37255500001;signal:"),
        "{}",
        first.text
    );
    assert!(
        first
            .text
            .ends_with(";CELLINFO:LAC:7E5,CELL ID:5E5C;CGATT:Y;"),
        "{}",
        first.text
    );
    let n = first.notification();
    assert_eq!((n.recvid.as_str(), n.id.as_str()), ("1", "goip1"));
    assert_eq!(n.password.as_deref(), Some("secret"));
    let k = first.keepalive().unwrap();
    assert_eq!(k.number(), Some("+37255500001"));
    let signal = k.signal_quality().expect("a signal value");
    assert!(signal.csq() <= 31);
    assert_eq!(k.gsm_login(), Some(true));
    assert_eq!(k.voip_login(), Some(false));
    assert_eq!(k.voip_state.as_deref(), Some("IDLE"));
    assert_eq!(k.remain_time.as_deref(), Some("-1"));
    for (what, value, len) in [
        ("imei", &k.imei, 15),
        ("imsi", &k.imsi, 15),
        ("iccid", &k.iccid, 19),
    ] {
        let value = value.as_deref().unwrap_or_default();
        assert_eq!(value.len(), len, "{what} {value:?}");
        assert!(
            value.bytes().all(|b| b.is_ascii_digit()),
            "{what} {value:?}"
        );
    }
    assert_eq!(k.pro.as_deref(), Some("Sim Mobile"));
    assert_eq!(k.idle_minutes(), Some(0));
    assert_eq!(k.is_disabled(), Some(false));
    assert_eq!(k.sms_server_login(), Some(false));
    assert_eq!(k.smb_login.as_deref(), Some(""));
    assert!(k.serving_cell().is_some());
    assert_eq!(k.packet_attached(), Some(true));
    assert!(k.extra.is_empty(), "{:?}", k.extra);

    // The counter goes up by one per keepalive.
    let second = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(second.notification().recvid, "2");
    device.shutdown().await;
}

#[tokio::test]
async fn sms_login_turns_y_after_a_reg_ack_only() {
    let server = Server::bind().await;
    let (device, mut events) = with_keepalives(&server, 1).await;
    let first = server.expect("keepalive", |r| r.is_keepalive()).await;

    // An echo with `req:` (what several libraries send) does not log in.
    server.send(first.from, b"req:1;status:200;").await;
    let ack = event(&mut events, "keepalive_ack", |e| {
        matches!(e, Event::KeepaliveAck { .. })
    })
    .await;
    assert_eq!(
        ack,
        Event::KeepaliveAck {
            channel: 1,
            count: "1".into(),
            status: 200,
            prefix: "req".into(),
            sms_login: false
        }
    );
    let next = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(next.keepalive().unwrap().sms_server_login(), Some(false));

    // A refusal does not either.
    server
        .send(
            next.from,
            &Ack::Registration {
                count: next.notification().recvid.clone(),
                status: 404,
            }
            .encode(),
        )
        .await;
    let next = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(next.keepalive().unwrap().sms_server_login(), Some(false));

    // The documented ack does.
    server.ack(&next).await;
    let login = event(&mut events, "sms_login", |e| {
        matches!(e, Event::SmsLogin { .. })
    })
    .await;
    assert_eq!(
        login,
        Event::SmsLogin {
            channel: 1,
            value: true
        }
    );
    let next = server
        .expect("keepalive with SMS_LOGIN:Y", |r| {
            r.keepalive().and_then(|k| k.sms_server_login()) == Some(true)
        })
        .await;
    assert!(next.text.contains(";SMS_LOGIN:Y;"), "{}", next.text);
    assert!(device.status(1).await.unwrap().sms_login);
    device.shutdown().await;
}

#[tokio::test]
async fn every_channel_has_its_own_socket_and_id() {
    let server = Server::bind().await;
    let (device, _events) = with_keepalives(&server, 3).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let r = server.expect("keepalive", |r| r.is_keepalive()).await;
        let id = r.notification().id.clone();
        if !seen.iter().any(|(i, _)| *i == id) {
            seen.push((id, r.from));
        }
    }
    seen.sort();
    for (n, (id, from)) in seen.iter().enumerate() {
        assert_eq!(*id, format!("goip{}", n + 1));
        assert_eq!(*from, device.local_addr(n + 1).unwrap());
    }
    assert_ne!(seen[0].1.port(), seen[1].1.port());
    assert_eq!(device.channel_count(), 3);
    assert!(device.local_addr(4).is_err());
    device.shutdown().await;
}

#[tokio::test]
async fn keepalive_on_demand_and_status() {
    let server = Server::bind().await;
    let (device, _events) = common::start(&server, 1, |_| {}).await;
    device.keepalive(1).await.unwrap();
    let r = server.expect("keepalive", |r| r.is_keepalive()).await;
    assert_eq!(r.notification().recvid, "2");
    let status = device.status(1).await.unwrap();
    assert_eq!(status.keepalives, 2);
    assert_eq!(status.id, "goip1");
    assert_eq!(status.server, server.addr.to_string());
    device.shutdown().await;
}
