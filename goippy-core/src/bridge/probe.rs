//! A running bridge as the operator's endpoints see it (`/metrics`,
//! `/health`, in `crate::metrics`): which of its tasks still run — the very
//! list the systemd watchdog goes by — and read-only access to the parts
//! whose state they report. Cheap to clone; it holds no task and stops
//! nothing, so a scrape can never hold up a shutdown.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::engine::Engine;
use crate::store::{GatewayDirectory, Store};
use crate::xmpp::LinkState;

use super::Context;
use super::line_traffic::LineTraffic;

/// Read-only view of a running bridge.
#[derive(Clone)]
pub struct BridgeProbe {
    pub(super) ctx: Arc<Context>,
    /// The bridge's own tasks, by watchdog name (docs/architecture.md#tasks-and-state).
    pub(super) tasks: Arc<[(&'static str, AbortHandle)]>,
    pub(super) link_state: watch::Receiver<LinkState>,
}

impl BridgeProbe {
    /// The names of the tasks that ended on their own (empty: all run).
    /// [`super::Bridge::stopped_tasks`] is this.
    pub fn stopped_tasks(&self) -> Vec<&'static str> {
        let parts = [
            (
                "the UDP receive loop or the sweeper",
                self.ctx.engine.is_running(),
            ),
            ("the database writer", self.ctx.store.writer_running()),
            ("the XMPP link", self.ctx.link.is_running()),
        ];
        let tasks = self
            .tasks
            .iter()
            .map(|(name, task)| (*name, !task.is_finished()));
        parts
            .into_iter()
            .chain(tasks)
            .filter_map(|(name, running)| (!running).then_some(name))
            .collect()
    }

    /// The UDP engine: channel states and traffic.
    pub fn engine(&self) -> &Engine {
        &self.ctx.engine
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The enabled gateways (which lines exist, and their extensions).
    pub fn directory(&self) -> &GatewayDirectory {
        &self.ctx.directory
    }

    /// The XMPP link's state, to watch.
    pub fn link_state(&self) -> watch::Receiver<LinkState> {
        self.link_state.clone()
    }

    /// Each line's SMS counts since the bridge started, sorted by GoIP id.
    pub fn line_traffic(&self) -> Vec<LineTraffic> {
        self.ctx.traffic.snapshot()
    }
}
