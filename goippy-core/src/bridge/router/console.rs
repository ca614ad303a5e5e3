//! The console on a user's own number, as the router runs it.
//!
//! `help` and anything that is neither a command nor a USSD code are
//! answered at once, from text. A USSD code is an outbox job like an SMS.
//! `status` and `log` read the database, in their sender's read lane (so
//! they never wait behind an outbox write, the sender's own included), and
//! each answers within [`READ_BOUND`] whatever the database does:
//!
//! * `status` from the database when it answers in time; otherwise from what
//!   goippy remembers of the channel's latest keepalive (the engine's
//!   registry), saying so;
//! * `log` from the database, or an error that says the call log cannot be
//!   read now (there is no call log in memory).
//!
//! On SQLite (WAL) a write lock held by another connection (`BEGIN
//! IMMEDIATE`, `BEGIN EXCLUSIVE`, a VACUUM) stalls goippy's writes but not
//! its reads; on MariaDB `FLUSH TABLES WITH READ LOCK` does the same. A
//! server that does not answer at all (stopped, a dead network) stalls both:
//! that is when the bound matters.
//!
//! A command that asks for an XEP-0184 receipt gets one as soon as goippy
//! has taken it: `help` and unknown text at once, `status` and `log` when
//! their read is queued (before the answer, which may wait for the
//! database), a USSD code when the GoIP has answered it, which proves the
//! GoIP was handed it (`bridge/ussd.rs`). Without it clients show the
//! command undelivered for ever, although the contact's disco promises
//! receipts.
//!
//! Unknown text is answered with a chat message, not an error stanza,
//! because of what clients do with a message error: Dino marks the sent
//! message "delivery failed" and offers no way to read the error's text
//! (dino#672, dino#1446); Conversations writes a red "delivery failed"
//! under it and shows the text only through "show error" in the message's
//! menu (Conversations#1762, #2191); Gajim and profanity show the text
//! (profanity 0.13.1, tried against a real Prosody: `! Error from
//! +37255500001@example.org: …` in the chat window, and again in its
//! console window). A chat message is shown in full by all of them, so the
//! explanation and the list of commands are read where they are needed —
//! and nothing failed that the user must retry: the console understood the
//! message and answers it. Mistakes about where an SMS goes (a number that
//! is none, a sender name) stay errors: there the message itself failed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use crate::engine::registry::ChannelInfo;
use crate::store::{
    ActiveGateway, CallFilter, ChannelState, OutboundKind, OutboundRecord, StoreError, Timestamp,
};
use crate::xmpp::Envelope;
use crate::xmpp::failure::Refusal;
use crate::xmpp::intent::ChatToContact;
use crate::xmpp::link::StanzaKind;
use crate::xmpp::reply;

use super::super::Context;
use super::super::bot::{self, BotCommand, Liveness, StateSource};
use super::{Decision, StoreJob};

/// How long `status` and `log` may take in all, the wait for queued writes
/// included.
pub(crate) const READ_BOUND: Duration = Duration::from_secs(2);

/// How long the console waits for queued writes before it reads.
const SETTLE_WRITES: Duration = Duration::from_secs(1);

