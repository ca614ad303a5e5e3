//! The bridge: goippy's flows, joining the UDP engine, the store and the
//! XMPP component.
//!
//! Two one-way flows, each through the store, so that nothing is lost when
//! Prosody or goippy restarts:
//!
//! ```text
//! GSM → GoIP ─UDP→ engine ─events→ inbound ─store_inbound→ inbox ─pump→ XMPP → user
//! user → XMPP → router ─enqueue→ outbox ─runner→ engine ─UDP→ GoIP → GSM
//!                                          └─outcome + notice→ inbox ─pump→ XMPP → user
//! ```
//!
//! * `inbound.rs`: engine events into the store. An SMS,
//!   delivery report or USSN is acked to the GoIP only once the store has
//!   committed it (the engine's `DurableAck`); keepalives and calls are
//!   logged; a late SMS result corrects the outbox.
//! * `inbox.rs`, the pump: on every new row, on every (re)connection of the
//!   XMPP link and every few seconds, it sends the undelivered inbox rows in
//!   order and marks them delivered only once Prosody has confirmed them
//!   ([`crate::xmpp::XmppHandle::send_confirmed`]); the parts of a long SMS
//!   that the GoIP handed over one by one go as one message
//!   (`inbox/concat.rs`). `notice.rs` says which
//!   stanza a row becomes — including the receipts and errors for what users
//!   sent, which are inbox rows too (*notices*), stored in the same
//!   transaction as the outbox change they report.
//! * `router/`: every stanza from Prosody, different senders' at the same
//!   time (one sender waiting on the store never holds up another). Disco,
//!   XEP-0100, pings and refusals are [`crate::xmpp::service`]'s; the
//!   router authorises the sender (a user of XMPP_DOMAIN whose localpart
//!   is an enabled extension), sends the console (`bot.rs`) what is
//!   written to the user's own number,
//!   answers presence (`presence.rs`), and puts every SMS that passes the
//!   extension's ACL into the outbox — committed before anything is sent.
//! * `adhoc/`: XEP-0050 ad-hoc commands, run in the router's per-sender
//!   command lane: the console's `status`, `log` and USSD (sharing
//!   `lines.rs` and `ussd.rs`'s settlement with the console) as data forms,
//!   a USSD menu as a session that ends with `USSDEXIT`, and for
//!   ADMIN_JIDS the gateway list and enabling or disabling a line.
//! * `outbox.rs`: one runner per GoIP channel takes that channel's queued
//!   jobs in order and runs them (`sms.rs`, `ussd.rs`); a job becomes
//!   `sending` (durably) immediately before the GoIP is told to send, so a
//!   restart can never send it twice. At start-up, jobs a previous run left
//!   `sending` end as "unknown" and the user is told.
//! * `alerts/`: the monitor that tells a line's users (and the admins) when
//!   the line goes offline, loses GSM, has a weak signal or a low balance,
//!   and back — each change once, stored with its state across restarts.
//! * `sendids.rs`: the engine's highest sendid is saved, so a restarted
//!   engine never reuses one (the GoIP answers a repeated USSD sendid from
//!   its cache).
//!
//! * `probe.rs`, `line_traffic.rs`: what `/metrics` and `/health`
//!   (`crate::metrics`) read — the watchdog's task list, and the SMS
//!   counted per line where each outcome is logged.
//!
//! [`Bridge::start`] starts all of it; [`Bridge::shutdown`] stops it in the
//! order that loses nothing (see there).

mod adhoc;
mod alerts;
mod bot;
mod failover;
mod inbound;
mod inbox;
mod line_choice;
mod line_pool;
mod line_traffic;
mod lines;
mod notice;
mod outbox;
mod presence;
mod probe;
mod router;
mod sendids;
mod sms;
mod ussd;
mod ussd_channels;

pub use alerts::AlertConfig;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, Jid};

