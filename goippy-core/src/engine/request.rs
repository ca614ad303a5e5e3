//! The engine's vocabulary: what the rest of goippy asks it to do, and what
//! it gets back — SMS and USSD requests, their outcomes, and the errors
//! they are made of.
//!
//! Plain data, at the bottom of the engine: every other file may use these
//! types, and this file uses no other file of the engine. The only behaviour
//! here is the check that a request can be written on the wire, so a bad one
//! fails before it waits for its channel.
//!
//! The SMS outcome types draw the one line that matters for never sending
//! twice: [`SmsOutcome::NotSent`] means the GoIP was never given a SEND for
//! this message, so it may be retried — even after a restart — while
//! anything under [`SmsOutcome::Attempted`] reached SEND for at least one
//! recipient, and a recipient that ended [`RecipientOutcome::Unknown`] must
//! never be sent again automatically.

use std::fmt;
use std::future::Future;

use futures::future::BoxFuture;

use crate::goip::FormatError;
use crate::goip::tokens::{check_sms_text, check_token};

// --- SMS ---

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

    /// Checks the request against the wire rules before it is queued, so a
    /// bad one fails at once instead of after waiting for its channel.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.recipients.is_empty() {
            return Err("no recipients".to_owned());
        }
        check_sms_text(&self.text).map_err(|e| e.to_string())?;
        for number in &self.recipients {
            check_token("number", number).map_err(|e| e.to_string())?;
        }
        Ok(())
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

// --- USSD ---

/// How a USSD request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UssdOutcome {
    /// The network's answer, trailing `@` padding removed.
    Reply {
        text: String,
    },
    /// `USSDERROR`, "USSD send failed!", or an `ERROR` for the sendid.
    Error {
        text: String,
    },
    /// `USSDEXIT`: the network or the device closed the USSD session.
    Closed,
    /// No answer after the single resend.
    Timeout,
    /// The channel was offline and did not come back in time.
    ChannelOffline,
    UnknownChannel,
    /// The code is not `[0-9*#+]` (or the channel password cannot be sent).
    Invalid(String),
    /// The engine is shutting down; nothing was sent.
    Stopping,
}

// --- why a job or a command did not go out ---

/// Why a job ended before it ran: it never sent anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotStarted {
    UnknownChannel,
    ChannelOffline,
    Stopping,
}

impl From<NotStarted> for NotSent {
    fn from(why: NotStarted) -> Self {
        match why {
            NotStarted::UnknownChannel => NotSent::UnknownChannel,
            NotStarted::ChannelOffline => NotSent::ChannelOffline,
            NotStarted::Stopping => NotSent::Stopping,
        }
    }
}

impl From<NotStarted> for UssdOutcome {
    fn from(why: NotStarted) -> Self {
        match why {
            NotStarted::UnknownChannel => UssdOutcome::UnknownChannel,
            NotStarted::ChannelOffline => UssdOutcome::ChannelOffline,
            NotStarted::Stopping => UssdOutcome::Stopping,
        }
    }
}

/// Why a command could not be sent.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// The channel is offline: nothing is ever sent to it then.
    Offline,
    /// The command cannot be written (checked before anything is sent).
    Invalid(FormatError),
    /// The socket refused it, or is closed.
    Socket(String),
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

impl From<CommandError> for UssdOutcome {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Offline => UssdOutcome::ChannelOffline,
            CommandError::Invalid(e) => UssdOutcome::Invalid(e.to_string()),
            CommandError::Socket(e) => UssdOutcome::Error {
                text: format!("cannot send: {e}"),
            },
        }
    }
}
