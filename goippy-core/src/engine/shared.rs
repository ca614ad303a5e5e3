//! [`Shared`]: the state every task of the engine shares — the one socket,
//! the channel registry, the reply table, the caches, the event queue and
//! the shutdown signals — behind methods.
//!
//! The receive loop, the sweeper, the channel workers (through
//! `JobContext`) and the handle each hold an
//! `Arc<Shared>`. No field is public: what a task may do with the state is
//! the list of methods below. The parts with a concept of their own (the
//! registry, the reply table, the sendid allocator) live in their own files,
//! each with its own short lock; the small caches that are only ever touched
//! for a moment (the dedup cache, the sent ledger, the warning and rejection
//! limiters) share one lock here. No lock is ever held across an `.await`,
//! so the receive loop, the workers and the consumer's calls never wait on
//! each other for long.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::watch;

use super::config::EngineConfig;
use super::credentials::CredentialSource;
use super::dedup::{DedupCache, DedupKey};
use super::events::EngineEvent;
use super::ledger::{SentLedger, SentSms};
use super::pending::PendingReplies;
use super::registry::ChannelRegistry;
use super::request::{CommandError, MessageRef};
use super::sendid::SendIdAllocator;
use super::stats::{ChannelCounters, Counters, EngineStats, bump};
use super::tracker::TaskTracker;
use crate::goip::{Ack, Command};
use crate::util::{PerKey, TokenBucket, WarnLimiter, lock, read_lock, write_lock};

pub(crate) struct Shared {
    pub(crate) config: EngineConfig,
    pub(crate) credentials: Arc<dyn CredentialSource>,
    /// `None` once the engine let go of it (see [`Shared::release_socket`]).
    socket: RwLock<Option<Arc<UdpSocket>>>,
    pub(crate) registry: ChannelRegistry,
    pub(crate) pending: Arc<PendingReplies>,
    pub(crate) sendids: SendIdAllocator,
    pub(crate) counters: Counters,
    /// The same per channel, for authenticated channels only.
    pub(crate) per_channel: PerKey<ChannelCounters>,
    /// The consumer's queue; `try_reserve` takes a place now to fill later
    /// (`None` when it is full or the consumer is gone: the caller counts it).
    pub(crate) events: mpsc::Sender<EngineEvent>,
    /// A std mutex, not tokio's: it is never held across an `.await`, and
    /// each use is one small operation (a lookup, an insert, a token
    /// count), so it never blocks the runtime for long — a tokio mutex is
    /// for locks that must be held across an `.await`. One lock for all of
    /// [`State`] for the same reason: its parts gain nothing from locks of
    /// their own, and one lock is simpler to read than five.
    state: Mutex<State>,
    /// Set when shutdown begins: no new jobs, running ones wind down.
    stopping: watch::Sender<bool>,
    /// Set once the jobs are done: no new message is taken (nor acked: the
    /// GoIP sends it to the next goippy), while the receive loop goes on
    /// answering keepalives and retransmissions until the messages being
    /// stored have their acks.
    draining: watch::Sender<bool>,
    /// Set at the very end: the receive loop and the sweeper stop.
    closing: watch::Sender<bool>,
    /// The tasks waiting for the consumer to confirm a message is stored:
    /// each holds a token, so shutdown can wait for them.
    pub(crate) durable_tasks: TaskTracker,
}

/// The small caches behind [`Shared`]'s one lock.
struct State {
    /// Notifications handled recently, to recognise retransmissions.
    dedup: DedupCache,
    /// Sent SMS by `sms_no`, to match delivery reports.
    ledger: SentLedger<MessageRef>,
    /// Warnings about traffic from outside (garbage, unknown ids, wrong
    /// passwords, forged replies): a flood of it must not flood the log…
    outsider_warnings: WarnLimiter,
    /// …nor hide goippy's own trouble (a full queue, a store that fails).
    trouble_warnings: WarnLimiter,
    /// The global budget for answering strangers (see [`TokenBucket`]).
    rejections: TokenBucket,
}

