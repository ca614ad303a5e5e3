//! The test binary's one global tracing subscriber, and reading goippy's
//! log from a test.
//!
//! The bridges under test run in this process, so their log goes to
//! whichever global subscriber is installed — and a process has only one,
//! shared by every test that runs at the same time. [`init`] installs it
//! once; [`watch`] lets a test read the lines that goippy logged *on its own
//! runtime*: each `#[tokio::test]` builds a runtime of its own, and the
//! subscriber tags every line with the runtime it was logged on
//! (`Handle::id`), so a test never sees another test's bridge. Only watched
//! runtimes' lines are kept, and only while they are watched.
//!
//! `GOIPPY_TEST_LOG=debug` (any `EnvFilter`) also prints goippy's log, which
//! the test harness shows for a failing test (or with `--nocapture`).
//!
//! The XMPP link tests capture their own thread's log instead
//! ([`super::xmpp::LogCapture`], a scoped subscriber on a current-thread
//! runtime, at debug level); that needs nothing global.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock};

use tokio::runtime::{Handle, Id};
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// What a watch sees: goippy's own events at info and above, as an operator
/// sees them.
const TARGET: &str = "goippy_core";
const LEVEL: Level = Level::INFO;

/// The runtimes being watched (with how many watches each), and the text
/// logged on them since.
#[derive(Default)]
struct Captured {
    watched: Vec<(Id, usize)>,
    text: Vec<(Id, String)>,
}

static CAPTURED: Mutex<Captured> = Mutex::new(Captured {
    watched: Vec::new(),
    text: Vec::new(),
});

fn captured() -> MutexGuard<'static, Captured> {
    CAPTURED.lock().unwrap_or_else(|p| p.into_inner())
}

fn current_runtime() -> Option<Id> {
    Handle::try_current().ok().map(|h| h.id())
}

fn is_watched(runtime: Option<Id>) -> bool {
    runtime.is_some_and(|id| captured().watched.iter().any(|(w, _)| *w == id))
}

/// Installs the subscriber, once per process; later calls do nothing.
pub fn init() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let capture = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| RuntimeWriter(current_runtime()))
            .with_filter(filter_fn(|meta: &Metadata<'_>| {
                meta.target().starts_with(TARGET)
                    && *meta.level() <= LEVEL
                    && is_watched(current_runtime())
            }));
        let shown = std::env::var("GOIPPY_TEST_LOG").ok().map(|filter| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(EnvFilter::new(filter))
        });
        // Fails only if something else installed a global subscriber first,
        // which nothing in this binary does.
        let _ = tracing_subscriber::registry()
            .with(capture)
            .with(shown)
            .try_init();
    });
}

/// Keeps what goippy logs on the calling test's runtime from now on, until
/// dropped. Call it from inside the test (a `#[tokio::test]`).
pub fn watch() -> LogWatch {
    init();
    let runtime = Handle::current().id();
    let mut c = captured();
    match c.watched.iter_mut().find(|(id, _)| *id == runtime) {
        Some((_, n)) => *n += 1,
        None => c.watched.push((runtime, 1)),
    }
    LogWatch { runtime }
}

/// The log lines of one test's runtime; see [`watch`].
pub struct LogWatch {
    runtime: Id,
}

impl LogWatch {
    /// The lines logged so far that contain `needle`.
    pub fn lines(&self, needle: &str) -> Vec<String> {
        let c = captured();
        c.text
            .iter()
            .filter(|(id, _)| *id == self.runtime)
            .flat_map(|(_, text)| text.lines())
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        let mut c = captured();
        let runtime = self.runtime;
        if let Some(i) = c.watched.iter().position(|(id, _)| *id == runtime) {
            c.watched[i].1 -= 1;
            if c.watched[i].1 == 0 {
                c.watched.swap_remove(i);
                c.text.retain(|(id, _)| *id != runtime);
            }
        }
    }
}

/// Where the capture layer writes one event: made on the thread that logs
/// it, so it knows that thread's runtime.
struct RuntimeWriter(Option<Id>);

impl Write for RuntimeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(id) = self.0 {
            let mut c = captured();
            if c.watched.iter().any(|(w, _)| *w == id) {
                c.text.push((id, String::from_utf8_lossy(buf).into_owned()));
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
