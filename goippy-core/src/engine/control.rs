//! Status and control commands (protocol notes §3.4): `get_gsm_num`,
//! `set_exp_time`, `svr_reboot_module`, the combined `GSM` query, call
//! forwarding (`CF`), …
//!
//! They share one exchange: the command goes out, the reply is routed back
//! by its sendid, and silence is answered by sending the same command again
//! after `control_timeout`, at most `control_retries` times (the vendor
//! document's 5 s and 2 resends). None of them sends anything to the GSM
//! network that a repeat could duplicate. `DONE <sendid>` follows, as the
//! vendor UI sends it (and as CF requires).

use super::context::JobContext;
use super::request::{ControlOutcome, ControlRequest};
use super::resend::{Exchanged, error_text, send_and_await};
use crate::goip::Reply;

/// What a reply means for the request it answers.
impl ControlRequest {
    /// The outcome for a reply to this request, if it is one.
    fn answer(&self, reply: Reply) -> Option<ControlOutcome> {
        let outcome = match (self, reply) {
            (_, Reply::Error(e)) => ControlOutcome::Error {
                text: error_text(&e),
            },
            (
                ControlRequest::Command { kind, .. },
                Reply::Control {
                    kind: replied,
                    value,
                    ok,
                    ..
                },
            ) if replied == *kind => ControlOutcome::Answered { value, ok },
            (ControlRequest::Gsm, Reply::Gsm(status)) => ControlOutcome::Gsm(status),
            (ControlRequest::Gsm, Reply::GsmError { text, .. }) => ControlOutcome::Error { text },
            (ControlRequest::CallForwarding { .. }, Reply::CfOk { .. }) => ControlOutcome::CfOk,
            (ControlRequest::CallForwarding { .. }, Reply::CfState { active, number, .. }) => {
                ControlOutcome::CfState { active, number }
            }
            (ControlRequest::CallForwarding { .. }, Reply::CfError { text, .. }) => {
                ControlOutcome::Error { text }
            }
            _ => return None,
        };
        Some(outcome)
    }

    fn verb(&self) -> &'static str {
        match self {
            ControlRequest::Command { kind, .. } => kind.verb(),
            ControlRequest::Gsm => "GSM",
            ControlRequest::CallForwarding { .. } => "CF",
        }
    }
}

/// Runs one control command.
pub(crate) async fn run(ctx: &mut JobContext, request: &ControlRequest) -> ControlOutcome {
    if ctx.is_stopping() {
        return ControlOutcome::Stopping;
    }
    let mut exchange = ctx.open_exchange();
    let sendid = exchange.sendid();
    let command = request.command(sendid, ctx.password());
    let verb = request.verb();
    let (timeout, retries) = (ctx.config().control_timeout, ctx.config().control_retries);
    let exchanged = send_and_await(
        ctx,
        &mut exchange,
        &command,
        timeout,
        retries,
        |ctx, attempt, result| match result {
            Ok(()) => tracing::debug!(
                goip_id = ctx.goip_id(),
                sendid,
                verb,
                attempt,
                "control command sent"
            ),
            Err(e) => {
                tracing::debug!(goip_id = ctx.goip_id(), sendid, verb, error = ?e, "resend not sent")
            }
        },
        |ctx, reply| {
            let replied = reply.verb().to_owned();
            let answer = request.answer(reply);
            if answer.is_none() {
                tracing::debug!(
                    goip_id = ctx.goip_id(),
                    sendid,
                    verb,
                    replied,
                    "reply ignored: not an answer to this command"
                );
            }
            answer
        },
    )
    .await;
    let outcome = match exchanged {
        Exchanged::Answered(outcome) => outcome,
        Exchanged::Unanswered => ControlOutcome::Timeout,
        Exchanged::NotSent(e) => return e.into(),
    };
    ctx.done(sendid).await;
    tracing::info!(
        goip_id = ctx.goip_id(),
        sendid,
        verb,
        timeout = matches!(outcome, ControlOutcome::Timeout),
        "control command finished"
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goip::{CfMode, CfReason, ControlKind, ErrorReply};

    #[test]
    fn replies_are_matched_to_their_request() {
        let get = ControlRequest::get(ControlKind::GetGsmNum);
        let reply = |kind| Reply::Control {
            kind,
            sendid: 1,
            value: Some("123".into()),
            ok: false,
        };
        assert_eq!(
            get.answer(reply(ControlKind::GetGsmNum)),
            Some(ControlOutcome::Answered {
                value: Some("123".into()),
                ok: false
            })
        );
        assert_eq!(get.answer(reply(ControlKind::GetImei)), None);
        assert_eq!(get.answer(Reply::Done { sendid: 1 }), None);
        assert_eq!(
            get.answer(Reply::Error(ErrorReply::Rejected {
                sendid: 1,
                text: "no".into()
            })),
            Some(ControlOutcome::Error { text: "no".into() })
        );
        assert_eq!(
            ControlRequest::Gsm.answer(Reply::GsmError {
                sendid: 1,
                text: "x".into()
            }),
            Some(ControlOutcome::Error { text: "x".into() })
        );
        let cf = ControlRequest::CallForwarding {
            reason: CfReason::Busy,
            mode: CfMode::Query,
            number: None,
            ftime: None,
        };
        assert_eq!(
            cf.answer(Reply::CfState {
                sendid: 1,
                active: true,
                number: "+1".into()
            }),
            Some(ControlOutcome::CfState {
                active: true,
                number: "+1".into()
            })
        );
    }

    #[test]
    fn validation_uses_the_wire_rules() {
        assert!(
            ControlRequest::get(ControlKind::GetGsmNum)
                .validate()
                .is_ok()
        );
        assert!(
            ControlRequest::get(ControlKind::SetGsmNum)
                .validate()
                .is_err()
        );
        assert!(
            ControlRequest::set(ControlKind::SetGsmNum, "1 2")
                .validate()
                .is_err()
        );
        assert!(
            ControlRequest::set(ControlKind::ModuleCtlI, "0")
                .validate()
                .is_ok()
        );
    }
}
