//! Sending an SMS the vendor way: the MSG / PASSWORD / SEND / DONE session
//! (docs/goip-protocol.md#sms-session), built so that it never sends an SMS
//! twice.
//!
//! ```text
//! MSG <sendid> <len> <text>     → PASSWORD <sendid>  | ERROR <sendid> <busy text>
//! PASSWORD <sendid> <password>  → SEND <sendid>      | ERROR <sendid> PASSWORD
//! (before_send hook)
//! SEND <sendid> <telid> <num>   → WAIT … then OK <sendid> <telid> [sms_no]
//!                                             | ERROR <sendid> <telid> errorstatus:<n>
//! … one recipient after the other …
//! DONE <sendid>
//! ```
//!
//! What is retried and what is not follows from what each datagram does on
//! the GoIP:
//! * MSG and PASSWORD only open and authenticate a session — they never send
//!   an SMS — so they are resent every `command_retry_interval`, at most
//!   `command_retries` times. A rejected MSG ("too many sends") is retried
//!   after each `busy_backoff` pause with a new sendid.
//! * SEND is what makes the GoIP transmit, and some firmware transmits again
//!   for every SEND it gets, even with a telid it already knows (field
//!   reports in docs/goip-protocol.md#send-is-sent-once). So each telid's
//!   SEND goes out once.
//!   The single exception: after `send_poll_after` without OK or ERROR
//!   (with or without a WAIT), the identical SEND is sent once more as the
//!   status poll the vendor document prescribes (a known telid returns its
//!   status). After that, nothing: at `sms_timeout` the recipient ends
//!   Unknown, and the rest of the session is abandoned, never retried.
//! * The next recipient gets its SEND only after the previous one's OK or
//!   ERROR — one that names its telid. An `ERROR <sendid> <text>` without a
//!   telid rejects a MSG (docs/goip-protocol.md#replies); after a MSG was
//!   resent, the GoIP may send it late, about the duplicate, while the SEND
//!   is already out. It decides nothing.

use std::time::Instant;

use super::context::JobContext;
use super::pending::{Exchange, Finished, Waited};
use super::request::{
    CommandError, MessageRef, NotSent, RecipientOutcome, RecipientReport, SmsOutcome, SmsRequest,
};
use super::sms::{conclude, run_before_send, skip_reason};
use crate::goip::{Command, ErrorReply, Reply};

/// Runs one SMS job in session mode.
pub(crate) async fn run(ctx: &mut JobContext, request: SmsRequest) -> SmsOutcome {
    let (message_ref, before_send) = (request.message_ref, request.before_send);
    let mut session = match open_session(ctx, &request.text).await {
        Ok(session) => session,
        Err(why) => {
            tracing::info!(goip_id = ctx.goip_id(), message_ref, %why, "SMS not sent");
            return SmsOutcome::NotSent(why);
        }
    };
    let sendid = session.sendid();
    if ctx.is_stopping() {
        ctx.done(sendid).await;
        return SmsOutcome::NotSent(NotSent::Stopping);
    }
    if let Err(why) = run_before_send(before_send, sendid, ctx.config().before_send_timeout).await {
        tracing::info!(goip_id = ctx.goip_id(), sendid, message_ref, %why, "SMS not sent");
        ctx.done(sendid).await;
        return SmsOutcome::NotSent(why);
    }

    let mut reports = Vec::with_capacity(request.recipients.len());
    let mut unknown = Vec::new();
    let mut ended: Option<NotSent> = None;
    for (index, number) in request.recipients.into_iter().enumerate() {
        let telid = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some(why) = skip_reason(ctx, index, &mut ended) {
            reports.push(RecipientReport::not_sent(number, why));
            continue;
        }
        let outcome = send_one(ctx, &mut session, telid, &number, message_ref).await;
        let telid = match &outcome {
            RecipientOutcome::NotSent(why) => {
                ended = Some(why.clone());
                None
            }
            RecipientOutcome::Unknown { .. } => {
                unknown.push((telid, number.clone()));
                ended = Some(NotSent::Abandoned);
                Some(telid)
            }
            _ => Some(telid),
        };
        reports.push(RecipientReport {
            number,
            telid,
            outcome,
        });
    }
    ctx.done(sendid).await;
    if !unknown.is_empty() {
        // A result that still comes is reported as a LateSmsResult event.
        ctx.remember_finished(
            sendid,
            Finished::Sms {
                goip_id: ctx.goip_id().to_owned(),
                message_ref,
                unknown,
            },
        );
    }
    drop(session);
    conclude(reports)
}

