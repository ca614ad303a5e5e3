//! What a phone number is, in one place.
//!
//! Both goippy (deciding where an XMPP message goes and which JID an SMS comes
//! from) and Prosody's `mod_sms_alias` (deciding which stanzas to re-address)
//! ask the same questions, so the answers live here, in the pure part of the
//! crate, and nowhere else.
//!
//! Two strictness levels on purpose:
//! * [`NumberRules::parse_jid_node`] is for JID localparts. It accepts only the
//!   written forms a JID can carry unambiguously — `+` and digits, `00` and
//!   digits, and (with a configured country code) the national trunk form
//!   `0…` — so that one number maps to exactly one contact.
//! * [`NumberRules::normalize`] is for text a person typed (the XEP-0100
//!   prompt, a bot argument): it also drops the usual visual separators
//!   (spaces, `-`, `.`, `(`, `)`, `/`).

use std::fmt;

/// Fewest digits an international number may have (country code included).
pub const MIN_DIGITS: usize = 8;
/// Most digits E.164 allows (country code included).
pub const MAX_DIGITS: usize = 15;
/// Longest digit string accepted as a national number or short code.
pub const MAX_LOCAL_DIGITS: usize = 15;

/// Why a string is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("empty phone number")]
    Empty,
    #[error("'{0}' is not allowed in a phone number (only digits, with a leading '+' or '00')")]
    InvalidCharacter(char),
    #[error("too short for an international number: {digits} digits, need at least {MIN_DIGITS}")]
    TooShort { digits: usize },
    #[error("too long: {digits} digits, E.164 allows at most {MAX_DIGITS}")]
    TooLong { digits: usize },
    #[error("an international number cannot start with 0 after the '+'")]
    ZeroCountryCode,
    #[error(
        "a national number (leading 0) needs a configured country code to become international"
    )]
    NationalWithoutCountryCode,
    #[error("not a phone number: it must start with '+', '00' or a digit")]
    NotANumber,
    #[error("invalid country code {0:?}: expected 1 to 3 digits, not starting with 0")]
    InvalidCountryCode(String),
}

/// An international number in E.164 form: `+`, then 8–15 digits, the first not `0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// The canonical written form, `+37255512345`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// Checks the canonical form exactly (no normalisation at all).
    pub fn parse_canonical(s: &str) -> Result<Self, NumberError> {
        let digits = s.strip_prefix('+').ok_or(NumberError::NotANumber)?;
        Self::from_digits(digits)
    }

    fn from_digits(digits: &str) -> Result<Self, NumberError> {
        check_digits(digits)?;
        if digits.starts_with('0') {
            return Err(NumberError::ZeroCountryCode);
        }
        if digits.len() < MIN_DIGITS {
            return Err(NumberError::TooShort {
                digits: digits.len(),
            });
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooLong {
                digits: digits.len(),
            });
        }
        Ok(E164(format!("+{digits}")))
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an outbound SMS may go: an international number, or a digit string
/// the GoIP passes to the network as written (a short code such as `1345`,
/// or a national number when no country code is configured).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    International(E164),
    Local(String),
}

impl Destination {
    /// The number as it goes on the wire and into JIDs.
    pub fn as_str(&self) -> &str {
        match self {
            Destination::International(n) => n.as_str(),
            Destination::Local(s) => s,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who an inbound SMS came from, as the GoIP reported `srcnum`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// A number we could make international.
    International(E164),
    /// Digits only: a short code, or a national number we cannot qualify.
    Local(String),
    /// A sender name ("Swedbank", "My Bank") or anything else that is not
    /// a number. Nobody can reply to it.
    Alphanumeric(String),
    /// The sender withheld the number: the GoIP reported none, or a
    /// placeholder ([`WITHHELD_PLACEHOLDERS`]). Nobody can reply to it.
    Withheld,
}

/// What stands where a withheld number would be, compared without case or
/// surrounding space. GSM has no "number withheld" flag for an SMS: an SMSC
/// that hides the originator (anonymous-SMS services, some operators' web
/// SMS) sends an empty address or a word of its own choosing, and the GoIP
/// passes on what it got as `srcnum` — so an empty `srcnum:`, the form its
/// `RECORD`/`HANGUP` take for a hidden caller (`num:` empty; see
/// docs/goip-protocol.md#call-events), or one of these words, which SMSCs,
/// modems and phones use for it. A real sender name is none of them (an
/// alphanumeric originator names a company or a service).
pub const WITHHELD_PLACEHOLDERS: [&str; 10] = [
    "unknown",
    "anonymous",
    "withheld",
    "private",
    "restricted",
    "unavailable",
    "hidden",
    "private number",
    "unknown number",
    "withheld number",
];

/// The configurable part of the number rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberRules {
    country_code: Option<String>,
}

impl NumberRules {
    /// Rules without a country code: only `+…` and `00…` are international.
    pub fn international_only() -> Self {
        Self::default()
    }

