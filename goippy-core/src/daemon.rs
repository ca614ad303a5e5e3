//! The daemon's life cycle: open the store, start the bridge, tell systemd,
//! react to signals, stop in order.
//!
//! * **Ready** (`READY=1`, with `Type=notify`) as soon as the database is
//!   open and the UDP socket is bound — not when Prosody answers: Prosody
//!   may be down, and the GoIPs must be acked meanwhile.
//! * **Watchdog** (`WATCHDOG=1`) at half the interval systemd asks for, at
//!   most every 15 s, and only while every flow of the bridge still runs:
//!   a wedged or dead flow stops the pings and systemd restarts goippy.
//! * **SIGTERM / SIGINT**: `STOPPING=1`, then [`Bridge::shutdown_by`] (acks
//!   go on until the end, open GoIP sessions get DONE, the store is
//!   flushed), all within [`SHUTDOWN_DEADLINE`] of the signal — below the
//!   unit's `TimeoutStopSec`, so goippy reports for itself instead of
//!   being killed silently. When the database is unreachable, its writes
//!   are given up at the deadline; the error line says which, and goippy
//!   exits non-zero.
//! * **Metrics** (`METRICS_LISTEN`): the HTTP listener starts once the
//!   bridge runs and stops first at a shutdown, so a scrape never sees a
//!   half-stopped bridge; a listener that cannot bind is a start error.
//! * **SIGHUP**: the gateways are reloaded and the configuration file's
//!   `LOG_LEVEL` applied (unless -v/-q or RUST_LOG decide the level); the
//!   UDP socket and the XMPP stream stay. Other changed settings need a
//!   restart, which is logged.

use std::time::Duration;

use futures::future::{Fuse, FusedFuture, FutureExt};
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

use crate::bridge::{Bridge, BridgeConfig, BridgeError, SHUTDOWN_DEADLINE, ShutdownError};
use crate::config::Config;
use crate::logging::{self, FilterHandle};
use crate::metrics::{MetricsError, MetricsServer};
use crate::store::GatewayDirectory;
use crate::store::{Store, StoreError, StoreOptions};

/// The longest pause between watchdog pings, whatever WatchdogSec says.
const WATCHDOG_MAX: Duration = Duration::from_secs(15);

/// Past the shutdown deadline, how long the daemon still waits for the
/// bridge to return (it bounds every step itself; this is the backstop).
const SHUTDOWN_BACKSTOP: Duration = Duration::from_millis(500);

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bridge(#[from] BridgeError),
    #[error("{0}")]
    Metrics(#[from] MetricsError),
    #[error("{0}")]
    Shutdown(#[from] ShutdownError),
    #[error(
        "stopping did not finish within {} s; exiting anyway: {unsaved}",
        SHUTDOWN_DEADLINE.as_secs()
    )]
    ShutdownHung {
        unsaved: crate::store::UnflushedWrites,
    },
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config, verbosity: i8, log: FilterHandle) -> Result<(), DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;

    let options = StoreOptions {
        db_timeout: config.store.timeout,
        write_wait: config.store.write_wait,
        dedup_window: config.goip.dedup_window,
        ..StoreOptions::default()
    };
    let store = Store::open_serving(&config.db, &config.store.spool_file, options).await?;
    tracing::info!(
        database = store.description(),
        spool = %config.store.spool_file.display(),
        reachable = store.is_ready(),
        "database open"
    );
    let bridge = match Bridge::start(BridgeConfig::from_config(&config), store.clone()).await {
        Ok(bridge) => bridge,
        Err(e) => {
            let _ = store.close().await;
            return Err(e.into());
        }
    };
    let metrics = match config.metrics_listen {
        Some(addr) => match MetricsServer::start(addr, bridge.probe()).await {
            Ok(server) => Some(server),
            Err(e) => {
                bridge.shutdown().await;
                return Err(e.into());
            }
        },
        None => None,
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.path.display(),
        goip = %bridge.local_addr(),
        component = %config.xmpp.component_jid,
        xmpp = %format!("{}:{}", config.xmpp.host, config.xmpp.port),
        "goippy running"
    );
    notify(&[
        NotifyState::Ready,
        NotifyState::Status("acking GoIPs; connecting to XMPP"),
    ]);

    let watchdog = sd_notify::watchdog_enabled().map(|d| (d / 2).min(WATCHDOG_MAX));
    let mut ticks = tokio::time::interval(watchdog.unwrap_or(WATCHDOG_MAX));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut config = config;
    // A reload reads the database; it runs beside the loop, so that
    // neither a signal nor a watchdog ping waits for it. (A terminated
    // `Fuse` never resolves: no reload is running.)
    let mut reloading = Fuse::terminated();
    let stop_signal = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                if reloading.is_terminated() {
                    reloading = reload(config.clone(), verbosity, log.clone(), bridge.reloader()).boxed().fuse();
                } else {
                    tracing::info!("SIGHUP: a reload is already running");
                }
            }
            reloaded = &mut reloading => config = reloaded,
            _ = ticks.tick(), if watchdog.is_some() => {
                let stopped = bridge.stopped_tasks();
                if stopped.is_empty() {
                    notify(&[NotifyState::Watchdog]);
                } else {
                    tracing::error!(
                        "stopped: {}; no watchdog ping (systemd will restart goippy)",
                        stopped.join(", ")
                    );
                }
            }
        }
    };
    tracing::info!("{stop_signal} received, stopping");
    let deadline = tokio::time::Instant::now() + SHUTDOWN_DEADLINE;
    notify(&[NotifyState::Stopping]);
    // The metrics listener stops with every open connection.
    drop(metrics);
    match tokio::time::timeout_at(deadline + SHUTDOWN_BACKSTOP, bridge.shutdown_by(deadline)).await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DaemonError::ShutdownHung {
            unsaved: store.unsaved(),
        }),
    }
}

