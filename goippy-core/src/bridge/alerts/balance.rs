//! The scheduled balance check: `BALANCE_USSD` through the engine's USSD
//! path, as the console sends a code, and `BALANCE_REGEX` over the answer.
//!
//! The request's sendid is drawn and stored before it reaches the wire, as
//! the console's is (`ussd.rs`), so a restart never repeats one, and the
//! channel's USSD turn (`ussd_channels.rs`) is held from the draw to the
//! answer, so a console request and a check never overtake each other. A
//! check is never repeated on failure before its next time: some networks
//! charge for USSD. An answer that comes after the check gave up is not
//! read as the balance and goes to nobody as a chat message (it is no
//! user's answer): goippy logs it and the next check reads the balance.

use crate::config::{Amount, BalanceCheck};
use crate::engine::UssdOutcome;

use super::super::Context;
use super::super::ussd_channels::Asker;

/// Sends the balance code on `goip_id` and reads the amount in the answer;
/// without one, why not (for the log).
pub(crate) async fn check(
    ctx: &Context,
    goip_id: &str,
    check: &BalanceCheck,
) -> Result<Amount, String> {
    let _turn = ctx.ussd_channels.take_turn(goip_id).await;
    let sendid = ctx.engine.reserve_ussd_sendid();
    if let Err(e) = ctx.store.save_sendid_floor(sendid).await {
        return Err(format!("the sendid could not be saved ({e})"));
    }
    // An answer after the timeout is no user's: it is not delivered
    // (`bridge/ussd_channels.rs`, `bridge/inbound.rs`).
    ctx.ussd_channels
        .remember(goip_id, sendid, Asker::BalanceCheck);
    tracing::info!(goip_id, sendid, "balance check: USSD handed to the engine");
    match ctx
        .engine
        .send_reserved_ussd(goip_id, &check.code, sendid)
        .await
    {
        UssdOutcome::Reply { text } => {
            tracing::debug!(goip_id, sendid, answer = %text, "balance check answer");
            amount_in(check, &text).ok_or("BALANCE_REGEX finds no amount in the answer".into())
        }
        other => Err(format!("no answer ({other:?})")),
    }
}

/// The amount `BALANCE_REGEX` finds in `answer`.
pub(crate) fn amount_in(check: &BalanceCheck, answer: &str) -> Option<Amount> {
    let captures = check.regex.captures(answer)?;
    Amount::parse(captures.get(1)?.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;
    use std::time::Duration;

    #[test]
    fn the_capture_group_is_the_amount() {
        let check = BalanceCheck {
            code: "*100#".into(),
            regex: Regex::new(r"balance is ([0-9.,]+)").expect("regex"),
            below: Amount(5000),
            every: Duration::from_secs(60),
        };
        assert_eq!(
            amount_in(&check, "Your balance is 3,20 EUR. Thank you."),
            Some(Amount(3200))
        );
        assert_eq!(amount_in(&check, "Service unavailable"), None);
    }
}