    /// Rules with an optional country calling code (`"372"`, also accepted as
    /// `"+372"`). With one, a national number written with the trunk prefix
    /// `0` (`0555…`) is read as `+<cc>555…`.
    pub fn new(country_code: Option<&str>) -> Result<Self, NumberError> {
        let country_code = match country_code.map(str::trim) {
            None | Some("") => None,
            Some(cc) => {
                let digits = cc.strip_prefix('+').unwrap_or(cc);
                let valid = (1..=3).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !valid {
                    return Err(NumberError::InvalidCountryCode(cc.to_string()));
                }
                Some(digits.to_string())
            }
        };
        Ok(NumberRules { country_code })
    }

    /// The configured country code, without `+`.
    pub fn country_code(&self) -> Option<&str> {
        self.country_code.as_deref()
    }

    /// Reads a JID localpart as an international number, strictly: `+D…`,
    /// `00D…`, or `0D…` with a country code. Anything else (`alice`, `2001`,
    /// `+12`) is an error, which callers read as "not a phone number".
    pub fn parse_jid_node(&self, node: &str) -> Result<E164, NumberError> {
        if node.is_empty() {
            return Err(NumberError::Empty);
        }
        if let Some(digits) = node.strip_prefix('+') {
            return E164::from_digits(digits);
        }
        if let Some(digits) = node.strip_prefix("00") {
            return E164::from_digits(digits);
        }
        if let Some(national) = node.strip_prefix('0') {
            check_digits(national)?;
            return match &self.country_code {
                Some(cc) => E164::from_digits(&format!("{cc}{national}")),
                None => Err(NumberError::NationalWithoutCountryCode),
            };
        }
        // Digits without a prefix: say which character is wrong, if one is.
        if node.starts_with(|c: char| c.is_ascii_digit()) {
            check_digits(node)?;
        }
        Err(NumberError::NotANumber)
    }

    /// Whether a JID localpart is a phone number (see [`Self::parse_jid_node`]).
    pub fn is_phone_number(&self, node: &str) -> bool {
        self.parse_jid_node(node).is_ok()
    }

    /// Reads a number a person typed: separators are dropped, then the
    /// JID-node rules apply.
    pub fn normalize(&self, typed: &str) -> Result<E164, NumberError> {
        self.parse_jid_node(&strip_separators(typed))
    }

    /// Reads the node of a JID on goippy's own domain as an SMS destination:
    /// an international number, or (when it is not one) a digit string of at
    /// most [`MAX_LOCAL_DIGITS`] digits that the GoIP dials as written.
    pub fn parse_destination(&self, node: &str) -> Result<Destination, NumberError> {
        match self.parse_jid_node(node) {
            Ok(n) => Ok(Destination::International(n)),
            // Written as international but not valid: say why, do not guess.
            Err(e) if node.starts_with('+') || node.starts_with("00") => Err(e),
            Err(e) if node.is_empty() || !node.bytes().all(|b| b.is_ascii_digit()) => Err(e),
            Err(_) if node.len() > MAX_LOCAL_DIGITS => {
                Err(NumberError::TooLong { digits: node.len() })
            }
            Err(_) => Ok(Destination::Local(node.to_string())),
        }
    }

    /// Classifies the `srcnum` of an inbound SMS (or the `num` of a call).
    pub fn classify_sender(&self, srcnum: &str) -> Sender {
        let trimmed = srcnum.trim();
        if trimmed.is_empty()
            || WITHHELD_PLACEHOLDERS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(trimmed))
        {
            return Sender::Withheld;
        }
        if let Ok(n) = self.parse_jid_node(trimmed) {
            return Sender::International(n);
        }
        if trimmed.len() <= MAX_LOCAL_DIGITS && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Sender::Local(trimmed.to_string());
        }
        Sender::Alphanumeric(trimmed.to_string())
    }
}

fn check_digits(digits: &str) -> Result<(), NumberError> {
    if digits.is_empty() {
        return Err(NumberError::TooShort { digits: 0 });
    }
    match digits.chars().find(|c| !c.is_ascii_digit()) {
        Some(c) => Err(NumberError::InvalidCharacter(c)),
        None => Ok(()),
    }
}

