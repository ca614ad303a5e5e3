//! USSD requests (`*100#`): one code, one answer (docs/goip-protocol.md#ussd).
//!
//! * The sendid is larger than any USSD sendid before it, across restarts
//!   too (the GoIP answers a USSD whose sendid is not larger than its last
//!   one from its cache), by a random step, so that a forger cannot guess
//!   it (see `sendid`).
//! * The command has no trailing newline (it would become part of the code).
//! * After `ussd_timeout` without an answer the *same* datagram (same sendid,
//!   which the GoIP's cache makes idempotent) is sent once more; after
//!   another `ussd_timeout`, the request ends as Timeout. Resending more often
//!   opens new USSD sessions on top of the open one and breaks the answer.
//! * The answer loses its trailing `@` padding; an answer reading
//!   "USSD send failed!" is an error, like `USSDERROR`.
//! * `DONE <sendid>` follows every request, as the vendor UI does.
//! * An answer that arrives after the timeout is not lost: it comes out as
//!   a [`super::EngineEvent::Ussd`] event.
//!
//! A USSD menu is a session on the network: the user's choice goes out as
//! one more request (a new, larger sendid, like any request), and the
//! session ends with `USSDEXIT <sendid> <password>` ([`exit`]), which the
//! GoIP confirms with `USSDEXIT <sendid>` (docs/goip-protocol.md#ussd).

use std::time::Instant;

use super::context::JobContext;
use super::pending::{Exchange, Finished, Waited};
use super::request::{CommandError, UssdOutcome};
use crate::goip::{Command, ErrorReply, Reply, ussd_reply_failed, ussd_reply_text};

/// Runs one USSD request, under the sendid the caller `reserved` for it.
pub(crate) async fn run(ctx: &mut JobContext, code: &str, reserved: u32) -> UssdOutcome {
    if ctx.is_stopping() {
        return UssdOutcome::Stopping;
    }
    let mut exchange = ctx.open_ussd_exchange(Some(reserved));
    let sendid = exchange.sendid();
    if reserved != sendid {
        tracing::warn!(
            goip_id = ctx.goip_id(),
            reserved,
            sendid,
            "the USSD's reserved sendid was in use by another exchange: sent under a new one"
        );
    }
    let command = Command::Ussd {
        sendid,
        password: ctx.password(),
        code: code.to_owned(),
    };
    let answered = send_and_await(ctx, &mut exchange, &command, 1, |ctx, reply| {
        answer(ctx, sendid, reply)
    });
    let outcome = match answered.await {
        Ok(outcome) => outcome,
        Err(e) => return e.into(),
    };
    ctx.done(sendid).await;
    match outcome {
        Some(outcome) => {
            tracing::info!(
                goip_id = ctx.goip_id(),
                sendid,
                result = outcome_name(&outcome),
                "USSD answered"
            );
            outcome
        }
        None => {
            tracing::info!(goip_id = ctx.goip_id(), sendid, "USSD timed out");
            drop(exchange);
            ctx.remember_finished(
                sendid,
                Finished::Ussd {
                    goip_id: ctx.goip_id().to_owned(),
                },
            );
            UssdOutcome::Timeout
        }
    }
}

/// Sends `USSDEXIT` under a new USSD sendid (it must not fall below the
/// cache's, or the GoIP may take it for an old exchange) and waits one
/// `ussd_timeout` for the confirmation; it is not resent: a second
/// `USSDEXIT` could end a session a newer request opened meanwhile.
pub(crate) async fn exit(ctx: &mut JobContext) -> UssdOutcome {
    if ctx.is_stopping() {
        return UssdOutcome::Stopping;
    }
    let mut exchange = ctx.open_ussd_exchange(None);
    let sendid = exchange.sendid();
    let command = Command::UssdExit {
        sendid,
        password: ctx.password(),
    };
    let answered = send_and_await(ctx, &mut exchange, &command, 0, |_, reply| match reply {
        Reply::UssdExit { .. } => Some(UssdOutcome::Closed),
        Reply::UssdError { text, .. } => Some(UssdOutcome::Error { text }),
        Reply::Error(e) => Some(UssdOutcome::Error {
            text: error_text(&e),
        }),
        _ => None,
    });
    let outcome = match answered.await {
        Ok(outcome) => outcome.unwrap_or(UssdOutcome::Timeout),
        Err(e) => return e.into(),
    };
    ctx.done(sendid).await;
    tracing::info!(
        goip_id = ctx.goip_id(),
        sendid,
        result = outcome_name(&outcome),
        "USSD session ended"
    );
    outcome
}

