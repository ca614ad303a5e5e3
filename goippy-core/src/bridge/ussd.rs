//! One USSD request a user typed to their own number: from its `queued`
//! outbox row through the engine to the answer the user reads.
//!
//! The row becomes `sending`, with the sendid reserved for the request,
//! before the engine gets it; the engine sends exactly that sendid, so the
//! row names the exchange on the wire. A crash from then
//! on leaves it `sending`, and the next start tells the user it may or may
//! not have reached the network — some codes *do* things (buy a package,
//! forward calls), so a USSD request is never repeated automatically.
//!
//! | engine outcome | row | the user gets |
//! |---|---|---|
//! | Reply | `sent` | `[USSD] <answer>` from their own number |
//! | Closed (USSDEXIT) | `sent` | `[USSD] (the network ended the USSD session without an answer)` |
//! | Error | `failed` | an error: "The USSD request failed: *its text*" |
//! | Timeout | `unknown` | an error: "No USSD answer from the network within 1 min. …" |
//! | ChannelOffline, UnknownChannel, Invalid, Stopping | `failed` | an error: "The USSD request was not sent: *why*. …" |
//!
//! An answer that arrives after the timeout still reaches the user who
//! asked (the engine reports it as an event, `inbound.rs`; the store finds
//! this row by the sendid it carries, `store/received.rs`).
//!
//! A request whose message asked for an XEP-0184 receipt gets it when the
//! GoIP answers (Reply, Closed or Error): that answer is what proves the
//! GoIP was handed the code. It is stored before the outcome, so the client
//! sees the code delivered, then the answer. A request that never reached
//! the GoIP, or that it never answered, gets none: only its error.

use std::sync::Arc;

use crate::engine::UssdOutcome;
use crate::store::{OutboxItem, StoreError};

use super::Context;
use super::notice::{self, Notice};
use super::outbox::{JobEnd, recorded};

/// How a USSD job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UssdSettlement {
    Answered { text: String },
    Failed { reason: String, notice: Notice },
    Unknown { reason: String },
}

/// Decides how a USSD job ends.
pub(crate) fn settle(outcome: UssdOutcome) -> UssdSettlement {
    match outcome {
        UssdOutcome::Reply { text } => UssdSettlement::Answered { text },
        UssdOutcome::Closed => UssdSettlement::Answered {
            text: String::new(),
        },
        UssdOutcome::Error { text } => UssdSettlement::Failed {
            reason: text,
            notice: Notice::UssdFailed,
        },
        UssdOutcome::Timeout => UssdSettlement::Unknown {
            reason: "no USSD answer from the network".into(),
        },
        UssdOutcome::ChannelOffline => not_sent("the GSM channel was offline"),
        UssdOutcome::UnknownChannel => not_sent("your line's GoIP channel is not configured"),
        UssdOutcome::Invalid(why) => not_sent(&format!("the GoIP cannot take it ({why})")),
        UssdOutcome::Stopping => not_sent("goippy was restarting"),
    }
}

impl UssdSettlement {
    /// Whether the GoIP answered the request, which proves it had it.
    pub(crate) fn reached_the_goip(&self) -> bool {
        match self {
            UssdSettlement::Answered { .. } => true,
            UssdSettlement::Failed { notice, .. } => *notice == Notice::UssdFailed,
            UssdSettlement::Unknown { .. } => false,
        }
    }
}

fn not_sent(reason: &str) -> UssdSettlement {
    UssdSettlement::Failed {
        reason: reason.to_string(),
        notice: Notice::UssdNotSent,
    }
}

