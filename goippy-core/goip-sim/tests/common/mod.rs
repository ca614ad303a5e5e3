//! The test side of the simulator tests: a raw UDP socket playing the SMS
//! server, which reads what the simulated GoIP sends with the same parser
//! the daemon uses (`goip::parse_packet`) and writes commands and acks with
//! the same formatters.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use goip_sim::{Device, DeviceConfig, Event, Events, Timing};
use goippy_core::goip::{
    self, Command, GsmStatus, Keepalive, LineState, Notification, NotificationKind, Packet, Reply,
};
use tokio::net::UdpSocket;

/// Long enough for anything that should happen; tests only wait this long
/// when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Timing for tests: everything fast, except keepalives (tests that look at
/// keepalives set their own interval; elsewhere they would only get in the
/// way).
pub fn fast() -> Timing {
    Timing {
        keepalive_interval: Duration::from_secs(60),
        retransmit_interval: Duration::from_millis(100),
        retransmits: 3,
        send_time: Duration::from_millis(20),
        deliver_after: None,
        ussd_delay: Duration::ZERO,
        session_idle: Duration::from_secs(90),
    }
}

/// A datagram the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub packet: Packet,
    pub from: SocketAddr,
    pub text: String,
}

impl Received {
    pub fn notification(&self) -> &Notification {
        match &self.packet {
            Packet::Notification(n) => n,
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    pub fn reply(&self) -> &Reply {
        match &self.packet {
            Packet::Reply(r) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    pub fn keepalive(&self) -> Option<&Keepalive> {
        match &self.packet {
            Packet::Notification(Notification {
                kind: NotificationKind::Keepalive(k),
                ..
            }) => Some(k),
            _ => None,
        }
    }

    pub fn is_keepalive(&self) -> bool {
        self.keepalive().is_some()
    }

    pub fn tag(&self) -> Option<&str> {
        match &self.packet {
            Packet::Notification(n) => Some(n.tag()),
            Packet::Reply(_) => None,
        }
    }
}

/// The SMS server's socket.
pub struct Server {
    pub socket: UdpSocket,
    pub addr: SocketAddr,
}

impl Server {
    pub async fn bind() -> Server {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("local addr");
        Server { socket, addr }
    }

    /// The next datagram within `timeout`, parsed; panics on garbage.
    pub async fn recv_within(&self, timeout: Duration) -> Option<Received> {
        let mut buf = vec![0u8; goip::RECV_BUFFER_BYTES];
        let (len, from) = tokio::time::timeout(timeout, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .expect("recv");
        let bytes = &buf[..len];
        let packet = goip::parse_packet(bytes).unwrap_or_else(|e| {
            panic!(
                "the simulator sent {:?}: {e}",
                String::from_utf8_lossy(bytes)
            )
        });
        Some(Received {
            packet,
            from,
            text: String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    /// The next datagram that `wanted` accepts, skipping others.
    pub async fn expect(&self, what: &str, mut wanted: impl FnMut(&Received) -> bool) -> Received {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_within(left).await {
                Some(r) if wanted(&r) => return r,
                Some(_) => {}
                None => panic!("no {what} within {PATIENCE:?}"),
            }
        }
    }

    /// The next datagram that is not a keepalive.
    pub async fn expect_non_keepalive(&self) -> Received {
        self.expect("datagram other than a keepalive", |r| !r.is_keepalive())
            .await
    }

    /// The next reply (skipping notifications).
    pub async fn expect_reply(&self) -> (Reply, SocketAddr) {
        let r = self
            .expect("reply", |r| matches!(r.packet, Packet::Reply(_)))
            .await;
        (r.reply().clone(), r.from)
    }

    /// The next notification with this tag.
    pub async fn expect_tag(&self, tag: &str) -> Received {
        self.expect(&format!("{tag} notification"), |r| r.tag() == Some(tag))
            .await
    }

    /// Nothing but keepalives for `quiet`.
    pub async fn expect_silence(&self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            if let Some(r) = self.recv_within(left).await {
                assert!(r.is_keepalive(), "expected nothing, got {:?}", r.text);
            }
        }
    }

    pub async fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.socket.send_to(bytes, to).await.expect("send");
    }

    pub async fn command(&self, to: SocketAddr, command: Command) {
        let bytes = command.encode().expect("encode command");
        self.send(to, &bytes).await;
    }

    /// Acks a notification as a correct server does.
    pub async fn ack(&self, r: &Received) {
        let ack = r.notification().ack(true).expect("ackable");
        self.send(r.from, &ack.encode()).await;
    }

    /// Sends a command and returns the reply to it.
    pub async fn ask(&self, to: SocketAddr, command: Command) -> Reply {
        self.command(to, command).await;
        self.expect_reply().await.0
    }
}

/// A device for `server` with `channels` channels (ids goip1…, password
/// `secret`), fast timing, adjusted by `tweak`; its first keepalive already
/// received (and not acked).
pub async fn start(
    server: &Server,
    channels: usize,
    tweak: impl FnOnce(&mut DeviceConfig),
) -> (Device, Events) {
    let mut config = DeviceConfig::numbered(server.addr, channels, "goip", "secret");
    config.timing = fast();
    tweak(&mut config);
    let (device, events) = Device::start(config).await.expect("start the simulator");
    for _ in 0..channels {
        server
            .expect("first keepalive", Received::is_keepalive)
            .await;
    }
    (device, events)
}

/// The first event `wanted` accepts, or a panic naming `what`.
pub async fn event(events: &mut Events, what: &str, wanted: impl FnMut(&Event) -> bool) -> Event {
    events
        .wait_for(PATIENCE, wanted)
        .await
        .unwrap_or_else(|| panic!("no {what} event within {PATIENCE:?}"))
}

/// Opens an SMS session on `to` and authenticates it.
pub async fn open_session(server: &Server, to: SocketAddr, sendid: u32, text: &str) {
    let reply = server
        .ask(
            to,
            Command::Msg {
                sendid,
                text: text.into(),
            },
        )
        .await;
    assert_eq!(reply, Reply::Password { sendid });
    let reply = server
        .ask(
            to,
            Command::Password {
                sendid,
                password: "secret".into(),
            },
        )
        .await;
    assert_eq!(reply, Reply::Send { sendid });
}

/// `SEND` and the immediate answer.
pub async fn send(server: &Server, to: SocketAddr, sendid: u32, telid: u32, number: &str) -> Reply {
    server
        .ask(
            to,
            Command::Send {
                sendid,
                telid,
                number: number.into(),
            },
        )
        .await
}

/// Typed readings of the keepalive fields goippy itself does not read, for
/// checking what the simulator sends.
pub trait KeepaliveReadings {
    /// `voip_status`: `LOGIN`/`UP` or `LOGOUT`/`DOWN`.
    fn voip_login(&self) -> Option<bool>;
    /// `idle`: minutes since the last call.
    fn idle_minutes(&self) -> Option<u32>;
    /// `disable_status:1`.
    fn is_disabled(&self) -> Option<bool>;
    /// `SMS_LOGIN:Y`.
    fn sms_server_login(&self) -> Option<bool>;
    /// `CGATT:Y`.
    fn packet_attached(&self) -> Option<bool>;
    /// `CELLINFO:LAC:<hex>,CELL ID:<hex>` as (LAC, cell id).
    fn serving_cell(&self) -> Option<(u32, u32)>;
}

impl KeepaliveReadings for Keepalive {
    fn voip_login(&self) -> Option<bool> {
        match self.voip_status.as_deref()? {
            "LOGIN" | "UP" => Some(true),
            "LOGOUT" | "DOWN" => Some(false),
            _ => None,
        }
    }

    fn idle_minutes(&self) -> Option<u32> {
        self.idle.as_deref()?.parse().ok()
    }

    fn is_disabled(&self) -> Option<bool> {
        flag(&self.disable_status)
    }

    fn sms_server_login(&self) -> Option<bool> {
        flag(&self.sms_login)
    }

    fn packet_attached(&self) -> Option<bool> {
        flag(&self.cgatt)
    }

    fn serving_cell(&self) -> Option<(u32, u32)> {
        let info = self.cellinfo.as_deref()?.strip_prefix("LAC:")?;
        let (lac, cell_id) = info.split_once(",CELL ID:")?;
        let hex = |s| u32::from_str_radix(s, 16).ok();
        Some((hex(lac)?, hex(cell_id)?))
    }
}

/// Typed readings of a `GSM` reply (goippy sends no GSM query).
pub trait GsmReadings {
    /// `get_gsm_state`.
    fn line_state(&self) -> Option<LineState>;
    /// `module_down:1`.
    fn is_module_down(&self) -> Option<bool>;
}

impl GsmReadings for GsmStatus {
    fn line_state(&self) -> Option<LineState> {
        self.gsm_state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(LineState::parse)
    }

    fn is_module_down(&self) -> Option<bool> {
        flag(&self.module_down)
    }
}

/// `Y`/`1` or `N`/`0`, as the simulator writes a flag.
fn flag(value: &Option<String>) -> Option<bool> {
    match value.as_deref()? {
        "Y" | "1" => Some(true),
        "N" | "0" => Some(false),
        _ => None,
    }
}
