//! Metrics and health for operators: an optional HTTP listener
//! (`METRICS_LISTEN`, off by default) serving `/metrics` in the
//! OpenMetrics text format and `/health` (`/health/live`,
//! `/health/ready`) as 200/503 with what fails.
//!
//! Why it is shaped this way:
//!
//! * **Off by default, localhost by default.** Nothing listens unless the
//!   operator sets `METRICS_LISTEN`; a port alone binds 127.0.0.1. The
//!   endpoints have no authentication, so an address other hosts can reach
//!   is taken (the operator wrote it) with a warning in `--check` and in the
//!   log at start. A listener that cannot bind stops goippy at start: an
//!   operator who asked for metrics should not find out from a silent
//!   dashboard.
//! * **Nothing on the message path waits for it.** Per-line counters are
//!   relaxed atomics bumped where the event is logged anyway (an uncontended
//!   read lock finds a line's counters; they are allocated once per line);
//!   gauges are read at scrape time from state goippy keeps anyway; the
//!   writer's commit times go into a lock-free histogram. A scrape reads; it
//!   never takes a lock a flow holds for longer than a copy.
//! * **The database is asked, with a short bound.** Queue depths are a
//!   count on the status index, at most 2 s ([`DB_PROBE`]); a database that
//!   does not answer makes `goippy_database_up` 0 and `/health` 503, never
//!   a hung scrape.
//! * **Standard pieces.** The exposition format is the Prometheus
//!   project's own `prometheus-client` crate; HTTP is hyper's HTTP/1 server
//!   (`http.rs` lists the limits that bound what a client can cost).
//!
//! Files: `http.rs` (listener, limits, routes), `exposition.rs` (the
//! metrics), `health.rs` (live and ready), `link_history.rs` (since when
//! the XMPP link is up or down, reconnects). The README's "Metrics and
//! health" section is the operator's view.

mod exposition;
mod health;
mod http;
mod link_history;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::bridge::BridgeProbe;

pub use http::MAX_CONNECTIONS;

/// The running listener; stops (with every open connection) when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    task: JoinHandle<()>,
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on TCP {addr} (METRICS_LISTEN): {source}")]
pub struct MetricsError {
    pub addr: SocketAddr,
    pub source: io::Error,
}

impl MetricsServer {
    /// Binds `addr` and serves the bridge's metrics and health there.
    pub async fn start(
        addr: SocketAddr,
        probe: BridgeProbe,
    ) -> Result<MetricsServer, MetricsError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        if !bound.ip().is_loopback() {
            tracing::warn!(
                listen = %bound,
                "metrics: /metrics and /health have no authentication and are reachable from \
                 other hosts: allow only your Prometheus server in the firewall"
            );
        }
        tracing::info!(listen = %bound, "metrics: serving /metrics and /health");
        let shared = Arc::new(http::Shared {
            link: link_history::LinkHistory::follow(probe.link_state()),
            probe,
        });
        Ok(MetricsServer {
            task: tokio::spawn(http::serve(listener, shared)),
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
