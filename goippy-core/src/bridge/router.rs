//! Every stanza Prosody hands goippy, decided and answered.
//!
//! 1. [`crate::xmpp::service::answer`] settles what needs no decision:
//!    disco, XEP-0100, pings, unsupported iqs, encrypted and group chat
//!    messages, unreadable stanzas — and keeps silent on errors, chat states,
//!    receipts and markers (never an SMS, never answered).
//! 2. A message to a contact is only taken from a user of XMPP_DOMAIN whose
//!    localpart is an enabled extension (anyone else: `forbidden`).
//! 3. Written to the extension's own number, it is a console command
//!    (`bot.rs`): `status` and `log` are answered from the store, `help`
//!    from text, a USSD code goes to the outbox; anything else is refused
//!    with the list of commands.
//! 4. Otherwise the addressed localpart must be a number (a sender name gets
//!    "nobody can reply to it by SMS"), the extension's allow_regex must
//!    allow it, and the text must fit; then the SMS is committed to the
//!    outbox and the channel's runner poked. Nothing is answered now: the
//!    outcome comes later, as a receipt or an error for this message's id.
//!
//! Stanzas are handled one at a time in arrival order, so one user's
//! messages enter the outbox in the order they were written.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use crate::engine::registry::ChannelInfo;
use crate::store::{
    ActiveGateway, CallFilter, OutboundKind, OutboundOptions, OutboundRecord, Saved,
};
use crate::xmpp::failure::Refusal;
use crate::xmpp::intent::ChatToContact;
use crate::xmpp::link::{Inbound, StanzaKind};
use crate::xmpp::reply::{self, refuse};
use crate::xmpp::service::{self, Handled};
use crate::xmpp::{Envelope, Intent, classify};

use super::Context;
use super::bot::{self, Command, Liveness};

/// The most an SMS may carry (the GoIP splits long texts itself).
pub const MAX_SMS_BYTES: usize = 3000;

pub(crate) async fn run(ctx: Arc<Context>, mut inbound: mpsc::Receiver<Inbound>) {
    while let Some(item) = inbound.recv().await {
        let intent = classify(item, &ctx.addressing);
        for stanza in route(&ctx, intent).await {
            if let Err(e) = ctx.link.send(stanza).await {
                tracing::debug!("reply not sent: {e}");
            }
        }
    }
    tracing::debug!("router stopped");
}

/// The stanzas that answer `intent` (often none).
pub(crate) async fn route(ctx: &Arc<Context>, intent: Intent) -> Vec<Stanza> {
    match service::answer(&intent, &ctx.addressing) {
        Some(Handled::Reply(stanzas)) => return stanzas,
        Some(Handled::Ignore(why)) => {
            tracing::debug!(why, "stanza needs no answer");
            return Vec::new();
        }
        None => {}
    }
    match intent {
        Intent::ChatToContact(chat) => chat_to_contact(ctx, chat).await,
        Intent::ChatToComponent { env, .. } => match ctx.sender_gateway(&env.from) {
            Some(gateway) => vec![
                reply::chat(
                    &env.to,
                    &env.from,
                    &component_help(ctx, gateway.msisdn.as_deref()),
                )
                .into(),
            ],
            None => vec![refused(
                &env,
                StanzaKind::Message,
                Refusal::SenderNotAllowed,
            )],
        },
        Intent::Presence { env, kind } => super::presence::answer(ctx, &env, kind),
        _ => Vec::new(),
    }
}

fn refused(env: &Envelope, kind: StanzaKind, refusal: Refusal) -> Stanza {
    // The refusal's name only: some carry what the user wrote.
    tracing::info!(
        from = %env.from,
        to = %env.to,
        xmpp_id = env.id.as_deref().unwrap_or(""),
        refusal = refusal_name(&refusal),
        "refused"
    );
    refuse(env, kind, &refusal)
}

fn refusal_name(r: &Refusal) -> &'static str {
    match r {
        Refusal::SenderNotAllowed => "sender not allowed",
        Refusal::NotANumber { .. } => "not a number",
        Refusal::SenderName { .. } => "reply to a sender name",
        Refusal::DestinationBlocked { .. } => "destination not allowed (ACL)",
        Refusal::InvalidUssd { .. } => "neither a command nor a USSD code",
        Refusal::Encrypted => "encrypted",
        Refusal::TooLong { .. } => "too long",
        Refusal::GroupChat => "group chat",
        Refusal::Unroutable { .. } => "unroutable",
        Refusal::UnknownNode { .. } => "unknown disco node",
        Refusal::BadRequest { .. } => "bad request",
        Refusal::UnsupportedIq => "unsupported iq",
        Refusal::BadPrompt { .. } => "bad XEP-0100 prompt",
        Refusal::Internal { .. } => "internal error",
    }
}

