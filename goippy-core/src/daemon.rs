//! The daemon's life cycle: start every part, run until a signal, stop in order.
//!
//! Until the UDP engine, storage and XMPP component are wired in (each has its
//! own module), the daemon only validates its configuration, logs what it
//! would serve, and waits for SIGINT/SIGTERM.

use crate::config::Config;
use crate::logging::FilterHandle;

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config, _verbosity: i8, _log: FilterHandle) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.path.display(),
        goip = %format!("{}:{}", config.goip.bind, config.goip.port),
        component = %config.xmpp.component_jid,
        "goippy started (configuration only: the UDP engine, storage and XMPP component are not wired in yet)"
    );
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, stopping"),
        _ = int.recv() => tracing::info!("SIGINT received, stopping"),
    }
    Ok(())
}
