//! One outbound SMS job: from its `queued` outbox row through the engine to
//! its final state and the notice the user gets.
//!
//! The row becomes `sending` in the engine's `before_send` hook — after the
//! GoIP accepted the session, immediately before the one datagram that
//! makes it transmit — and the hook waits for that to be committed. So a
//! crash before that point leaves the job `queued` (nothing was sent: it is
//! sent on the next start), and a crash after it leaves it `sending`, which
//! the next start ends as unknown instead of sending it again.
//!
//! How each outcome ends the job ([`settle`]):
//!
//! | engine outcome | row | the user gets |
//! |---|---|---|
//! | Sent | `sent` | a receipt if XMPP_RECEIPTS = "sent" and one was requested; else nothing (the delivery report may give one) |
//! | Failed (errorstatus / ERROR) | `failed` | an error: "The SMS was not sent: the gateway reported …" |
//! | Unknown (no result in time) | `unknown` | an error: "… may or may not have been delivered …" |
//! | Unknown while goippy stops | `unknown` | an error: "goippy restarted while this SMS was being sent …" |
//! | NotSent: Stopping, before the hook | stays `queued` | nothing now; it is sent after the restart |
//! | NotSent: ChannelOffline | `failed` | an error: "… the GSM channel was offline for 5 min …" |
//! | NotSent: anything else (GoIP busy or silent, password refused, channel removed, invalid, socket error) | `failed` | an error: "The SMS was not sent: *why*. Nothing went out, so it is safe to send it again." |
//! | NotSent after the hook refused (the row was not `queued` any more) | untouched | nothing: whoever changed it owns it |
//!
//! With failover, a refusal of the line's (too many sends, the channel
//! offline, no network) moves the job to another of the sender's lines
//! instead (`failover.rs`).
//!
//! Only "Stopping" keeps a job queued: everything else that sent nothing is
//! a condition a retry would meet again minutes later, and a user who is
//! told can decide; a message that silently waits for hours is worse.

use std::sync::{Arc, Mutex};

use crate::config::ReceiptPolicy;
use crate::engine::{NotSent, RecipientOutcome, SmsOutcome, SmsRequest};
use crate::goip::cms_error_text;
use crate::store::{OutboxItem, StoreError};
use crate::util::lock;

use super::line_traffic::LineTraffic;
use super::notice::{self, Notice};
use super::outbox::{JobEnd, recorded};
use super::{Context, Policy};

/// What the `before_send` hook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    /// Not called: the session never reached its first SEND.
    NotRun,
    /// The row is `sending` (committed).
    Marked,
    /// The row was not `queued`: someone else has it.
    Refused,
    /// The database could not record it.
    Failed,
}

/// How a job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SmsSettlement {
    Sent {
        sms_no: Option<i64>,
        telid: Option<i64>,
        receipt: bool,
    },
    Failed {
        reason: String,
        errorstatus: Option<i64>,
        notice: Notice,
        text: String,
        code: Option<i64>,
    },
    Unknown {
        reason: String,
        notice: Notice,
        code: Option<i64>,
    },
    /// Nothing was sent and the job stays queued for the next start.
    StaysQueued,
    /// The row is someone else's.
    LeaveAlone,
}

/// Decides how a job ends. `receipt_due`: the user asked for a receipt and
/// their message had an id.
pub(crate) fn settle(
    outcome: &SmsOutcome,
    hook: Hook,
    stopping: bool,
    policy: &Policy,
    receipt_due: bool,
) -> SmsSettlement {
    let report = match outcome {
        SmsOutcome::NotSent(why) => return not_sent(why, hook, policy),
        SmsOutcome::Attempted(reports) => reports.first(),
    };
    let Some(report) = report else {
        return not_sent(&NotSent::Invalid("no recipients".into()), hook, policy);
    };
    let telid = report.telid.map(i64::from);
    match &report.outcome {
        RecipientOutcome::Sent { sms_no } => SmsSettlement::Sent {
            sms_no: sms_no.map(i64::from),
            telid,
            receipt: receipt_due && policy.receipts == ReceiptPolicy::Sent,
        },
        RecipientOutcome::Failed {
            reason,
            errorstatus,
        } => SmsSettlement::Failed {
            reason: reason.clone(),
            errorstatus: errorstatus.map(i64::from),
            notice: Notice::SmsFailed,
            text: failure_text(reason, *errorstatus),
            code: errorstatus.map(i64::from),
        },
        RecipientOutcome::Unknown { reason } if stopping => SmsSettlement::Unknown {
            reason: reason.clone(),
            notice: Notice::SmsInterrupted,
            code: None,
        },
        RecipientOutcome::Unknown { reason } => SmsSettlement::Unknown {
            reason: reason.clone(),
            notice: Notice::SmsUnknown,
            code: Some(seconds(policy.sms_timeout)),
        },
        RecipientOutcome::NotSent(why) => not_sent(why, hook, policy),
    }
}

