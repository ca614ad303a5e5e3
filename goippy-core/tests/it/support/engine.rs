//! Shared pieces of the engine's integration tests: an engine with
//! test-sized timers on a loopback port, and a fake GoIP channel — a real UDP
//! socket that sends notifications built with the wire format's own
//! formatters, records every datagram the engine sends it (parsed with
//! `parse_server_datagram`), and can answer commands from a script, like a
//! device would.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goippy_core::engine::{ChannelCredentials, Engine, EngineConfig, EngineEvent, UssdOutcome};
use goippy_core::goip::{
    Ack, Command, Deliver, ErrorReply, Keepalive, Notification, NotificationKind, Receive, Reply,
    ServerDatagram, parse_server_datagram,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use super::PATIENCE;

/// A USSD request as the bridge makes every one: under a sendid reserved
/// just before it is sent.
pub trait SendUssd {
    fn send_ussd(&self, goip_id: &str, code: &str) -> impl Future<Output = UssdOutcome> + Send;
}

impl SendUssd for Engine {
    async fn send_ussd(&self, goip_id: &str, code: &str) -> UssdOutcome {
        let sendid = self.reserve_ussd_sendid();
        self.send_reserved_ussd(goip_id, code, sendid).await
    }
}

/// The channel most tests use, and its password.
pub const ID: &str = "goip-1";
pub const PASSWORD: &str = "s3cret";

/// The protocol's timers shrunk so a test takes moments: their ratios stay
/// as in production (a poll well before the deadline, retries well inside
/// the GoIP's session lifetime).
pub fn fast_config() -> EngineConfig {
    let mut c = EngineConfig::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    c.offline_after = Duration::from_secs(5);
    c.sweep_interval = Duration::from_millis(20);
    c.offline_wait = Duration::from_secs(2);
    c.durable_ack_timeout = Duration::from_millis(500);
    c.command_retry_interval = Duration::from_millis(200);
    c.busy_backoff = vec![Duration::from_millis(100), Duration::from_millis(100)];
    c.send_poll_after = Duration::from_millis(600);
    c.sms_timeout = Duration::from_millis(1200);
    c.ussd_timeout = Duration::from_millis(300);
    c.shutdown_grace = Duration::from_millis(300);
    c.warn_interval = Duration::from_secs(1);
    c
}

/// An engine under test and its event queue.
pub struct TestEngine {
    pub engine: Engine,
    pub events: mpsc::Receiver<EngineEvent>,
}

/// Starts an engine on a free loopback port that knows `channels`
/// (id, password).
pub async fn start(config: EngineConfig, channels: &[(&str, &str)]) -> TestEngine {
    let credentials: HashMap<_, _> = channels
        .iter()
        .map(|(id, password)| (id.to_string(), ChannelCredentials::new(*id, *password)))
        .collect();
    let (engine, events) = Engine::start(config, Arc::new(credentials))
        .await
        .expect("the engine binds a loopback port");
    TestEngine { engine, events }
}

/// An engine with [`fast_config`] that knows channel [`ID`], and that
/// channel online, answering commands as `behaviour` says.
pub async fn online(behaviour: Behaviour) -> (TestEngine, Device) {
    let mut t = start(fast_config(), &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    device.script(goip(behaviour));
    (t, device)
}

impl TestEngine {
    pub fn addr(&self) -> SocketAddr {
        self.engine.local_addr()
    }

    /// The next event `pick` accepts; others (keepalives, …) are skipped.
    pub async fn next_event<T>(&mut self, mut pick: impl FnMut(EngineEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Ok(None) => panic!("the engine's event queue closed"),
                Err(_) => panic!("no matching event within {PATIENCE:?}"),
            }
        }
    }

    /// Fails if an event `pick` accepts arrives within `within`.
    pub async fn no_event(&mut self, within: Duration, mut pick: impl FnMut(&EngineEvent) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(event) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            match event {
                Some(event) => assert!(!pick(&event), "unexpected event: {event:?}"),
                None => return,
            }
        }
    }

    /// Brings `device` online: a keepalive, its ack, and the online event.
    pub async fn bring_online(&mut self, device: &mut Device) {
        device.keepalive(1).await;
        let ack = device.expect_ack().await;
        assert!(ack.is_accepted(), "{ack:?}");
        let id = device.id.clone();
        self.next_event(|e| match e {
            EngineEvent::ChannelOnline { goip_id, .. } if goip_id == id => Some(()),
            _ => None,
        })
        .await;
    }
}

