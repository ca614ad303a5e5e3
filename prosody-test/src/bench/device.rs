//! The load generator's GoIP side: simulated channels in the benchmark's own
//! process, speaking the GoIP protocol over UDP (`goip-protocol.md`) with
//! nothing else to do, so that they are never what limits the figures.
//!
//! Each channel is one task with its own socket (like the lines of a real
//! GoIP, whose commands go back to each line's own address), doing what a
//! GoIP does and no more:
//! * keepalives (`req:`), the first at once and resent every 2 s until
//!   acked, then one every `interval`, offset by a phase so that many
//!   channels spread evenly over the interval as independent devices do;
//! * inbound SMS (`RECEIVE:`), at most `window` un-acked at a time, each
//!   resent after 3 s without its `RECEIVE <n> OK` and given up after three
//!   resends, as real firmware does; the time from the first send to the ack
//!   is the ack latency (goippy acks once the message is committed);
//! * the device side of the MSG / PASSWORD / SEND / DONE session, answering
//!   at once: PASSWORD, SEND, then `WAIT` and `OK` for each SEND. The SEND is
//!   where an outbound SMS arrives (it would leave for the network now);
//!   it also checks what goippy promises: one session at a time per channel
//!   and every SEND sent once.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::Result;
use crate::bench::ledger::Ledger;

/// A GoIP resends an unacked notification after this long…
pub const RETRANSMIT_AFTER: Duration = Duration::from_secs(3);
/// …this many times, then gives up.
pub const RETRANSMITS: u32 = 3;
/// How often an unacked registration keepalive is resent.
const REGISTER_RETRY: Duration = Duration::from_secs(2);
/// Who writes to the users.
pub const SENDER: &str = "+37255512345";

/// One channel's identity: its SMS Client ID, password and SIM number.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub id: String,
    pub password: String,
    pub number: String,
}

enum Command {
    /// Queue these inbound SMS texts.
    Sms(Vec<String>),
    /// Keepalives every `interval` after one now; `phase` offsets the
    /// periodic ones.
    Keepalives { interval: Duration, phase: Duration },
}

/// A running channel.
pub struct Channel {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl Channel {
    /// Binds a loopback socket for `spec`, talking to goippy at `server`;
    /// `index` is the user (and outbound window) the channel belongs to.
    pub async fn start(
        spec: ChannelSpec,
        index: usize,
        server: SocketAddr,
        window: usize,
        ledger: Ledger,
    ) -> Result<Channel> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        socket.connect(server).await?;
        let (commands, rx) = mpsc::unbounded_channel();
        let state = State {
            spec,
            index,
            socket,
            ledger,
            window,
            queue: VecDeque::new(),
            in_flight: HashMap::new(),
            next_recvid: 1,
            keepalive: None,
            keepalive_count: 0,
            registered: false,
            sessions: HashMap::new(),
            next_sms_no: 1,
        };
        let task = tokio::spawn(state.run(rx));
        Ok(Channel { commands, task })
    }

    /// Queues inbound SMS; they go out as the window allows.
    pub fn sms(&self, texts: Vec<String>) {
        let _ = self.commands.send(Command::Sms(texts));
    }

    /// Starts (or re-times) keepalives: one now, then every `interval`,
    /// the periodic ones offset by `phase`.
    pub fn keepalives(&self, interval: Duration, phase: Duration) {
        let _ = self.commands.send(Command::Keepalives { interval, phase });
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A RECEIVE waiting for its ack.
struct Pending {
    text: String,
    first_sent: Instant,
    next_resend: Instant,
    resends: u32,
}

/// An open MSG session: its text and the telids already answered.
struct Session {
    text: String,
    telids: Vec<String>,
}

struct Keepalive {
    interval: Duration,
    /// The next periodic keepalive.
    next: Instant,
    /// The next resend of the registration, until it is acked.
    retry: Instant,
}

struct State {
    spec: ChannelSpec,
    index: usize,
    socket: UdpSocket,
    ledger: Ledger,
    window: usize,
    queue: VecDeque<String>,
    in_flight: HashMap<u64, Pending>,
    next_recvid: u64,
    keepalive: Option<Keepalive>,
    keepalive_count: u64,
    registered: bool,
    sessions: HashMap<String, Session>,
    next_sms_no: u64,
}

impl State {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; 4096];
        loop {
            self.fill_window().await;
            let wake = self.next_timer();
            tokio::select! {
                received = self.socket.recv(&mut buf) => match received {
                    Ok(n) => {
                        let datagram = String::from_utf8_lossy(&buf[..n]).into_owned();
                        self.datagram(&datagram).await;
                    }
                    // ICMP port unreachable while goippy is not up yet.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                command = commands.recv() => match command {
                    Some(Command::Sms(texts)) => self.queue.extend(texts),
                    Some(Command::Keepalives { interval, phase }) => {
                        self.registered = false;
                        self.send_keepalive().await;
                        let now = Instant::now();
                        let phase = if phase.is_zero() { interval } else { phase.min(interval) };
                        self.keepalive = Some(Keepalive {
                            interval,
                            next: now + phase,
                            retry: now + REGISTER_RETRY,
                        });
                    }
                    None => return,
                },
                () = sleep_until(wake) => self.timers().await,
            }
        }
    }

