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
use super::super::line_choice::{self, LineRequest};
use super::super::lines;
use super::{Decision, StoreJob, Work};

/// A console command that reads the database.
#[derive(Debug)]
pub(crate) struct Read {
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
pub(super) fn decide(
    ctx: &Context,
    ext: &str,
    gateway: Arc<ActiveGateway>,
    chat: ChatToContact,
) -> Decision {
    let env = chat.env;
    let several = ctx.directory.line_count(ext) > 1;
    let command = match bot::parse(&chat.body) {
        // Line commands are for users with several lines; for one line,
        // the text is what it always was: not a command.
        BotCommand::Lines | BotCommand::LineFor { .. } | BotCommand::Failover(_) if !several => {
            BotCommand::Invalid(chat.body.trim().to_string())
        }
        command => command,
    };
    tracing::info!(
        ext,
        goip_id = %gateway.goip_id,
        xmpp_id = env.id.as_deref().unwrap_or(""),
        command = bot::command_name(&command),
        "console command"
    );
    let answered_now = |text| Decision::Reply(answered(&env, chat.receipt_requested, text));
    match command {
        BotCommand::Help if several => answered_now(format!(
            "{}\n{}",
            bot::render_help(&chat.node),
            bot::render_lines_help()
        )),
        BotCommand::Help => answered_now(bot::render_help(&chat.node)),
        BotCommand::Lines | BotCommand::LineFor { .. } | BotCommand::Failover(_) => {
            let what = match command {
                BotCommand::LineFor { contact, arg } => {
                    match ctx.addressing.numbers().parse_destination(&contact) {
                        Ok(number) => LineWhat::Conversation {
                            contact: number.to_string(),
                            request: line_choice::parse_arg(&arg),
                        },
                        Err(e) => {
                            return answered_now(format!(
                                "\"{contact}\" is not a number SMS can be sent to ({e}); write \
                                 line +37255512345 2, for example."
                            ));
                        }
                    }
                }
                BotCommand::Failover(on) => LineWhat::Failover(on),
                _ => LineWhat::List,
            };
            let job = LineJob {
                ext: ext.to_string(),
                what,
                receipt_requested: chat.receipt_requested,
            };
            Decision::queue(Work::Line(job), env)
        }
        BotCommand::Invalid(text) => answered_now(bot::render_unknown(&text)),
        BotCommand::Status | BotCommand::Log(_) => {
            let taken = receipt(&env, chat.receipt_requested);
            let what = match command {
                BotCommand::Log(n) => ReadKind::Log(n),
                _ => ReadKind::Status,
            };
            let work = Work::Read(Read { gateway, what });
            Decision::Queue {
                job: Box::new(StoreJob { env, work }),
                taken,
            }
        }
        BotCommand::Ussd(code) => Decision::queue(
            Work::Enqueue {
                choose_line: None,
                record: OutboundRecord {
                    ext: ext.to_string(),
                    goip_id: gateway.goip_id.clone(),
                    xmpp_from: env.from.to_string(),
                    xmpp_id: env.id.clone(),
                    destination: gateway.msisdn.clone().unwrap_or_default(),
                    body: code,
                    kind: OutboundKind::Ussd,
                },
                // Given when the GoIP answers (bridge/ussd.rs).
                receipt_requested: chat.receipt_requested,
            },
            env,
        ),
    }
}

/// Answers `status` or `log`, within [`READ_BOUND`](lines::READ_BOUND) (`bridge/lines.rs`,
/// which the ad-hoc commands share).
pub(super) async fn read(ctx: &Context, env: &Envelope, read: Read) -> Vec<Stanza> {
    let Read { gateway, what } = read;
    match what {
        ReadKind::Status => answer(env, lines::status(ctx, gateway).await.render()),
        ReadKind::Log(n) => match lines::calls(ctx, &gateway, n).await {
            Ok(calls) => answer(env, bot::render_log(&calls, n)),
            Err(_) => vec![reply::refuse(
                env,
                StanzaKind::Message,
                &Refusal::DatabaseSilent { what: "call log" },
            )],
        },
    }
}

/// A line command: `/line` typed to a contact, or the console's `line`
/// and `failover`.
#[derive(Debug)]
pub(crate) struct LineJob {
    pub ext: String,
    pub what: LineWhat,
    pub receipt_requested: bool,
}

#[derive(Debug)]
pub(crate) enum LineWhat {
    /// The line of the conversation with `contact`.
    Conversation {
        contact: String,
        request: LineRequest,
    },
    /// The console's `line`: every line, its state, and failover.
    List,
    /// The console's `failover on|off`.
    Failover(bool),
}

impl LineJob {
    pub(super) fn weight(&self) -> usize {
        let what = match &self.what {
            LineWhat::Conversation {
                contact,
                request: LineRequest::Invalid(arg),
            } => contact.len() + arg.len(),
            LineWhat::Conversation { contact, .. } => contact.len(),
            LineWhat::List | LineWhat::Failover(_) => 0,
        };
        self.ext.len() + what
    }
}

/// Runs a line command; the answer comes from the JID written to, after
/// the receipt when one was asked for.
pub(super) async fn line(ctx: &Context, env: &Envelope, job: LineJob) -> Vec<Stanza> {
    let LineJob {
        ext,
        what,
        receipt_requested,
    } = job;
    let text = match &what {
        LineWhat::Conversation { contact, request } => {
            line_choice::run(ctx, &ext, contact, request).await
        }
        LineWhat::List => list_lines(ctx, &ext).await,
        LineWhat::Failover(on) => ctx.store.set_failover(&ext, *on).await.map(|()| {
            if *on {
                "Failover is on: an SMS your chosen line cannot send (offline, at its daily \
                 limit, refused by the GoIP) goes out on another of your lines, and you are told \
                 which."
                    .to_string()
            } else {
                "Failover is off: an SMS goes out only on the line chosen for it.".to_string()
            }
        }),
    };
    match text {
        Ok(text) => answered(env, receipt_requested, text),
        Err(e) => {
            tracing::warn!(ext, "a line command failed: {e}");
            vec![reply::refuse(
                env,
                StanzaKind::Message,
                &Refusal::Internal {
                    detail: "its database is unavailable".into(),
                },
            )]
        }
    }
}

/// The console's `line`: each line with its number, state, daily limit
/// and today's count, and whether failover is on.
async fn list_lines(ctx: &Context, ext: &str) -> Result<String, crate::store::StoreError> {
    let lines = ctx.directory.lines_of(ext);
    let failover = ctx.store.failover(ext).await?;
    let today = ctx.store.sent_today(crate::store::Timestamp::now()).await?;
    let mut out = String::from("Your lines:");
    for (i, line) in lines.iter().enumerate() {
        let online = ctx.engine.channel(&line.goip_id).is_some_and(|c| c.online);
        let sent = today.get(&line.goip_id).copied().unwrap_or(0);
        let limit = match line.daily_limit {
            Some(cap) => format!("{sent} of {cap} SMS today"),
            None => format!("{sent} SMS today"),
        };
        let others: Vec<&str> = (line.users.iter().map(String::as_str))
            .filter(|u| *u != ext)
            .collect();
        let shared = if line.users.len() > 1 {
            format!(", shared with {}", others.join(", "))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\n{}: {}, {}, {limit}{shared}",
            i + 1,
            line.msisdn.as_deref().unwrap_or("(number not known yet)"),
            if online { "online" } else { "offline" },
        ));
    }
    out.push_str(&format!(
        "\nFailover: {}.\nline NUMBER N chooses the line for a contact; /line typed to the contact \
         does the same.",
        if failover { "on" } else { "off" }
    ));
    Ok(out)
}

/// The XEP-0184 receipt for the message of `env`, if it asked for one.
fn receipt(env: &Envelope, requested: bool) -> Vec<Stanza> {
    let id = env.id.as_deref().filter(|_| requested);
    id.map(|id| reply::receipt(&env.to, &env.from, id).into())
        .into_iter()
        .collect()
}

/// The receipt, if one was asked for, then the answer.
fn answered(env: &Envelope, receipt_requested: bool, text: String) -> Vec<Stanza> {
    let mut stanzas = receipt(env, receipt_requested);
    stanzas.extend(answer(env, text));
    stanzas
}

/// A chat message from the user's own number.
fn answer(env: &Envelope, text: String) -> Vec<Stanza> {
    let me = Jid::from(env.to.to_bare());
    vec![Stanza::from(reply::chat(&me, &env.from, &text))]
}