/// One datagram the engine sent to a device.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub bytes: Vec<u8>,
    pub datagram: ServerDatagram,
}

impl Seen {
    pub fn command(&self) -> Option<&Command> {
        match &self.datagram {
            ServerDatagram::Command(c) => Some(c),
            ServerDatagram::Ack(_) => None,
        }
    }
}

/// How a scripted device answers one command.
pub enum Answer {
    Now(Reply),
    After(Duration, Reply),
}

pub type Script = Box<dyn FnMut(&Command) -> Vec<Answer> + Send>;

/// A fake GoIP channel on its own loopback socket.
pub struct Device {
    pub id: String,
    pub password: String,
    pub socket: Arc<UdpSocket>,
    pub server: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
    inbox: mpsc::UnboundedReceiver<Seen>,
    script: Arc<Mutex<Option<Script>>>,
    reader: JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Device {
    /// A device on 127.0.0.1.
    pub async fn bind(server: SocketAddr, id: &str, password: &str) -> Device {
        Self::bind_at(Ipv4Addr::LOCALHOST, server, id, password).await
    }

    /// A device on another loopback address (127.0.0.2, …), to play a
    /// different host.
    pub async fn bind_at(ip: Ipv4Addr, server: SocketAddr, id: &str, password: &str) -> Device {
        let socket = Arc::new(
            UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0))
                .await
                .expect("a loopback UDP port"),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Option<Script>>> = Arc::new(Mutex::new(None));
        let (tx, inbox) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(socket.clone(), log.clone(), script.clone(), tx));
        Device {
            id: id.to_owned(),
            password: password.to_owned(),
            socket,
            server,
            log,
            inbox,
            script,
            reader,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("bound")
    }

    /// Answers commands with `script` from now on.
    pub fn script(&self, script: Script) {
        *self.script.lock().unwrap() = Some(script);
    }

