//! What a gateway definition must look like before it is stored.
//!
//! The values end up in places with their own syntax: the extension is the
//! localpart of the user's JID (`2001@example.org`); the goip_id and password
//! travel in the GoIP's `id:<id>;pass:<pwd>;` datagrams and in the
//! space-separated `PASSWORD <sendid> <pwd>`; the allow_regex is searched
//! in every outbound destination (see [`acl`]). So they are checked here, once, with
//! messages that say what is wrong, instead of failing later on the wire.
//!
//! The channel is the GoIP line (CH1, CH2, …) the goip_id is configured on,
//! the third value of the original `goippy --add <ext> <pass> [channel|-]`.
//! Scripts written for a build that read a goip_id there would otherwise
//! store a nonsense line number silently, so a value that is not a number
//! is refused with a pointer to `--goip-id`.

use std::ops::RangeInclusive;

use super::error::StoreError;
use super::records::widths;

pub mod acl;

pub use acl::DestinationAcl;

/// A gateway definition that passed [`gateway`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidGateway {
    pub ext: String,
    pub password: String,
    pub goip_id: String,
    /// The GoIP line number; `None`: not given.
    pub channel: Option<i64>,
    /// Empty allows every destination.
    pub allow_regex: String,
}

/// The goip_id an extension gets when none is given.
pub fn default_goip_id(ext: &str) -> String {
    format!("goippy_{ext}")
}

/// The line numbers a channel can have: GoIPs have 1 to 32 lines; the
/// range leaves room for numbering several devices' lines apart.
pub const CHANNELS: RangeInclusive<i64> = 1..=999;

/// Reads the channel argument of `goippy --add` (`-`, empty or absent: none).
pub(crate) fn channel_arg(value: Option<&str>) -> Result<Option<i64>, StoreError> {
    let value = match value.map(str::trim) {
        None | Some("") | Some("-") => return Ok(None),
        Some(v) => v,
    };
    let expected = format!(
        "expected a GoIP line number {}\u{2013}{} or \"-\", got {value:?}",
        CHANNELS.start(),
        CHANNELS.end()
    );
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::InvalidInput {
            field: "channel",
            reason: format!("{expected} (a custom SMS Client ID is given with --goip-id {value})"),
        });
    }
    match value.parse::<i64>() {
        Ok(n) if CHANNELS.contains(&n) => Ok(Some(n)),
        _ => Err(StoreError::InvalidInput {
            field: "channel",
            reason: expected,
        }),
    }
}

/// Checks the values of `goippy --add` / [`super::Store::save_gateway`].
pub(crate) fn gateway(
    ext: &str,
    password: &str,
    goip_id: Option<&str>,
    channel: Option<i64>,
    allow_regex: Option<&str>,
) -> Result<ValidGateway, StoreError> {
    let ext = extension(ext)?;
    if let Some(n) = channel
        && !CHANNELS.contains(&n)
    {
        return Err(StoreError::InvalidInput {
            field: "channel",
            reason: format!(
                "expected a GoIP line number {}\u{2013}{}, got {n}",
                CHANNELS.start(),
                CHANNELS.end()
            ),
        });
    }
    let goip_id = match goip_id.map(str::trim) {
        None | Some("") | Some("-") => default_goip_id(&ext),
        Some(id) => {
            token("goip_id", id, widths::GOIP_ID)?;
            id.to_string()
        }
    };
    if password.is_empty() {
        return Err(StoreError::InvalidInput {
            field: "password",
            reason: "it is empty".into(),
        });
    }
    // The password itself never appears in a message.
    if password.chars().count() > widths::PASSWORD {
        return Err(StoreError::InvalidInput {
            field: "password",
            reason: format!("longer than {} characters", widths::PASSWORD),
        });
    }
    if password
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ';')
    {
        return Err(StoreError::InvalidInput {
            field: "password",
            reason: "it contains a space, a control character or ';', which the GoIP protocol cannot carry"
                .into(),
        });
    }
    let allow_regex = allow_regex.map(str::trim).unwrap_or_default().to_string();
    if allow_regex.chars().count() > widths::ALLOW_REGEX {
        return Err(StoreError::InvalidRegex {
            pattern: allow_regex,
            reason: format!("longer than {} characters", widths::ALLOW_REGEX),
        });
    }
    destination_acl(&allow_regex).map_err(|e| StoreError::InvalidRegex {
        pattern: allow_regex.clone(),
        reason: e.to_string(),
    })?;
    Ok(ValidGateway {
        ext,
        password: password.to_string(),
        goip_id,
        channel,
        allow_regex,
    })
}

