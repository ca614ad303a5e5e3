//! Log output: `tracing` to stderr, in a shape fit for a terminal or journald.
//!
//! Under systemd (`JOURNAL_STREAM` is set) journald adds its own timestamps
//! and has no use for colours, so lines are plain; on a terminal they carry a
//! timestamp. The filter can be replaced at run time (SIGHUP re-reads
//! `LOG_LEVEL`), which is why the reload handle is returned.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

/// Replaces the active filter.
pub type FilterHandle = reload::Handle<EnvFilter, Registry>;

/// Picks the filter: -v/-q win, then `RUST_LOG`, then the configuration's
/// `LOG_LEVEL`, then `info`.
pub fn filter_for(verbosity: i8, config_level: Option<&str>) -> EnvFilter {
    let level = match verbosity {
        v if v >= 2 => Some("trace"),
        1 => Some("debug"),
        -1 => Some("warn"),
        v if v <= -2 => Some("error"),
        _ => None,
    };
    if let Some(level) = level {
        return EnvFilter::new(level);
    }
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return filter;
    }
    config_level
        .and_then(|l| EnvFilter::try_new(l).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// Installs the global subscriber. Call once, early.
pub fn init(filter: EnvFilter) -> FilterHandle {
    let (filter, handle) = reload::Layer::new(filter);
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let layer = fmt::layer().with_writer(std::io::stderr).with_target(true);
    let registry = tracing_subscriber::registry().with(filter);
    let result = if under_journald {
        registry
            .with(layer.with_ansi(false).without_time())
            .try_init()
    } else {
        registry.with(layer).try_init()
    };
    if let Err(e) = result {
        eprintln!("goippy: logging was already initialised: {e}");
    }
    handle
}