impl Shared {
    pub(crate) fn new(
        config: EngineConfig,
        credentials: Arc<dyn CredentialSource>,
        socket: Arc<UdpSocket>,
        events: mpsc::Sender<EngineEvent>,
    ) -> Self {
        let state = State {
            dedup: DedupCache::new(config.dedup_window, config.dedup_capacity),
            ledger: SentLedger::new(config.ledger_max_age, config.ledger_capacity),
            outsider_warnings: WarnLimiter::new(config.warn_interval),
            trouble_warnings: WarnLimiter::new(config.warn_interval),
            rejections: TokenBucket::new(config.reject_replies_per_second),
        };
        Shared {
            credentials,
            socket: RwLock::new(Some(socket)),
            registry: ChannelRegistry::default(),
            pending: Arc::new(PendingReplies::new(
                config.recent_capacity,
                config.recent_max_age,
            )),
            sendids: SendIdAllocator::new(config.sendid_floor),
            counters: Counters::default(),
            per_channel: PerKey::default(),
            events,
            state: Mutex::new(state),
            stopping: watch::Sender::new(false),
            draining: watch::Sender::new(false),
            closing: watch::Sender::new(false),
            durable_tasks: TaskTracker::default(),
            config,
        }
    }

    // --- the parts with an API of their own ---

    // --- the caches behind the one lock ---

    /// Whether a notification with this key was handled within the dedup
    /// window (a retransmission).
    pub(crate) fn already_handled(&self, key: &DedupKey, now: Instant) -> bool {
        lock(&self.state).dedup.contains(key, now)
    }

    /// Records a notification as handled; false when it already was.
    pub(crate) fn mark_handled(&self, key: DedupKey, now: Instant) -> bool {
        lock(&self.state).dedup.insert(key, now)
    }

    /// Remembers a sent SMS for matching its delivery report.
    pub(crate) fn record_sent(&self, sent: SentSms<MessageRef>) {
        lock(&self.state).ledger.record(sent);
    }

    /// The newest SMS sent on `goip_id` as `sms_no`, if still remembered.
    pub(crate) fn find_sent(
        &self,
        goip_id: &str,
        sms_no: u32,
        now: Instant,
    ) -> Option<SentSms<MessageRef>> {
        lock(&self.state).ledger.find(goip_id, sms_no, now)
    }

    /// Forgets what has aged out of the dedup cache, the sent ledger and the
    /// reply table, even when no traffic arrives to trigger it.
    pub(crate) fn purge(&self, now: Instant) {
        {
            let mut state = lock(&self.state);
            state.dedup.purge(now);
            state.ledger.purge(now);
        }
        self.pending.purge(now);
    }

    /// `Some(suppressed)` when a warning about outside traffic may be logged.
    pub(crate) fn outsider_warning(&self) -> Option<u64> {
        lock(&self.state).outsider_warnings.allow(Instant::now())
    }

    /// `Some(suppressed)` when a warning about goippy's own trouble may be
    /// logged.
    pub(crate) fn trouble_warning(&self) -> Option<u64> {
        lock(&self.state).trouble_warnings.allow(Instant::now())
    }

    /// True if one more rejection may be sent now (see [`TokenBucket`]).
    pub(crate) fn may_reject(&self) -> bool {
        lock(&self.state).rejections.allow(Instant::now())
    }

    // --- the socket ---

    fn socket(&self) -> Option<Arc<UdpSocket>> {
        read_lock(&self.socket).clone()
    }

    /// Lets go of the socket; it closes once the receive loop let go too.
    pub(crate) fn release_socket(&self) {
        write_lock(&self.socket).take();
    }

    /// Sends one datagram from the engine's socket. Failures are counted and
    /// logged, never fatal: UDP gives no guarantee anyway, and the protocol's
    /// retransmissions cover a lost datagram.
    pub(crate) async fn send_datagram(&self, bytes: &[u8], to: SocketAddr) -> bool {
        let Some(socket) = self.socket() else {
            return false;
        };
        match socket.send_to(bytes, to).await {
            Ok(_) => true,
            Err(e) => {
                bump(&self.counters.send_errors);
                if let Some(suppressed) = self.trouble_warning() {
                    tracing::warn!(%to, error = %e, suppressed, "cannot send a datagram");
                }
                false
            }
        }
    }