async fn chat_to_contact(ctx: &Arc<Context>, chat: ChatToContact) -> Vec<Stanza> {
    let env = &chat.env;
    let Some(gateway) = ctx.sender_gateway(&env.from) else {
        return vec![refused(env, StanzaKind::Message, Refusal::SenderNotAllowed)];
    };
    let own_number = ctx
        .directory
        .gateway_by_msisdn(&chat.node)
        .is_some_and(|g| g.ext == gateway.ext);
    if own_number {
        return console(ctx, &gateway, &chat).await;
    }
    let destination = match &chat.destination {
        Ok(d) => d.clone(),
        Err(reason) => {
            let looks_numeric = chat
                .node
                .chars()
                .next()
                .is_some_and(|c| c == '+' || c.is_ascii_digit());
            let refusal = if looks_numeric {
                Refusal::NotANumber {
                    node: chat.node.clone(),
                    reason: reason.clone(),
                }
            } else {
                Refusal::SenderName {
                    node: chat.node.clone(),
                }
            };
            return vec![refused(env, StanzaKind::Message, refusal)];
        }
    };
    if !gateway.allows_destination(destination.as_str()) {
        return vec![refused(
            env,
            StanzaKind::Message,
            Refusal::DestinationBlocked {
                number: destination.to_string(),
            },
        )];
    }
    if chat.body.len() > MAX_SMS_BYTES {
        return vec![refused(
            env,
            StanzaKind::Message,
            Refusal::TooLong {
                chars: chat.body.chars().count(),
                max: chars_within(&chat.body, MAX_SMS_BYTES),
            },
        )];
    }
    let record = OutboundRecord {
        ext: gateway.ext.clone(),
        goip_id: gateway.goip_id.clone(),
        xmpp_from: env.from.to_string(),
        xmpp_id: env.id.clone(),
        destination: destination.to_string(),
        body: chat.body.clone(),
        kind: OutboundKind::Sms,
    };
    enqueue(ctx, env, record, chat.receipt_requested).await
}

/// Commits a job to the outbox and wakes its channel's runner.
async fn enqueue(
    ctx: &Arc<Context>,
    env: &Envelope,
    record: OutboundRecord,
    receipt_requested: bool,
) -> Vec<Stanza> {
    let goip_id = record.goip_id.clone();
    let options = OutboundOptions {
        receipt_requested,
        xmpp_to: Some(env.to.to_bare().to_string()),
    };
    let kind = record.kind;
    match ctx.store.enqueue_outbound_with(record, options).await {
        Ok(Saved::Committed(id)) => {
            tracing::debug!(log_id = id.0, goip_id, "outbound job committed");
            ctx.outbox.poke(ctx, &goip_id);
            Vec::new()
        }
        Ok(Saved::Spooled) => {
            // Accepted and safe on disk, but not in the outbox yet: the user
            // must not take the silence for "sent" (the outbox runner is
            // poked when the spool drains).
            tracing::info!(
                from = %env.from,
                xmpp_id = env.id.as_deref().unwrap_or(""),
                goip_id,
                "outbound job kept in the spool (the database is unavailable)"
            );
            vec![reply::chat(&env.to, &env.from, spooled_text(kind)).into()]
        }
        Err(e) => {
            tracing::error!(from = %env.from, "cannot store an outbound job: {e}");
            vec![refused(
                env,
                StanzaKind::Message,
                Refusal::Internal {
                    detail: "its database is unavailable".into(),
                },
            )]
        }
    }
}

/// What a user is told when their SMS or USSD code waits in the spool.
fn spooled_text(kind: OutboundKind) -> &'static str {
    match kind {
        OutboundKind::Sms => {
            "Not sent yet: the gateway's database is not answering. Your SMS is saved and goes \
             out as soon as the database is back; you will hear whether it was sent."
        }
        OutboundKind::Ussd => {
            "Not sent yet: the gateway's database is not answering. The USSD code is saved and \
             goes to the network as soon as the database is back; the answer comes here."
        }
    }
}