/// What MSG and PASSWORD ended with.
enum Handshake {
    Authenticated,
    Busy(String),
    Failed(NotSent),
}

/// MSG and PASSWORD, with retries, and new sendids after "too many sends".
async fn open_session(ctx: &mut JobContext, text: &str) -> Result<Exchange, NotSent> {
    let mut backoff = ctx.config().busy_backoff.clone().into_iter();
    loop {
        let mut session = ctx.open_exchange();
        match handshake(ctx, &mut session, text).await {
            Handshake::Authenticated => return Ok(session),
            Handshake::Failed(why) => return Err(why),
            Handshake::Busy(busy) => {
                drop(session);
                let Some(pause) = backoff.next() else {
                    return Err(NotSent::Busy { text: busy });
                };
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    reason = busy,
                    pause_ms = pause.as_millis() as u64,
                    "GoIP rejected MSG; retrying after a pause"
                );
                let stop = ctx.stop_signal();
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => return Err(NotSent::Stopping),
                }
            }
        }
    }
}

async fn handshake(ctx: &mut JobContext, session: &mut Exchange, text: &str) -> Handshake {
    let sendid = session.sendid();
    let msg = Command::Msg {
        sendid,
        text: text.to_owned(),
    };
    let answer = request(ctx, session, &msg, |reply| match reply {
        Reply::Password { .. } => Some(Ok(())),
        Reply::Error(ErrorReply::Rejected { text, .. }) => Some(Err(text)),
        _ => None,
    })
    .await;
    match answer {
        Ok(Ok(())) => {}
        Ok(Err(busy)) => return Handshake::Busy(busy),
        Err(why) => return fail_after_msg(ctx, sendid, why).await,
    }
    let password = Command::Password {
        sendid,
        password: ctx.password(),
    };
    let answer = request(ctx, session, &password, |reply| match reply {
        Reply::Send { .. } => Some(true),
        Reply::Error(ErrorReply::Password { .. }) => Some(false),
        _ => None,
    })
    .await;
    match answer {
        Ok(true) => Handshake::Authenticated,
        Ok(false) => {
            tracing::warn!(
                goip_id = ctx.goip_id(),
                sendid,
                "the GoIP refused the channel password (check the gateway's password)"
            );
            fail_after_msg(ctx, sendid, NotSent::PasswordRefused).await
        }
        Err(why) => fail_after_msg(ctx, sendid, why).await,
    }
}

/// Ends a session that may exist on the GoIP: DONE releases it.
async fn fail_after_msg(ctx: &JobContext, sendid: u32, why: NotSent) -> Handshake {
    ctx.done(sendid).await;
    Handshake::Failed(why)
}

/// Sends `command` (which must not be SEND) and waits for a reply `pick`
/// accepts, resending on silence.
async fn request<T>(
    ctx: &mut JobContext,
    session: &mut Exchange,
    command: &Command,
    mut pick: impl FnMut(Reply) -> Option<T>,
) -> Result<T, NotSent> {
    debug_assert!(!matches!(command, Command::Send { .. }));
    let interval = ctx.config().command_retry_interval;
    for attempt in 0..=ctx.config().command_retries {
        ctx.send(command).await?;
        if attempt > 0 {
            tracing::debug!(
                goip_id = ctx.goip_id(),
                sendid = session.sendid(),
                verb = command.verb(),
                attempt,
                "resent after silence"
            );
        }
        let deadline = Instant::now() + interval;
        loop {
            match session.next(deadline, Some(ctx.stop_signal())).await {
                Waited::Reply(reply) => {
                    let verb = reply.verb().to_owned();
                    match pick(reply) {
                        Some(answer) => return Ok(answer),
                        None => tracing::debug!(
                            goip_id = ctx.goip_id(),
                            sendid = session.sendid(),
                            verb,
                            "reply ignored while waiting for the answer to {}",
                            command.verb()
                        ),
                    }
                }
                Waited::TimedOut => break,
                Waited::Stopping => return Err(NotSent::Stopping),
            }
        }
    }
    Err(NotSent::NoAnswer)
}

