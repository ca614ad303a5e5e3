//! What goippy can tell a user about their lines: the state `status` shows
//! and the calls `log` lists. The chat console (`router/console.rs`) and the
//! ad-hoc commands (`adhoc/`) both get them here and differ only in how they
//! present them (text in a chat message, a data form).
//!
//! Each read answers within [`READ_BOUND`] whatever the database does:
//! `status` from the database when it answers in time, else from what goippy
//! remembers of the channel's latest keepalive (the engine's registry),
//! saying so; `log` from the database or not at all (there is no call log in
//! memory).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_xmpp::jid::Jid;

use crate::engine::registry::ChannelInfo;
use crate::store::{ActiveGateway, ChannelState, StoreError, Timestamp};

use super::Context;
use super::bot::{self, Call, Liveness, StateSource};
use super::inbound::state_update;

/// How long `status` and `log` may take in all, the wait for queued writes
/// included.
pub(crate) const READ_BOUND: Duration = Duration::from_secs(2);

/// How long a read waits for queued writes before it reads.
const SETTLE_WRITES: Duration = Duration::from_secs(1);

/// The lines `from` may use: its extension's enabled lines, line 1 first
/// (several with line pools, `store/lines.rs`).
pub(crate) fn of_user(ctx: &Context, from: &Jid) -> Vec<Arc<ActiveGateway>> {
    ctx.addressing
        .local_user(from)
        .map(|ext| ctx.directory.lines_of(ext))
        .unwrap_or_default()
}

/// A line's state, as `status` shows it.
#[derive(Debug, Clone)]
pub(crate) struct LineStatus {
    pub gateway: Arc<ActiveGateway>,
    pub liveness: Liveness,
    pub state: Option<ChannelState>,
    pub source: StateSource,
    /// The line's alerts that hold, and its latest balance
    /// (`bridge/alerts/`), one line each.
    pub alerts: Vec<String>,
}

impl LineStatus {
    /// The console's words for it.
    pub(crate) fn render(&self) -> String {
        let mut text = bot::render_status(
            &self.gateway.owner_label(),
            &self.gateway.goip_id,
            self.liveness,
            self.state.as_ref(),
            self.source,
            SystemTime::now(),
        );
        for line in &self.alerts {
            text.push('\n');
            text.push_str(line);
        }
        text
    }
}

/// Reads a line's state (see the module docs).
pub(crate) async fn status(ctx: &Context, gateway: Arc<ActiveGateway>) -> LineStatus {
    let deadline = Instant::now() + READ_BOUND;
    settle_writes(ctx).await;
    let read = ctx.store.channel_state(&gateway.goip_id);
    let memory = ctx.engine.channel(&gateway.goip_id);
    let (state, source) = match within(deadline, read).await {
        Ok(state) => (state, StateSource::Database),
        Err(why) => {
            tracing::warn!(
                ext = %gateway.owner_label(),
                goip_id = %gateway.goip_id,
                "the channel state cannot be read ({why}); status answers from memory"
            );
            let state = memory
                .as_ref()
                .and_then(|info| remembered_state(&gateway, info));
            (state, StateSource::Memory)
        }
    };
    LineStatus {
        alerts: ctx.alerts.status_lines(&gateway.goip_id),
        liveness: liveness(memory),
        state,
        source,
        gateway,
    }
}

/// The newest `n` calls of a line, or why they cannot be read now.
pub(crate) async fn calls(
    ctx: &Context,
    gateway: &ActiveGateway,
    n: u32,
) -> Result<Vec<Call>, String> {
    let deadline = Instant::now() + READ_BOUND;
    settle_writes(ctx).await;
    let read = ctx
        .store
        .recent_calls(&gateway.goip_id, bot::rows_for_calls(n));
    match within(deadline, read).await {
        Ok(rows) => Ok(bot::calls_from_rows(&rows)),
        Err(why) => {
            tracing::warn!(
                ext = %gateway.owner_label(),
                goip_id = %gateway.goip_id,
                "the call log cannot be read ({why})"
            );
            Err(why)
        }
    }
}

/// The read's value, or why it gave none (for the log).
async fn within<T>(
    deadline: Instant,
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(deadline, read).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_elapsed) => Err(format!(
            "the database did not answer within {} s",
            READ_BOUND.as_secs()
        )),
    }
}

/// Lets what goippy has already acked to the GoIP (a call that just ended,
/// the latest keepalive) reach the database before it is read: those
/// writes go through the store's batching queue, so without this `log`
/// right after a hang-up can miss the call. Bounded by [`SETTLE_WRITES`],
/// so a stalled writer delays the answer a little and never blocks it.
async fn settle_writes(ctx: &Context) {
    if let Err(_elapsed) = tokio::time::timeout(SETTLE_WRITES, ctx.store.flush()).await {
        tracing::debug!("queued writes still pending; answering from what is stored");
    }
}

/// The channel's state as the engine remembers its latest keepalive, in
/// the shape the database would give (read as the store's copy is made).
fn remembered_state(gateway: &ActiveGateway, info: &ChannelInfo) -> Option<ChannelState> {
    // A keepalive always comes with the address it came from.
    let s = state_update(&info.goip_id, info.addr?, info.keepalive.as_ref()?);
    Some(ChannelState {
        goip_id: s.goip_id,
        ext: gateway.ext.clone(),
        msisdn: (s.msisdn.filter(|n| !n.trim().is_empty())).or_else(|| gateway.msisdn.clone()),
        gsm_signal: s.gsm_signal.map(i64::from),
        gsm_status: s.gsm_status,
        voip_status: s.voip_status,
        voip_state: s.voip_state,
        remain_time: s.remain_time,
        provider: s.provider,
        disable_status: s.disable_status.map(i64::from),
        imei: s.imei,
        imsi: s.imsi,
        iccid: s.iccid,
        cell_info: s.cell_info,
        sms_login: s.sms_login,
        source: s.source.map(|a| a.to_string()),
        updated_at: info.last_keepalive.map(Timestamp::from_system_time),
    })
}

fn liveness(channel: Option<ChannelInfo>) -> Liveness {
    match channel {
        Some(c) if c.online => Liveness::Online { since: c.since },
        Some(c) if c.last_keepalive.is_some() => Liveness::Offline { since: c.since },
        _ => Liveness::NotHeard,
    }
}
