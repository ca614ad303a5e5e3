//! `/health`: whether goippy does its job now, in words an operator can act
//! on.
//!
//! * **live** (`/health/live`): every task of the bridge still runs — the
//!   systemd watchdog's view ([`crate::bridge::Bridge::stopped_tasks`]). Not
//!   live means goippy is broken and only a restart helps (systemd does it
//!   when the watchdog is on).
//! * **ready** (`/health/ready`, and `/health`): live, *and* the XMPP
//!   stream to Prosody is up, *and* the database answers (a count within
//!   2 s) and takes writes (nothing waits in the spool). Not ready means a
//!   neighbour is down: goippy goes on acking the GoIPs and keeps what it
//!   cannot deliver or write, and catches up by itself once it is back.
//!
//! The answer is 200 or 503 with a short text body, one line per part, each
//! failing part saying what fails and since when where goippy knows it:
//!
//! ```text
//! not ready
//! xmpp: disconnected since 2026-12-06T05:01:02Z (12 s)
//! database: unreachable (no answer within 2 s while counting the backlog); 3 writes kept in the spool
//! tasks: all running
//! ```

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::bridge::BridgeProbe;

use super::exposition::DB_PROBE;
use super::link_history::LinkView;

/// Which question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Live,
    Ready,
}

/// The verdict and its text.
#[derive(Debug)]
pub(super) struct Report {
    pub ok: bool,
    pub text: String,
}

pub(super) async fn check(probe: &BridgeProbe, link: LinkView, which: Check) -> Report {
    let stopped = probe.stopped_tasks();
    let tasks_ok = stopped.is_empty();
    let tasks = if tasks_ok {
        "tasks: all running".to_owned()
    } else {
        format!("tasks: stopped: {}", stopped.join(", "))
    };
    if which == Check::Live {
        return Report {
            ok: tasks_ok,
            text: format!("{}\n{tasks}\n", if tasks_ok { "live" } else { "not live" }),
        };
    }
    let xmpp = if link.connected {
        format!("xmpp: connected since {}", when(link.since))
    } else {
        format!("xmpp: disconnected since {}", when(link.since))
    };
    let store = probe.store();
    let answered = store.backlog(DB_PROBE).await;
    let spooled = store.spooled();
    let database_ok = answered.is_ok() && spooled == 0;
    let database = match (&answered, spooled) {
        (Ok(_), 0) => "database: ok".to_owned(),
        (Ok(_), n) => format!("database: not taking writes; {n} writes kept in the spool"),
        (Err(e), 0) => format!("database: {e}"),
        (Err(e), n) => format!("database: {e}; {n} writes kept in the spool"),
    };
    let ok = tasks_ok && link.connected && database_ok;
    Report {
        ok,
        text: format!(
            "{}\n{xmpp}\n{database}\n{tasks}\n",
            if ok { "ready" } else { "not ready" }
        ),
    }
}

/// `2026-12-06T05:01:02Z (12 s)`.
fn when(at: SystemTime) -> String {
    let ago = SystemTime::now()
        .duration_since(at)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stamp = DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("{stamp} ({ago} s)")
}
