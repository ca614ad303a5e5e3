//! What a gateway definition must look like before it is stored.
//!
//! The values end up in places with their own syntax: the extension is the
//! localpart of the user's JID (`2001@example.org`); the goip_id and password
//! travel in the GoIP's `id:<id>;pass:<pwd>;` datagrams and in the
//! space-separated `PASSWORD <sendid> <pwd>`; the allow_regex is matched
//! against every outbound destination. So they are checked here, once, with
//! messages that say what is wrong, instead of failing later on the wire.

use regex::Regex;

use super::error::StoreError;
use super::records::widths;

/// A gateway definition that passed [`gateway`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidGateway {
    pub ext: String,
    pub password: String,
    pub goip_id: String,
    /// Empty allows every destination.
    pub allow_regex: String,
}

/// The goip_id an extension gets when none is given.
pub fn default_goip_id(ext: &str) -> String {
    format!("goippy_{ext}")
}

/// Checks the values of `goippy --add` / [`super::Store::add_or_update_gateway`].
pub(crate) fn gateway(
    ext: &str,
    password: &str,
    goip_id: Option<&str>,
    allow_regex: Option<&str>,
) -> Result<ValidGateway, StoreError> {
    let ext = extension(ext)?;
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

/// The compiled ACL of an allow_regex: `None` allows every destination; a
/// pattern must match the whole destination (`\+372.*`, not just a part).
pub fn destination_acl(pattern: &str) -> Result<Option<Regex>, regex::Error> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Ok(None);
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_dash() {
        let g = gateway("2001", "pw", None, None).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        assert_eq!(g.allow_regex, "");
        let g = gateway("2001", "pw", Some("-"), Some(r"\+372\d+")).expect("valid");
        assert_eq!(g.goip_id, "goippy_2001");
        let g = gateway("2001", "pw", Some("gw1_ch1"), None).expect("valid");
        assert_eq!(g.goip_id, "gw1_ch1");
    }

    #[test]
    fn refuses_what_the_protocol_cannot_carry() {
        assert!(matches!(
            gateway("20 01", "pw", None, None),
            Err(StoreError::InvalidInput {
                field: "extension",
                ..
            })
        ));
        assert!(matches!(
            gateway("a@b", "pw", None, None),
            Err(StoreError::InvalidInput {
                field: "extension",
                ..
            })
        ));
        let e = gateway("2001", "p w;x", None, None).expect_err("bad password");
        assert!(!e.to_string().contains("p w;x"), "{e}");
        assert!(matches!(
            gateway("2001", "pw", Some("a;b"), None),
            Err(StoreError::InvalidInput {
                field: "goip_id",
                ..
            })
        ));
        assert!(gateway("2001", "", None, None).is_err());
    }

    #[test]
    fn invalid_regex_carries_the_regex_error() {
        let e = gateway("2001", "pw", None, Some("(")).expect_err("invalid");
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid allow_regex \"(\": regex parse error"),
            "{msg}"
        );
    }

    #[test]
    fn acl_matches_whole_destinations() {
        assert!(destination_acl("").expect("empty").is_none());
        let acl = destination_acl(r"\+372\d+").expect("valid").expect("some");
        assert!(acl.is_match("+37255512345"));
        assert!(!acl.is_match("+4915112345678+37255512345"));
        assert!(!acl.is_match("x+37255512345"));
        let acl = destination_acl("1345|1346").expect("valid").expect("some");
        assert!(acl.is_match("1346"));
        assert!(!acl.is_match("13456"));
    }
}