    pub async fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).await.expect("send");
    }

    /// Sends a notification with this device's id and password.
    pub async fn notify(&self, recvid: &str, kind: NotificationKind) {
        let password = Some(self.password.clone());
        self.notify_as(recvid, &self.id.clone(), password, kind)
            .await;
    }

    /// Sends a notification with any id and password.
    pub async fn notify_as(
        &self,
        recvid: &str,
        id: &str,
        password: Option<String>,
        kind: NotificationKind,
    ) {
        let bytes = Notification::new(recvid, id, password, kind)
            .encode()
            .expect("a notification the wire format can write");
        self.send_raw(&bytes).await;
    }

    pub async fn keepalive(&self, count: u32) {
        self.notify(&count.to_string(), keepalive_kind()).await;
    }

    pub async fn receive(&self, recvid: &str, srcnum: &str, msg: &str) {
        self.notify(recvid, receive_kind(srcnum, msg)).await;
    }

    pub async fn deliver(&self, recvid: &str, sms_no: u32, state: i32) {
        let kind = NotificationKind::Deliver(Deliver {
            sms_no,
            state,
            num: None,
        });
        self.notify(recvid, kind).await;
    }

    pub async fn reply(&self, reply: Reply) {
        let bytes = reply.encode().expect("a reply the wire format can write");
        self.send_raw(&bytes).await;
    }

    /// The next datagram from the engine.
    pub async fn next(&mut self) -> Seen {
        match tokio::time::timeout(PATIENCE, self.inbox.recv()).await {
            Ok(Some(seen)) => seen,
            _ => panic!("{}: nothing from the engine within {PATIENCE:?}", self.id),
        }
    }

    /// The next datagram, which must be an ack.
    pub async fn expect_ack(&mut self) -> Ack {
        match self.next().await.datagram {
            ServerDatagram::Ack(ack) => ack,
            other => panic!("{}: expected an ack, got {other:?}", self.id),
        }
    }

    /// The next datagram, which must be a command.
    pub async fn expect_command(&mut self) -> Command {
        match self.next().await.datagram {
            ServerDatagram::Command(c) => c,
            other => panic!("{}: expected a command, got {other:?}", self.id),
        }
    }

    /// Fails if the engine sends anything within `within`.
    pub async fn expect_silence(&mut self, within: Duration) {
        if let Ok(Some(seen)) = tokio::time::timeout(within, self.inbox.recv()).await {
            panic!("{}: expected nothing, got {:?}", self.id, seen.datagram);
        }
    }

    /// Forgets what arrived so far (the log keeps it).
    pub fn drain(&mut self) {
        while self.inbox.try_recv().is_ok() {}
    }

    /// The live log, for code that must look at it from elsewhere.
    pub fn log_handle(&self) -> Arc<Mutex<Vec<Seen>>> {
        self.log.clone()
    }

    /// Everything the engine sent this device, in order.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn commands(&self) -> Vec<Command> {
        self.log()
            .iter()
            .filter_map(|s| s.command().cloned())
            .collect()
    }

    /// How many SEND datagrams each (sendid, telid) got.
    pub fn sends_per_telid(&self) -> HashMap<(u32, u32), usize> {
        let mut counts = HashMap::new();
        for command in self.commands() {
            if let Command::Send { sendid, telid, .. } = command {
                *counts.entry((sendid, telid)).or_default() += 1;
            }
        }
        counts
    }

    /// The commands with this verb, in order.
    pub fn commands_named(&self, verb: &str) -> Vec<Command> {
        self.commands()
            .into_iter()
            .filter(|c| c.verb() == verb)
            .collect()
    }

    /// Waits until a command with this verb has arrived `count` times.
    pub async fn wait_for_commands(&self, verb: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.commands_named(verb).len() < count {
            assert!(
                Instant::now() < deadline,
                "{}: {verb} arrived {} times, expected {count}",
                self.id,
                self.commands_named(verb).len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn read_loop(
    socket: Arc<UdpSocket>,
    log: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<Option<Script>>>,
    inbox: mpsc::UnboundedSender<Seen>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let bytes = buf[..len].to_vec();
        let datagram = match parse_server_datagram(&bytes) {
            Ok(d) => d,
            Err(e) => panic!(
                "the engine sent something a GoIP cannot read: {:?}: {e}",
                String::from_utf8_lossy(&bytes)
            ),
        };
        let seen = Seen {
            at: Instant::now(),
            bytes,
            datagram,
        };
        log.lock().unwrap().push(seen.clone());
        let answers = match (&seen.datagram, script.lock().unwrap().as_mut()) {
            (ServerDatagram::Command(command), Some(script)) => script(command),
            _ => Vec::new(),
        };
        let _ = inbox.send(seen);
        for answer in answers {
            let (delay, reply) = match answer {
                Answer::Now(reply) => (Duration::ZERO, reply),
                Answer::After(delay, reply) => (delay, reply),
            };
            let bytes = reply.encode().expect("a reply the wire format can write");
            let socket = socket.clone();
            if delay.is_zero() {
                let _ = socket.send_to(&bytes, from).await;
            } else {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = socket.send_to(&bytes, from).await;
                });
            }
        }
    }
}

pub fn keepalive_kind() -> NotificationKind {
    NotificationKind::Keepalive(Box::new(Keepalive {
        num: Some(String::new()),
        signal: Some("29".into()),
        gsm_status: Some("LOGIN".into()),
        voip_status: Some("LOGOUT".into()),
        imei: Some("860000000000000".into()),
        ..Keepalive::default()
    }))
}

pub fn receive_kind(srcnum: &str, msg: &str) -> NotificationKind {
    NotificationKind::Receive(Receive {
        srcnum: srcnum.into(),
        smscnum: None,
        msg: msg.into(),
    })
}

/// What a scripted GoIP does with each SEND.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// WAIT, then OK with the next sms_no after `result_delay`.
    Ok,
    /// WAIT, then `ERROR <sendid> <telid> errorstatus:<n>`.
    ErrorStatus(i32),
    /// WAIT, then nothing at all.
    WaitThenSilence,
    /// Nothing at all.
    Silence,
    /// WAIT; the status poll (a second SEND with the same telid) gets OK.
    OkOnPoll,
}