/// One recipient: one SEND, at most one status poll, then its result or
/// Unknown.
async fn send_one(
    ctx: &mut JobContext,
    session: &mut Exchange,
    telid: u32,
    number: &str,
    message_ref: MessageRef,
) -> RecipientOutcome {
    let sendid = session.sendid();
    let send = Command::Send {
        sendid,
        telid,
        number: number.to_owned(),
    };
    if let Err(e) = ctx.send(&send).await {
        return RecipientOutcome::NotSent(e.into());
    }
    tracing::info!(goip_id = ctx.goip_id(), sendid, telid, message_ref, "SEND");
    let (poll_after, sms_timeout, grace) = {
        let config = ctx.config();
        (
            config.send_poll_after,
            config.sms_timeout,
            config.shutdown_grace,
        )
    };
    let sent_at = Instant::now();
    let poll_at = sent_at + poll_after;
    let mut deadline = sent_at + sms_timeout;
    let mut polled = false;
    let mut stopping = false;
    loop {
        let wake = if !polled && poll_at < deadline {
            poll_at
        } else {
            deadline
        };
        let stop = if stopping {
            None
        } else {
            Some(ctx.stop_signal())
        };
        match session.next(wake, stop).await {
            Waited::Reply(Reply::Wait { telid: t, .. }) if t == telid => {
                tracing::debug!(goip_id = ctx.goip_id(), sendid, telid, "WAIT");
            }
            Waited::Reply(Reply::Ok {
                telid: t, sms_no, ..
            }) if t == telid => {
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    sms_no,
                    message_ref,
                    "SMS sent"
                );
                if let Some(sms_no) = sms_no {
                    ctx.record_sent(sms_no, number, message_ref);
                }
                return RecipientOutcome::Sent { sms_no };
            }
            Waited::Reply(Reply::Error(ErrorReply::Recipient {
                telid: t,
                errorstatus,
                ..
            })) if t == telid => {
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    errorstatus,
                    message_ref,
                    "SMS failed"
                );
                return RecipientOutcome::Failed {
                    reason: format!("the GoIP reports errorstatus {errorstatus}"),
                    errorstatus: Some(errorstatus),
                };
            }
            // `ERROR <sendid> <telid> <text>`: firmware that reports a
            // failed recipient without `errorstatus:`.
            Waited::Reply(Reply::Error(ErrorReply::Rejected { text, .. }))
                if names_telid(&text, telid) =>
            {
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    message_ref,
                    reason = text,
                    "SMS failed"
                );
                return RecipientOutcome::Failed {
                    reason: format!("the GoIP reports an error: {text}"),
                    errorstatus: None,
                };
            }
            // `ERROR <sendid> <text>` without a telid says nothing about this
            // recipient: by the protocol it rejects a MSG ("ERROR by position",
            // docs/goip-protocol.md#replies) — the late answer to a MSG that
            // was resent after silence, busy because its first copy opened
            // this very session.
            // Taking it as this recipient's failure would tell the user "not
            // sent" about an SMS the GoIP is sending, and a resend would
            // reach the recipient twice.
            Waited::Reply(Reply::Error(ErrorReply::Rejected { text, .. })) => {
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    reason = text,
                    "an ERROR without a telid after SEND (the answer to a resent MSG?): ignored, still waiting for the result"
                );
            }
            Waited::Reply(other) => {
                tracing::debug!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    verb = other.verb(),
                    "reply ignored while waiting for a SEND result"
                );
            }
            Waited::TimedOut if wake == deadline => {
                tracing::warn!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    telid,
                    message_ref,
                    "no result for SEND before the deadline: unknown whether the SMS was sent; it will not be sent again"
                );
                return RecipientOutcome::Unknown {
                    reason: if stopping {
                        "goippy stopped before the GoIP reported a result".to_owned()
                    } else {
                        format!("no result from the GoIP within {sms_timeout:?}")
                    },
                };
            }
            Waited::TimedOut => {
                polled = true;
                match ctx.send(&send).await {
                    Ok(()) => tracing::info!(
                        goip_id = ctx.goip_id(),
                        sendid,
                        telid,
                        "no result yet: status poll (the same SEND, once)"
                    ),
                    Err(CommandError::Offline) => tracing::info!(
                        goip_id = ctx.goip_id(),
                        sendid,
                        telid,
                        "no result yet and the channel is offline: no status poll"
                    ),
                    Err(e) => {
                        tracing::debug!(goip_id = ctx.goip_id(), sendid, telid, error = ?e, "status poll not sent")
                    }
                }
            }
            Waited::Stopping => {
                stopping = true;
                deadline = deadline.min(Instant::now() + grace);
            }
        }
    }
}

/// True if an ERROR's text (what follows its sendid) starts with `telid`.
fn names_telid(text: &str, telid: u32) -> bool {
    text.split_ascii_whitespace()
        .next()
        .and_then(|first| first.parse::<u32>().ok())
        == Some(telid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_names_a_recipient_only_by_its_telid() {
        assert!(super::names_telid("2 out of credit", 2));
        assert!(!super::names_telid("2 out of credit", 1));
        assert!(!super::names_telid("too_many_sends_in_server", 1));
        assert!(!super::names_telid("", 1));
    }
}
