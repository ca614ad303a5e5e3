//! Failover when the GoIP refuses an SMS for a reason of its line.
//!
//! A refusal that says nothing about the destination — the GoIP is busy
//! ("too many sends"), the GSM channel stayed offline, the network is not
//! there (`errorstatus` 331 "no network service", 38 "network out of
//! order") — would meet the message on any other line as well only if that
//! line had the same trouble. So when the sender allows failover
//! (`goippy --failover`, the console's `failover on`) and has another line
//! that is online, under its daily limit and allowed to send to the number,
//! the job is moved there instead of failing: one outbox row whose line
//! changes from `queued`/`sending` back to `queued` in one committed
//! transition (with the notice that tells the user), while no runner has it
//! in flight — its own runner has just been given the refusal, and the new
//! line's runner can take it only once the move is committed. The lines a
//! job was on are kept with it (the row's detail), so it never comes back
//! to one of them; when none is left it fails as it would have.

use std::sync::Arc;

use crate::engine::{NotSent, RecipientOutcome, SmsOutcome};
use crate::store::{OutboxItem, Timestamp};

use super::Context;
use super::line_pool::{line_name, next_line};
use super::notice;
use super::outbox::JobEnd;

/// How a moved job's detail starts; the goip_ids tried follow, by commas.
const TRIED: &str = "failover from ";

/// The `errorstatus` codes that are the line's (its network), not the
/// destination's.
const LINE_CODES: [i32; 2] = [331, 38];

/// Why the line could not send it, if the reason is the line's.
pub(crate) fn line_refusal(outcome: &SmsOutcome) -> Option<String> {
    let not_sent = |why: &NotSent| match why {
        NotSent::Busy { text } => Some(format!("the GoIP refused it ({text})")),
        NotSent::ChannelOffline => Some("it is offline".to_string()),
        _ => None,
    };
    match outcome {
        SmsOutcome::NotSent(why) => not_sent(why),
        SmsOutcome::Attempted(reports) => match &reports.first()?.outcome {
            RecipientOutcome::NotSent(why) => not_sent(why),
            RecipientOutcome::Failed {
                errorstatus: Some(code),
                ..
            } if LINE_CODES.contains(code) => Some(format!(
                "the network refused it (errorstatus {code}, {})",
                crate::goip::cms_error_text(*code).unwrap_or("no network")
            )),
            _ => None,
        },
    }
}

/// Moves `item` to another of its sender's lines when `outcome` is a
/// refusal of the line's and failover allows it; `None` when it stays
/// where it is (and ends as it would have).
pub(crate) async fn try_move(
    ctx: &Arc<Context>,
    item: &OutboxItem,
    outcome: &SmsOutcome,
) -> Option<JobEnd> {
    let why = line_refusal(outcome)?;
    let lines = ctx.directory.lines_of(&item.ext);
    if lines.len() < 2 {
        return None;
    }
    match ctx.store.failover(&item.ext).await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            tracing::warn!(
                log_id = item.id.0,
                "cannot read whether failover is on: {e}"
            );
            return None;
        }
    }
    let mut tried: Vec<String> = item
        .detail
        .as_deref()
        .and_then(|d| d.strip_prefix(TRIED))
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    tried.push(item.goip_id.clone());
    let today = ctx.store.sent_today(Timestamp::now()).await.ok()?;
    let here = lines.iter().position(|l| l.goip_id == item.goip_id);
    let start = here.map_or(0, |i| i + 1);
    let (number, target) = next_line(ctx, &lines, start, &tried, &item.destination, &today)?;
    let from = match here {
        Some(i) => line_name(i + 1, &lines[i]),
        None => format!("line {}", item.goip_id),
    };
    let text = format!(
        "Line {} could not send your SMS: {why}. It goes out on {} instead (failover).",
        from.trim_start_matches("line "),
        line_name(number, target)
    );
    let to = tokio_xmpp::jid::Jid::new(&item.xmpp_from)
        .ok()
        .map(|j| j.to_bare());
    let notice =
        to.map(|to| notice::chat(&target.goip_id, &to, Some(item.destination.clone()), text));
    let tried = format!("{TRIED}{}", tried.join(","));
    match ctx
        .store
        .move_outbound(item.id, &target.goip_id, &tried, notice)
        .await
    {
        Ok(()) => {
            tracing::info!(
                log_id = item.id.0,
                from_goip_id = %item.goip_id,
                to_goip_id = %target.goip_id,
                why = %why,
                "outbound sms moved to another line (failover)"
            );
            ctx.inbox.notify_one();
            ctx.outbox.poke(ctx, &target.goip_id);
            Some(JobEnd::Done)
        }
        Err(e) => {
            // It fails where it is, as without failover.
            tracing::warn!(
                log_id = item.id.0,
                "cannot move the job to another line: {e}"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RecipientReport;

    fn attempted(outcome: RecipientOutcome) -> SmsOutcome {
        SmsOutcome::Attempted(vec![RecipientReport {
            number: "+37255512345".into(),
            telid: Some(1),
            outcome,
        }])
    }

    #[test]
    fn only_the_lines_reasons_move_a_job() {
        let busy = NotSent::Busy {
            text: "too_many_sends_in_server".into(),
        };
        assert!(line_refusal(&SmsOutcome::NotSent(busy.clone())).is_some());
        assert!(line_refusal(&attempted(RecipientOutcome::NotSent(busy))).is_some());
        assert!(line_refusal(&SmsOutcome::NotSent(NotSent::ChannelOffline)).is_some());
        for code in [331, 38] {
            let failed = RecipientOutcome::Failed {
                reason: format!("errorstatus {code}"),
                errorstatus: Some(code),
            };
            assert!(line_refusal(&attempted(failed)).is_some(), "{code}");
        }
        // The destination's trouble, or a result that may have gone out,
        // stays where it is.
        for outcome in [
            attempted(RecipientOutcome::Failed {
                reason: "errorstatus 1".into(),
                errorstatus: Some(1),
            }),
            attempted(RecipientOutcome::Unknown {
                reason: "no result".into(),
            }),
            attempted(RecipientOutcome::Sent { sms_no: Some(1) }),
            SmsOutcome::NotSent(NotSent::Stopping),
            SmsOutcome::NotSent(NotSent::PasswordRefused),
        ] {
            assert!(line_refusal(&outcome).is_none(), "{outcome:?}");
        }
    }
}
