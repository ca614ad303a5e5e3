//! The state every task of the engine shares: the one socket, the channel
//! registry, the reply table, the caches, the event queue and the stop
//! signals.
//!
//! Everything here is behind short, synchronous locks that are never held
//! across an `.await`, so the receive loop, the channel workers and the
//! consumer's calls never wait on each other for long.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::config::EngineConfig;
use super::credentials::CredentialSource;
use super::dedup::DedupCache;
use super::events::EngineEvent;
use super::ledger::SentLedger;
use super::pending::PendingReplies;
use super::rate_limit::RateLimiter;
use super::registry::ChannelRegistry;
use super::request::{CommandError, MessageRef};
use super::sendid::SendIdAllocator;
use super::stats::{Counters, EngineStats, bump};
use super::tracker::TaskTracker;
use super::warn_limit::WarnLimiter;
use crate::goip::{Ack, Command};

pub(crate) struct Shared {
    pub config: EngineConfig,
    pub credentials: Arc<dyn CredentialSource>,
    pub local_addr: SocketAddr,
    socket: RwLock<Option<Arc<UdpSocket>>>,
    pub registry: ChannelRegistry,
    pub dedup: Mutex<DedupCache>,
    pub pending: Arc<PendingReplies>,
    pub ledger: Mutex<SentLedger<MessageRef>>,
    pub sendids: SendIdAllocator,
    pub counters: Counters,
    /// Warnings about traffic from outside (garbage, unknown ids, wrong
    /// passwords, forged replies): a flood of it must not flood the log…
    outsider_warnings: Mutex<WarnLimiter>,
    /// …nor hide goippy's own trouble (a full queue, a store that fails).
    trouble_warnings: Mutex<WarnLimiter>,
    rejections: Mutex<RateLimiter>,
    pub events: mpsc::Sender<EngineEvent>,
    /// Set when shutdown begins: no new jobs, running ones wind down.
    pub stopping: watch::Sender<bool>,
    /// Set once the jobs are done: no new message is taken (nor acked: the
    /// GoIP sends it to the next goippy), while the receive loop goes on
    /// answering keepalives and retransmissions until the messages being
    /// stored have their acks.
    pub draining: watch::Sender<bool>,
    /// Set at the very end: the receive loop and the sweeper stop.
    pub closing: watch::Sender<bool>,
    pub durable_tasks: TaskTracker,
}

/// Locks a mutex, also after a panic elsewhere (the data stays usable: every
/// structure here is valid between any two statements).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(
        config: EngineConfig,
        credentials: Arc<dyn CredentialSource>,
        socket: Arc<UdpSocket>,
        local_addr: SocketAddr,
        events: mpsc::Sender<EngineEvent>,
    ) -> Self {
        Shared {
            credentials,
            local_addr,
            socket: RwLock::new(Some(socket)),
            registry: ChannelRegistry::default(),
            dedup: Mutex::new(DedupCache::new(config.dedup_window, config.dedup_capacity)),
            pending: Arc::new(PendingReplies::new(
                config.recent_capacity,
                config.recent_max_age,
            )),
            ledger: Mutex::new(SentLedger::new(
                config.ledger_max_age,
                config.ledger_capacity,
            )),
            sendids: SendIdAllocator::new(config.sendid_floor),
            counters: Counters::default(),
            outsider_warnings: Mutex::new(WarnLimiter::new(config.warn_interval)),
            trouble_warnings: Mutex::new(WarnLimiter::new(config.warn_interval)),
            rejections: Mutex::new(RateLimiter::new(config.reject_replies_per_second)),
            events,
            stopping: watch::Sender::new(false),
            draining: watch::Sender::new(false),
            closing: watch::Sender::new(false),
            durable_tasks: TaskTracker::default(),
            config,
        }
    }

    pub(crate) fn socket(&self) -> Option<Arc<UdpSocket>> {
        self.socket
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Lets go of the socket; it closes once the receive loop let go too.
    pub(crate) fn release_socket(&self) {
        self.socket
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// `Some(suppressed)` when a warning about outside traffic may be logged.
    pub(crate) fn outsider_warning(&self) -> Option<u64> {
        lock(&self.outsider_warnings).allow(Instant::now())
    }

    /// `Some(suppressed)` when a warning about goippy's own trouble may be
    /// logged.
    pub(crate) fn trouble_warning(&self) -> Option<u64> {
        lock(&self.trouble_warnings).allow(Instant::now())
    }

    /// True if one more rejection may be sent now (see `rate_limit`).
    pub(crate) fn may_reject(&self) -> bool {
        lock(&self.rejections).allow(Instant::now())
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

    pub(crate) async fn send_ack(&self, ack: &Ack, to: SocketAddr) {
        if self.send_datagram(&ack.encode(), to).await {
            bump(&self.counters.acks_sent);
        }
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

    pub(crate) fn stats(&self) -> EngineStats {
        let (channels, online_channels) = self.registry.counts();
        let (open_exchanges, recent_exchanges) = self.pending.counts();
        let mut stats = EngineStats {
            channels,
            online_channels,
            dedup_entries: lock(&self.dedup).len(),
            open_exchanges,
            recent_exchanges,
            ledger_entries: lock(&self.ledger).len(),
            durable_in_flight: self.durable_tasks.running(),
            ..EngineStats::default()
        };
        self.counters.fill(&mut stats);
        stats
    }
}
