//! Every way goippy says "no" to a user, as an RFC 6120 stanza error.
//!
//! Clients show the error's text next to the failed message, so each text
//! says what happened and what to do; the condition and type tell software
//! whether retrying can help. The choices (RFC 6120 §8.3.3):
//!
//! | Situation | Condition | Type | Why |
//! |---|---|---|---|
//! | sender may not use the gateway | `forbidden` | auth | the sender lacks the rights; only the administrator can change that |
//! | addressed localpart is no phone number | `item-not-found` | cancel | "the addressed JID … cannot be found": no phone answers there |
//! | reply to a sender name ("Swedbank") | `service-unavailable` | cancel | the contact exists but can never receive; RFC 6121 answers messages for JIDs that accept none this way |
//! | reply to an SMS whose sender withheld the number | `service-unavailable` | cancel | the same: nobody is there to receive it |
//! | destination blocked (ACL) | `not-allowed` | cancel | RFC 6120's own example: sending to a blacklisted address |
//! | encrypted message, too long a message | `not-acceptable` | modify | same: send it differently |
//! | group chat message | `service-unavailable` | cancel | RFC 6121 §8.5: no such service for `groupchat` |
//! | unreadable stanza | `bad-request` | modify | it does not conform to the schema |
//! | unsupported iq | `service-unavailable` | cancel | RFC 6120 §8.4 requires exactly this |
//! | goippy's own failure (store…) | `internal-server-error` | wait | not the sender's fault; may work later |
//! | the console cannot read the database now | `internal-server-error` | wait | the same, said for what was asked |
//! | too many messages wait for the database | `resource-constraint` | wait | RFC 6120: the server is busy; sending again later can work |
//! | **delivery**: GoIP reports the SMS failed | `service-unavailable` | cancel | the SMS service refused it; an automatic retry would fail again |
//! | **delivery**: no result from the GoIP in time | `remote-server-timeout` | cancel | the remote service did not answer in time; *cancel* because it may have been sent and a blind retry could duplicate it |
//! | **delivery**: GSM channel offline | `remote-server-timeout` | wait | the remote service cannot be reached now; it is worth trying later (the same condition Prosody uses when goippy itself is offline) |
//! | **delivery report**: not delivered (DELIVER state ≠ 0) | `recipient-unavailable` | wait | the handset did not take it; the network may retry |
//! | **delivery**: goippy restarted after SEND, before the result | `remote-server-timeout` | cancel | as "no result in time": it may have been sent |
//! | **delivery**: nothing was sent (GoIP busy, silent, refused the password…) | `service-unavailable` | cancel | the service could not take it; the text says it is safe to send again |
//! | **USSD** failed / was not sent | `service-unavailable` | cancel | the network or the GoIP refused it |
//! | **USSD** no answer in time | `remote-server-timeout` | cancel | it may have been processed; repeating it blindly could repeat an action |
//! | **ad-hoc**: command not for this sender (admin command, no line) | `forbidden` | auth | XEP-0050 §4.6: the requester lacks the rights |
//! | **ad-hoc**: no such command | `item-not-found` | cancel | XEP-0050 §4.6 |
//! | **ad-hoc**: unknown, expired or someone else's session | `bad-request` + `bad-sessionid` | modify | XEP-0050 §4.6; another JID's session is not revealed |
//! | **ad-hoc**: an action the stage does not offer | `bad-request` + `bad-action` | modify | XEP-0050 §4.6 |
//! | **ad-hoc**: a form that cannot be read or a value out of range | `bad-request` + `bad-payload` | modify | XEP-0050 §4.6 |
//! | **ad-hoc**: too many open sessions | `resource-constraint` | wait | finishing one (or waiting for it to expire) frees a place |
//!
//! Texts are English (`xml:lang='en'`); they include outside text (numbers,
//! names, GoIP reasons) only after [`xml_safe`].

use std::time::Duration;

use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::number::NumberError;

use super::node_escape::unescape;
use super::text::xml_safe;

