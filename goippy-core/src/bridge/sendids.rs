//! Keeping the engine's USSD sendids increasing across restarts.
//!
//! A GoIP answers a USSD request whose sendid is not larger than its last
//! one from its cache — a stale answer. The engine's USSD sendids grow by a
//! random step from a floor (other sendids are random and need none); this
//! task saves the highest one used every `interval` (and [`save`] once more
//! at shutdown), and the next start passes the saved value (or the largest
//! sendid on a USSD outbox row, if larger) back as the floor. The row's
//! sendid is reserved for it before the request is sent (`ussd.rs`), which
//! covers a crash between two saves.

use std::sync::Arc;
use std::time::Duration;

use super::Context;

pub(crate) async fn run(ctx: Arc<Context>, interval: Duration) {
    let mut saved = 0;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let highest = ctx.engine.highest_sendid();
        if highest > saved {
            match ctx.store.save_sendid_floor(highest).await {
                Ok(()) => saved = highest,
                Err(e) => tracing::warn!("cannot save the highest sendid: {e}"),
            }
        }
    }
}

/// Saves the highest sendid now.
pub(crate) async fn save(ctx: &Context) {
    let highest = ctx.engine.highest_sendid();
    if let Err(e) = ctx.store.save_sendid_floor(highest).await {
        tracing::warn!("cannot save the highest sendid: {e}");
    }
}
