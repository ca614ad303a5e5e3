//! One command and its answer, sent again on silence: the exchange USSD
//! requests and control commands share.
//!
//! Only for commands whose repeat is harmless: a USSD request sent again with
//! the same sendid is answered from the GoIP's cache, and control commands
//! send nothing to the GSM network. An SMS SEND is not one of them, which is
//! why `sms_session.rs` waits for its answers by itself (each telid's SEND
//! goes out once, plus at most one status poll).

use std::time::{Duration, Instant};

use super::context::JobContext;
use super::pending::{Exchange, Waited};
use super::request::CommandError;
use crate::goip::{Command, ErrorReply, Reply};

/// How [`send_and_await`] ended.
pub(crate) enum Exchanged<T> {
    /// A reply that `answer` took.
    Answered(T),
    /// The first send failed: nothing went out.
    NotSent(CommandError),
    /// No answer after the last wait (or within the shutdown grace).
    Unanswered,
}

/// Sends `command` and waits `timeout` for a reply that `answer` takes
/// (`None`: not an answer to it, keep waiting); after each silent `timeout`
/// the same datagram goes out again, at most `resends` times. Once the
/// engine is stopping, the current wait is cut to `shutdown_grace` and
/// nothing more is sent. `sent` hears of every send (the attempt, 0 first)
/// except a first one that failed, which ends the exchange as `NotSent`.
pub(crate) async fn send_and_await<T>(
    ctx: &mut JobContext,
    exchange: &mut Exchange,
    command: &Command,
    timeout: Duration,
    resends: u32,
    mut sent: impl FnMut(&JobContext, u32, Result<(), CommandError>),
    mut answer: impl FnMut(&JobContext, Reply) -> Option<T>,
) -> Exchanged<T> {
    let grace = ctx.config().shutdown_grace;
    let mut stopping = false;
    for attempt in 0..=resends {
        if stopping {
            break;
        }
        match ctx.send(command).await {
            Err(e) if attempt == 0 => return Exchanged::NotSent(e),
            result => sent(ctx, attempt, result),
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
                        return Exchanged::Answered(answered);
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
    Exchanged::Unanswered
}

/// The GoIP's text of an `ERROR <sendid> …` reply.
pub(crate) fn error_text(e: &ErrorReply) -> String {
    match e {
        ErrorReply::Password { .. } => "PASSWORD".to_owned(),
        ErrorReply::Recipient {
            telid, errorstatus, ..
        } => format!("{telid} errorstatus:{errorstatus}"),
        ErrorReply::Rejected { text, .. } => text.clone(),
    }
}