fn strip_separators(typed: &str) -> String {
    typed
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ee() -> NumberRules {
        NumberRules::new(Some("372")).expect("valid country code")
    }

    #[test]
    fn canonical_international_numbers() {
        let r = NumberRules::international_only();
        assert_eq!(
            r.parse_jid_node("+37255512345").map(|n| n.to_string()),
            Ok("+37255512345".into())
        );
        assert_eq!(
            r.parse_jid_node("+12025550123")
                .map(|n| n.digits().to_string()),
            Ok("12025550123".into())
        );
        // 8 and 15 digits are the bounds.
        assert!(r.is_phone_number("+12345678"));
        assert!(r.is_phone_number("+123456789012345"));
        assert_eq!(
            r.parse_jid_node("+1234567"),
            Err(NumberError::TooShort { digits: 7 })
        );
        assert_eq!(
            r.parse_jid_node("+1234567890123456"),
            Err(NumberError::TooLong { digits: 16 })
        );
    }

    #[test]
    fn double_zero_becomes_plus() {
        let r = NumberRules::international_only();
        assert_eq!(
            r.parse_jid_node("0037255512345").map(|n| n.to_string()),
            Ok("+37255512345".into())
        );
        assert_eq!(
            r.parse_jid_node("000123456789"),
            Err(NumberError::ZeroCountryCode)
        );
    }

    #[test]
    fn not_numbers() {
        let r = ee();
        for node in [
            "",
            "alice",
            "2001",
            "2508",
            "+",
            "+12",
            "+3725551234a",
            "+0123456789",
            "++37255512345",
            "bob+37255512345",
        ] {
            assert!(
                !r.is_phone_number(node),
                "{node:?} must not be a phone number"
            );
        }
        assert_eq!(
            r.parse_jid_node("+37255 512345"),
            Err(NumberError::InvalidCharacter(' '))
        );
    }

    #[test]
    fn national_rule_needs_a_country_code() {
        assert_eq!(
            NumberRules::international_only().parse_jid_node("055512345"),
            Err(NumberError::NationalWithoutCountryCode)
        );
        assert_eq!(
            ee().parse_jid_node("055512345").map(|n| n.to_string()),
            Ok("+37255512345".into())
        );
        let uk = NumberRules::new(Some("+44")).expect("valid");
        assert_eq!(
            uk.parse_jid_node("07911123456").map(|n| n.to_string()),
            Ok("+447911123456".into())
        );
        // Local extensions stay users, even with a country code.
        assert!(!ee().is_phone_number("2001"));
    }

    #[test]
    fn country_code_validation() {
        for bad in ["0", "1234", "37a", "+", "-1"] {
            assert!(NumberRules::new(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            NumberRules::new(Some(""))
                .expect("empty is none")
                .country_code(),
            None
        );
        assert_eq!(
            NumberRules::new(Some(" 1 ")).expect("ok").country_code(),
            Some("1")
        );
    }

    #[test]
    fn typed_numbers_lose_their_separators() {
        let r = ee();
        assert_eq!(
            r.normalize(" +372 5551-2345 ").map(|n| n.to_string()),
            Ok("+37255512345".into())
        );
        assert_eq!(
            r.normalize("(0)555.12345").map(|n| n.to_string()),
            Ok("+37255512345".into())
        );
        assert!(r.normalize("call me").is_err());
    }

    #[test]
    fn destinations() {
        let r = NumberRules::international_only();
        assert_eq!(
            r.parse_destination("+37255512345"),
            Ok(Destination::International(E164("+37255512345".into())))
        );
        assert_eq!(
            r.parse_destination("1345"),
            Ok(Destination::Local("1345".into()))
        );
        assert_eq!(
            r.parse_destination("0555123"),
            Ok(Destination::Local("0555123".into()))
        );
        assert!(r.parse_destination("+123").is_err());
        assert!(r.parse_destination("Swedbank").is_err());
        assert!(r.parse_destination("").is_err());
        assert!(r.parse_destination("1234567890123456").is_err());
        assert_eq!(
            ee().parse_destination("055512345").map(|d| d.to_string()),
            Ok("+37255512345".into())
        );
    }

    #[test]
    fn senders() {
        let r = NumberRules::international_only();
        assert_eq!(
            r.classify_sender("+37255512345"),
            Sender::International(E164("+37255512345".into()))
        );
        assert_eq!(
            r.classify_sender("1380013800"),
            Sender::Local("1380013800".into())
        );
        assert_eq!(
            r.classify_sender("Swedbank"),
            Sender::Alphanumeric("Swedbank".into())
        );
        assert_eq!(
            r.classify_sender("My Bank"),
            Sender::Alphanumeric("My Bank".into())
        );
        for withheld in [
            "",
            "  ",
            "Unknown",
            "ANONYMOUS",
            " withheld ",
            "Private Number",
        ] {
            assert_eq!(
                r.classify_sender(withheld),
                Sender::Withheld,
                "{withheld:?}"
            );
        }
        assert_eq!(
            r.classify_sender("Privatbank"),
            Sender::Alphanumeric("Privatbank".into())
        );
    }
}
