//! One simulated GoIP channel: its own UDP socket (each real channel has its
//! own source port), its identity and password, its keepalive counter, and
//! everything it is in the middle of.
//!
//! A channel is one task running one loop over three sources: datagrams on
//! its socket, requests from the [`super::Device`] (script commands), and its
//! own timers (the `timers` module). Handlers are synchronous: they change
//! state, emit events, and put datagrams in an outbox that the loop sends
//! after each step. That keeps the protocol logic free of `.await` and makes
//! the `silence` failure one check in one place (the outbox is discarded).
//!
//! Rules it keeps, from docs/goip-protocol.md:
//! * a keepalive at start and every interval, to the server (#keepalive);
//! * every notification but `AT:` is retransmitted every 3 s, at most 3
//!   times, until `<TAG> <recvid> OK` (or ERROR) comes back
//!   (#acks-and-retransmission);
//! * recvids come from the clock (unix seconds), made unique per channel
//!   (#identifiers);
//! * every command is answered to the address it came from, from this
//!   channel's socket (#nat-and-source-addresses).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use goippy_core::goip::{
    self, Ack, AtOutput, Command, Deliver, ErrorReply, Keepalive, LineState, NeighbourCells,
    Notification, NotificationKind, Receive, Reply, ServerDatagram, Ussn,
};

use super::call::CallSpec;
use super::control::{Effect, PASSWORD_ERROR, Settings};
use super::events::{ChannelStatus, CloseReason, Dir, Event, EventSink, addr};
use super::failure::{Failure, FailureChange, Failures};
use super::identity::Identity;
use super::sms::{
    MsgOutcome, PasswordOutcome, SendOutcome, SendTiming, SmsSessions, TOO_MANY_SENDS, TelStatus,
};
use super::ussd::{UssdOutcome, UssdSession, UssdTable, padded};
use super::{ChannelConfig, SimError, Timing};

/// Notifications waiting for an ack, at most. Each lives for about four
/// retransmit intervals, so only a flood from a script could reach this.
pub const MAX_PENDING: usize = 1000;
/// SMS kept in a channel's sent log (the newest).
pub const SENT_LOG: usize = 100;

/// An SMS the "network" took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub sendid: u32,
    pub telid: u32,
    pub to: String,
    pub text: String,
    pub sms_no: u32,
}

/// A notification a script can make the channel send.
#[derive(Debug, Clone)]
pub(crate) enum Inject {
    Sms {
        from: String,
        text: String,
    },
    Deliver {
        sms_no: u32,
        state: i32,
        number: Option<String>,
    },
    Ussn {
        text: String,
    },
}

/// What the device asks of a channel.
#[derive(Debug)]
pub(crate) enum Request {
    Inject {
        what: Inject,
        reply: oneshot::Sender<Result<String, SimError>>,
    },
    Call {
        spec: CallSpec,
        reply: oneshot::Sender<Result<(), SimError>>,
    },
    Fail {
        change: FailureChange,
        reply: oneshot::Sender<Result<Vec<Failure>, SimError>>,
    },
    Keepalive {
        reply: oneshot::Sender<Result<(), SimError>>,
    },
    Status {
        reply: oneshot::Sender<ChannelStatus>,
    },
    SentLog {
        reply: oneshot::Sender<Vec<SentSms>>,
    },
}

/// An SMS the modem is sending.
#[derive(Debug)]
struct QueuedSend {
    sendid: u32,
    telid: u32,
    to: String,
    text: String,
    peer: SocketAddr,
    errorstatus: Option<i32>,
}

#[derive(Debug)]
enum Timer {
    Keepalive,
    Retransmit { recvid: String },
    SendResult(Box<QueuedSend>),
    Deliver { sms_no: u32, to: String, state: i32 },
    UssdAnswer { sendid: u32, peer: SocketAddr },
    CallEnd { call: u64 },
    SessionSweep,
}

/// A notification waiting for its ack.
#[derive(Debug)]
struct Pending {
    tag: String,
    bytes: Vec<u8>,
    attempts: u32,
}

#[derive(Debug)]
struct ActiveCall {
    id: u64,
    spec: CallSpec,
    started: Instant,
}

/// Clock-based recvids: unix seconds, but never the same twice on a channel.
#[derive(Debug, Default)]
struct RecvidClock {
    last: i64,
}

