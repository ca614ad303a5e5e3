//! What the XMPP link's state does not say by itself: since when it is
//! down, and how often it has reconnected. A small task follows the link's
//! `watch`; `/health` and `/metrics` read the result.
//!
//! Reconnects are counted from the link's session numbers (1 for the first
//! connection of the process), so a change this task did not see — two
//! reconnects between two of its wake-ups — is still counted.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::util::lock;
use crate::xmpp::LinkState;

/// The link's state with its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkView {
    pub connected: bool,
    /// When it last connected or went down (for a link that never
    /// connected: when goippy started watching it).
    pub since: SystemTime,
    /// Connections after the first one.
    pub reconnects: u64,
}

#[derive(Debug)]
pub(super) struct LinkHistory {
    view: Arc<Mutex<LinkView>>,
    task: JoinHandle<()>,
}

impl LinkHistory {
    pub(super) fn follow(mut state: watch::Receiver<LinkState>) -> LinkHistory {
        let view = Arc::new(Mutex::new(LinkView {
            connected: false,
            since: SystemTime::now(),
            reconnects: 0,
        }));
        apply(&view, *state.borrow_and_update());
        let task = tokio::spawn({
            let view = Arc::clone(&view);
            async move {
                while state.changed().await.is_ok() {
                    let now = *state.borrow_and_update();
                    apply(&view, now);
                }
            }
        });
        LinkHistory { view, task }
    }

    pub(super) fn view(&self) -> LinkView {
        *lock(&self.view)
    }
}

impl Drop for LinkHistory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn apply(view: &Mutex<LinkView>, state: LinkState) {
    let mut view = lock(view);
    let connected = state.is_connected();
    if let LinkState::Connected { session, .. } = state {
        view.reconnects = view.reconnects.max(session.saturating_sub(1));
    }
    if connected != view.connected {
        view.connected = connected;
        view.since = SystemTime::now();
    }
}