/// A console command that reads the database.
#[derive(Debug)]
pub(crate) struct Read {
    pub env: Envelope,
    pub gateway: Arc<ActiveGateway>,
    pub what: ReadKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadKind {
    Status,
    Log(u32),
}

/// What a message to the user's own number asks for.
pub(super) fn decide(gateway: Arc<ActiveGateway>, chat: ChatToContact) -> Decision {
    let env = chat.env;
    let command = bot::parse(&chat.body);
    let receipt = || -> Vec<Stanza> {
        env.id
            .as_deref()
            .filter(|_| chat.receipt_requested)
            .map(|id| reply::receipt(&env.to, &env.from, id).into())
            .into_iter()
            .collect()
    };
    tracing::info!(
        ext = %gateway.ext,
        goip_id = %gateway.goip_id,
        xmpp_id = env.id.as_deref().unwrap_or(""),
        command = command_name(&command),
        "console command"
    );
    let answered_now = |text: String| {
        let mut stanzas = receipt();
        stanzas.extend(answer(&env, text));
        Decision::Reply(stanzas)
    };
    match command {
        BotCommand::Help => answered_now(bot::render_help(&chat.node)),
        BotCommand::Invalid(text) => answered_now(bot::render_unknown(&text)),
        BotCommand::Status | BotCommand::Log(_) => {
            let taken = receipt();
            Decision::Queue {
                job: Box::new(StoreJob::Read(Read {
                    what: match command {
                        BotCommand::Log(n) => ReadKind::Log(n),
                        _ => ReadKind::Status,
                    },
                    env,
                    gateway,
                })),
                taken,
            }
        }
        BotCommand::Ussd(code) => Decision::queue(StoreJob::Enqueue {
            record: OutboundRecord {
                ext: gateway.ext.clone(),
                goip_id: gateway.goip_id.clone(),
                xmpp_from: env.from.to_string(),
                xmpp_id: env.id.clone(),
                destination: gateway.msisdn.clone().unwrap_or_default(),
                body: code,
                kind: OutboundKind::Ussd,
            },
            env,
            // Given when the GoIP answers (bridge/ussd.rs).
            receipt_requested: chat.receipt_requested,
        }),
    }
}

/// Answers `status` or `log`, within [`READ_BOUND`].
pub(super) async fn read(ctx: &Context, read: Read) -> Vec<Stanza> {
    let deadline = Instant::now() + READ_BOUND;
    settle_writes(ctx).await;
    let Read { env, gateway, what } = read;
    match what {
        ReadKind::Status => {
            let read = ctx.store.channel_state(&gateway.goip_id);
            let memory = ctx.engine.channel(&gateway.goip_id);
            let (state, source) = match within(deadline, read).await {
                Ok(state) => (state, StateSource::Database),
                Err(why) => {
                    tracing::warn!(
                        ext = %gateway.ext,
                        goip_id = %gateway.goip_id,
                        "console: the channel state cannot be read ({why}); status answers from memory"
                    );
                    let state = memory
                        .as_ref()
                        .and_then(|info| remembered_state(&gateway, info));
                    (state, StateSource::Memory)
                }
            };
            let mut text = bot::render_status(
                &gateway.ext,
                &gateway.goip_id,
                liveness(memory),
                state.as_ref(),
                source,
                SystemTime::now(),
            );
            for line in ctx.alerts.status_lines(&gateway.goip_id) {
                text.push('\n');
                text.push_str(&line);
            }
            answer(&env, text)
        }
        ReadKind::Log(n) => {
            let read = ctx
                .store
                .recent_calls(CallFilter::GoipId(&gateway.goip_id), bot::rows_for_calls(n));
            match within(deadline, read).await {
                Ok(rows) => answer(&env, bot::render_log(&bot::calls_from_rows(&rows), n)),
                Err(why) => {
                    tracing::warn!(
                        ext = %gateway.ext,
                        goip_id = %gateway.goip_id,
                        "console: the call log cannot be read ({why})"
                    );
                    vec![reply::refuse(
                        &env,
                        StanzaKind::Message,
                        &Refusal::DatabaseSilent { what: "call log" },
                    )]
                }
            }
        }
    }
}

/// A read that did not give an answer.
#[derive(Debug)]
enum Unread {
    Failed(StoreError),
    TimedOut,
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unread::Failed(e) => write!(f, "{e}"),
            Unread::TimedOut => write!(
                f,
                "the database did not answer within {} s",
                READ_BOUND.as_secs()
            ),
        }
    }
}

async fn within<T>(
    deadline: Instant,
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, Unread> {
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Unread::Failed(e)),
        Err(_elapsed) => Err(Unread::TimedOut),
    }
}

/// Lets what goippy has already acked to the GoIP (a call that just ended,
/// the latest keepalive) reach the database before the console reads it:
/// those writes go through the store's batching queue, so without this
/// `log` right after a hang-up can miss the call. Bounded by
/// [`SETTLE_WRITES`], so a stalled writer delays the answer a little and
/// never blocks it.
async fn settle_writes(ctx: &Context) {
    if let Err(_elapsed) = tokio::time::timeout(SETTLE_WRITES, ctx.store.flush()).await {
        tracing::debug!("queued writes still pending; the console answers from what is stored");
    }
}

/// The channel's state as the engine remembers its latest keepalive, in
/// the shape the database would give.
fn remembered_state(gateway: &ActiveGateway, info: &ChannelInfo) -> Option<ChannelState> {
    let k = info.keepalive.as_ref()?;
    let number = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse().ok());
    Some(ChannelState {
        goip_id: info.goip_id.clone(),
        ext: Some(gateway.ext.clone()),
        msisdn: k
            .num
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| gateway.msisdn.clone()),
        gsm_signal: number(&k.signal),
        gsm_status: k.gsm_status.clone(),
        voip_status: k.voip_status.clone(),
        voip_state: k.voip_state.clone(),
        remain_time: number(&k.remain_time),
        provider: k.pro.clone(),
        disable_status: number(&k.disable_status),
        imei: k.imei.clone(),
        imsi: k.imsi.clone(),
        iccid: k.iccid.clone(),
        cell_info: k.cellinfo.clone(),
        sms_login: k.sms_login.clone(),
        source: info.addr.map(|a| a.to_string()),
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

/// A chat message from the user's own number.
fn answer(env: &Envelope, text: String) -> Vec<Stanza> {
    let me = Jid::from(env.to.to_bare());
    vec![Stanza::from(reply::chat(&me, &env.from, &text))]
}

fn command_name(c: &BotCommand) -> &'static str {
    match c {
        BotCommand::Status => "status",
        BotCommand::Log(_) => "log",
        BotCommand::Help => "help",
        BotCommand::Ussd(_) => "ussd",
        BotCommand::Invalid(_) => "invalid",
    }
}
