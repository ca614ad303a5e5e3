//! [`Engine`]: how the rest of goippy starts the engine, gives it jobs,
//! looks at its channels and stops it.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::EngineConfig;
use super::credentials::CredentialSource;
use super::events::EngineEvent;
use super::queue::{Job, JobQueues};
use super::registry::ChannelInfo;
use super::request::{NotSent, NotStarted, SmsOutcome, SmsRequest, UssdOutcome};
use super::shared::Shared;
use super::stats::{ChannelTraffic, EngineStats};
use super::worker;
use super::{receiver, sweeper};
use crate::goip::tokens::check_ussd_code;
use crate::util::lock;

/// A running engine. Cheap to clone; every clone drives the same socket.
///
/// Call [`Engine::shutdown`] to stop it gracefully. Dropping the last clone
/// without it stops the engine abruptly (no grace for running jobs).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Handle>,
}

/// What the clones of an [`Engine`] share: the state the engine's tasks
/// share, plus what only the handle touches — the job queues, the receive
/// loop's and the sweeper's task handles, and whether shutdown already ran.
struct Handle {
    shared: Arc<Shared>,
    queues: JobQueues,
    local_addr: SocketAddr,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopped: tokio::sync::Mutex<bool>,
}

/// Dropping the last clone without [`Engine::shutdown`] stops everything at
/// once: no new jobs, the workers end, the receive loop and the sweeper
/// stop, and the socket closes.
impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.begin_stopping();
        self.queues.close();
        self.shared.begin_closing();
        self.shared.release_socket();
    }
}

impl Engine {
    /// Binds the socket and starts receiving. Events arrive on the returned
    /// queue, which the consumer must keep reading (see `events`).
    pub async fn start(
        config: EngineConfig,
        credentials: Arc<dyn CredentialSource>,
    ) -> io::Result<(Engine, mpsc::Receiver<EngineEvent>)> {
        let socket = Arc::new(UdpSocket::bind(config.bind).await?);
        let local_addr = socket.local_addr()?;
        let (events, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared::new(config, credentials, socket.clone(), events));
        let tasks = vec![
            tokio::spawn(receiver::run(shared.clone(), socket)),
            tokio::spawn(sweeper::run(shared.clone())),
        ];
        tracing::info!(addr = %local_addr, "GoIP engine listening");
        let engine = Engine {
            inner: Arc::new(Handle {
                shared,
                queues: JobQueues::default(),
                local_addr,
                tasks: Mutex::new(tasks),
                stopped: tokio::sync::Mutex::new(false),
            }),
        };
        Ok((engine, events_rx))
    }