/// How many characters of `text` fit in `max_bytes`.
fn chars_within(text: &str, max_bytes: usize) -> usize {
    text.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= max_bytes)
        .count()
}

/// How long the console waits for queued writes before it reads.
const SETTLE_WRITES: Duration = Duration::from_secs(2);

/// Lets what goippy has already acked to the GoIP (a call that just ended,
/// the latest keepalive) reach the database before the console reads it:
/// those writes go through the store's batching queue, so without this
/// `log` right after a hang-up can miss the call. Bounded, so a slow
/// database delays the answer a little and never blocks it.
async fn settle_writes(ctx: &Context) {
    if let Err(_elapsed) = tokio::time::timeout(SETTLE_WRITES, ctx.store.flush()).await {
        tracing::debug!("queued writes still pending; the console answers from what is stored");
    }
}

/// A message to the user's own number.
async fn console(ctx: &Arc<Context>, gateway: &ActiveGateway, chat: &ChatToContact) -> Vec<Stanza> {
    let env = &chat.env;
    let me = Jid::from(env.to.to_bare());
    let answer = |text: String| vec![Stanza::from(reply::chat(&me, &env.from, &text))];
    let command = bot::parse(&chat.body);
    tracing::info!(
        ext = %gateway.ext,
        goip_id = %gateway.goip_id,
        xmpp_id = env.id.as_deref().unwrap_or(""),
        command = command_name(&command),
        "console command"
    );
    match command {
        Command::Help => answer(bot::render_help(&chat.node)),
        Command::Status => {
            settle_writes(ctx).await;
            let state = match ctx.store.channel_state(&gateway.goip_id).await {
                Ok(state) => state,
                Err(e) => return internal(env, e),
            };
            let liveness = liveness(ctx.engine.channel(&gateway.goip_id));
            answer(bot::render_status(
                &gateway.ext,
                &gateway.goip_id,
                liveness,
                state.as_ref(),
                SystemTime::now(),
            ))
        }
        Command::Log(n) => {
            settle_writes(ctx).await;
            let rows = match ctx
                .store
                .recent_calls(CallFilter::GoipId(&gateway.goip_id), bot::rows_for_calls(n))
                .await
            {
                Ok(rows) => rows,
                Err(e) => return internal(env, e),
            };
            answer(bot::render_log(&bot::calls_from_rows(&rows), n))
        }
        Command::Ussd(code) => {
            let record = OutboundRecord {
                ext: gateway.ext.clone(),
                goip_id: gateway.goip_id.clone(),
                xmpp_from: env.from.to_string(),
                xmpp_id: env.id.clone(),
                destination: gateway.msisdn.clone().unwrap_or_default(),
                body: code,
                kind: OutboundKind::Ussd,
            };
            enqueue(ctx, env, record, false).await
        }
        Command::Invalid(text) => vec![refused(
            env,
            StanzaKind::Message,
            Refusal::InvalidUssd { text },
        )],
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Status => "status",
        Command::Log(_) => "log",
        Command::Help => "help",
        Command::Ussd(_) => "ussd",
        Command::Invalid(_) => "invalid",
    }
}

fn internal(env: &Envelope, e: crate::store::StoreError) -> Vec<Stanza> {
    tracing::error!("console: {e}");
    vec![refused(
        env,
        StanzaKind::Message,
        Refusal::Internal {
            detail: "its database is unavailable".into(),
        },
    )]
}

pub(crate) fn liveness(channel: Option<ChannelInfo>) -> Liveness {
    match channel {
        Some(c) if c.online => Liveness::Online { since: c.since },
        Some(c) if c.last_keepalive.is_some() => Liveness::Offline { since: c.since },
        _ => Liveness::NotHeard,
    }
}

fn component_help(ctx: &Context, own_number: Option<&str>) -> String {
    let domain = ctx.addressing.data_domain();
    let mut text = format!(
        "This is the SMS gateway. To send an SMS, write to the number as a contact: \
         +37255512345@{domain} (international form)."
    );
    if let Some(n) = own_number.filter(|n| !n.trim().is_empty()) {
        text.push_str(&format!(
            " Your own number {n} answers \"help\", \"status\" and \"log\", and sends USSD codes such as *100#."
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_that_fit() {
        assert_eq!(chars_within("abc", 2), 2);
        assert_eq!(chars_within("ääb", 3), 1);
        assert_eq!(chars_within("ääb", 4), 2);
        assert_eq!(chars_within("", 4), 0);
    }
}
