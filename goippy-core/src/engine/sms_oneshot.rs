//! Sending an SMS the legacy way: one `SMS <stamp> 1 <password> <number>
//! <text>` datagram per recipient, sent once and never answered.
//!
//! This is what the old goippy sent. No vendor source documents it
//! (docs/goip-protocol.md#oneshot-sms), so it is only for firmware known to
//! accept it. The GoIP gives no answer, hence no `sms_no`: delivery reports
//! cannot be matched to messages in this mode, and "Sent" only means the
//! datagram left.
//!
//! COMPAT: serves setups that ran the original goippy's one-shot sending
//! (`GOIP_SMS_MODE = "oneshot"`); it can go once none is left.

use super::context::JobContext;
use super::request::{NotSent, RecipientOutcome, RecipientReport, SmsOutcome, SmsRequest};
use super::sms::{conclude, run_before_send, skip_reason};
use crate::goip::Command;

/// Runs one SMS job in one-shot mode.
pub(crate) async fn run(ctx: &mut JobContext, request: SmsRequest) -> SmsOutcome {
    let (message_ref, before_send) = (request.message_ref, request.before_send);
    if ctx.is_stopping() {
        return SmsOutcome::NotSent(NotSent::Stopping);
    }
    // The first datagram's stamp is chosen before the hook, so the hook can
    // record the exact id that goes on the wire.
    let mut first_stamp = Some(ctx.random_stamp());
    let hook_stamp = first_stamp.unwrap_or_default();
    if let Err(why) =
        run_before_send(before_send, hook_stamp, ctx.config().before_send_timeout).await
    {
        return SmsOutcome::NotSent(why);
    }
    let mut reports = Vec::with_capacity(request.recipients.len());
    let mut ended: Option<NotSent> = None;
    for (index, number) in request.recipients.into_iter().enumerate() {
        if let Some(why) = skip_reason(ctx, index, &mut ended) {
            reports.push(RecipientReport::not_sent(number, why));
            continue;
        }
        let stamp = first_stamp.take().unwrap_or_else(|| ctx.random_stamp());
        let command = Command::OneshotSms {
            stamp,
            line: 1,
            password: ctx.password(),
            number: number.clone(),
            text: request.text.clone(),
        };
        let outcome = match ctx.send(&command).await {
            Ok(()) => {
                tracing::info!(
                    goip_id = ctx.goip_id(),
                    stamp,
                    message_ref,
                    "one-shot SMS datagram sent"
                );
                RecipientOutcome::Sent { sms_no: None }
            }
            Err(e) => {
                let why = NotSent::from(e);
                ended = Some(why.clone());
                RecipientOutcome::NotSent(why)
            }
        };
        reports.push(RecipientReport {
            number,
            telid: None,
            outcome,
        });
    }
    conclude(reports)
}