/// Sends `command` and waits `ussd_timeout` for a reply that `answer` takes
/// (`None`: not an answer to it, keep waiting); after each silent wait the
/// same datagram (same sendid, which the GoIP's cache makes idempotent) goes
/// out again, at most `resends` times. Once the engine is stopping, the
/// current wait is cut to `shutdown_grace` and nothing more is sent. `Err`:
/// the first send failed, nothing went out; `Ok(None)`: no answer after the
/// last wait.
async fn send_and_await(
    ctx: &mut JobContext,
    exchange: &mut Exchange,
    command: &Command,
    resends: u32,
    mut answer: impl FnMut(&JobContext, Reply) -> Option<UssdOutcome>,
) -> Result<Option<UssdOutcome>, CommandError> {
    let (timeout, grace) = (ctx.config().ussd_timeout, ctx.config().shutdown_grace);
    let sendid = command.sendid();
    let mut stopping = false;
    for attempt in 0..=resends {
        if stopping {
            break;
        }
        match ctx.send(command).await {
            Err(e) if attempt == 0 => return Err(e),
            Ok(()) if attempt == 0 => {
                tracing::info!(goip_id = ctx.goip_id(), sendid, "{} sent", command.verb())
            }
            Ok(()) => tracing::info!(
                goip_id = ctx.goip_id(),
                sendid,
                "no USSD answer yet: resent once (same sendid)"
            ),
            Err(e) => {
                tracing::debug!(goip_id = ctx.goip_id(), sendid, error = ?e, "USSD resend not sent")
            }
        }
        let mut deadline = Instant::now() + timeout;
        loop {
            let stop = if stopping {
                None
            } else {
                Some(ctx.stop_signal())
            };
            match exchange.next(deadline, stop).await {
                Waited::Reply(reply) => {
                    if let Some(answered) = answer(ctx, reply) {
                        return Ok(Some(answered));
                    }
                }
                Waited::TimedOut => break,
                Waited::Stopping => {
                    stopping = true;
                    deadline = deadline.min(Instant::now() + grace);
                }
            }
        }
    }
    Ok(None)
}

/// The GoIP's text of an `ERROR <sendid> …` reply.
fn error_text(e: &ErrorReply) -> String {
    match e {
        ErrorReply::Password { .. } => "PASSWORD".to_owned(),
        ErrorReply::Recipient {
            telid, errorstatus, ..
        } => format!("{telid} errorstatus:{errorstatus}"),
        ErrorReply::Rejected { text, .. } => text.clone(),
    }
}

/// The outcome a reply to the request `sendid` gives, if it answers it.
fn answer(ctx: &JobContext, sendid: u32, reply: Reply) -> Option<UssdOutcome> {
    match reply {
        Reply::Ussd { text, .. } => {
            let clean = ussd_reply_text(&text).to_owned();
            Some(if ussd_reply_failed(&text) {
                UssdOutcome::Error { text: clean }
            } else {
                UssdOutcome::Reply { text: clean }
            })
        }
        Reply::UssdError { text, .. } => Some(UssdOutcome::Error { text }),
        Reply::UssdExit { .. } => Some(UssdOutcome::Closed),
        Reply::Error(e) => Some(UssdOutcome::Error {
            text: error_text(&e),
        }),
        other => {
            tracing::debug!(
                goip_id = ctx.goip_id(),
                sendid,
                verb = other.verb(),
                "reply ignored while waiting for a USSD answer"
            );
            None
        }
    }
}

fn outcome_name(outcome: &UssdOutcome) -> &'static str {
    match outcome {
        UssdOutcome::Reply { .. } => "reply",
        UssdOutcome::Error { .. } => "error",
        UssdOutcome::Closed => "closed",
        UssdOutcome::Timeout => "timeout",
        UssdOutcome::ChannelOffline => "channel offline",
        UssdOutcome::UnknownChannel => "unknown channel",
        UssdOutcome::Invalid(_) => "invalid",
        UssdOutcome::Stopping => "stopping",
    }
}