/// Why goippy refuses a stanza it received. Its `Display` is the text the
/// sender reads; [`Refusal::stanza_error`] adds condition and type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The sender is not a provisioned, enabled user of XMPP_DOMAIN.
    #[error(
        "You may not send SMS through this gateway. Ask the administrator to enable your account."
    )]
    SenderNotAllowed,
    /// The addressed localpart is not a number goippy can send to.
    #[error("{:?} is not a phone number SMS can be sent to: {reason}. Write it in international form, e.g. +37255512345.", xml_safe(&unescape(.node)))]
    NotANumber { node: String, reason: NumberError },
    /// A reply to an alphanumeric sender; `node` is the addressed localpart.
    #[error("{:?} is a sender name, not a phone number: nobody can reply to it by SMS.", xml_safe(&unescape(.node)))]
    SenderName { node: String },
    /// The ACL does not allow this destination for this sender.
    #[error("Your account may not send SMS to {}.", xml_safe(.number))]
    DestinationBlocked { number: String },
    /// A reply to an SMS whose sender withheld the number.
    #[error("The sender of this SMS withheld their number: nobody can reply to it by SMS.")]
    Withheld,
    /// An end-to-end encrypted message.
    #[error(
        "SMS cannot carry end-to-end encrypted messages. Turn off encryption (OMEMO, OpenPGP, OTR) for this contact and send the message again."
    )]
    Encrypted,
    /// Longer than the gateway sends.
    #[error("The message has {chars} characters; at most {max} can be sent as SMS. Split it up.")]
    TooLong { chars: usize, max: usize },
    /// A `groupchat` message.
    #[error("Phone numbers are not group chats: send a normal chat message.")]
    GroupChat,
    /// Addressed to a JID goippy does not serve.
    #[error("This SMS gateway does not serve {}.", xml_safe(.to))]
    Unroutable { to: String },
    /// A disco node goippy does not have.
    #[error("There is no disco node {:?} here.", xml_safe(.node))]
    UnknownNode { node: String },
    /// A stanza goippy could not read.
    #[error("The SMS gateway could not read this stanza: {}", xml_safe(.detail))]
    BadRequest { detail: String },
    /// An iq goippy does not implement: RFC 6120 §8.4's bare condition,
    /// without a text.
    #[error("")]
    UnsupportedIq,
    /// A XEP-0100 prompt that is not a phone number.
    #[error("{:?} is not a phone number: {}. Enter it in international form, e.g. +37255512345.", xml_safe(.prompt), xml_safe(.reason))]
    BadPrompt { prompt: String, reason: String },
    /// goippy's own failure (the store is unavailable…).
    #[error("The SMS gateway could not process this ({}). Try again later.", xml_safe(.detail))]
    Internal { detail: String },
    /// The database does not answer, so `what` (the call log…) cannot be
    /// read now.
    #[error("The {what} cannot be read now: goippy's database does not answer. Try again later.")]
    DatabaseSilent { what: &'static str },
    /// Too many messages wait for the database already: this one was not
    /// taken. `yours`: the sender's own ones.
    #[error("{}", if *.yours {
        "Too many of your messages are waiting for the SMS gateway's database; this one was not taken. Send it again later."
    } else {
        "The SMS gateway has too many messages waiting for its database; this one was not taken. Send it again later."
    })]
    Busy { yours: bool },
    /// An ad-hoc command that does not exist here.
    #[error("There is no command {:?} here.", xml_safe(.node))]
    UnknownCommand { node: String },
    /// An ad-hoc command the sender may not run.
    #[error("{}", if *.admin {
        "Only the gateway's administrators (ADMIN_JIDS) may run this command."
    } else {
        "You have no line on this SMS gateway. Ask the administrator to enable your account."
    })]
    CommandForbidden { admin: bool },
    /// An ad-hoc command request for a session that does not exist (any
    /// more) or is not the sender's.
    #[error("This command session does not exist or has expired; start the command again.")]
    BadSession,
    /// An ad-hoc action the command's stage does not offer.
    #[error("The command does not offer this action now.")]
    BadAction,
    /// An ad-hoc form that cannot be used; `detail` says why.
    #[error("{}", sentence(&xml_safe(.detail)))]
    BadPayload { detail: String },
    /// The sender holds as many ad-hoc sessions as allowed (`yours`), or
    /// everyone together does.
    #[error("{}", if *.yours {
        "You have too many command sessions open; finish or cancel one first."
    } else {
        "The SMS gateway has too many command sessions open; try again in a few minutes."
    })]
    TooManySessions { yours: bool },
    /// The line (or every line of the sender) has sent its daily limit of
    /// SMS; `detail` names it and says what the user can do.
    #[error("{}", xml_safe(.detail))]
    DailyLimit { detail: String },
}

