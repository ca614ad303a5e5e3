//! The console on a user's own number, as the router runs it.
//!
//! `help` and anything that is neither a command nor a USSD code are
//! answered at once, from text. A USSD code is an outbox job like an SMS.
//! `status` and `log` read the database, in their sender's read lane (so
//! they never wait behind an outbox write, the sender's own included), and
//! each answers within [`READ_BOUND`](lines::READ_BOUND) whatever the database does:
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

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use crate::store::{ActiveGateway, OutboundKind, OutboundRecord};
use crate::xmpp::Envelope;
use crate::xmpp::failure::Refusal;
use crate::xmpp::intent::ChatToContact;
use crate::xmpp::link::StanzaKind;
use crate::xmpp::reply;

use super::super::Context;
use super::super::bot::{self, BotCommand};
use super::super::lines;
use super::{Decision, StoreJob};

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
/// `ext` is the sender's extension, `gateway` the line whose number was
/// written to (one of the sender's lines).
pub(super) fn decide(ext: &str, gateway: Arc<ActiveGateway>, chat: ChatToContact) -> Decision {
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
        ext,
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
                ext: ext.to_string(),
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

/// Answers `status` or `log`, within [`READ_BOUND`](lines::READ_BOUND) (`bridge/lines.rs`,
/// which the ad-hoc commands share).
pub(super) async fn read(ctx: &Context, read: Read) -> Vec<Stanza> {
    let Read { env, gateway, what } = read;
    match what {
        ReadKind::Status => answer(&env, lines::status(ctx, gateway).await.render()),
        ReadKind::Log(n) => match lines::calls(ctx, &gateway, n).await {
            Ok(calls) => answer(&env, bot::render_log(&calls, n)),
            Err(_) => vec![reply::refuse(
                &env,
                StanzaKind::Message,
                &Refusal::DatabaseSilent { what: "call log" },
            )],
        },
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
