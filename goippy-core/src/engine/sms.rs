//! What the two ways of sending an SMS share ([`super::sms_session`], the
//! vendor session, and [`super::sms_oneshot`], the legacy datagram): the
//! `before_send` hook, which recipients are skipped, and how the job's
//! outcome follows from its recipients' reports.

use super::context::JobContext;
use super::request::{BeforeSend, NotSent, RecipientOutcome, RecipientReport, SmsOutcome};

/// Awaits the `before_send` hook, bounded by `limit`.
pub(crate) async fn run_before_send(
    hook: Option<BeforeSend>,
    sendid: u32,
    limit: std::time::Duration,
) -> Result<(), NotSent> {
    let Some(hook) = hook else {
        return Ok(());
    };
    match tokio::time::timeout(limit, hook(sendid)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => Err(NotSent::Cancelled { reason }),
        Err(_) => Err(NotSent::Cancelled {
            reason: format!("before_send did not finish within {limit:?}"),
        }),
    }
}

/// Why the recipient at `index` is not to be sent, if it is not: once a
/// recipient has ended the job (`ended`), the rest are not sent for the same
/// reason; and once the engine is stopping, no recipient after the first
/// starts (past the hook the first SEND goes out even during shutdown, and
/// the grace covers its result).
pub(crate) fn skip_reason(
    ctx: &JobContext,
    index: usize,
    ended: &mut Option<NotSent>,
) -> Option<NotSent> {
    if ended.is_none() && index > 0 && ctx.is_stopping() {
        *ended = Some(NotSent::Stopping);
    }
    ended.clone()
}

/// The job's outcome from its recipients' reports: when not one recipient
/// got a SEND, the job as a whole was not sent.
pub(crate) fn conclude(reports: Vec<RecipientReport>) -> SmsOutcome {
    let first_reason = match reports.first() {
        Some(RecipientReport {
            outcome: RecipientOutcome::NotSent(reason),
            ..
        }) => reason.clone(),
        _ => return SmsOutcome::Attempted(reports),
    };
    if reports
        .iter()
        .all(|r| matches!(r.outcome, RecipientOutcome::NotSent(_)))
    {
        SmsOutcome::NotSent(first_reason)
    } else {
        SmsOutcome::Attempted(reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: RecipientOutcome) -> RecipientReport {
        RecipientReport {
            number: "+1".into(),
            telid: None,
            outcome,
        }
    }

    #[test]
    fn nothing_sent_to_anyone_is_not_sent() {
        let not_sent = || report(RecipientOutcome::NotSent(NotSent::ChannelOffline));
        assert_eq!(
            conclude(vec![not_sent(), not_sent()]),
            SmsOutcome::NotSent(NotSent::ChannelOffline)
        );
        let sent = report(RecipientOutcome::Sent { sms_no: None });
        let outcome = conclude(vec![sent.clone(), not_sent()]);
        assert_eq!(outcome.recipients().len(), 2);
        assert!(!matches!(outcome, SmsOutcome::NotSent(_)));
    }

    #[tokio::test]
    async fn the_hook_is_bounded() {
        let slow: BeforeSend = Box::new(|_| {
            Box::pin(async {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                Ok(())
            })
        });
        let limit = std::time::Duration::from_millis(10);
        assert!(matches!(
            run_before_send(Some(slow), 7, limit).await,
            Err(NotSent::Cancelled { .. })
        ));
        let failing: BeforeSend = Box::new(|_| Box::pin(async { Err("db down".to_owned()) }));
        assert_eq!(
            run_before_send(Some(failing), 7, limit).await,
            Err(NotSent::Cancelled {
                reason: "db down".into()
            })
        );
        assert_eq!(run_before_send(None, 7, limit).await, Ok(()));
    }
}
