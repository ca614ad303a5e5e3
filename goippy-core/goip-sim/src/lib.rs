//! `goip-sim`: a GoIP device emulator, the device side of
//! `goip-protocol.md`.
//!
//! It exists so goippy can be tested against something that speaks the
//! protocol the way a real GoIP does — keepalives, notifications retransmitted
//! until acked, the MSG/PASSWORD/SEND/DONE session with its limits, the USSD
//! cache — and so operators can try goippy before they own hardware. The same
//! library drives the `goip-sim` binary (for people and for test harnesses in
//! other processes, over stdin/stdout) and Rust tests (directly).
//!
//! It is a crate of its own, on goippy-core's pure part only (the wire format
//! in `goippy_core::goip`, the SMS split in `goippy_core::segments`): a
//! simulated device shares nothing with the daemon but the protocol, so the
//! daemon library does not carry it, and building the simulator does not
//! build storage or XMPP.
//!
//! # Shape
//!
//! A [`Device`] has N channels, each one a task with its own UDP socket,
//! like the lines of a GoIP-N (see [`channel`]). The device side of each
//! conversation is pure state in its own file — SMS sessions ([`sms`]),
//! USSD ([`ussd`]), status and control commands ([`control`]), calls
//! ([`call`]), failure modes ([`failure`]) — so the rules can be unit-tested
//! without sockets. Everything that happens is reported as an [`Event`]
//! ([`events`] documents the JSON form, a stable contract), and everything a
//! person or a harness can make happen is a line of the [`script`] language.
//!
//! ```no_run
//! # async fn demo() -> Result<(), goip_sim::SimError> {
//! use goip_sim::{Device, DeviceConfig, Event};
//! use std::time::Duration;
//!
//! let config = DeviceConfig::numbered("127.0.0.1:44444".parse().unwrap(), 2, "goip", "secret");
//! let (device, mut events) = Device::start(config).await?;
//! device.inbound_sms(1, "+37255512345", "hello").await?;
//! let acked = events
//!     .wait_for(Duration::from_secs(15), |e| matches!(e, Event::Ack { .. }))
//!     .await;
//! device.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Memory is bounded everywhere: at most 5 SMS sessions of 10 telids per
//! channel, a constant-size USSD state, a capped sent log, at most
//! [`channel::MAX_PENDING`] unacked notifications, and an event buffer that
//! drops the oldest events for a reader that does not keep up.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod call;
pub mod channel;
pub mod control;
pub mod duration;
pub mod events;
pub mod failure;
pub mod identity;
pub mod script;
pub mod sms;
mod timers;
pub mod ussd;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use goippy_core::goip::{FormatError, Keepalive, Notification, NotificationKind};

pub use call::{CallSpec, CallWay, DEFAULT_CAUSE};
pub use channel::SentSms;
pub use duration::{format_duration, parse_duration};
pub use events::{ChannelInfo, ChannelStatus, CloseReason, Dir, Event, Events};
pub use failure::{Failure, FailureChange, FailureError};
pub use identity::Identity;
pub use script::{Channels, HELP, ScriptCommand, ScriptError, parse_line};
pub use ussd::UssdTable;

use channel::{Channel, Inject, Request, Setup};
use events::{EventSink, addr};

/// The most channels one simulated device may have (real GoIPs have up to 32).
pub const MAX_CHANNELS: usize = 64;
/// The shortest interval accepted for keepalives, retransmissions and the
/// session sweep; shorter would only burn CPU.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How fast the simulated device does things. The defaults are a real
/// GoIP's; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Between keepalives (30 s).
    pub keepalive_interval: Duration,
    /// Between retransmissions of an unacked notification (3 s).
    pub retransmit_interval: Duration,
    /// Retransmissions after the first send (3, so 4 copies in all).
    pub retransmits: u32,
    /// How long the modem takes per SMS, between `WAIT` and `OK` (2 s).
    pub send_time: Duration,
    /// When the delivery report follows a successful send (`None`: never).
    pub deliver_after: Option<Duration>,
    /// How long the "network" takes to answer a USSD request (1 s).
    pub ussd_delay: Duration,
    /// An SMS session without server traffic is released after this (90 s).
    pub session_idle: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            keepalive_interval: Duration::from_secs(30),
            retransmit_interval: Duration::from_secs(3),
            retransmits: 3,
            send_time: Duration::from_secs(2),
            deliver_after: Some(Duration::from_secs(3)),
            ussd_delay: Duration::from_secs(1),
            session_idle: sms::SESSION_IDLE,
        }
    }
}