/// Why an accepted SMS did not reach its destination. Its `Display` is the
/// text the user reads; [`DeliveryFailure::stanza_error`] adds condition
/// and type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    /// The GoIP (or the network behind it) reported a failure.
    #[error("The SMS was not sent: the gateway reported {:?}.", xml_safe(.reason))]
    Failed { reason: String },
    /// The GoIP gave no result within `waited`; it may or may not have been sent.
    #[error("The gateway did not report within {} whether the SMS was sent. It may or may not have been delivered; check before sending it again.", human(*.waited))]
    Unknown { waited: Duration },
    /// The GSM channel stayed offline for `waited`.
    #[error("The SMS was not sent: the GSM channel was offline for {}. Try again later.", human(*.waited))]
    ChannelOffline { waited: Duration },
    /// The delivery report said "not delivered" with this state.
    #[error("The SMS was sent but not delivered (delivery report state {}).", xml_safe(.state))]
    NotDelivered { state: String },
    /// goippy restarted after the SMS was handed to the GoIP and before its
    /// result came: it may or may not have been sent.
    #[error(
        "goippy restarted while this SMS was being sent: it may or may not have been sent. Check before sending it again."
    )]
    Interrupted,
    /// Nothing was sent (the GoIP was busy or silent, refused the channel
    /// password, the channel is no longer configured…).
    #[error("The SMS was not sent: {}. Nothing went out, so it is safe to send it again.", xml_safe(.reason))]
    NotSent { reason: String },
    /// The USSD request failed (the network's or the GoIP's error text).
    #[error("The USSD request failed: {}", sentence(&xml_safe(.reason)))]
    UssdFailed { reason: String },
    /// The USSD request was never sent.
    #[error("The USSD request was not sent: {}. Send it again if you still need it.", xml_safe(.reason))]
    UssdNotSent { reason: String },
    /// No USSD answer came within `waited`.
    #[error("No USSD answer from the network within {}. The request may have been processed; check before repeating it.", human(*.waited))]
    UssdNoAnswer { waited: Duration },
}

impl Refusal {
    /// The stanza error to send (the table in the module docs).
    pub fn stanza_error(&self) -> StanzaError {
        use DefinedCondition as C;
        use ErrorType as T;
        use Refusal as R;
        let (type_, condition) = match self {
            R::SenderNotAllowed | R::CommandForbidden { .. } => (T::Auth, C::Forbidden),
            R::NotANumber { .. }
            | R::Unroutable { .. }
            | R::UnknownNode { .. }
            | R::UnknownCommand { .. } => (T::Cancel, C::ItemNotFound),
            R::SenderName { .. } | R::Withheld | R::GroupChat | R::UnsupportedIq => {
                (T::Cancel, C::ServiceUnavailable)
            }
            R::DestinationBlocked { .. } => (T::Cancel, C::NotAllowed),
            R::Encrypted | R::TooLong { .. } | R::BadPrompt { .. } => (T::Modify, C::NotAcceptable),
            R::BadRequest { .. } | R::BadSession | R::BadAction | R::BadPayload { .. } => {
                (T::Modify, C::BadRequest)
            }
            R::Internal { .. } | R::DatabaseSilent { .. } => (T::Wait, C::InternalServerError),
            R::Busy { .. } | R::TooManySessions { .. } | R::DailyLimit { .. } => {
                (T::Wait, C::ResourceConstraint)
            }
        };
        // XEP-0050 §4.6 names a command-specific condition for these.
        let specific = match self {
            R::BadSession => Some("bad-sessionid"),
            R::BadAction => Some("bad-action"),
            R::BadPayload { .. } => Some("bad-payload"),
            _ => None,
        };
        let mut e = StanzaError::new(type_, condition, "en", self.to_string());
        // RFC 6120 §8.4: an unsupported iq gets the bare condition.
        if *self == R::UnsupportedIq {
            e.texts.clear();
        }
        e.other = specific.map(super::adhoc::specific_condition);
        e
    }
}