    /// Whether the receive loop and the sweeper still run (for the
    /// watchdog; false once the engine has been shut down).
    pub fn is_running(&self) -> bool {
        let tasks = lock(&self.inner.tasks);
        !tasks.is_empty() && tasks.iter().all(|t| !t.is_finished())
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Sends an SMS and waits for its outcome (minutes, in the worst case:
    /// the channel's queue, the offline wait, the result deadline). If the
    /// caller stops waiting, the job still runs to its end.
    pub async fn send_sms(&self, request: SmsRequest) -> SmsOutcome {
        if let Err(why) = request.validate() {
            return SmsOutcome::NotSent(NotSent::Invalid(why));
        }
        let goip_id = request.goip_id.clone();
        let outcome = self.run(&goip_id, |done| Job::Sms { request, done });
        outcome
            .await
            .unwrap_or_else(|why| SmsOutcome::NotSent(why.into()))
    }

    /// Sends a USSD code (`[0-9*#+]`) under `sendid`, from
    /// [`Engine::reserve_ussd_sendid`], and waits for the network's answer.
    /// The request goes out with exactly that id, so the caller's record of
    /// it names the exchange on the wire.
    pub async fn send_reserved_ussd(&self, goip_id: &str, code: &str, sendid: u32) -> UssdOutcome {
        if let Err(e) = check_ussd_code(code) {
            return UssdOutcome::Invalid(e.to_string());
        }
        let code = code.to_owned();
        let outcome = self.run(goip_id, |done| Job::Ussd { code, sendid, done });
        outcome.await.unwrap_or_else(UssdOutcome::from)
    }

    /// Ends the channel's USSD session with `USSDEXIT` (a menu the user
    /// leaves) and waits for the GoIP's `USSDEXIT` (or an error, or
    /// [`UssdOutcome::Timeout`] after one `ussd_timeout`: it is not resent).
    /// [`UssdOutcome::Closed`] means the GoIP confirmed it.
    pub async fn end_ussd(&self, goip_id: &str) -> UssdOutcome {
        let outcome = self.run(goip_id, |done| Job::UssdExit { done });
        outcome.await.unwrap_or_else(UssdOutcome::from)
    }

    /// Queues the job `job` makes around the sender of its outcome for
    /// `goip_id`, and waits for the outcome.
    async fn run<T>(
        &self,
        goip_id: &str,
        job: impl FnOnce(oneshot::Sender<T>) -> Job,
    ) -> Result<T, NotStarted> {
        let shared = &self.inner.shared;
        if shared.is_stopping() {
            return Err(NotStarted::Stopping);
        }
        if shared.credentials.lookup(goip_id).is_none() {
            return Err(NotStarted::UnknownChannel);
        }
        // The channel's first job starts its worker.
        let id = goip_id.to_owned();
        let start = |queue, token| {
            tokio::spawn(worker::run(shared.clone(), id, queue, token));
        };
        let capacity = shared.config.job_queue_capacity;
        let (done, outcome) = oneshot::channel();
        let job = job(done);
        let queued = self.inner.queues.submit(goip_id, job, capacity, start);
        queued.await.map_err(|_| NotStarted::Stopping)?;
        // A job dropped unanswered: the engine went away under it.
        outcome.await.map_err(|_| NotStarted::Stopping)
    }

    /// Every channel heard from, sorted by GoIP id.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.inner.shared.registry.snapshot()
    }

    /// One channel, if it has been heard from.
    pub fn channel(&self, goip_id: &str) -> Option<ChannelInfo> {
        self.inner.shared.registry.info(goip_id)
    }

    /// The channels whose [`Engine::channel`] changed (a keepalive, a new
    /// address, going offline) after change number `after` (0: every channel
    /// heard from), with the number to pass next time: for a caller that
    /// looks every second, so it need not copy every channel each time.
    pub fn channels_changed_since(&self, after: u64) -> (u64, Vec<ChannelInfo>) {
        self.inner.shared.registry.changed_since(after)
    }

    /// Every authenticated channel's acks and retransmissions since the
    /// engine started, sorted by GoIP id (the per-line metrics).
    pub fn channel_traffic(&self) -> Vec<ChannelTraffic> {
        let per_channel = self.inner.shared.per_channel.snapshot();
        per_channel
            .into_iter()
            .map(|(id, c)| c.traffic(id))
            .collect()
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            workers: self.inner.queues.len(),
            ..self.inner.shared.stats()
        }
    }

    /// The largest USSD sendid used or reserved so far: store it, and pass
    /// it back as [`EngineConfig::sendid_floor`] on the next start, so that
    /// no USSD sendid is ever repeated (the GoIP would answer from its
    /// cache). Other sendids are random and need no floor.
    pub fn highest_sendid(&self) -> u32 {
        self.inner.shared.sendids.highest()
    }

    /// A sendid for the next USSD request, larger than every one before:
    /// store it durably, then pass it to [`Engine::send_reserved_ussd`],
    /// which sends exactly this id. Every USSD sendid that reaches the wire
    /// is then one already stored, so a restart after a crash, with the
    /// largest stored one as the floor, never repeats one. Draw it just
    /// before submitting, one request per channel at a time, and each
    /// channel's ids increase (a GoIP answers a smaller one from its cache);
    /// one drawn for a request that is never submitted is simply skipped.
    pub fn reserve_ussd_sendid(&self) -> u32 {
        self.inner.shared.sendids.next_ussd()
    }

    /// Stops gracefully: no new jobs (they end as Stopping, not sent);
    /// queued jobs and jobs not yet past `before_send` end not sent; a
    /// session that already sent SEND gets `shutdown_grace` for its result
    /// and then ends Unknown; every open exchange gets its DONE. The receive
    /// loop keeps acking until all jobs are done, then stops; messages the
    /// consumer is still storing get their ack; then the socket closes.
    /// Calling it again waits for the first call to finish.
    pub async fn shutdown(&self) {
        let mut stopped = self.inner.stopped.lock().await;
        if *stopped {
            return;
        }
        let shared = &self.inner.shared;
        tracing::info!("GoIP engine stopping");
        shared.begin_stopping();
        self.inner.queues.close();
        self.inner.queues.workers.wait_idle().await;
        // The receive loop goes on while the messages being stored wait for
        // their acks, so keepalives and retransmissions are still answered;
        // it takes no new message meanwhile, or this could last forever.
        shared.begin_draining();
        shared.durable_tasks.wait_idle().await;
        shared.begin_closing();
        let tasks = std::mem::take(&mut *lock(&self.inner.tasks));
        for task in tasks {
            let _ = task.await;
        }
        shared.release_socket();
        *stopped = true;
        tracing::info!("GoIP engine stopped");
    }
}