/// SIGHUP: the gateways now, and the log level from the file.
async fn reload(old: Config, verbosity: i8, log: FilterHandle, bridge: GatewayDirectory) -> Config {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
    let config = match Config::load(&old.path) {
        Ok((config, warnings)) => {
            for w in warnings {
                tracing::warn!(config = %old.path.display(), "{w}");
            }
            let filter = logging::filter_for(verbosity, config.log_level.as_deref());
            let level = filter.to_string();
            match log.reload(filter) {
                Ok(()) => tracing::info!(filter = %level, "log filter applied"),
                Err(e) => tracing::warn!("cannot change the log filter: {e}"),
            }
            let changed = settings_needing_restart(&old, &config);
            if !changed.is_empty() {
                tracing::warn!(
                    config = %old.path.display(),
                    "SIGHUP: changed settings ({}) take effect only after a restart",
                    changed.join(", ")
                );
            }
            config
        }
        Err(e) => {
            tracing::warn!(
                "SIGHUP: the configuration cannot be used, keeping the running one: {e}"
            );
            old
        }
    };
    match bridge.refresh_now().await {
        Ok(n) => tracing::info!(gateways = n, "SIGHUP: reloaded ({n} gateways enabled)"),
        Err(e) => tracing::warn!("SIGHUP: cannot reload the gateways (the old set stays): {e}"),
    }
    notify(&[NotifyState::Ready]);
    config
}

/// The settings that differ between `old` and `new` and that a reload does
/// not apply.
fn settings_needing_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    [
        (old.xmpp != new.xmpp, "XMPP_*"),
        (old.goip != new.goip, "GOIP_*"),
        (
            old.db != new.db || old.store != new.store,
            "DB_*, SPOOL_FILE",
        ),
        (old.log_days != new.log_days, "LOG_DAYS"),
        (old.country_code != new.country_code, "SMS_COUNTRY_CODE"),
        (old.metrics_listen != new.metrics_listen, "METRICS_LISTEN"),
        (
            old.alerts != new.alerts || old.admin_jids != new.admin_jids,
            "ALERT*, ADMIN_JIDS, BALANCE_*",
        ),
    ]
    .into_iter()
    .filter_map(|(differs, keys)| differs.then_some(keys))
    .collect()
}

/// Tells systemd, when running under it (a no-op otherwise).
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
             XMPP_COMPONENT_SECRET = \"s3cret\"\n{extra}"
        );
        Config::parse(&text, std::path::Path::new("/etc/goippy.conf"))
            .expect("valid")
            .0
    }

    #[test]
    fn a_reload_names_the_settings_that_need_a_restart() {
        let old = config("");
        assert!(settings_needing_restart(&old, &old).is_empty());
        // What a reload applies itself: the gateways, the log level.
        assert!(settings_needing_restart(&old, &config("LOG_LEVEL = \"debug\"")).is_empty());
        for (changed, keys) in [
            ("XMPP_PORT = 5348", "XMPP_*"),
            ("GOIP_PORT = 44445", "GOIP_*"),
            ("DB_FILE = \"/tmp/other.db\"", "DB_*, SPOOL_FILE"),
            ("SPOOL_FILE = \"/tmp/other.spool.db\"", "DB_*, SPOOL_FILE"),
            ("LOG_DAYS = 7", "LOG_DAYS"),
            ("SMS_COUNTRY_CODE = \"372\"", "SMS_COUNTRY_CODE"),
            ("METRICS_LISTEN = 9464", "METRICS_LISTEN"),
            ("ALERTS = false", "ALERT*, ADMIN_JIDS, BALANCE_*"),
            (
                "ADMIN_JIDS = \"a@example.org\"",
                "ALERT*, ADMIN_JIDS, BALANCE_*",
            ),
        ] {
            assert_eq!(
                settings_needing_restart(&old, &config(changed)),
                [keys],
                "{changed}"
            );
        }
        let both = config("GOIP_PORT = 44445\nLOG_DAYS = 7");
        assert_eq!(
            settings_needing_restart(&old, &both),
            ["GOIP_*", "LOG_DAYS"]
        );
    }
}
