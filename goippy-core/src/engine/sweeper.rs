//! The engine's clock-driven housekeeping, once every `sweep_interval`:
//! channels that fell silent go offline (with an event), and the caches
//! forget what has aged out even when no traffic arrives to trigger it.

use std::sync::Arc;
use std::time::Instant;

use super::events::EngineEvent;
use super::shared::Shared;

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut closing = shared.closing_signal();
    let mut ticks = tokio::time::interval(
        shared
            .config
            .sweep_interval
            .max(std::time::Duration::from_millis(1)),
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = closing.wait_for(|c| *c) => break,
            _ = ticks.tick() => {}
        }
        let now = Instant::now();
        for (goip_id, silent_for) in shared.registry.sweep(now, shared.config.offline_after) {
            tracing::warn!(
                goip_id,
                silent_s = silent_for.as_secs(),
                "channel offline: no keepalive"
            );
            shared.announce(EngineEvent::ChannelOffline {
                goip_id,
                silent_for,
            });
        }
        shared.purge(now);
    }
}