impl RecvidClock {
    fn next(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.last = now.max(self.last.saturating_add(1));
        self.last.to_string()
    }
}

/// Everything a channel task needs to start.
pub(crate) struct Setup {
    pub index: usize,
    pub config: ChannelConfig,
    pub socket: UdpSocket,
    pub local_addr: SocketAddr,
    pub server: SocketAddr,
    pub timing: Timing,
    pub ussd_table: Arc<UssdTable>,
    pub ussd_padding: usize,
    pub events: EventSink,
}

pub(crate) struct Channel {
    index: usize,
    id: String,
    password: String,
    socket: UdpSocket,
    local_addr: SocketAddr,
    server: SocketAddr,
    timing: Timing,
    identity: Identity,
    settings: Settings,
    ussd_table: Arc<UssdTable>,
    ussd_padding: usize,
    events: EventSink,
    failures: Failures,
    keepalive_count: u32,
    keepalives_sent: u64,
    sms_login: bool,
    recvids: RecvidClock,
    pending: BTreeMap<String, Pending>,
    sms: SmsSessions,
    ussd: UssdSession,
    line: LineState,
    call: Option<ActiveCall>,
    calls_started: u64,
    idle_since: Instant,
    sent_log: VecDeque<SentSms>,
    sms_sent: u64,
    timers: super::timers::Timers<Timer>,
    outbox: Vec<(SocketAddr, Vec<u8>)>,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

fn first_word(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .chars()
        .take(20)
        .collect()
}

impl Channel {
    pub(crate) fn new(setup: Setup) -> Self {
        let Setup {
            index,
            config,
            socket,
            local_addr,
            server,
            timing,
            ussd_table,
            ussd_padding,
            events,
        } = setup;
        let identity = config.identity.clone();
        let settings = Settings {
            gsm_num: config.number.clone(),
            imei: identity.imei.clone(),
            exp_time: 0,
            remain_time: goip::RemainTime::Unlimited,
            out_call_interval: 0,
            module_enabled: true,
            cell_id: identity.cell_id.clone(),
            lac: identity.lac.clone(),
            neighbours: identity.neighbours.clone(),
            forwarding: Default::default(),
            at_tunnel: None,
        };
        let mut failures = Failures::default();
        for failure in &config.failures {
            // Validated when the device was configured.
            let _ = failures.set(failure.clone());
        }
        Channel {
            index,
            id: config.id,
            password: config.password,
            socket,
            local_addr,
            server,
            sms: SmsSessions::new(timing.session_idle),
            timing,
            identity,
            settings,
            ussd_table,
            ussd_padding,
            events,
            failures,
            keepalive_count: 0,
            keepalives_sent: 0,
            sms_login: false,
            recvids: RecvidClock::default(),
            pending: BTreeMap::new(),
            ussd: UssdSession::default(),
            line: LineState::Idle,
            call: None,
            calls_started: 0,
            idle_since: Instant::now(),
            sent_log: VecDeque::new(),
            sms_sent: 0,
            timers: super::timers::Timers::new(),
            outbox: Vec::new(),
        }
    }