/// One channel of the simulated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The "SMS Client ID" (`id:`), which identifies the channel to the server.
    pub id: String,
    pub password: String,
    /// The SIM number configured on the GoIP (`num:`); may be empty, as it
    /// often is on real devices.
    pub number: String,
    pub identity: Identity,
    /// Failure modes active from the start.
    pub failures: Vec<Failure>,
}

impl ChannelConfig {
    /// Channel number `channel` (from 1) with a generated identity.
    pub fn new(channel: usize, id: &str, password: &str, number: &str) -> Self {
        ChannelConfig {
            id: id.to_owned(),
            password: password.to_owned(),
            number: number.to_owned(),
            identity: Identity::for_channel(channel),
            failures: Vec::new(),
        }
    }
}

/// The whole simulated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Where keepalives and notifications go (the SMS server).
    pub server: SocketAddr,
    /// The local address every channel socket binds to.
    pub bind: IpAddr,
    /// Channel n binds `base_port + n - 1`; `None`: ports the system picks.
    pub base_port: Option<u16>,
    pub channels: Vec<ChannelConfig>,
    pub timing: Timing,
    pub ussd: UssdTable,
    /// `@` characters appended to every USSD reply (GSM 7-bit padding).
    pub ussd_padding: usize,
    /// Hand a long inbound SMS over in parts, one RECEIVE per segment, the
    /// way some GoIP firmware does (see [`Device::inbound_sms_parts`]).
    pub split_sms: bool,
}

