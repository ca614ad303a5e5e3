//! What the rest of goippy asks for when it sends an SMS, and what it gets
//! back.
//!
//! The outcome types draw the one line that matters for never sending twice:
//! [`SmsOutcome::NotSent`] means the GoIP was never given a SEND for this
//! message, so it may be retried — even after a restart — while anything
//! under [`SmsOutcome::Attempted`] reached SEND for at least one recipient,
//! and a recipient that ended [`RecipientOutcome::Unknown`] must never be
//! sent again automatically.

use std::fmt;
use std::future::Future;

use futures::future::BoxFuture;

use super::shared::CommandError;
use super::worker::JobContext;

/// The caller's reference for a message (its outbox row, say); the engine
/// keeps it with the `sms_no` so a delivery report can be matched.
pub type MessageRef = u64;

/// The hook the session awaits once, after the GoIP accepted the password
/// and immediately before the first SEND: the caller records durably that
/// the message is now being sent. If goippy dies after that point, a restart
/// must treat the message as Unknown instead of sending it again; before it,
/// the message can safely be resumed. The hook gets the session's sendid, so
/// the record can name the exact id the GoIP will echo. An `Err` ends the job
/// as [`NotSent::Cancelled`] (DONE is sent; nothing was).
pub type BeforeSend = Box<dyn FnOnce(u32) -> BoxFuture<'static, Result<(), String>> + Send>;

/// An SMS to send on one channel to one or more recipients.
pub struct SmsRequest {
    pub goip_id: String,
    /// Numbers as the GoIP should dial them; one SEND (telid 1, 2, …) each.
    pub recipients: Vec<String>,
    /// At most 3000 bytes of UTF-8; the GoIP splits long texts itself.
    pub text: String,
    pub message_ref: MessageRef,
    pub before_send: Option<BeforeSend>,
}

impl SmsRequest {
    pub fn new(
        goip_id: impl Into<String>,
        recipients: Vec<String>,
        text: impl Into<String>,
        message_ref: MessageRef,
    ) -> Self {
        SmsRequest {
            goip_id: goip_id.into(),
            recipients,
            text: text.into(),
            message_ref,
            before_send: None,
        }
    }

    /// Sets the [`BeforeSend`] hook.
    pub fn before_send<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce(u32) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.before_send = Some(Box::new(move |sendid| Box::pin(hook(sendid))));
        self
    }
}

impl fmt::Debug for SmsRequest {
    // The text is a customer's message: only its size goes into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsRequest")
            .field("goip_id", &self.goip_id)
            .field("recipients", &self.recipients)
            .field("text_bytes", &self.text.len())
            .field("message_ref", &self.message_ref)
            .field("before_send", &self.before_send.is_some())
            .finish()
    }
}

/// How an SMS job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// No SEND was ever given to the GoIP: nothing was sent to anyone, and
    /// the message may be retried.
    NotSent(NotSent),
    /// The session reached SEND: one report per recipient, in request order.
    Attempted(Vec<RecipientReport>),
}

impl SmsOutcome {
    /// True if nothing was sent and the job may be retried.
    pub fn is_not_sent(&self) -> bool {
        matches!(self, SmsOutcome::NotSent(_))
    }

    /// The per-recipient reports (empty when nothing was sent).
    pub fn recipients(&self) -> &[RecipientReport] {
        match self {
            SmsOutcome::NotSent(_) => &[],
            SmsOutcome::Attempted(reports) => reports,
        }
    }
}

/// What happened for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    pub number: String,
    /// The telid of its SEND (`None` in one-shot mode, or when it was never
    /// sent).
    pub telid: Option<u32>,
    pub outcome: RecipientOutcome,
}

impl RecipientReport {
    /// A recipient the job did not send to.
    pub(crate) fn not_sent(number: String, why: NotSent) -> RecipientReport {
        RecipientReport {
            number,
            telid: None,
            outcome: RecipientOutcome::NotSent(why),
        }
    }
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// The GoIP reports the SMS sent. `sms_no` (newer firmware, session
    /// mode) is what a later delivery report refers to.
    Sent { sms_no: Option<u32> },
    /// The GoIP reports that sending failed; `errorstatus` looks like a
    /// `+CMS ERROR` code (38 network out of order, 500 unknown, …).
    Failed {
        reason: String,
        errorstatus: Option<i32>,
    },
    /// SEND went out but no result came before the deadline: the SMS may or
    /// may not have been sent. Never retried automatically.
    Unknown { reason: String },
    /// This recipient was never sent a SEND.
    NotSent(NotSent),
}

impl RecipientOutcome {
    pub fn is_sent(&self) -> bool {
        matches!(self, RecipientOutcome::Sent { .. })
    }
}

/// Why nothing was sent (to the job, or to one recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    /// No enabled channel has this GoIP id.
    UnknownChannel,
    /// The request cannot be written on the wire (empty or too long text, a
    /// number with spaces, no recipients, …).
    Invalid(String),
    /// The engine is shutting down.
    Stopping,
    /// The channel was offline and did not come back in time.
    ChannelOffline,
    /// The GoIP never answered MSG or PASSWORD.
    NoAnswer,
    /// The GoIP kept rejecting MSG ("too many sends"), also after backing off.
    Busy { text: String },
    /// The GoIP refused the channel password.
    PasswordRefused,
    /// The `before_send` hook failed.
    Cancelled { reason: String },
    /// An earlier recipient of the same session ended Unknown, so the
    /// session was abandoned before this one.
    Abandoned,
    /// The socket refused the datagram (so it never left).
    Network { error: String },
}

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSent::UnknownChannel => f.write_str("no such GoIP channel"),
            NotSent::Invalid(why) => write!(f, "invalid request: {why}"),
            NotSent::Stopping => f.write_str("goippy is stopping"),
            NotSent::ChannelOffline => f.write_str("the GoIP channel is offline"),
            NotSent::NoAnswer => f.write_str("the GoIP did not answer"),
            NotSent::Busy { text } => write!(f, "the GoIP is busy ({text})"),
            NotSent::PasswordRefused => f.write_str("the GoIP refused the channel password"),
            NotSent::Cancelled { reason } => write!(f, "cancelled before sending: {reason}"),
            NotSent::Abandoned => {
                f.write_str("not attempted: an earlier recipient's result is unknown")
            }
            NotSent::Network { error } => write!(f, "cannot send to the GoIP: {error}"),
        }
    }
}

impl From<CommandError> for NotSent {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Offline => NotSent::ChannelOffline,
            CommandError::Invalid(e) => NotSent::Invalid(e.to_string()),
            CommandError::Socket(error) => NotSent::Network { error },
        }
    }
}

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
        assert!(!outcome.is_not_sent());
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