/// Runs one queued USSD job to its end.
pub(crate) async fn run(ctx: &Arc<Context>, item: OutboxItem) -> JobEnd {
    let id = item.id;
    // Held from the draw to the answer: a balance check on this channel
    // must not overtake it (`ussd_channels.rs`).
    let _turn = ctx.ussd_channels.take_turn(&item.goip_id).await;
    // The row records the sendid reserved for this request before it can
    // reach the wire, so that a restart, even after a crash, starts above
    // it (the GoIP answers a repeated USSD sendid from its cache).
    let reserved = ctx.engine.reserve_ussd_sendid();
    match ctx.store.mark_sending(id, i64::from(reserved)).await {
        Ok(()) => {}
        Err(StoreError::Transition { .. }) => return JobEnd::Done,
        Err(e) => {
            tracing::error!(
                log_id = id.0,
                "cannot record that a USSD request is being sent: {e}"
            );
            return JobEnd::Retry;
        }
    }
    tracing::info!(
        log_id = id.0,
        goip_id = %item.goip_id,
        xmpp_id = item.xmpp_id.as_deref().unwrap_or(""),
        sendid = reserved,
        "ussd request handed to the engine"
    );
    tracing::debug!(log_id = id.0, code = %item.body, "ussd code");
    // Under exactly the sendid on the row: the one an operator follows.
    let outcome = ctx
        .engine
        .send_reserved_ussd(&item.goip_id, &item.body, reserved)
        .await;
    let waited = i64::try_from(ctx.policy.ussd_timeout.as_secs().saturating_mul(2)).ok();
    let settled = settle(outcome);
    if item.receipt_requested && settled.reached_the_goip() {
        let receipt = notice::for_outbound(&item, Notice::SmsSent, String::new(), None);
        if let Err(e) = ctx.store.store_notice(receipt).await {
            // The answer still comes; only the tick on the code is lost.
            tracing::warn!(
                log_id = id.0,
                "cannot store the receipt of a USSD request: {e}"
            );
        }
    }
    let result = match settled {
        UssdSettlement::Answered { text } => {
            tracing::info!(log_id = id.0, goip_id = %item.goip_id, "ussd answered");
            tracing::debug!(log_id = id.0, answer = %text, "ussd answer");
            let n = notice::for_outbound(&item, Notice::UssdAnswer, text, None);
            ctx.store.mark_sent(id, None, None, Some(n)).await
        }
        UssdSettlement::Failed { reason, notice } => {
            tracing::info!(log_id = id.0, goip_id = %item.goip_id, reason = %reason, "ussd failed");
            let n = notice::for_outbound(&item, notice, reason.clone(), None);
            ctx.store.mark_failed(id, &reason, None, Some(n)).await
        }
        UssdSettlement::Unknown { reason } => {
            tracing::info!(log_id = id.0, goip_id = %item.goip_id, "ussd timed out");
            let n = notice::for_outbound(&item, Notice::UssdNoAnswer, String::new(), waited);
            ctx.store.mark_unknown(id, &reason, Some(n)).await
        }
    };
    recorded(ctx, id, "a USSD request", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(
            settle(UssdOutcome::Reply {
                text: "Saldo 5".into()
            }),
            UssdSettlement::Answered {
                text: "Saldo 5".into()
            }
        );
        assert_eq!(
            settle(UssdOutcome::Closed),
            UssdSettlement::Answered {
                text: String::new()
            }
        );
        assert!(matches!(
            settle(UssdOutcome::Error { text: "x".into() }),
            UssdSettlement::Failed {
                notice: Notice::UssdFailed,
                ..
            }
        ));
        assert!(matches!(
            settle(UssdOutcome::Timeout),
            UssdSettlement::Unknown { .. }
        ));
        // Only what the GoIP answered proves it was handed the code.
        for (outcome, reached) in [
            (UssdOutcome::Reply { text: "x".into() }, true),
            (UssdOutcome::Closed, true),
            (UssdOutcome::Error { text: "x".into() }, true),
            (UssdOutcome::Timeout, false),
            (UssdOutcome::ChannelOffline, false),
            (UssdOutcome::Stopping, false),
        ] {
            assert_eq!(
                settle(outcome.clone()).reached_the_goip(),
                reached,
                "{outcome:?}"
            );
        }
        for o in [
            UssdOutcome::ChannelOffline,
            UssdOutcome::UnknownChannel,
            UssdOutcome::Invalid("x".into()),
            UssdOutcome::Stopping,
        ] {
            assert!(
                matches!(
                    settle(o.clone()),
                    UssdSettlement::Failed {
                        notice: Notice::UssdNotSent,
                        ..
                    }
                ),
                "{o:?}"
            );
        }
    }
}