    pub(crate) async fn send_ack(&self, ack: &Ack, to: SocketAddr) -> bool {
        let sent = self.send_datagram(&ack.encode(), to).await;
        if sent {
            bump(&self.counters.acks_sent);
        }
        sent
    }

    /// [`Shared::send_ack`] for a notification of an authenticated
    /// channel, counted for that channel too.
    pub(crate) async fn send_channel_ack(&self, goip_id: &str, ack: &Ack, to: SocketAddr) {
        if self.send_ack(ack, to).await {
            self.per_channel.with(goip_id, |c| bump(&c.acks_sent));
        }
    }

    /// Counts a recognised retransmission of an authenticated channel.
    pub(crate) fn count_duplicate(&self, goip_id: &str) {
        bump(&self.counters.duplicates);
        self.per_channel.with(goip_id, |c| bump(&c.duplicates));
    }

    /// Sends a command to the channel's current address. Never to an
    /// offline channel; never anything that does not encode.
    pub(crate) async fn send_command(
        &self,
        goip_id: &str,
        command: &Command,
    ) -> Result<SocketAddr, CommandError> {
        let bytes = command.encode().map_err(CommandError::Invalid)?;
        let to = self
            .registry
            .online_address(goip_id)
            .ok_or(CommandError::Offline)?;
        let socket = self
            .socket()
            .ok_or_else(|| CommandError::Socket("the socket is closed".to_owned()))?;
        match socket.send_to(&bytes, to).await {
            Ok(_) => {
                bump(&self.counters.commands_sent);
                tracing::debug!(
                    goip_id,
                    verb = command.verb(),
                    sendid = command.sendid(),
                    %to,
                    "command sent"
                );
                Ok(to)
            }
            Err(e) => {
                bump(&self.counters.send_errors);
                Err(CommandError::Socket(e.to_string()))
            }
        }
    }

    // --- the event queue ---

    /// Offers an event without waiting; false (and counted) when the queue
    /// is full or the consumer is gone.
    pub(crate) fn offer(&self, event: EngineEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => {
                bump(&self.counters.events);
                true
            }
            Err(_) => {
                bump(&self.counters.events_dropped);
                false
            }
        }
    }

    /// Delivers a channel's online/offline change. These are rare (one per
    /// channel per 90 s at most) and matter, so when the queue is full a
    /// task waits for room instead of dropping it.
    pub(crate) fn announce(self: &Arc<Self>, event: EngineEvent) {
        match self.events.try_send(event) {
            Ok(()) => bump(&self.counters.events),
            Err(mpsc::error::TrySendError::Full(event)) => {
                let shared = self.clone();
                tokio::spawn(async move {
                    if shared.events.send(event).await.is_ok() {
                        bump(&shared.counters.events);
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => bump(&self.counters.events_dropped),
        }
    }

    // --- shutdown, in the order the handle goes through it ---

    /// No new jobs; running ones wind down.
    pub(crate) fn begin_stopping(&self) {
        self.stopping.send_replace(true);
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The stopping signal, for a task that waits on it.
    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// No new message is taken; what is being stored still gets its ack.
    pub(crate) fn begin_draining(&self) {
        self.draining.send_replace(true);
    }

    pub(crate) fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// The receive loop and the sweeper stop.
    pub(crate) fn begin_closing(&self) {
        self.closing.send_replace(true);
    }

    /// The closing signal, for the receive loop and the sweeper.
    pub(crate) fn closing_signal(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Everything but the workers, which the handle counts.
    pub(crate) fn stats(&self) -> EngineStats {
        let (channels, online_channels) = self.registry.counts();
        let (open_exchanges, recent_exchanges) = self.pending.counts();
        let (dedup_entries, ledger_entries) = {
            let state = lock(&self.state);
            (state.dedup.len(), state.ledger.len())
        };
        let mut stats = EngineStats {
            channels,
            online_channels,
            dedup_entries,
            open_exchanges,
            recent_exchanges,
            ledger_entries,
            durable_in_flight: self.durable_tasks.running(),
            ..EngineStats::default()
        };
        self.counters.fill(&mut stats);
        stats
    }
}