/// A scripted GoIP's behaviour.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The password it accepts in PASSWORD.
    pub password: String,
    /// MSG datagrams it loses before it answers one.
    pub drop_msgs: u32,
    /// MSG datagrams it rejects as busy before it accepts one.
    pub busy_msgs: u32,
    /// PASSWORD datagrams it loses before it answers one.
    pub drop_passwords: u32,
    pub send_result: SendResult,
    pub result_delay: Duration,
    pub first_sms_no: u32,
    /// USSD datagrams it loses before it answers one.
    pub drop_ussd: u32,
    /// Its USSD answer (`None`: it never answers).
    pub ussd_answer: Option<String>,
}

impl Behaviour {
    pub fn new(password: &str) -> Self {
        Behaviour {
            password: password.to_owned(),
            drop_msgs: 0,
            busy_msgs: 0,
            drop_passwords: 0,
            send_result: SendResult::Ok,
            result_delay: Duration::from_millis(50),
            first_sms_no: 160,
            drop_ussd: 0,
            ussd_answer: Some("Your balance is 10.00@@@".into()),
        }
    }
}

/// A script that plays a GoIP the way the vendor documents describe it
/// (docs/goip-protocol.md#sms-session, #ussd).
pub fn goip(behaviour: Behaviour) -> Script {
    let mut b = behaviour;
    let mut sms_no = b.first_sms_no;
    let mut seen_sends: HashMap<(u32, u32), u32> = HashMap::new();
    Box::new(move |command| match command {
        Command::Msg { sendid, .. } => {
            if b.drop_msgs > 0 {
                b.drop_msgs -= 1;
                vec![]
            } else if b.busy_msgs > 0 {
                b.busy_msgs -= 1;
                vec![Answer::Now(Reply::Error(ErrorReply::Rejected {
                    sendid: *sendid,
                    text: "too_many_sends_in_server".into(),
                }))]
            } else {
                vec![Answer::Now(Reply::Password { sendid: *sendid })]
            }
        }
        Command::Password { sendid, password } => {
            if b.drop_passwords > 0 {
                b.drop_passwords -= 1;
                vec![]
            } else if password.expose() == b.password {
                vec![Answer::Now(Reply::Send { sendid: *sendid })]
            } else {
                vec![Answer::Now(Reply::Error(ErrorReply::Password {
                    sendid: *sendid,
                }))]
            }
        }
        Command::Send { sendid, telid, .. } => {
            let (sendid, telid) = (*sendid, *telid);
            let times = seen_sends.entry((sendid, telid)).or_default();
            *times += 1;
            let wait = Answer::Now(Reply::Wait { sendid, telid });
            let delay = b.result_delay;
            match b.send_result {
                SendResult::Ok => {
                    sms_no += 1;
                    vec![
                        wait,
                        Answer::After(
                            delay,
                            Reply::Ok {
                                sendid,
                                telid,
                                sms_no: Some(sms_no),
                            },
                        ),
                    ]
                }
                SendResult::ErrorStatus(errorstatus) => vec![
                    wait,
                    Answer::After(
                        delay,
                        Reply::Error(ErrorReply::Recipient {
                            sendid,
                            telid,
                            errorstatus,
                        }),
                    ),
                ],
                SendResult::WaitThenSilence => vec![wait],
                SendResult::Silence => vec![],
                SendResult::OkOnPoll if *times >= 2 => {
                    sms_no += 1;
                    vec![Answer::Now(Reply::Ok {
                        sendid,
                        telid,
                        sms_no: Some(sms_no),
                    })]
                }
                SendResult::OkOnPoll => vec![wait],
            }
        }
        Command::Done { sendid } => vec![Answer::Now(Reply::Done { sendid: *sendid })],
        Command::Ussd { sendid, .. } => {
            if b.drop_ussd > 0 {
                b.drop_ussd -= 1;
                return vec![];
            }
            match &b.ussd_answer {
                Some(text) => vec![Answer::After(
                    Duration::from_millis(20),
                    Reply::Ussd {
                        sendid: *sendid,
                        text: text.clone(),
                    },
                )],
                None => vec![],
            }
        }
        // A device that answers USSD confirms USSDEXIT too.
        Command::UssdExit { sendid, .. } => match &b.ussd_answer {
            Some(_) => vec![Answer::Now(Reply::UssdExit { sendid: *sendid })],
            None => vec![],
        },
        _ => vec![],
    })
}
