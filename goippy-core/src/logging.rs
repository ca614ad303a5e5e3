//! Log output: `tracing` to stderr, in a shape fit for a terminal, a file or
//! journald.
//!
//! Colours only on a terminal: written to a file or a pipe, an escape code
//! would sit inside `log_id=1` (the field name and its value are coloured
//! apart) and `grep log_id=1` — the way the README follows one SMS — would
//! find nothing. Under systemd (`JOURNAL_STREAM` is set) journald adds its
//! own timestamps, so lines carry none; elsewhere they do.
//!
//! `-v` and a bare `LOG_LEVEL = "debug"` mean goippy's own debug output:
//! other crates stay at `info`, because sqlx alone prints every query at
//! debug level and would bury goippy's lines. `RUST_LOG` (and a full filter
//! in `LOG_LEVEL`) still reaches every crate.
//!
//! The filter can be replaced at run time (SIGHUP re-reads `LOG_LEVEL`),
//! which is why the reload handle is returned.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

/// Replaces the active filter.
pub type FilterHandle = reload::Handle<EnvFilter, Registry>;

/// The targets of goippy's own log lines: the library and its two programs.
const OWN_TARGETS: &[&str] = &["goippy_core", "goippy", "goip_sim"];

/// Levels more verbose than `info`, which [`own`] keeps to goippy's targets.
const CHATTY_LEVELS: &[&str] = &["debug", "trace"];

/// Picks the filter: -v/-q win, then `RUST_LOG`, then the configuration's
/// `LOG_LEVEL`, then `info`. -v, -vv and a bare `debug`/`trace` in
/// `LOG_LEVEL` apply to goippy's own targets only.
pub fn filter_for(verbosity: i8, config_level: Option<&str>) -> EnvFilter {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    choose(verbosity, rust_log.as_deref(), config_level)
}

fn choose(verbosity: i8, rust_log: Option<&str>, config_level: Option<&str>) -> EnvFilter {
    match verbosity {
        v if v >= 2 => return own("trace"),
        1 => return own("debug"),
        -1 => return EnvFilter::new("warn"),
        v if v <= -2 => return EnvFilter::new("error"),
        _ => {}
    }
    if let Some(filter) = rust_log.and_then(|f| EnvFilter::try_new(f).ok()) {
        return filter;
    }
    let level = config_level.map(|l| l.trim().to_ascii_lowercase());
    match level {
        Some(level) if CHATTY_LEVELS.contains(&level.as_str()) => own(&level),
        Some(filter) => EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::new("info"),
    }
}

/// `level` for goippy's own targets, `info` for every other crate.
fn own(level: &str) -> EnvFilter {
    let mut directives = String::from("info");
    for target in OWN_TARGETS {
        directives.push_str(&format!(",{target}={level}"));
    }
    EnvFilter::new(directives)
}

/// How log lines look where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    ansi: bool,
    timestamps: bool,
}

impl Shape {
    /// Colours only on a terminal; no timestamps for journald, which adds its own.
    fn for_stderr(stderr_is_terminal: bool, under_journald: bool) -> Shape {
        Shape {
            ansi: stderr_is_terminal && !under_journald,
            timestamps: !under_journald,
        }
    }
}

/// Installs the global subscriber. Call once, early.
pub fn init(filter: EnvFilter) -> FilterHandle {
    let (filter, handle) = reload::Layer::new(filter);
    let shape = Shape::for_stderr(
        std::io::stderr().is_terminal(),
        std::env::var_os("JOURNAL_STREAM").is_some(),
    );
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(shape.ansi);
    let registry = tracing_subscriber::registry().with(filter);
    let result = if shape.timestamps {
        registry.with(layer).try_init()
    } else {
        registry.with(layer.without_time()).try_init()
    };
    if let Err(e) = result {
        eprintln!("goippy: logging was already initialised: {e}");
    }
    handle
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::Context;
    use tracing_subscriber::{Layer, registry};

    use super::*;

    /// Records the target of every event the filter lets through.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(event.metadata().target().to_string());
            }
        }
    }

    /// Which of a debug line from goippy, one from sqlx, and an info line
    /// from sqlx `filter` lets through.
    fn passes(filter: EnvFilter) -> Vec<String> {
        let seen = Seen::default();
        let subscriber = registry().with(filter).with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "goippy_core::bridge::sms", "own debug");
            tracing::debug!(target: "goippy", "the binary's debug");
            tracing::debug!(target: "sqlx::query", "summary=\"SELECT …\"");
            tracing::info!(target: "sqlx::pool", "pool info");
        });
        seen.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    #[test]
    fn minus_v_is_goippys_own_debug_not_every_crates() {
        let own_only = vec![
            "goippy_core::bridge::sms".to_string(),
            "goippy".to_string(),
            "sqlx::pool".to_string(),
        ];
        assert_eq!(passes(choose(1, None, None)), own_only);
        assert_eq!(passes(choose(2, Some("debug"), Some("warn"))), own_only);
        // A bare level in LOG_LEVEL means the same.
        assert_eq!(passes(choose(0, None, Some("debug"))), own_only);
        assert_eq!(passes(choose(0, None, Some(" DEBUG "))), own_only);
        // A full filter, in LOG_LEVEL or RUST_LOG, is taken as written.
        let sqlx = vec!["sqlx::query".to_string(), "sqlx::pool".to_string()];
        assert_eq!(passes(choose(0, None, Some("info,sqlx=debug"))), sqlx);
        assert_eq!(
            passes(choose(0, Some("info,sqlx=debug"), Some("debug"))),
            sqlx
        );
        assert_eq!(passes(choose(0, Some("debug"), None)).len(), 4);
        assert_eq!(
            passes(choose(-1, None, Some("debug"))),
            Vec::<String>::new()
        );
        assert_eq!(
            passes(choose(0, None, None)),
            vec!["sqlx::pool".to_string()]
        );
    }

    #[test]
    fn colours_only_on_a_terminal() {
        assert_eq!(
            Shape::for_stderr(true, false),
            Shape {
                ansi: true,
                timestamps: true
            }
        );
        // A file or a pipe: plain text, so `grep log_id=1` finds the line.
        assert_eq!(
            Shape::for_stderr(false, false),
            Shape {
                ansi: false,
                timestamps: true
            }
        );
        assert_eq!(
            Shape::for_stderr(false, true),
            Shape {
                ansi: false,
                timestamps: false
            }
        );
    }
}