    fn next_timer(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let resend = self.in_flight.values().map(|p| p.next_resend).min();
        let keepalive = self.keepalive.as_ref().map(|k| {
            if self.registered {
                k.next
            } else {
                k.next.min(k.retry)
            }
        });
        [resend, keepalive]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far)
    }

    async fn fill_window(&mut self) {
        while self.in_flight.len() < self.window {
            let Some(text) = self.queue.pop_front() else {
                return;
            };
            let recvid = self.next_recvid;
            self.next_recvid += 1;
            self.ledger.begin(&text);
            self.ledger.count(|c| c.receives += 1);
            let now = Instant::now();
            self.send(&self.receive(recvid, &text)).await;
            self.in_flight.insert(
                recvid,
                Pending {
                    text,
                    first_sent: now,
                    next_resend: now + RETRANSMIT_AFTER,
                    resends: 0,
                },
            );
        }
    }

    fn receive(&self, recvid: u64, text: &str) -> String {
        format!(
            "RECEIVE:{recvid};id:{};password:{};srcnum:{SENDER};msg:{text}",
            self.spec.id, self.spec.password
        )
    }

    async fn timers(&mut self) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, p)| p.next_resend <= now)
            .map(|(&id, _)| id)
            .collect();
        for recvid in due {
            let Some(pending) = self.in_flight.get_mut(&recvid) else {
                continue;
            };
            if pending.resends >= RETRANSMITS {
                self.in_flight.remove(&recvid);
                self.ledger.count(|c| c.given_up += 1);
                continue;
            }
            pending.resends += 1;
            pending.next_resend = now + RETRANSMIT_AFTER;
            let text = pending.text.clone();
            let datagram = self.receive(recvid, &text);
            self.ledger.count(|c| c.retransmits += 1);
            self.send(&datagram).await;
        }
        let Some(k) = &mut self.keepalive else {
            return;
        };
        let periodic = k.next <= now;
        let retry = !self.registered && k.retry <= now;
        if periodic {
            k.next = (k.next + k.interval).max(now);
        }
        if periodic || retry {
            k.retry = now + REGISTER_RETRY;
            self.send_keepalive().await;
        }
    }

    async fn send_keepalive(&mut self) {
        self.keepalive_count += 1;
        let n = self.keepalive_count;
        let i = self.index;
        let datagram = format!(
            "req:{n};id:{};pass:{};num:{};signal:29;gsm_status:LOGIN;voip_status:LOGOUT;\
             voip_state:IDLE;remain_time:-1;imei:86{i:013};imsi:26006{i:010};iccid:8948{i:016};\
             pro:POL;idle:11;disable_status:0;SMS_LOGIN:Y;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;",
            self.spec.id, self.spec.password, self.spec.number
        );
        self.ledger.count(|c| c.keepalives_sent += 1);
        self.send(&datagram).await;
    }

    async fn send(&self, datagram: &str) {
        // Loopback to a bound port: an error means goippy is not there
        // (yet); the retransmission timers cover it as they would a loss.
        let _ = self.socket.send(datagram.as_bytes()).await;
    }

    async fn datagram(&mut self, datagram: &str) {
        let mut words = datagram.splitn(4, ' ');
        let head = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default().trim_end();
        if let Some(rest) = head.strip_prefix("reg:") {
            if rest.contains("status:200") {
                let first = !self.registered;
                self.registered = true;
                self.ledger.count(|c| {
                    c.keepalives_acked += 1;
                    c.registered += u64::from(first);
                });
            } else {
                self.ledger.odd_command(datagram);
            }
            return;
        }
        match head {
            "RECEIVE" => self.receive_ack(second, words.next().unwrap_or_default(), datagram),
            "MSG" => {
                let rest = datagram.splitn(4, ' ').nth(3).unwrap_or_default();
                let text = words
                    .next()
                    .and_then(|len| len.parse::<usize>().ok())
                    .and_then(|len| rest.get(..len))
                    .unwrap_or(rest)
                    .to_string();
                if self.sessions.keys().any(|open| open != second) {
                    self.ledger.count(|c| c.serial_violations += 1);
                }
                self.sessions.entry(second.to_string()).or_insert(Session {
                    text,
                    telids: Vec::new(),
                });
                self.send(&format!("PASSWORD {second}")).await;
            }
            "PASSWORD" => self.send(&format!("SEND {second}")).await,
            "SEND" => {
                let telid = words.next().unwrap_or_default().to_string();
                self.send_sms(second, &telid, datagram).await;
            }
            "DONE" => {
                self.sessions.remove(second);
                self.send(&format!("DONE {second}")).await;
            }
            _ => self.ledger.odd_command(datagram),
        }
    }

    fn receive_ack(&mut self, recvid: &str, verdict: &str, datagram: &str) {
        let Some(pending) = recvid
            .parse::<u64>()
            .ok()
            .and_then(|id| self.in_flight.remove(&id))
        else {
            // An ack for a RECEIVE resent and acked already: the first
            // ack counted.
            return;
        };
        if verdict.trim_end() == "OK" {
            self.ledger.acked(pending.first_sent.elapsed());
        } else {
            self.ledger.count(|c| c.refused += 1);
            self.ledger.odd_command(datagram);
        }
    }

    async fn send_sms(&mut self, sendid: &str, telid: &str, datagram: &str) {
        let sms_no = self.next_sms_no;
        let Some(session) = self.sessions.get_mut(sendid) else {
            self.ledger.odd_command(datagram);
            self.send(&format!("ERROR {sendid} {telid} errorstatus:1"))
                .await;
            return;
        };
        if session.telids.iter().any(|t| t == telid) {
            // A repeated SEND gets the status and is not sent again.
            self.ledger.count(|c| c.repeated_sends += 1);
        } else {
            session.telids.push(telid.to_string());
            self.next_sms_no += 1;
            if self.ledger.arrived(&session.text) {
                self.ledger.release(self.index);
            }
        }
        self.send(&format!("WAIT {sendid} {telid}")).await;
        self.send(&format!("OK {sendid} {telid} {sms_no}")).await;
    }
}