/// Checks an extension (the localpart of its user's JID).
pub(crate) fn extension(ext: &str) -> Result<String, StoreError> {
    let ext = ext.trim();
    let ok = !ext.is_empty()
        && ext.chars().count() <= widths::EXT
        && ext
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(ext.to_string())
    } else {
        Err(StoreError::InvalidInput {
            field: "extension",
            reason: format!(
                "{ext:?}: expected 1 to {} letters, digits, '.', '_' or '-' (it is the user part of a JID)",
                widths::EXT
            ),
        })
    }
}

fn token(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.chars().count() > max {
        return Err(StoreError::InvalidInput {
            field,
            reason: format!("{value:?} is longer than {max} characters"),
        });
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ';')
    {
        return Err(StoreError::InvalidInput {
            field,
            reason: format!(
                "{value:?} contains a space, a control character or ';', which the GoIP protocol cannot carry"
            ),
        });
    }
    Ok(())
}

/// The ACL of an allow_regex: `None` allows every destination. How a
/// pattern is read (searched, or whole for old rows): see [`acl`].
pub fn destination_acl(pattern: &str) -> Result<Option<DestinationAcl>, regex::Error> {
    DestinationAcl::compile(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_dash() {
        let g = gateway("2001", "pw", None, None, None).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        assert_eq!(g.channel, None);
        assert_eq!(g.allow_regex, "");
        let g = gateway("2001", "pw", Some("-"), Some(3), Some(r"\+372\d+")).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        assert_eq!(g.channel, Some(3));
        let g = gateway("2001", "pw", Some("gw1_ch1"), None, None).expect("valid");
        assert_eq!(g.goip_id, "gw1_ch1");
        for bad in [0, -1, 1000] {
            let e = gateway("2001", "pw", None, Some(bad), None).expect_err("out of range");
            assert!(
                matches!(
                    e,
                    StoreError::InvalidInput {
                        field: "channel",
                        ..
                    }
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn channel_argument() {
        assert_eq!(channel_arg(None).expect("none"), None);
        assert_eq!(channel_arg(Some("-")).expect("dash"), None);
        assert_eq!(channel_arg(Some("")).expect("empty"), None);
        assert_eq!(channel_arg(Some("1")).expect("1"), Some(1));
        assert_eq!(channel_arg(Some(" 32 ")).expect("32"), Some(32));
        assert_eq!(channel_arg(Some("999")).expect("999"), Some(999));
        let e = channel_arg(Some("gw1")).expect_err("a goip_id");
        assert_eq!(
            e.to_string(),
            "invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got \"gw1\" \
             (a custom SMS Client ID is given with --goip-id gw1)"
        );
        for bad in ["0", "1000", "-3", "99999999999999999999999"] {
            let e = channel_arg(Some(bad)).expect_err("out of range");
            let msg = e.to_string();
            assert_eq!(
                msg,
                format!(
                    "invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got {bad:?}"
                )
            );
        }
        let e = channel_arg(Some("1a")).expect_err("not a number");
        assert!(e.to_string().contains("--goip-id 1a"), "{e}");
    }

    #[test]
    fn refuses_what_the_protocol_cannot_carry() {
        assert!(matches!(
            gateway("20 01", "pw", None, None, None),
            Err(StoreError::InvalidInput {
                field: "extension",
                ..
            })
        ));
        assert!(matches!(
            gateway("a@b", "pw", None, None, None),
            Err(StoreError::InvalidInput {
                field: "extension",
                ..
            })
        ));
        let e = gateway("2001", "p w;x", None, None, None).expect_err("bad password");
        assert!(!e.to_string().contains("p w;x"), "{e}");
        assert!(matches!(
            gateway("2001", "pw", Some("a;b"), None, None),
            Err(StoreError::InvalidInput {
                field: "goip_id",
                ..
            })
        ));
        assert!(gateway("2001", "", None, None, None).is_err());
    }

    #[test]
    fn invalid_regex_carries_the_regex_error() {
        let e = gateway("2001", "pw", None, None, Some("(")).expect_err("invalid");
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid allow_regex \"(\": regex parse error"),
            "{msg}"
        );
    }

    #[test]
    fn acl_is_searched_where_anchored() {
        assert!(destination_acl("").expect("empty").is_none());
        let acl = destination_acl(r"^\+3712").expect("valid").expect("some");
        assert!(acl.allows("+37120000001"));
        assert!(!acl.allows("+4915112345678"));
    }
}
