//! The `ussd` command's stages: the code, the network's answer, and, while
//! a menu is open, the user's choices.
//!
//! A GoIP does not say whether an answer is a menu that waits for a choice
//! (the protocol carries only the text; docs/goip-protocol.md#ussd), so
//! every answer is shown with a reply field and the session stays open:
//! **Next** sends the reply as the next USSD request (a new, larger sendid,
//! as the protocol wants), **Complete** ends the session (after sending a
//! reply typed with it), **Cancel** ends it at once. goippy then sends
//! `USSDEXIT`, as it does when the session expires. The session ends by
//! itself, without `USSDEXIT`, when the network closes it or a request
//! fails. What each engine outcome means to the user is
//! `bridge/ussd.rs`'s [`settle`], the same words the chat console uses.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_xmpp::parsers::data_forms::DataForm;

use crate::engine::UssdOutcome;
use crate::store::ActiveGateway;
use crate::xmpp::adhoc::{Action, CommandResponse, NoteType, Status};
use crate::xmpp::failure::{DeliveryFailure, Refusal};

use super::super::Context;
use super::super::notice::Notice;
use super::super::ussd::{UssdSettlement, settle};
use super::super::ussd_channels::Asker;
use super::forms;
use super::sessions::{Session, Stage};
use super::{Sessions, USSD};

/// One USSD request of a command session: the code the session started
/// with, or a choice in the open menu (the session's stage says which).
pub(super) struct Step {
    pub id: String,
    pub session: Session,
    pub goip_id: String,
    /// The line's owner, for the log.
    pub ext: String,
    pub code: String,
    /// The user completes the session with this request.
    pub finish: bool,
}

/// The form that asks for the code.
/// `choice`: the form also asks for the line (`with_line_choice`).
pub(super) fn code_form(line: &ActiveGateway, choice: bool) -> DataForm {
    let from = if choice {
        "the line you choose".to_string()
    } else {
        format!("line {}", super::line_label(line))
    };
    forms::form(
        "Send USSD",
        Some(format!(
            "A USSD code to send from {from}, for example *100#. The network's answer comes \
             back here; if it is a menu, you can answer it."
        )),
        vec![forms::text_single("code", "USSD code", true)],
    )
}

/// Sends the step's request and answers with the network's answer: the
/// session stays open (a menu) unless it ended.
pub(super) async fn step(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    step: Step,
) -> Result<CommandResponse, Refusal> {
    let Step {
        id,
        mut session,
        goip_id,
        ext,
        code,
        finish,
    } = step;
    // A menu is open already (it needs `USSDEXIT` if this fails).
    let in_menu = matches!(session.stage, Stage::UssdMenu { .. });
    tracing::info!(goip_id, ext, owner = %session.owner, "ad-hoc USSD request");
    tracing::debug!(goip_id, code, "ad-hoc USSD code");
    // One USSD request per channel at a time: a balance check must not
    // draw its sendid before this one and reach the GoIP after it
    // (`bridge/ussd_channels.rs`).
    let outcome = {
        let _turn = ctx.ussd_channels.take_turn(&goip_id).await;
        // An answer after the timeout goes to this user, not to the line's
        // default owner (`bridge/ussd_channels.rs`).
        let sendid = ctx.engine.reserve_ussd_sendid();
        if let Some(ext) = ctx.addressing.local_user(&session.owner) {
            let asker = Asker::User {
                ext: ext.to_string(),
                jid: session.owner.to_bare(),
            };
            ctx.ussd_channels.remember(&goip_id, sendid, asker);
        }
        ctx.engine.send_reserved_ussd(&goip_id, &code, sendid).await
    };
    let closed_by_network = outcome == UssdOutcome::Closed;
    let response = |status| CommandResponse::new(USSD, &id, status);
    let failure = match settle(outcome) {
        UssdSettlement::Answered { .. } if closed_by_network => {
            return Ok(response(Status::Completed)
                .with_note(NoteType::Info, "The network ended the USSD session."));
        }
        UssdSettlement::Answered { text } if finish => {
            end(ctx, &goip_id).await;
            let answer = forms::text_multi("answer", "Answer", &text);
            return Ok(response(Status::Completed).with_form(forms::result("USSD", vec![answer])));
        }
        UssdSettlement::Answered { text } => {
            let form = forms::form(
                "USSD",
                Some(
                    "If this is a menu, type your choice and press Next. Complete ends the USSD \
                     session."
                        .into(),
                ),
                vec![
                    forms::fixed("Answer", &text),
                    forms::text_single("reply", "Reply", false),
                ],
            );
            session.stage = Stage::UssdMenu { goip_id, ext };
            sessions.put_back(id.clone(), session, Instant::now());
            return Ok(response(Status::Executing)
                .with_actions(&[Action::Next, Action::Complete])
                .with_form(form));
        }
        UssdSettlement::Failed { reason, notice } => {
            if in_menu {
                end(ctx, &goip_id).await;
            }
            match notice {
                Notice::UssdNotSent => DeliveryFailure::UssdNotSent { reason },
                _ => DeliveryFailure::UssdFailed { reason },
            }
        }
        UssdSettlement::Unknown { .. } => {
            // The network may still hold the session open.
            end(ctx, &goip_id).await;
            let waited = ctx.policy.ussd_timeout.saturating_mul(2);
            DeliveryFailure::UssdNoAnswer { waited }
        }
    };
    // The words the chat console's error would carry.
    let text = failure.stanza_error().texts.into_values().next();
    Ok(response(Status::Completed).with_note(NoteType::Error, text.unwrap_or_default()))
}

/// Ends the channel's USSD session (`USSDEXIT`); a failure is only logged:
/// the user's command is over either way.
pub(super) async fn end(ctx: &Context, goip_id: &str) {
    match ctx.engine.end_ussd(goip_id).await {
        UssdOutcome::Closed => tracing::debug!(goip_id, "USSD session closed"),
        other => tracing::info!(goip_id, outcome = ?other, "USSDEXIT not confirmed"),
    }
}