use crate::config::{Config, ReceiptPolicy, XmppSettings};
use crate::engine::{Engine, EngineConfig};
use crate::number::NumberRules;
use crate::store::{
    ActiveGateway, DEFAULT_REFRESH, GatewayDirectory, Store, StoreError, StoreTask, Timestamp,
    UnflushedWrites,
};
use crate::xmpp::address::AddressError;
use crate::xmpp::{Addressing, LinkConfig, XmppHandle, XmppLink};

use line_traffic::TrafficCounters;
use outbox::Outbox;

pub use line_traffic::LineTraffic;
pub use probe::BridgeProbe;

/// Everything the bridge is configured with. [`BridgeConfig::from_config`]
/// gives the production values; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub xmpp: XmppSettings,
    pub numbers: NumberRules,
    pub link: LinkConfig,
    pub engine: EngineConfig,
    /// `LOG_DAYS`: history older than this is deleted (0 keeps it).
    pub log_days: u32,
    /// How often the gateway directory is reloaded from the database.
    pub directory_refresh: Duration,
    /// How often the engine's highest sendid is saved.
    pub sendid_save_interval: Duration,
    /// How often the inbox is looked at without being poked (rows that
    /// waited for a user mapping, a database that was unreachable).
    pub inbox_retry: Duration,
    /// `SMS_JOIN_WAIT`: how long a part of a long SMS waits for the next
    /// (zero: parts are delivered as they come).
    pub sms_join_wait: Duration,
    /// `ADMIN_JIDS`: who may run the admin ad-hoc commands, and who gets
    /// every line's alerts.
    pub admin_jids: Vec<String>,
    /// How long an ad-hoc command session waits for its next stage.
    pub command_timeout: Duration,
    /// Line alerts (`ALERTS`, `ALERT_*`, `BALANCE_*`; the admins are
    /// `admin_jids`).
    pub alerts: AlertConfig,
}