/// The local address to bind for talking to `server`: loopback for a
/// loopback server (nothing else can reach it), else every interface of the
/// same family.
pub fn default_bind(server: SocketAddr) -> IpAddr {
    match (server.ip().is_loopback(), server) {
        (true, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (true, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (false, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (false, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

impl DeviceConfig {
    /// A device with these channels and the default timing and USSD table.
    pub fn new(server: SocketAddr, channels: Vec<ChannelConfig>) -> Self {
        DeviceConfig {
            server,
            bind: default_bind(server),
            base_port: None,
            channels,
            timing: Timing::default(),
            ussd: UssdTable::default(),
            ussd_padding: 0,
            split_sms: false,
        }
    }

    /// `count` channels with ids `<prefix>1` … `<prefix><count>`, one
    /// password, and no numbers set.
    pub fn numbered(server: SocketAddr, count: usize, prefix: &str, password: &str) -> Self {
        let channels = (1..=count)
            .map(|n| ChannelConfig::new(n, &format!("{prefix}{n}"), password, ""))
            .collect();
        DeviceConfig::new(server, channels)
    }

    /// Checks everything that would otherwise fail later, on the wire.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |message: String| Err(SimError::Config(message));
        if self.channels.is_empty() {
            return bad("a device needs at least one channel".to_owned());
        }
        if self.channels.len() > MAX_CHANNELS {
            return bad(format!(
                "{} channels: at most {MAX_CHANNELS}",
                self.channels.len()
            ));
        }
        if let Some(base) = self.base_port
            && usize::from(base) + self.channels.len() - 1 > usize::from(u16::MAX)
        {
            return bad(format!(
                "base port {base} leaves no room for {} channels",
                self.channels.len()
            ));
        }
        let t = &self.timing;
        for (what, d) in [
            ("keepalive interval", t.keepalive_interval),
            ("retransmit interval", t.retransmit_interval),
            ("session idle time", t.session_idle),
        ] {
            if d < MIN_INTERVAL {
                return bad(format!(
                    "the {what} is {}; it must be at least {}",
                    format_duration(d),
                    format_duration(MIN_INTERVAL)
                ));
            }
        }
        for (i, channel) in self.channels.iter().enumerate() {
            let n = i + 1;
            let token_ok = |s: &str| {
                !s.is_empty()
                    && !s.contains(|c: char| c.is_whitespace() || c.is_control() || c == ';')
            };
            if !token_ok(&channel.id) {
                return bad(format!(
                    "channel {n}: the id {:?} must be one word without ';'",
                    channel.id
                ));
            }
            if !token_ok(&channel.password) {
                return bad(format!(
                    "channel {n} ({}): the password must be one word without ';'",
                    channel.id
                ));
            }
            if !channel.number.is_empty() && !token_ok(&channel.number) {
                return bad(format!(
                    "channel {n} ({}): the number {:?} must be one word without ';'",
                    channel.id, channel.number
                ));
            }
            if self.channels[..i].iter().any(|c| c.id == channel.id) {
                return bad(format!(
                    "channel {n}: the id {:?} is used twice",
                    channel.id
                ));
            }
            let mut failures = failure::Failures::default();
            for f in &channel.failures {
                failures
                    .set(f.clone())
                    .map_err(|e| SimError::Config(format!("channel {n}: {e}")))?;
            }
            // Whatever else a keepalive would refuse (identity values).
            let probe = Notification::new(
                "1",
                channel.id.clone(),
                Some(channel.password.clone()),
                NotificationKind::Keepalive(Box::new(Keepalive {
                    num: Some(channel.number.clone()),
                    imei: Some(channel.identity.imei.clone()),
                    imsi: Some(channel.identity.imsi.clone()),
                    iccid: Some(channel.identity.iccid.clone()),
                    pro: Some(channel.identity.carrier.clone()),
                    ..Keepalive::default()
                })),
            );
            probe
                .encode()
                .map_err(|e| SimError::Config(format!("channel {n} ({}): {e}", channel.id)))?;
        }
        Ok(())
    }
}

/// What went wrong starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("channel {channel}: cannot bind {addr}: {source}")]
    Bind {
        channel: usize,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("there is no channel {channel}: the device has {count} (numbered from 1)")]
    NoSuchChannel { channel: usize, count: usize },
    #[error("channel {0} is silent (`fail {0} silence`); `fail {0} off` to wake it")]
    Silent(usize),
    #[error("channel {0} already has a call in progress")]
    CallInProgress(usize),
    #[error("channel {channel} has {limit} notifications waiting for an ack; wait for them")]
    TooManyPending { channel: usize, limit: usize },
    #[error("that cannot be sent: {0}")]
    Format(FormatError),
    #[error("{0}")]
    Failure(FailureError),
    #[error("the device has stopped")]
    Stopped,
}

/// What the caller of [`Device::execute`] should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Show [`HELP`].
    Help,
    /// Stop ([`Device::shutdown`]).
    Quit,
}

struct ChannelHandle {
    id: String,
    local_addr: SocketAddr,
    requests: mpsc::Sender<Request>,
    task: JoinHandle<()>,
}

/// A running simulated GoIP.
pub struct Device {
    channels: Vec<ChannelHandle>,
    events: EventSink,
    /// [`DeviceConfig::split_sms`], switched by the script's `split`.
    split_sms: AtomicBool,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field(
                "channels",
                &self
                    .channels
                    .iter()
                    .map(|c| (&c.id, c.local_addr))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Device {
    /// Binds every channel's socket, reports [`Event::Ready`], and starts
    /// the channels (each sends its first keepalive at once). The returned
    /// [`Events`] sees everything from `ready` on. Nothing runs if any
    /// socket cannot be bound.
    pub async fn start(config: DeviceConfig) -> Result<(Device, Events), SimError> {
        config.validate()?;
        let (sink, events) = events::channel();
        let mut sockets = Vec::with_capacity(config.channels.len());
        for i in 0..config.channels.len() {
            let port = match config.base_port {
                // Checked by validate().
                Some(base) => u16::try_from(usize::from(base) + i).unwrap_or(u16::MAX),
                None => 0,
            };
            let wanted = SocketAddr::new(config.bind, port);
            let socket = UdpSocket::bind(wanted)
                .await
                .map_err(|source| SimError::Bind {
                    channel: i + 1,
                    addr: wanted,
                    source,
                })?;
            let local = socket.local_addr().map_err(|source| SimError::Bind {
                channel: i + 1,
                addr: wanted,
                source,
            })?;
            sockets.push((socket, local));
        }
        sink.emit(Event::Ready {
            server: addr(config.server),
            channels: config
                .channels
                .iter()
                .zip(&sockets)
                .enumerate()
                .map(|(i, (c, (_, local)))| ChannelInfo {
                    channel: i + 1,
                    id: c.id.clone(),
                    local_addr: addr(*local),
                    number: c.number.clone(),
                })
                .collect(),
        });
        let ussd_table = Arc::new(config.ussd);
        let split_sms = AtomicBool::new(config.split_sms);
        let mut channels = Vec::with_capacity(sockets.len());
        for (i, (channel, (socket, local_addr))) in
            config.channels.into_iter().zip(sockets).enumerate()
        {
            let (tx, rx) = mpsc::channel(64);
            let id = channel.id.clone();
            let task = Channel::new(Setup {
                index: i + 1,
                config: channel,
                socket,
                local_addr,
                server: config.server,
                timing: config.timing.clone(),
                ussd_table: Arc::clone(&ussd_table),
                ussd_padding: config.ussd_padding,
                events: sink.clone(),
            });
            channels.push(ChannelHandle {
                id,
                local_addr,
                requests: tx,
                task: tokio::spawn(task.run(rx)),
            });
        }
        Ok((
            Device {
                channels,
                events: sink,
                split_sms,
            },
            events,
        ))
    }

    /// Another subscription to the events (from now on).
    pub fn subscribe(&self) -> Events {
        self.events.subscribe()
    }

    /// Puts a front end's own event (`help`, a script `error`) into the
    /// event stream, in order with the device's.
    pub fn report(&self, event: Event) {
        self.events.emit(event);
    }

    /// How many channels the device has.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    fn handle(&self, channel: usize) -> Result<&ChannelHandle, SimError> {
        channel
            .checked_sub(1)
            .and_then(|i| self.channels.get(i))
            .ok_or(SimError::NoSuchChannel {
                channel,
                count: self.channels.len(),
            })
    }

    /// The local address of channel `channel` (from 1): where its datagrams
    /// come from, and where commands to it go.
    pub fn local_addr(&self, channel: usize) -> Result<SocketAddr, SimError> {
        Ok(self.handle(channel)?.local_addr)
    }

    /// The id (`id:`) of channel `channel`.
    pub fn channel_id(&self, channel: usize) -> Result<&str, SimError> {
        Ok(&self.handle(channel)?.id)
    }

    async fn ask<T>(
        &self,
        channel: usize,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, SimError> {
        let handle = self.handle(channel)?;
        let (tx, rx) = oneshot::channel();
        handle
            .requests
            .send(make(tx))
            .await
            .map_err(|_| SimError::Stopped)?;
        rx.await.map_err(|_| SimError::Stopped)
    }

    /// An inbound SMS: the channel sends `RECEIVE` (retransmitted until
    /// acked). Returns its recvid.
    pub async fn inbound_sms(
        &self,
        channel: usize,
        from: &str,
        text: &str,
    ) -> Result<String, SimError> {
        let what = Inject::Sms {
            from: from.to_owned(),
            text: text.to_owned(),
        };
        self.ask(channel, |reply| Request::Inject { what, reply })
            .await?
    }

    /// A long inbound SMS the way GoIP firmware that drops the
    /// concatenation header hands it over: one `RECEIVE` per segment, in
    /// order, each with its own recvid, cut as the sender's phone cut it
    /// ([`goippy_core::segments::split`]: 153 GSM-7 septets or 67 UCS-2 units,
    /// never inside a character). A text that fits one SMS is one RECEIVE.
    /// Returns the recvids.
    pub async fn inbound_sms_parts(
        &self,
        channel: usize,
        from: &str,
        text: &str,
    ) -> Result<Vec<String>, SimError> {
        let mut recvids = Vec::new();
        for part in goippy_core::segments::split(text) {
            recvids.push(self.inbound_sms(channel, from, part).await?);
        }
        Ok(recvids)
    }

    /// Whether the script's `sms` hands long texts over in parts.
    pub fn set_split_sms(&self, split: bool) {
        self.split_sms.store(split, Ordering::Relaxed);
    }

    /// A delivery report for `sms_no` (state 0 = delivered). Returns its
    /// recvid. (Reports also follow successful sends on their own, see
    /// [`Timing::deliver_after`].)
    pub async fn deliver_report(
        &self,
        channel: usize,
        sms_no: u32,
        state: i32,
        number: Option<&str>,
    ) -> Result<String, SimError> {
        let what = Inject::Deliver {
            sms_no,
            state,
            number: number.map(str::to_owned),
        };
        self.ask(channel, |reply| Request::Inject { what, reply })
            .await?
    }

    /// USSD text from the network (`USSN`). Returns its recvid.
    pub async fn ussn(&self, channel: usize, text: &str) -> Result<String, SimError> {
        let what = Inject::Ussn {
            text: text.to_owned(),
        };
        self.ask(channel, |reply| Request::Inject { what, reply })
            .await?
    }

    /// A simulated call (see [`call`]).
    pub async fn call(&self, channel: usize, spec: CallSpec) -> Result<(), SimError> {
        self.ask(channel, |reply| Request::Call { spec, reply })
            .await?
    }

    /// Turns a failure mode on, or all off. Returns the modes now active.
    pub async fn fail(
        &self,
        channel: usize,
        change: FailureChange,
    ) -> Result<Vec<Failure>, SimError> {
        self.ask(channel, |reply| Request::Fail { change, reply })
            .await?
    }

    /// Sends a keepalive now (the regular ones continue as scheduled).
    pub async fn keepalive(&self, channel: usize) -> Result<(), SimError> {
        self.ask(channel, |reply| Request::Keepalive { reply })
            .await?
    }

    /// Channel `channel`'s state.
    pub async fn status(&self, channel: usize) -> Result<ChannelStatus, SimError> {
        self.ask(channel, |reply| Request::Status { reply }).await
    }

    /// The SMS channel `channel` sent, oldest first (the newest
    /// [`channel::SENT_LOG`]).
    pub async fn sent_log(&self, channel: usize) -> Result<Vec<SentSms>, SimError> {
        self.ask(channel, |reply| Request::SentLog { reply }).await
    }

    fn selected(&self, channels: Channels) -> Result<Vec<usize>, SimError> {
        match channels {
            Channels::All => Ok((1..=self.channels.len()).collect()),
            Channels::One(n) => self.handle(n).map(|_| vec![n]),
        }
    }

    /// Runs one script command. `status` reports through [`Event::Status`];
    /// `help` and `quit` are left to the caller through the returned [`Flow`].
    /// For `all`, every channel is tried and the first error is returned.
    pub async fn execute(&self, command: ScriptCommand) -> Result<Flow, SimError> {
        match command {
            ScriptCommand::Sms {
                channel,
                from,
                text,
            } => {
                if self.split_sms.load(Ordering::Relaxed) {
                    self.inbound_sms_parts(channel, &from, &text).await?;
                } else {
                    self.inbound_sms(channel, &from, &text).await?;
                }
            }
            ScriptCommand::Split(split) => self.set_split_sms(split),
            ScriptCommand::Deliver {
                channel,
                sms_no,
                state,
                number,
            } => {
                self.deliver_report(channel, sms_no, state, number.as_deref())
                    .await?;
            }
            ScriptCommand::Ussn { channel, text } => {
                self.ussn(channel, &text).await?;
            }
            ScriptCommand::Call { channel, spec } => self.call(channel, spec).await?,
            ScriptCommand::Fail { channels, change } => {
                let mut first_error = None;
                for n in self.selected(channels)? {
                    if let Err(e) = self.fail(n, change.clone()).await {
                        first_error.get_or_insert(e);
                    }
                }
                if let Some(e) = first_error {
                    return Err(e);
                }
            }
            ScriptCommand::Keepalive { channels } => {
                let mut first_error = None;
                for n in self.selected(channels)? {
                    if let Err(e) = self.keepalive(n).await {
                        first_error.get_or_insert(e);
                    }
                }
                if let Some(e) = first_error {
                    return Err(e);
                }
            }
            ScriptCommand::Status { channels } => {
                for n in self.selected(channels)? {
                    let status = self.status(n).await?;
                    self.events.emit(Event::Status(status));
                }
            }
            ScriptCommand::Sleep(d) => tokio::time::sleep(d).await,
            ScriptCommand::Help => return Ok(Flow::Help),
            ScriptCommand::Quit => return Ok(Flow::Quit),
        }
        Ok(Flow::Continue)
    }

    /// Stops every channel, closes the sockets, and reports
    /// [`Event::Stopped`]. Notifications still waiting for an ack are given
    /// up without a `not_acked` event.
    pub async fn shutdown(self) {
        let Device {
            channels, events, ..
        } = self;
        let mut tasks = Vec::with_capacity(channels.len());
        for handle in channels {
            // Dropping the sender ends the channel's loop.
            drop(handle.requests);
            tasks.push(handle.task);
        }
        for task in tasks {
            let _ = task.await;
        }
        events.emit(Event::Stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SocketAddr {
        "127.0.0.1:44444".parse().unwrap()
    }

    #[test]
    fn numbered_channels() {
        let c = DeviceConfig::numbered(server(), 3, "goip", "secret");
        let ids: Vec<_> = c.channels.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["goip1", "goip2", "goip3"]);
        assert_eq!(c.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(c.validate().is_ok());
        let remote = DeviceConfig::numbered("192.0.2.1:44444".parse().unwrap(), 1, "g", "p");
        assert_eq!(remote.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn validation_explains() {
        let check = |f: &dyn Fn(&mut DeviceConfig)| {
            let mut c = DeviceConfig::numbered(server(), 2, "goip", "secret");
            f(&mut c);
            match c.validate() {
                Err(SimError::Config(m)) => m,
                other => panic!("{other:?}"),
            }
        };
        assert!(check(&|c| c.channels.clear()).contains("at least one"));
        assert!(check(&|c| c.channels[1].id = "goip1".into()).contains("twice"));
        assert!(check(&|c| c.channels[0].password = "a b".into()).contains("password"));
        assert!(check(&|c| c.channels[0].id = "a;b".into()).contains("id"));
        assert!(check(&|c| c.channels[0].number = "1 2".into()).contains("number"));
        assert!(
            check(&|c| c.timing.keepalive_interval = Duration::from_millis(1))
                .contains("keepalive interval")
        );
        assert!(check(&|c| c.base_port = Some(65535)).contains("base port"));
        assert!(check(&|c| c.channels[0].identity.carrier = "a;b".into()).contains("channel 1"));
    }
}