fn not_sent(why: &NotSent, hook: Hook, policy: &Policy) -> SmsSettlement {
    match (why, hook) {
        (_, Hook::Refused) => SmsSettlement::LeaveAlone,
        (NotSent::Stopping, Hook::NotRun) => SmsSettlement::StaysQueued,
        (NotSent::ChannelOffline, _) => SmsSettlement::Failed {
            reason: why.to_string(),
            errorstatus: None,
            notice: Notice::SmsOffline,
            text: String::new(),
            code: Some(seconds(policy.offline_wait)),
        },
        _ => SmsSettlement::Failed {
            reason: why.to_string(),
            errorstatus: None,
            notice: Notice::SmsNotSent,
            text: not_sent_text(why),
            code: None,
        },
    }
}

fn seconds(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Why nothing was sent, as the user reads it after "The SMS was not sent: ".
pub(crate) fn not_sent_text(why: &NotSent) -> String {
    match why {
        NotSent::UnknownChannel => "your line's GoIP channel is not configured".into(),
        NotSent::Invalid(detail) => format!("the GoIP cannot take this message ({detail})"),
        NotSent::Stopping | NotSent::Cancelled { .. } => {
            "goippy was restarting or could not record the message".into()
        }
        NotSent::ChannelOffline => "the GSM channel is offline".into(),
        NotSent::NoAnswer => "the GoIP did not answer".into(),
        NotSent::Busy { .. } => "the GoIP was busy".into(),
        NotSent::PasswordRefused => {
            "the GoIP refused goippy's channel password (ask the administrator)".into()
        }
        NotSent::Abandoned => "an earlier part of the session failed".into(),
        NotSent::Network { .. } => "goippy could not reach the GoIP".into(),
    }
}

/// The GoIP's failure as the user reads it: `errorstatus 38 (network out of
/// order)`, or the GoIP's own error text.
pub(crate) fn failure_text(reason: &str, errorstatus: Option<i32>) -> String {
    match errorstatus {
        Some(code) => match cms_error_text(code) {
            Some(meaning) => format!("errorstatus {code} ({meaning})"),
            None => format!("errorstatus {code}"),
        },
        None => reason
            .strip_prefix("the GoIP reports an error: ")
            .unwrap_or(reason)
            .to_string(),
    }
}

/// Runs one queued SMS job to its end.
pub(crate) async fn run(ctx: &Arc<Context>, item: OutboxItem) -> JobEnd {
    let id = item.id;
    let Ok(message_ref) = u64::try_from(id.0) else {
        return JobEnd::Done;
    };
    let hook = Arc::new(Mutex::new(Hook::NotRun));
    let request = {
        let store = ctx.store.clone();
        let hook = hook.clone();
        SmsRequest::new(
            item.goip_id.clone(),
            vec![item.destination.clone()],
            item.body.clone(),
            message_ref,
        )
        .before_send(move |sendid| async move {
            let sendid = i64::from(sendid);
            let (state, result) = match store.mark_sending(id, sendid).await {
                Ok(()) => (Hook::Marked, Ok(())),
                Err(StoreError::Transition { from, .. }) => (
                    Hook::Refused,
                    Err(format!(
                        "the job is no longer queued (it is {})",
                        from.as_deref().unwrap_or("gone")
                    )),
                ),
                Err(e) => (
                    Hook::Failed,
                    Err(format!("cannot record that it is being sent: {e}")),
                ),
            };
            *lock(&hook) = state;
            result
        })
    };
    tracing::info!(
        log_id = id.0,
        goip_id = %item.goip_id,
        xmpp_id = item.xmpp_id.as_deref().unwrap_or(""),
        destination = %item.destination,
        "outbound sms handed to the engine"
    );
    let outcome = ctx.engine.send_sms(request).await;
    let hook = *lock(&hook);
    // Refused for a reason of the line: another of the sender's lines may
    // take it (`failover.rs`) — only a job this runner still owns.
    if matches!(hook, Hook::NotRun | Hook::Marked)
        && !ctx.is_stopping()
        && let Some(end) = super::failover::try_move(ctx, &item, &outcome).await
    {
        return end;
    }
    let receipt_due = item.receipt_requested && item.xmpp_id.is_some();
    let settled = settle(&outcome, hook, ctx.is_stopping(), &ctx.policy, receipt_due);
    apply(ctx, &item, settled).await
}

async fn apply(ctx: &Context, item: &OutboxItem, settled: SmsSettlement) -> JobEnd {
    let id = item.id;
    let xmpp_id = item.xmpp_id.as_deref().unwrap_or("");
    // Counted once the outcome is recorded (an outcome the store refused
    // is applied again, and would be counted twice).
    let counter: fn(&mut LineTraffic) -> &mut u64 = match &settled {
        SmsSettlement::Sent { .. } => |c| &mut c.sms_sent,
        SmsSettlement::Failed { .. } => |c| &mut c.sms_failed,
        _ => |c| &mut c.sms_unknown,
    };
    let result = match settled {
        SmsSettlement::Sent {
            sms_no,
            telid,
            receipt,
        } => {
            tracing::info!(
                log_id = id.0,
                goip_id = %item.goip_id,
                telid = telid.unwrap_or(-1),
                sms_no = sms_no.unwrap_or(-1),
                xmpp_id,
                "outbound sms sent"
            );
            let notice =
                receipt.then(|| notice::for_outbound(item, Notice::SmsSent, String::new(), None));
            ctx.store.mark_sent(id, sms_no, telid, notice).await
        }
        SmsSettlement::Failed {
            reason,
            errorstatus,
            notice,
            text,
            code,
        } => {
            tracing::info!(
                log_id = id.0,
                goip_id = %item.goip_id,
                errorstatus = errorstatus.unwrap_or(-1),
                xmpp_id,
                reason = %reason,
                "outbound sms failed"
            );
            let n = notice::for_outbound(item, notice, text, code);
            ctx.store
                .mark_failed(id, &reason, errorstatus, Some(n))
                .await
        }
        SmsSettlement::Unknown {
            reason,
            notice,
            code,
        } => {
            tracing::warn!(
                log_id = id.0,
                goip_id = %item.goip_id,
                xmpp_id,
                reason = %reason,
                "outbound sms outcome unknown (it will not be sent again)"
            );
            let n = notice::for_outbound(item, notice, String::new(), code);
            ctx.store.mark_unknown(id, &reason, Some(n)).await
        }
        SmsSettlement::StaysQueued => {
            tracing::info!(
                log_id = id.0,
                goip_id = %item.goip_id,
                xmpp_id,
                "outbound sms not sent (goippy is stopping): stays queued for the next start"
            );
            return JobEnd::StaysQueued;
        }
        SmsSettlement::LeaveAlone => {
            tracing::warn!(
                log_id = id.0,
                "outbound sms was taken out of the queue by someone else; left as it is"
            );
            return JobEnd::Done;
        }
    };
    let end = recorded(ctx, id, "an outbound sms", result);
    if end == JobEnd::Done {
        ctx.traffic.count(&item.goip_id, counter);
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RecipientReport;
    use std::time::Duration;

    fn policy(receipts: ReceiptPolicy) -> Policy {
        Policy {
            receipts,
            call_notices: false,
            fallback_dest: None,
            offline_wait: Duration::from_secs(300),
            offline_after: Duration::from_secs(60),
            started: std::time::Instant::now(),
            sms_timeout: Duration::from_secs(180),
            ussd_timeout: Duration::from_secs(30),
            admins: Vec::new(),
            command_timeout: Duration::from_secs(300),
        }
    }

    fn attempted(outcome: RecipientOutcome) -> SmsOutcome {
        SmsOutcome::Attempted(vec![RecipientReport {
            number: "+37255512345".into(),
            telid: Some(1),
            outcome,
        }])
    }

    #[test]
    fn sent_gives_a_receipt_only_when_configured_and_requested() {
        let sent = attempted(RecipientOutcome::Sent { sms_no: Some(7) });
        let p = policy(ReceiptPolicy::Sent);
        assert_eq!(
            settle(&sent, Hook::Marked, false, &p, true),
            SmsSettlement::Sent {
                sms_no: Some(7),
                telid: Some(1),
                receipt: true
            }
        );
        assert!(matches!(
            settle(&sent, Hook::Marked, false, &p, false),
            SmsSettlement::Sent { receipt: false, .. }
        ));
        assert!(matches!(
            settle(
                &sent,
                Hook::Marked,
                false,
                &policy(ReceiptPolicy::Delivered),
                true
            ),
            SmsSettlement::Sent { receipt: false, .. }
        ));
    }

    #[test]
    fn failures_and_unknowns() {
        let p = policy(ReceiptPolicy::Delivered);
        let failed = attempted(RecipientOutcome::Failed {
            reason: "the GoIP reports errorstatus 38".into(),
            errorstatus: Some(38),
        });
        match settle(&failed, Hook::Marked, false, &p, true) {
            SmsSettlement::Failed {
                notice,
                text,
                errorstatus,
                ..
            } => {
                assert_eq!(notice, Notice::SmsFailed);
                assert_eq!(text, "errorstatus 38 (network out of order)");
                assert_eq!(errorstatus, Some(38));
            }
            other => panic!("{other:?}"),
        }
        let unknown = attempted(RecipientOutcome::Unknown {
            reason: "no result".into(),
        });
        assert!(matches!(
            settle(&unknown, Hook::Marked, false, &p, true),
            SmsSettlement::Unknown {
                notice: Notice::SmsUnknown,
                code: Some(180),
                ..
            }
        ));
        assert!(matches!(
            settle(&unknown, Hook::Marked, true, &p, true),
            SmsSettlement::Unknown {
                notice: Notice::SmsInterrupted,
                ..
            }
        ));
    }

    #[test]
    fn only_stopping_before_the_hook_keeps_a_job_queued() {
        let p = policy(ReceiptPolicy::Delivered);
        let not_sent = |why: NotSent| SmsOutcome::NotSent(why);
        assert_eq!(
            settle(&not_sent(NotSent::Stopping), Hook::NotRun, true, &p, false),
            SmsSettlement::StaysQueued
        );
        // The hook refused: the row is someone else's, whatever the reason.
        assert_eq!(
            settle(
                &not_sent(NotSent::Cancelled { reason: "x".into() }),
                Hook::Refused,
                false,
                &p,
                false
            ),
            SmsSettlement::LeaveAlone
        );
        assert!(matches!(
            settle(
                &not_sent(NotSent::ChannelOffline),
                Hook::NotRun,
                false,
                &p,
                false
            ),
            SmsSettlement::Failed {
                notice: Notice::SmsOffline,
                code: Some(300),
                ..
            }
        ));
        // After the hook (the row is `sending`), nothing was sent either:
        // it fails explicitly rather than becoming unknown.
        assert!(matches!(
            settle(
                &not_sent(NotSent::ChannelOffline),
                Hook::Marked,
                false,
                &p,
                false
            ),
            SmsSettlement::Failed {
                notice: Notice::SmsOffline,
                ..
            }
        ));
        for why in [
            NotSent::UnknownChannel,
            NotSent::Invalid("too long".into()),
            NotSent::NoAnswer,
            NotSent::Busy { text: "x".into() },
            NotSent::PasswordRefused,
            NotSent::Cancelled {
                reason: "db".into(),
            },
            NotSent::Abandoned,
            NotSent::Network { error: "e".into() },
        ] {
            match settle(&not_sent(why.clone()), Hook::Failed, false, &p, false) {
                SmsSettlement::Failed { notice, text, .. } => {
                    assert_eq!(notice, Notice::SmsNotSent, "{why:?}");
                    assert!(!text.is_empty());
                }
                other => panic!("{why:?}: {other:?}"),
            }
        }
        // Stopping after the hook cannot stay queued (the row is `sending`).
        assert!(matches!(
            settle(&not_sent(NotSent::Stopping), Hook::Marked, true, &p, false),
            SmsSettlement::Failed { .. }
        ));
    }

    #[test]
    fn failure_texts_read_well() {
        assert_eq!(
            failure_text("x", Some(500)),
            "errorstatus 500 (unknown error)"
        );
        assert_eq!(failure_text("x", Some(4242)), "errorstatus 4242");
        assert_eq!(
            failure_text("the GoIP reports an error: SIM not ready", None),
            "SIM not ready"
        );
        assert_eq!(not_sent_text(&NotSent::NoAnswer), "the GoIP did not answer");
    }
}