impl BridgeConfig {
    pub fn from_config(config: &Config) -> BridgeConfig {
        BridgeConfig {
            xmpp: config.xmpp.clone(),
            numbers: config.number_rules(),
            link: LinkConfig::from_settings(&config.xmpp),
            engine: EngineConfig::from_settings(&config.goip),
            log_days: config.log_days,
            directory_refresh: DEFAULT_REFRESH,
            sendid_save_interval: Duration::from_secs(30),
            inbox_retry: Duration::from_secs(30),
            sms_join_wait: config.sms_join_wait,
            admin_jids: config.admin_jids.clone(),
            command_timeout: adhoc::SESSION_TIMEOUT,
            alerts: AlertConfig {
                settings: config.alerts.clone(),
                tick: Duration::from_secs(1),
            },
        }
    }
}

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("{0}")]
    Addressing(#[from] AddressError),
    #[error("XMPP_FALLBACK_DEST {0:?} is not a valid JID")]
    FallbackDest(String),
    #[error("ADMIN_JIDS: {0:?} is not a valid bare JID")]
    AdminJid(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen for GoIPs on UDP {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// The decisions that follow from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub receipts: ReceiptPolicy,
    pub call_notices: bool,
    pub fallback_dest: Option<BareJid>,
    pub offline_wait: Duration,
    pub sms_timeout: Duration,
    pub ussd_timeout: Duration,
    /// The engine's offline timeout, and when the bridge started: a line not
    /// heard from since then is offline only once this has passed (failover
    /// must not move SMS away from lines whose first keepalive is due).
    pub offline_after: Duration,
    pub started: std::time::Instant,
    /// `ADMIN_JIDS`.
    pub admins: Vec<BareJid>,
    /// How long an ad-hoc command session waits for its next stage.
    pub command_timeout: Duration,
}

/// What every part of the bridge shares.
pub(crate) struct Context {
    pub store: Store,
    pub directory: GatewayDirectory,
    pub engine: Engine,
    pub link: XmppHandle,
    pub addressing: Addressing,
    pub policy: Policy,
    /// Pokes the inbox pump: there is something new to deliver.
    pub inbox: Notify,
    pub outbox: Outbox,
    /// Set when the bridge stops: runners start no new job.
    pub stopping: watch::Sender<bool>,
    /// Set once what the previous run left in the outbox is settled
    /// ([`outbox::recover`]); until then no runner starts, so none can
    /// take a job that recovery is about to settle.
    pub recovered: watch::Sender<bool>,
    /// Per-line SMS counts, for the metrics.
    pub traffic: TrafficCounters,
    /// The alert states the console's `status` shows.
    pub alerts: alerts::AlertBoard,
    /// One USSD request per channel at a time (console, ad-hoc command and
    /// balance check), and who asked the ones that have no outbox row, for
    /// their late answers.
    pub ussd_channels: ussd_channels::UssdChannels,
}

impl Context {
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The extension `from` is, with its line 1, if it has any line.
    pub fn sender_line(&self, from: &Jid) -> Option<(String, Arc<ActiveGateway>)> {
        let ext = self.addressing.local_user(from)?;
        let line = self.directory.gateway_by_ext(ext)?;
        Some((ext.to_string(), line))
    }

    /// Whether `from` is one of ADMIN_JIDS.
    pub fn is_admin(&self, from: &Jid) -> bool {
        self.policy.admins.contains(&from.to_bare())
    }

    /// The user a channel's SMS go to when one user is named: its first
    /// user's JID (the default owner), else XMPP_FALLBACK_DEST.
    pub fn user_of_channel(&self, goip_id: &str) -> Option<BareJid> {
        self.directory
            .gateway_by_goip_id(goip_id)
            .and_then(|line| {
                let ext = line.users.first()?;
                self.addressing.user_jid(ext).ok()
            })
            .or_else(|| self.policy.fallback_dest.clone())
    }
}

/// A running bridge.
pub struct Bridge {
    ctx: Arc<Context>,
    stop_inbound: watch::Sender<bool>,
    stop_pump: watch::Sender<bool>,
    inbound: JoinHandle<()>,
    alerts: JoinHandle<()>,
    router: JoinHandle<()>,
    pump: JoinHandle<()>,
    sendids: JoinHandle<()>,
    /// Delivers what the spool brings into the database.
    drained: JoinHandle<()>,
    /// Settles the previous run's outbox once the database is back (when
    /// it was not at start-up).
    recovery: Option<JoinHandle<()>>,
    refresh: StoreTask,
    cleanup: StoreTask,
    probe: BridgeProbe,
}

impl Bridge {
    /// Starts the engine on `config.engine.bind` (an error if it cannot
    /// bind), the XMPP link (which keeps trying until Prosody answers) and
    /// every flow. Jobs a previous run left unfinished are settled first:
    /// `sending` ones end as unknown (the user is told), queued SMS are sent,
    /// queued USSD requests are failed (an answer minutes later would only
    /// confuse). Returns once the UDP socket is bound.
    pub async fn start(config: BridgeConfig, store: Store) -> Result<Bridge, BridgeError> {
        let addressing = Addressing::from_settings(&config.xmpp, config.numbers.clone())?;
        let fallback_dest = (config.xmpp.fallback_dest.as_ref())
            .map(|dest| BareJid::new(dest).map_err(|_| BridgeError::FallbackDest(dest.clone())))
            .transpose()?;
        let admins = config
            .admin_jids
            .iter()
            .map(|j| BareJid::new(j).map_err(|_| BridgeError::AdminJid(j.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let policy = Policy {
            admins,
            command_timeout: config.command_timeout,
            receipts: config.xmpp.receipts,
            call_notices: config.xmpp.call_notices,
            fallback_dest,
            offline_wait: config.engine.offline_wait,
            offline_after: config.engine.offline_after,
            started: std::time::Instant::now(),
            sms_timeout: config.engine.sms_timeout,
            ussd_timeout: config.engine.ussd_timeout,
        };
        let started = Timestamp::now();
        let directory = GatewayDirectory::load(&store, config.numbers.clone()).await?;
        let mut engine_config = config.engine.clone();
        let floor = match store.sendid_floor().await {
            Ok(floor) => floor,
            // Sendids also grow with the clock, which covers a restart.
            Err(e) if e.is_unavailable() => {
                tracing::warn!(
                    "no saved sendid floor ({e}): the clock alone keeps sendids growing"
                );
                0
            }
            Err(e) => return Err(e.into()),
        };
        engine_config.sendid_floor = engine_config.sendid_floor.max(floor);
        let bind = engine_config.bind;
        let (engine, events) = Engine::start(engine_config, Arc::new(directory.clone()))
            .await
            .map_err(|source| BridgeError::Bind { addr: bind, source })?;
        let refresh = directory.spawn_refresh(config.directory_refresh);
        let cleanup = store.spawn_cleanup(config.log_days);

        let (link, xmpp_inbound, link_state) = XmppLink::spawn(config.link.clone());
        let ctx = Arc::new(Context {
            store,
            directory,
            engine,
            link,
            addressing,
            policy,
            inbox: Notify::new(),
            outbox: Outbox::default(),
            stopping: watch::Sender::new(false),
            recovered: watch::Sender::new(false),
            traffic: TrafficCounters::default(),
            alerts: alerts::AlertBoard::new(&config.alerts.settings),
            ussd_channels: Default::default(),
        });
        // With the database there and nothing in the spool, the previous
        // run's jobs are settled now, before anything new is accepted.
        // Otherwise that waits until the spool has gone into the database
        // (its writes come first), and runners wait with it.
        let mut recovery = None;
        let channels = if ctx.store.is_ready() && ctx.store.spooled() == 0 {
            match outbox::recover(&ctx, None).await {
                Ok(channels) => {
                    ctx.recovered.send_replace(true);
                    channels
                }
                Err(e) => {
                    ctx.engine.shutdown().await;
                    ctx.link.shutdown().await;
                    return Err(e.into());
                }
            }
        } else {
            recovery = Some(tokio::spawn(outbox::recover_later(ctx.clone(), started)));
            Default::default()
        };
        tracing::info!(
            udp = %ctx.engine.local_addr(),
            component = %ctx.addressing.component(),
            gateways = ctx.directory.gateways().len(),
            sendid_floor = floor,
            "bridge started"
        );
        let (stop_inbound, inbound_stop) = watch::channel(false);
        let (stop_pump, pump_stop) = watch::channel(false);
        let inbound = tokio::spawn(inbound::run(ctx.clone(), events, inbound_stop));
        let pump = tokio::spawn(inbox::run(
            ctx.clone(),
            link_state.clone(),
            pump_stop,
            config.inbox_retry,
            config.sms_join_wait,
        ));
        let router = tokio::spawn(router::run(ctx.clone(), xmpp_inbound));
        let sendids = tokio::spawn(sendids::run(ctx.clone(), config.sendid_save_interval));
        let drained = tokio::spawn(after_drains(ctx.clone()));
        let alerts = tokio::spawn(alerts::run(ctx.clone(), config.alerts.clone()));
        for goip_id in channels {
            ctx.outbox.poke(&ctx, &goip_id);
        }
        let probe = BridgeProbe {
            ctx: ctx.clone(),
            tasks: Arc::new([
                ("the inbound flow", inbound.abort_handle()),
                ("the XMPP router", router.abort_handle()),
                ("the inbox pump", pump.abort_handle()),
                ("the sendid saver", sendids.abort_handle()),
                ("the spool's deliveries", drained.abort_handle()),
                ("the alert monitor", alerts.abort_handle()),
                ("the gateway reload", refresh.abort_handle()),
                ("the cleanup", cleanup.abort_handle()),
            ]),
            link_state,
        };
        Ok(Bridge {
            ctx,
            stop_inbound,
            stop_pump,
            inbound,
            alerts,
            router,
            pump,
            sendids,
            drained,
            recovery,
            refresh,
            cleanup,
            probe,
        })
    }

    /// The UDP address the GoIPs talk to.
    pub fn local_addr(&self) -> SocketAddr {
        self.ctx.engine.local_addr()
    }

    /// What reloads the gateways, to run apart from the bridge (a reload
    /// waits on the database; nothing else should wait for it).
    pub fn reloader(&self) -> GatewayDirectory {
        self.ctx.directory.clone()
    }

    /// Whether every task that matters still runs: what the systemd
    /// watchdog asks. A task that ended on its own (a panic, a bug) stops
    /// the pings; systemd then restarts goippy. Returns the names of those
    /// that stopped (empty: healthy).
    pub fn stopped_tasks(&self) -> Vec<&'static str> {
        self.probe.stopped_tasks()
    }

    /// What `/metrics` and `/health` read (see [`BridgeProbe`]).
    pub fn probe(&self) -> BridgeProbe {
        self.probe.clone()
    }

    /// [`Bridge::shutdown_by`] with [`SHUTDOWN_DEADLINE`] from now; what it
    /// could not finish is logged.
    pub async fn shutdown(self) {
        let deadline = Instant::now() + SHUTDOWN_DEADLINE;
        if let Err(e) = self.shutdown_by(deadline).await {
            tracing::error!("{e}");
        }
    }

    /// Stops in the order that loses nothing:
    /// 1. runners start no new job (queued jobs stay queued for the next start);
    /// 2. the engine stops: no new jobs, SMS not yet at SEND end "not sent"
    ///    (and stay queued), one already sent gets its grace for the result,
    ///    every open exchange gets DONE, and it keeps acking what the
    ///    inbound flow is still storing;
    /// 3. the runners record their last outcomes; the inbound flow stores
    ///    what is left in its queue;
    /// 4. the inbox pump finishes the page it is sending (so nothing is left
    ///    sent but unmarked, which would be sent again) and makes one last
    ///    bounded round, so the outcomes of step 3 reach their users now;
    /// 5. the XMPP stream closes (Prosody then bounces new messages to their
    ///    senders); what it had already read is still put in the outbox;
    /// 6. the highest sendid is saved, the store is flushed and closed.
    ///
    /// All of it by `deadline`, whatever the database does: the store gives
    /// up writes it cannot commit [`STORE_RESERVE`] before it (so the steps
    /// waiting on them go on, and a GoIP whose message was not stored gets
    /// no ack and sends it again), a flow still running [`FLOWS_RESERVE`]
    /// before it and any other step [`CLOSE_RESERVE`] before it are cut
    /// off, and the store's close ends at it. The error
    /// says what was cut off and which writes were not saved.
    pub async fn shutdown_by(mut self, deadline: Instant) -> Result<(), ShutdownError> {
        let started = Instant::now();
        tracing::info!("bridge stopping");
        let ctx = self.ctx;
        if let Some(recovery) = self.recovery.take() {
            recovery.abort();
        }
        self.drained.abort();
        // Nothing to finish: a change not yet saved is seen again at the
        // next start, against the state stored then.
        self.alerts.abort();
        ctx.store
            .give_up_at(deadline.checked_sub(STORE_RESERVE).unwrap_or(started));
        let flows_by = deadline.checked_sub(FLOWS_RESERVE).unwrap_or(started);
        let steps_by = deadline.checked_sub(CLOSE_RESERVE).unwrap_or(started);
        let mut cut = CutOff::default();
        ctx.stopping.send_replace(true);
        cut.step(flows_by, "the GoIP engine", ctx.engine.shutdown())
            .await;
        cut.step(flows_by, "the outbox runners", ctx.outbox.join())
            .await;
        self.stop_inbound.send_replace(true);
        cut.task(flows_by, "the inbound flow", &mut self.inbound)
            .await;
        self.stop_pump.send_replace(true);
        cut.task(flows_by, "the inbox pump", &mut self.pump).await;
        cut.step(steps_by, "the XMPP stream", ctx.link.shutdown())
            .await;
        cut.task(steps_by, "the XMPP router", &mut self.router)
            .await;
        self.sendids.abort();
        cut.step(steps_by, "saving the sendid", sendids::save(&ctx))
            .await;
        drop(self.refresh);
        drop(self.cleanup);
        let unsaved = match ctx.store.close_by(deadline).await {
            Ok(()) => None,
            Err(StoreError::Unflushed(unsaved)) => Some(unsaved),
            Err(e) => {
                tracing::error!("closing the database: {e}");
                None
            }
        };
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "bridge stopped"
        );
        let cut_off = cut.0;
        if cut_off.is_empty() && unsaved.is_none() {
            Ok(())
        } else {
            Err(ShutdownError {
                within: deadline.saturating_duration_since(started),
                cut_off,
                unsaved,
            })
        }
    }
}

/// Whenever writes the spool kept reach the database, what they brought is
/// delivered: the inbox pump looks again, and every channel's runner reads
/// its queue (a user's SMS accepted during the outage goes out now).
async fn after_drains(ctx: Arc<Context>) {
    let mut drained = ctx.store.spool_drained();
    while drained.changed().await.is_ok() {
        ctx.inbox.notify_one();
        for gateway in ctx.directory.gateways() {
            ctx.outbox.poke(&ctx, &gateway.goip_id);
        }
    }
}

/// How long a shutdown may take, from the signal: systemd's
/// `TimeoutStopSec` (15 s in the unit goippy installs) must be longer.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// How long before the shutdown deadline the store stops retrying writes:
/// the time the steps waiting on them need to finish after all.
pub const STORE_RESERVE: Duration = Duration::from_secs(1);

/// How long before the shutdown deadline a flow that waits on the store
/// (the engine's jobs, the runners, the inbound flow, the inbox pump) is
/// cut off: the time after it for closing the XMPP stream and saving the
/// sendid. A flow still running then waits on a database that does not
/// answer (reads are not given up, only writes).
pub const FLOWS_RESERVE: Duration = Duration::from_millis(600);

/// How long before the shutdown deadline any other step still running is
/// cut off: the time closing the store needs.
pub const CLOSE_RESERVE: Duration = Duration::from_millis(300);

/// A shutdown that did not finish cleanly by its deadline.
#[derive(Debug)]
pub struct ShutdownError {
    /// The time the shutdown had.
    pub within: Duration,
    /// The steps still running when the deadline came.
    pub cut_off: Vec<&'static str>,
    /// The writes the database did not take.
    pub unsaved: Option<UnflushedWrites>,
}

impl std::fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopping did not finish within {:.1} s",
            self.within.as_secs_f64()
        )?;
        if let Some(unsaved) = &self.unsaved {
            write!(
                f,
                ": the database did not take every write (unreachable?), {unsaved}"
            )?;
        }
        if !self.cut_off.is_empty() {
            write!(f, "; cut off: {}", self.cut_off.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownError {}

/// The shutdown steps still running when their deadline came.
#[derive(Default)]
struct CutOff(Vec<&'static str>);

impl CutOff {
    /// Awaits one shutdown step until `by`; a step still running then is
    /// left behind (and named).
    async fn step(&mut self, by: Instant, what: &'static str, step: impl Future<Output = ()>) {
        if tokio::time::timeout_at(by, step).await.is_err() {
            tracing::warn!("stopping: {what} did not finish by the deadline; going on without it");
            self.0.push(what);
        }
    }

    /// [`CutOff::step`] for a task, which is aborted when cut off.
    async fn task(&mut self, by: Instant, what: &'static str, task: &mut JoinHandle<()>) {
        if tokio::time::timeout_at(by, &mut *task).await.is_err() {
            task.abort();
            tracing::warn!("stopping: {what} did not finish by the deadline; stopped");
            self.0.push(what);
        }
    }
}
