//! What a gateway definition must look like before it is stored.
//!
//! Gateways are goippy's other configuration: not in the file, but in the
//! database, written by `goippy --add` (`cli/admin.rs`). The store checks a
//! definition with [`validate`] before it writes one, and the CLI checks it
//! before it even contacts the database.
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

pub mod acl;

pub use acl::DestinationAcl;

/// How long each field may be: the width of its `goippy_gateways` column
/// (the original's VARCHARs), which the store's column widths take from
/// here.
pub(crate) mod widths {
    pub const EXT: usize = 32;
    pub const GOIP_ID: usize = 64;
    pub const PASSWORD: usize = 64;
    pub const ALLOW_REGEX: usize = 255;
}

/// Why a gateway definition is refused (the store reports it as
/// `StoreError::InvalidInput` or `StoreError::InvalidRegex`, with the same
/// message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGateway {
    #[error("invalid {field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("invalid allow_regex {pattern:?}: {reason}")]
    Regex { pattern: String, reason: String },
}

/// A gateway definition that passed [`validate`].
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

/// Checks the values of `goippy --add` / [`crate::store::Store::save_gateway`].
pub(crate) fn validate(
    ext: &str,
    password: &str,
    goip_id: Option<&str>,
    channel: Option<i64>,
    allow_regex: Option<&str>,
) -> Result<ValidGateway, InvalidGateway> {
    let ext = extension(ext)?;
    if let Some(n) = channel
        && !CHANNELS.contains(&n)
    {
        return Err(InvalidGateway::Field {
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
        Some(id) => self::goip_id(id)?,
    };
    if password.is_empty() {
        return Err(InvalidGateway::Field {
            field: "password",
            reason: "it is empty".into(),
        });
    }
    // The password itself never appears in a message.
    if password.chars().count() > widths::PASSWORD {
        return Err(InvalidGateway::Field {
            field: "password",
            reason: format!("longer than {} characters", widths::PASSWORD),
        });
    }
    if !carriable(password) {
        return Err(InvalidGateway::Field {
            field: "password",
            reason: "it contains a space, a control character or ';', which the GoIP protocol cannot carry"
                .into(),
        });
    }
    let allow_regex = allow_regex.map(str::trim).unwrap_or_default().to_string();
    if allow_regex.chars().count() > widths::ALLOW_REGEX {
        return Err(InvalidGateway::Regex {
            pattern: allow_regex,
            reason: format!("longer than {} characters", widths::ALLOW_REGEX),
        });
    }
    DestinationAcl::compile(&allow_regex).map_err(|e| InvalidGateway::Regex {
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
pub(crate) fn extension(ext: &str) -> Result<String, InvalidGateway> {
    let ext = ext.trim();
    let ok = !ext.is_empty()
        && ext.chars().count() <= widths::EXT
        && ext
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(ext.to_string())
    } else {
        Err(InvalidGateway::Field {
            field: "extension",
            reason: format!(
                "{ext:?}: expected 1 to {} letters, digits, '.', '_' or '-' (it is the user part of a JID)",
                widths::EXT
            ),
        })
    }
}

/// A line's goip_id as `goippy --add-line` takes it: given, never a
/// default (`-` and empty are no goip_id there).
pub(crate) fn goip_id(value: &str) -> Result<String, InvalidGateway> {
    let value = value.trim();
    if value.is_empty() || value == "-" {
        return Err(InvalidGateway::Field {
            field: "goip_id",
            reason: "give the line's GoIP SMS Client ID".into(),
        });
    }
    token("goip_id", value, widths::GOIP_ID)?;
    Ok(value.to_string())
}

/// Whether the GoIP protocol can carry `value`: it has no space, control
/// character or ';' (its datagrams' separators).
fn carriable(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ';')
}

fn token(field: &'static str, value: &str, max: usize) -> Result<(), InvalidGateway> {
    if value.chars().count() > max {
        return Err(InvalidGateway::Field {
            field,
            reason: format!("{value:?} is longer than {max} characters"),
        });
    }
    if !carriable(value) {
        return Err(InvalidGateway::Field {
            field,
            reason: format!(
                "{value:?} contains a space, a control character or ';', which the GoIP protocol cannot carry"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lines_goip_id_is_given() {
        assert_eq!(goip_id(" gw2 ").expect("valid"), "gw2");
        for bad in ["", "-", "a b", "x;y"] {
            assert!(goip_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_and_dash() {
        let g = validate("2001", "pw", None, None, None).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        assert_eq!(g.channel, None);
        assert_eq!(g.allow_regex, "");
        let g = validate("2001", "pw", Some("-"), Some(3), Some(r"\+372\d+")).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        assert_eq!(g.channel, Some(3));
        let g = validate("2001", "pw", Some("gw1_ch1"), None, None).expect("valid");
        assert_eq!(g.goip_id, "gw1_ch1");
        for bad in [0, -1, 1000] {
            let e = validate("2001", "pw", None, Some(bad), None).expect_err("out of range");
            assert!(
                matches!(
                    e,
                    InvalidGateway::Field {
                        field: "channel",
                        ..
                    }
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn refuses_what_the_protocol_cannot_carry() {
        assert!(matches!(
            validate("20 01", "pw", None, None, None),
            Err(InvalidGateway::Field {
                field: "extension",
                ..
            })
        ));
        assert!(matches!(
            validate("a@b", "pw", None, None, None),
            Err(InvalidGateway::Field {
                field: "extension",
                ..
            })
        ));
        let e = validate("2001", "p w;x", None, None, None).expect_err("bad password");
        assert!(!e.to_string().contains("p w;x"), "{e}");
        assert!(matches!(
            validate("2001", "pw", Some("a;b"), None, None),
            Err(InvalidGateway::Field {
                field: "goip_id",
                ..
            })
        ));
        assert!(validate("2001", "", None, None, None).is_err());
    }

    #[test]
    fn invalid_regex_carries_the_regex_error() {
        let e = validate("2001", "pw", None, None, Some("(")).expect_err("invalid");
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid allow_regex \"(\": regex parse error"),
            "{msg}"
        );
    }

    #[test]
    fn acl_is_searched_where_anchored() {
        assert!(DestinationAcl::compile("").expect("empty").is_none());
        let acl = DestinationAcl::compile(r"^\+3712")
            .expect("valid")
            .expect("some");
        assert!(acl.allows("+37120000001"));
        assert!(!acl.allows("+4915112345678"));
    }
}