    /// Runs until the device drops its end of `requests`.
    pub(crate) async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        // A GoIP registers first thing: the first keepalive goes out before
        // anything a script asks for.
        let now = Instant::now();
        self.keepalive();
        self.flush().await;
        self.timers
            .at(now + self.timing.keepalive_interval, Timer::Keepalive);
        self.timers
            .at(now + self.sweep_period(), Timer::SessionSweep);
        let mut buf = vec![0u8; goip::RECV_BUFFER_BYTES];
        loop {
            let next = self.timers.next_due();
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, peer)) => {
                        let datagram = buf.get(..len).unwrap_or_default().to_vec();
                        self.on_datagram(&datagram, peer);
                    }
                    Err(e) => {
                        self.error(format!("receiving on {}: {e}", self.local_addr));
                        // Do not spin on a socket that keeps failing.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => break,
                },
                () = sleep_until(next) => self.on_timers(Instant::now()),
            }
            self.flush().await;
        }
    }

    fn sweep_period(&self) -> Duration {
        (self.timing.session_idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }

    fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    fn error(&self, message: String) {
        self.emit(Event::Error {
            channel: Some(self.index),
            line: None,
            message,
        });
    }

    fn ignored(&self, peer: SocketAddr, bytes: &[u8], reason: String) {
        self.emit(Event::Ignored {
            channel: self.index,
            peer: addr(peer),
            reason,
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
    }

    fn dropped(&self, verb: &str, sendid: Option<u32>, reason: &str) {
        self.emit(Event::Dropped {
            channel: self.index,
            verb: verb.to_owned(),
            sendid,
            reason: reason.to_owned(),
        });
    }

    /// Sends everything queued in this step, unless the channel is silent.
    async fn flush(&mut self) {
        let outbox = std::mem::take(&mut self.outbox);
        for (peer, bytes) in outbox {
            if self.failures.is_silent() {
                self.dropped(&first_word(&bytes), None, "silence");
                continue;
            }
            match self.socket.send_to(&bytes, peer).await {
                Ok(_) => self.emit(Event::Wire {
                    channel: self.index,
                    dir: Dir::Out,
                    peer: addr(peer),
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                }),
                Err(e) => self.error(format!("sending to {peer}: {e}")),
            }
        }
    }

    fn password_on_the_wire(&self) -> String {
        if self.failures.wrong_password() {
            format!("not-{}", self.password)
        } else {
            self.password.clone()
        }
    }

    // ----- keepalives -------------------------------------------------------

    fn keepalive(&mut self) {
        if self.failures.is_silent() {
            self.dropped("req", None, "silence");
            return;
        }
        self.keepalive_count = self.keepalive_count.wrapping_add(1).max(1);
        let idle_minutes = if self.line.is_idle() {
            self.idle_since.elapsed().as_secs() / 60
        } else {
            0
        };
        let yes_no = |b: bool| if b { "Y" } else { "N" }.to_owned();
        let enabled = self.settings.module_enabled;
        let keepalive = Keepalive {
            num: Some(self.settings.gsm_num.clone()),
            signal: Some(
                self.failures
                    .signal()
                    .unwrap_or(self.identity.signal)
                    .to_string(),
            ),
            gsm_status: Some(
                if enabled && !self.failures.gsm_lost() {
                    "LOGIN"
                } else {
                    "LOGOUT"
                }
                .to_owned(),
            ),
            voip_status: Some("LOGOUT".to_owned()),
            voip_state: Some(
                if self.line.is_idle() {
                    "IDLE"
                } else {
                    "ACTIVE"
                }
                .to_owned(),
            ),
            remain_time: Some(self.settings.remain_time.to_string()),
            imei: Some(self.settings.imei.clone()),
            imsi: Some(self.identity.imsi.clone()),
            iccid: Some(self.identity.iccid.clone()),
            pro: Some(self.identity.carrier.clone()),
            idle: Some(idle_minutes.to_string()),
            disable_status: Some(if enabled { "0" } else { "1" }.to_owned()),
            sms_login: Some(yes_no(self.sms_login)),
            smb_login: Some(String::new()),
            cellinfo: Some(format!(
                "LAC:{},CELL ID:{}",
                self.settings.lac, self.settings.cell_id
            )),
            cgatt: Some("Y".to_owned()),
            extra: Vec::new(),
        };
        let notification = Notification::new(
            self.keepalive_count.to_string(),
            self.id.clone(),
            Some(self.password_on_the_wire()),
            NotificationKind::Keepalive(Box::new(keepalive)),
        );
        match notification.encode() {
            Ok(bytes) => {
                self.outbox.push((self.server, bytes));
                self.keepalives_sent += 1;
                self.emit(Event::Keepalive {
                    channel: self.index,
                    count: self.keepalive_count,
                    sms_login: self.sms_login,
                });
            }
            Err(e) => self.error(format!("cannot write a keepalive: {e}")),
        }
    }

    fn set_sms_login(&mut self, value: bool) {
        if self.sms_login != value {
            self.sms_login = value;
            self.emit(Event::SmsLogin {
                channel: self.index,
                value,
            });
        }
    }

    // ----- notifications ----------------------------------------------------

    /// Sends a notification and keeps it for retransmission until acked.
    fn notify(&mut self, kind: NotificationKind) -> Result<String, SimError> {
        if self.failures.is_silent() {
            return Err(SimError::Silent(self.index));
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(SimError::TooManyPending {
                channel: self.index,
                limit: MAX_PENDING,
            });
        }
        let recvid = self.recvids.next();
        let tag = kind.tag().to_owned();
        let notification = Notification::new(
            recvid.clone(),
            self.id.clone(),
            Some(self.password_on_the_wire()),
            kind,
        );
        let bytes = notification.encode().map_err(SimError::Format)?;
        self.outbox.push((self.server, bytes.clone()));
        self.emit(Event::Notify {
            channel: self.index,
            tag: tag.clone(),
            recvid: recvid.clone(),
            attempt: 1,
        });
        self.pending.insert(
            recvid.clone(),
            Pending {
                tag,
                bytes,
                attempts: 1,
            },
        );
        self.timers.at(
            Instant::now() + self.timing.retransmit_interval,
            Timer::Retransmit {
                recvid: recvid.clone(),
            },
        );
        Ok(recvid)
    }

    /// A notification the device sends on its own: a failure is an event.
    fn notify_or_report(&mut self, kind: NotificationKind) {
        let tag = kind.tag().to_owned();
        match self.notify(kind) {
            Ok(_) => {}
            Err(SimError::Silent(_)) => self.dropped(&tag, None, "silence"),
            Err(e) => self.error(format!("cannot send {tag}: {e}")),
        }
    }

    fn retransmit(&mut self, recvid: String) {
        let Some(pending) = self.pending.get_mut(&recvid) else {
            return; // acked meanwhile
        };
        if pending.attempts > self.timing.retransmits {
            let attempts = pending.attempts;
            let tag = pending.tag.clone();
            self.pending.remove(&recvid);
            self.emit(Event::NotAcked {
                channel: self.index,
                tag,
                recvid,
                attempts,
            });
            return;
        }
        pending.attempts += 1;
        let event = Event::Notify {
            channel: self.index,
            tag: pending.tag.clone(),
            recvid: recvid.clone(),
            attempt: pending.attempts,
        };
        self.outbox.push((self.server, pending.bytes.clone()));
        self.emit(event);
        self.timers.at(
            Instant::now() + self.timing.retransmit_interval,
            Timer::Retransmit { recvid },
        );
    }

    fn on_ack(&mut self, ack: Ack, bytes: &[u8], peer: SocketAddr) {
        let accepted = ack.is_accepted();
        match ack {
            Ack::Registration { count, status } => {
                // Only the documented `reg:` makes a GoIP consider itself
                // logged in; several servers echo `req:` instead.
                let prefix = if bytes.starts_with(b"reg:") {
                    "reg"
                } else {
                    "req"
                };
                let logged_in = prefix == "reg" && accepted;
                self.emit(Event::KeepaliveAck {
                    channel: self.index,
                    count,
                    status,
                    prefix: prefix.to_owned(),
                    sms_login: logged_in,
                });
                self.set_sms_login(logged_in);
            }
            Ack::Ok { tag, recvid } => match self.pending.get(&recvid) {
                Some(p) if p.tag == tag => {
                    let attempts = p.attempts;
                    self.pending.remove(&recvid);
                    self.emit(Event::Ack {
                        channel: self.index,
                        tag,
                        recvid,
                        attempts,
                    });
                }
                _ => self.ignored(
                    peer,
                    bytes,
                    format!("an ack for {tag} {recvid}, which is not waiting for one (a duplicate or late ack)"),
                ),
            },
            Ack::Error { tag, recvid, text } => match self.pending.get(&recvid) {
                Some(p) if p.tag == tag => {
                    let attempts = p.attempts;
                    self.pending.remove(&recvid);
                    self.emit(Event::AckError {
                        channel: self.index,
                        tag,
                        recvid,
                        attempts,
                        text,
                    });
                }
                _ => self.ignored(
                    peer,
                    bytes,
                    format!("an ERROR ack for {tag} {recvid}, which is not waiting for one"),
                ),
            },
        }
    }

    // ----- datagrams from the server ---------------------------------------

    fn on_datagram(&mut self, bytes: &[u8], peer: SocketAddr) {
        self.emit(Event::Wire {
            channel: self.index,
            dir: Dir::In,
            peer: addr(peer),
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
        if self.failures.is_silent() {
            self.dropped(&first_word(bytes), None, "silence");
            return;
        }
        match goip::parse_server_datagram(bytes) {
            Ok(ServerDatagram::Ack(ack)) => self.on_ack(ack, bytes, peer),
            Ok(ServerDatagram::Command(command)) => self.on_command(command, bytes, peer),
            Err(e) => self.ignored(peer, bytes, e.to_string()),
        }
    }

    /// Queues a reply to `peer`; returns its wire text.
    fn reply(&mut self, peer: SocketAddr, reply: &Reply) -> Option<String> {
        match reply.encode() {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.outbox.push((peer, bytes));
                Some(text)
            }
            Err(e) => {
                self.error(format!("cannot write the reply {reply:?}: {e}"));
                None
            }
        }
    }

    fn on_command(&mut self, command: Command, bytes: &[u8], peer: SocketAddr) {
        let now = Instant::now();
        match command {
            Command::Msg { sendid, text } => {
                if self.failures.take_drop_msg() {
                    self.dropped("MSG", Some(sendid), "drop-msg");
                    return;
                }
                match self.sms.msg(now, sendid, &text, self.failures.too_many()) {
                    MsgOutcome::Opened => {
                        self.emit(Event::SessionOpened {
                            channel: self.index,
                            sendid,
                            text,
                        });
                        self.reply(peer, &Reply::Password { sendid });
                    }
                    MsgOutcome::Repeated => {
                        self.reply(peer, &Reply::Password { sendid });
                    }
                    MsgOutcome::TooMany => {
                        self.emit(Event::SessionRejected {
                            channel: self.index,
                            sendid,
                            reason: TOO_MANY_SENDS.to_owned(),
                        });
                        self.reply(
                            peer,
                            &Reply::Error(ErrorReply::Rejected {
                                sendid,
                                text: TOO_MANY_SENDS.to_owned(),
                            }),
                        );
                    }
                }
            }
            Command::Password { sendid, password } => {
                match self
                    .sms
                    .password(now, sendid, password.expose(), &self.password)
                {
                    PasswordOutcome::Accepted => {
                        self.reply(peer, &Reply::Send { sendid });
                    }
                    PasswordOutcome::Rejected => {
                        self.emit(Event::PasswordRejected {
                            channel: self.index,
                            sendid,
                        });
                        self.reply(peer, &Reply::Error(ErrorReply::Password { sendid }));
                    }
                    PasswordOutcome::NoSession => self.ignored(
                        peer,
                        bytes,
                        format!("PASSWORD for session {sendid}, which is not open"),
                    ),
                }
            }
            Command::Send {
                sendid,
                telid,
                number,
            } => self.on_send(now, sendid, telid, number, bytes, peer),
            Command::Done { sendid } => {
                if self.sms.done(sendid) {
                    self.emit(Event::SessionClosed {
                        channel: self.index,
                        sendid,
                        reason: CloseReason::Done,
                    });
                }
                // DONE also ends USSD and CF exchanges; answering it is harmless.
                self.reply(peer, &Reply::Done { sendid });
            }
            Command::Ussd {
                sendid,
                password,
                code,
            } => self.on_ussd(now, sendid, password.expose(), &code, bytes, peer),
            Command::UssdExit { sendid, password } => {
                if password.expose() != self.password {
                    self.ussd_refused(sendid, peer);
                    return;
                }
                if self.failures.ussd_late() {
                    self.ussd.close_menu();
                } else {
                    self.ussd.exit();
                }
                self.reply(peer, &Reply::UssdExit { sendid });
                self.emit(Event::UssdExit {
                    channel: self.index,
                    sendid,
                });
            }
            Command::OneshotSms { .. } => self.ignored(
                peer,
                bytes,
                "the one-shot `SMS …` form is not the vendor protocol; a GoIP does not answer it \
                 (use MSG/PASSWORD/SEND/DONE)"
                    .to_owned(),
            ),
            Command::Control { .. } | Command::Gsm { .. } | Command::Cf { .. } => {
                self.on_control(command, peer)
            }
        }
    }

    fn on_send(
        &mut self,
        now: Instant,
        sendid: u32,
        telid: u32,
        number: String,
        bytes: &[u8],
        peer: SocketAddr,
    ) {
        if self.failures.no_answer() {
            self.dropped("SEND", Some(sendid), "no-answer");
            return;
        }
        let timing = SendTiming {
            send_time: self.timing.send_time,
            slow_wait: self.failures.slow_wait(),
            never: self.failures.no_result(),
        };
        match self.sms.send(now, sendid, telid, timing) {
            SendOutcome::Queued { text, due } => {
                self.reply(peer, &Reply::Wait { sendid, telid });
                self.emit(Event::SendQueued {
                    channel: self.index,
                    sendid,
                    telid,
                    to: number.clone(),
                });
                if let Some(due) = due {
                    let errorstatus = self.failures.take_errorstatus(&number);
                    self.timers.at(
                        due,
                        Timer::SendResult(Box::new(QueuedSend {
                            sendid,
                            telid,
                            to: number,
                            text,
                            peer,
                            errorstatus,
                        })),
                    );
                }
            }
            SendOutcome::Known(status) => {
                if let Some(reply) = self.reply(peer, &status.reply(sendid, telid)) {
                    self.emit(Event::SendRepeated {
                        channel: self.index,
                        sendid,
                        telid,
                        reply,
                    });
                }
            }
            SendOutcome::NoSession => self.ignored(
                peer,
                bytes,
                format!("SEND for session {sendid}, which is not open"),
            ),
            SendOutcome::NotAuthenticated => self.ignored(
                peer,
                bytes,
                format!("SEND for session {sendid} before the right PASSWORD"),
            ),
        }
    }

    fn send_result(&mut self, q: QueuedSend) {
        let status = self.sms.complete(q.sendid, q.telid, q.errorstatus);
        self.reply(q.peer, &status.reply(q.sendid, q.telid));
        match status {
            TelStatus::Sent { sms_no } => {
                self.sms_sent += 1;
                if self.sent_log.len() >= SENT_LOG {
                    self.sent_log.pop_front();
                }
                self.sent_log.push_back(SentSms {
                    sendid: q.sendid,
                    telid: q.telid,
                    to: q.to.clone(),
                    text: q.text.clone(),
                    sms_no,
                });
                self.emit(Event::SmsSent {
                    channel: self.index,
                    to: q.to.clone(),
                    text: q.text,
                    sms_no,
                    sendid: q.sendid,
                    telid: q.telid,
                });
                if let Some(after) = self.timing.deliver_after {
                    self.timers.at(
                        Instant::now() + after,
                        Timer::Deliver {
                            sms_no,
                            to: q.to,
                            state: self.failures.deliver_state(),
                        },
                    );
                }
            }
            TelStatus::Failed { errorstatus } => self.emit(Event::SmsFailed {
                channel: self.index,
                to: q.to,
                text: q.text,
                sendid: q.sendid,
                telid: q.telid,
                errorstatus,
            }),
            TelStatus::Waiting => {}
        }
    }

    fn ussd_refused(&mut self, sendid: u32, peer: SocketAddr) {
        let refusal = Reply::UssdError {
            sendid,
            text: PASSWORD_ERROR.to_owned(),
        };
        if let Some(reply) = self.reply(peer, &refusal) {
            self.emit(Event::UssdError {
                channel: self.index,
                sendid,
                reply,
            });
        }
    }

    fn on_ussd(
        &mut self,
        now: Instant,
        sendid: u32,
        password: &str,
        code: &str,
        bytes: &[u8],
        peer: SocketAddr,
    ) {
        if password != self.password {
            self.ussd_refused(sendid, peer);
            return;
        }
        let failing = self.failures.ussd_fail();
        let outcome = match self.failures.ussd_answer() {
            Some(answer) if !failing => self.ussd.request_answered(sendid, code, answer),
            _ => self.ussd.request(sendid, code, &self.ussd_table, failing),
        };
        match outcome {
            UssdOutcome::Cached { reply } => {
                self.send_ussd_reply(peer, sendid, code.to_owned(), reply, true);
            }
            UssdOutcome::Query { superseded } => {
                if let Some(old) = superseded {
                    self.emit(Event::UssdSuperseded {
                        channel: self.index,
                        sendid: old,
                        by: sendid,
                    });
                }
                self.timers.at(
                    now + self.timing.ussd_delay,
                    Timer::UssdAnswer { sendid, peer },
                );
            }
            UssdOutcome::InProgress { waiting } => self.ignored(
                peer,
                bytes,
                format!("USSD {sendid} while USSD {waiting} is still waiting for the network"),
            ),
        }
    }

    fn send_ussd_reply(
        &mut self,
        peer: SocketAddr,
        sendid: u32,
        code: String,
        reply: String,
        cached: bool,
    ) {
        let text = padded(&reply, self.ussd_padding);
        if self.reply(peer, &Reply::Ussd { sendid, text }).is_some() {
            self.emit(Event::Ussd {
                channel: self.index,
                sendid,
                code,
                reply,
                cached,
            });
        }
    }

    fn on_control(&mut self, command: Command, peer: SocketAddr) {
        let Some(answer) = self
            .settings
            .answer(&command, &self.password, self.index, &self.line)
        else {
            return;
        };
        let value = match &command {
            Command::Control { value, .. } => value.clone(),
            Command::Cf {
                reason,
                mode,
                number,
                ftime,
                ..
            } => Some(format!(
                "{} {} {} {}",
                reason.code(),
                mode.code(),
                number.as_deref().unwrap_or(""),
                ftime.map(|t| t.to_string()).unwrap_or_default()
            )),
            _ => None,
        };
        if let Some(reply) = self.reply(peer, &answer.reply) {
            self.emit(Event::Command {
                channel: self.index,
                verb: command.verb().to_owned(),
                sendid: command.sendid(),
                value,
                reply,
            });
        }
        match answer.effect {
            None => {}
            Some(Effect::DropCall) => {
                self.end_call(true);
            }
            Some(Effect::Reboot) => self.reboot(),
            Some(Effect::SendCells) => {
                let cells = NeighbourCells {
                    cells: self.settings.neighbours.clone(),
                };
                self.notify_or_report(NotificationKind::Cells(cells));
            }
            Some(Effect::AtLines {
                sendid,
                first,
                lines,
            }) => {
                for (count, line) in (first..).zip(lines) {
                    let at = Notification::new(
                        sendid.to_string(),
                        self.id.clone(),
                        Some(self.password_on_the_wire()),
                        NotificationKind::At(AtOutput {
                            count,
                            receive: line,
                        }),
                    );
                    match at.encode() {
                        // AT: packets are not acknowledged, so not retransmitted.
                        Ok(bytes) => self.outbox.push((self.server, bytes)),
                        Err(e) => self.error(format!("cannot write an AT: packet: {e}")),
                    }
                }
            }
        }
    }

    /// A module reboot: the keepalive count starts over, the SMS server
    /// login is lost, sessions and the USSD cache are gone.
    fn reboot(&mut self) {
        self.keepalive_count = 0;
        self.set_sms_login(false);
        for sendid in self.sms.clear() {
            self.emit(Event::SessionClosed {
                channel: self.index,
                sendid,
                reason: CloseReason::Reboot,
            });
        }
        self.ussd = UssdSession::default();
        self.settings.at_tunnel = None;
    }

    // ----- calls ------------------------------------------------------------

    fn start_call(&mut self, spec: CallSpec) -> Result<(), SimError> {
        if self.call.is_some() {
            return Err(SimError::CallInProgress(self.index));
        }
        if self.failures.is_silent() {
            return Err(SimError::Silent(self.index));
        }
        let (kinds, line) = spec.start();
        for kind in kinds {
            self.notify(kind)?;
        }
        self.line = line;
        self.calls_started += 1;
        let id = self.calls_started;
        self.emit(Event::CallStarted {
            channel: self.index,
            direction: spec.way,
            number: spec.number.clone(),
        });
        self.timers.at(
            Instant::now() + Duration::from_secs(spec.seconds.into()),
            Timer::CallEnd { call: id },
        );
        self.call = Some(ActiveCall {
            id,
            spec,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Ends the call in progress: at its planned end, or early because the
    /// server dropped it (`svr_drop_call`), after the time it really lasted.
    fn end_call(&mut self, dropped_early: bool) {
        let Some(call) = self.call.take() else {
            return;
        };
        let seconds = if dropped_early {
            u32::try_from(call.started.elapsed().as_secs())
                .unwrap_or(u32::MAX)
                .min(call.spec.seconds)
        } else {
            call.spec.seconds
        };
        let (kinds, left) = call
            .spec
            .end(seconds, &call.spec.cause, self.settings.remain_time);
        self.settings.remain_time = left;
        self.line = LineState::Idle;
        self.idle_since = Instant::now();
        for kind in kinds {
            self.notify_or_report(kind);
        }
        self.emit(Event::CallEnded {
            channel: self.index,
            direction: call.spec.way,
            number: call.spec.number,
            seconds,
            cause: call.spec.cause,
        });
    }

    // ----- timers and requests ----------------------------------------------

    fn on_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Keepalive => {
                    self.keepalive();
                    self.timers
                        .at(now + self.timing.keepalive_interval, Timer::Keepalive);
                }
                Timer::Retransmit { recvid } => self.retransmit(recvid),
                Timer::SendResult(q) => self.send_result(*q),
                Timer::Deliver { sms_no, to, state } => {
                    self.notify_or_report(NotificationKind::Deliver(Deliver {
                        sms_no,
                        state,
                        num: Some(to),
                    }));
                }
                Timer::UssdAnswer { sendid, peer } => {
                    if let Some(answer) = self.ussd.answer(sendid) {
                        self.send_ussd_reply(peer, answer.sendid, answer.code, answer.reply, false);
                    }
                }
                Timer::CallEnd { call } => {
                    if self.call.as_ref().is_some_and(|c| c.id == call) {
                        self.end_call(false);
                    }
                }
                Timer::SessionSweep => {
                    for sendid in self.sms.expire(now) {
                        self.emit(Event::SessionClosed {
                            channel: self.index,
                            sendid,
                            reason: CloseReason::Idle,
                        });
                    }
                    self.timers
                        .at(now + self.sweep_period(), Timer::SessionSweep);
                }
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Inject { what, reply } => {
                let kind = match what {
                    Inject::Sms { from, text } => NotificationKind::Receive(Receive {
                        srcnum: from,
                        smscnum: None,
                        msg: text,
                    }),
                    Inject::Deliver {
                        sms_no,
                        state,
                        number,
                    } => NotificationKind::Deliver(Deliver {
                        sms_no,
                        state,
                        num: number,
                    }),
                    Inject::Ussn { text } => NotificationKind::Ussn(Ussn { msg: text }),
                };
                let _ = reply.send(self.notify(kind));
            }
            Request::Call { spec, reply } => {
                let _ = reply.send(self.start_call(spec));
            }
            Request::Fail { change, reply } => {
                let result = self
                    .failures
                    .change(change)
                    .map(|()| self.failures.active())
                    .map_err(SimError::Failure);
                if let Ok(active) = &result {
                    self.emit(Event::Failures {
                        channel: self.index,
                        active: active.iter().map(ToString::to_string).collect(),
                    });
                }
                let _ = reply.send(result);
            }
            Request::Keepalive { reply } => {
                let result = if self.failures.is_silent() {
                    Err(SimError::Silent(self.index))
                } else {
                    self.keepalive();
                    Ok(())
                };
                let _ = reply.send(result);
            }
            Request::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Request::SentLog { reply } => {
                let _ = reply.send(self.sent_log.iter().cloned().collect());
            }
        }
    }

    fn status(&self) -> ChannelStatus {
        ChannelStatus {
            channel: self.index,
            id: self.id.clone(),
            number: self.settings.gsm_num.clone(),
            local_addr: addr(self.local_addr),
            server: addr(self.server),
            sms_login: self.sms_login,
            keepalives: self.keepalives_sent,
            line_state: self.line.to_string(),
            module_enabled: self.settings.module_enabled,
            open_sessions: self.sms.open(),
            pending_notifications: self.pending.len(),
            sms_sent: self.sms_sent,
            ussd_queries: self.ussd.network_queries(),
            failures: self
                .failures
                .active()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recvids_follow_the_clock_but_never_repeat() {
        let mut clock = RecvidClock::default();
        let a: i64 = clock.next().parse().unwrap();
        let b: i64 = clock.next().parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - 5..=now + 5).contains(&a), "{a} vs {now}");
        assert_eq!(b, a + 1);
    }

    #[test]
    fn first_word_names_a_datagram() {
        assert_eq!(first_word(b"req:1;id:x"), "req");
        assert_eq!(first_word(b"OK 1 2 3"), "OK");
    }
}