impl DeliveryFailure {
    /// The stanza error to send for the original message id.
    pub fn stanza_error(&self) -> StanzaError {
        use DefinedCondition as C;
        use DeliveryFailure as D;
        use ErrorType as T;
        let (type_, condition) = match self {
            D::Failed { .. } | D::NotSent { .. } | D::UssdFailed { .. } | D::UssdNotSent { .. } => {
                (T::Cancel, C::ServiceUnavailable)
            }
            D::Unknown { .. } | D::Interrupted | D::UssdNoAnswer { .. } => {
                (T::Cancel, C::RemoteServerTimeout)
            }
            D::ChannelOffline { .. } => (T::Wait, C::RemoteServerTimeout),
            D::NotDelivered { .. } => (T::Wait, C::RecipientUnavailable),
        };
        StanzaError::new(type_, condition, "en", self.to_string())
    }
}

/// `text` ending as a sentence: a full stop unless it has its own.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// `45 s`, `5 min`, `2 h 5 min`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &StanzaError) -> &str {
        e.texts.get("en").map(String::as_str).unwrap_or_default()
    }

    #[test]
    fn refusals_pick_their_conditions() {
        let cases = [
            (
                Refusal::SenderNotAllowed,
                ErrorType::Auth,
                DefinedCondition::Forbidden,
            ),
            (
                Refusal::NotANumber {
                    node: "+123".into(),
                    reason: NumberError::TooShort { digits: 3 },
                },
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
            ),
            (
                Refusal::SenderName {
                    node: "my\\20bank".into(),
                },
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
            ),
            (
                Refusal::DestinationBlocked {
                    number: "+1900".into(),
                },
                ErrorType::Cancel,
                DefinedCondition::NotAllowed,
            ),
            (
                Refusal::Withheld,
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
            ),
            (
                Refusal::Encrypted,
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
            ),
            (
                Refusal::GroupChat,
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
            ),
            (
                Refusal::BadRequest { detail: "x".into() },
                ErrorType::Modify,
                DefinedCondition::BadRequest,
            ),
            (
                Refusal::UnsupportedIq,
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
            ),
            (
                Refusal::Internal {
                    detail: "db".into(),
                },
                ErrorType::Wait,
                DefinedCondition::InternalServerError,
            ),
            (
                Refusal::DatabaseSilent { what: "call log" },
                ErrorType::Wait,
                DefinedCondition::InternalServerError,
            ),
            (
                Refusal::Busy { yours: true },
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
            ),
            (
                Refusal::Busy { yours: false },
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
            ),
            (
                Refusal::CommandForbidden { admin: true },
                ErrorType::Auth,
                DefinedCondition::Forbidden,
            ),
            (
                Refusal::UnknownCommand { node: "x".into() },
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
            ),
            (
                Refusal::BadSession,
                ErrorType::Modify,
                DefinedCondition::BadRequest,
            ),
            (
                Refusal::BadAction,
                ErrorType::Modify,
                DefinedCondition::BadRequest,
            ),
            (
                Refusal::BadPayload { detail: "x".into() },
                ErrorType::Modify,
                DefinedCondition::BadRequest,
            ),
            (
                Refusal::TooManySessions { yours: true },
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
            ),
        ];
        for (refusal, type_, condition) in cases {
            let e = refusal.stanza_error();
            assert_eq!(
                (&e.type_, &e.defined_condition),
                (&type_, &condition),
                "{refusal:?}"
            );
            if refusal != Refusal::UnsupportedIq {
                assert!(!text(&e).is_empty(), "{refusal:?} needs a text");
            }
        }
    }

    #[test]
    fn ad_hoc_errors_carry_the_xep_0050_condition() {
        for (refusal, specific) in [
            (Refusal::BadSession, "bad-sessionid"),
            (Refusal::BadAction, "bad-action"),
            (Refusal::BadPayload { detail: "x".into() }, "bad-payload"),
        ] {
            let e = refusal.stanza_error();
            let other = e.other.expect("a XEP-0050 condition");
            assert!(
                other.is(specific, super::super::adhoc::NS_COMMANDS),
                "{refusal:?}"
            );
        }
        assert!(
            Refusal::CommandForbidden { admin: false }
                .stanza_error()
                .other
                .is_none()
        );
    }

    #[test]
    fn texts_name_the_problem() {
        let e = Refusal::SenderName {
            node: "my\\20bank".into(),
        }
        .stanza_error();
        assert!(
            text(&e).contains("\"my bank\" is a sender name"),
            "{}",
            text(&e)
        );
        let e = Refusal::NotANumber {
            node: "+123".into(),
            reason: NumberError::TooShort { digits: 3 },
        }
        .stanza_error();
        assert!(text(&e).contains("too short"), "{}", text(&e));
        let e = Refusal::SenderName {
            node: "bal\u{1}ance".into(),
        }
        .stanza_error();
        assert!(
            text(&e).contains("bal\u{FFFD}ance"),
            "outside text is made XML-safe"
        );
        let e = Refusal::Withheld.stanza_error();
        assert!(text(&e).contains("withheld their number"), "{}", text(&e));
        let e = Refusal::DatabaseSilent { what: "call log" }.stanza_error();
        assert_eq!(
            text(&e),
            "The call log cannot be read now: goippy's database does not answer. Try again later."
        );
    }

    #[test]
    fn delivery_failures() {
        let e = DeliveryFailure::NotDelivered { state: "2".into() }.stanza_error();
        assert_eq!(
            (e.type_.clone(), e.defined_condition.clone()),
            (ErrorType::Wait, DefinedCondition::RecipientUnavailable)
        );
        assert!(text(&e).contains("state 2"));
        let e = DeliveryFailure::ChannelOffline {
            waited: Duration::from_secs(300),
        }
        .stanza_error();
        assert_eq!(
            (e.type_.clone(), e.defined_condition.clone()),
            (ErrorType::Wait, DefinedCondition::RemoteServerTimeout)
        );
        assert!(text(&e).contains("5 min"));
        let e = DeliveryFailure::Unknown {
            waited: Duration::from_secs(180),
        }
        .stanza_error();
        assert_eq!(e.type_, ErrorType::Cancel);
        assert!(text(&e).contains("may or may not"));
        let e = DeliveryFailure::Failed {
            reason: "ERROR 2".into(),
        }
        .stanza_error();
        assert_eq!(e.defined_condition, DefinedCondition::ServiceUnavailable);
        assert!(text(&e).contains("ERROR 2"));
        let e = DeliveryFailure::Interrupted.stanza_error();
        assert_eq!(
            (e.type_.clone(), e.defined_condition.clone()),
            (ErrorType::Cancel, DefinedCondition::RemoteServerTimeout)
        );
        assert!(text(&e).contains("goippy restarted"));
        assert!(text(&e).contains("may or may not"));
        let e = DeliveryFailure::NotSent {
            reason: "the GoIP did not answer".into(),
        }
        .stanza_error();
        assert_eq!(e.defined_condition, DefinedCondition::ServiceUnavailable);
        assert!(text(&e).contains("safe to send it again"));
        let e = DeliveryFailure::UssdNoAnswer {
            waited: Duration::from_secs(60),
        }
        .stanza_error();
        assert_eq!(e.defined_condition, DefinedCondition::RemoteServerTimeout);
        assert!(text(&e).contains("60 s"));
        let e = DeliveryFailure::UssdFailed {
            reason: "USSD send failed!\u{7}".into(),
        }
        .stanza_error();
        assert!(text(&e).contains("USSD send failed!\u{FFFD}."));
        let e = DeliveryFailure::UssdFailed {
            reason: "USSD send failed!".into(),
        }
        .stanza_error();
        assert_eq!(text(&e), "The USSD request failed: USSD send failed!");
        let e = DeliveryFailure::UssdNotSent { reason: "x".into() }.stanza_error();
        assert_eq!(e.type_, ErrorType::Cancel);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(300)), "5 min");
        assert_eq!(human(Duration::from_secs(7500)), "2 h 5 min");
    }
}
