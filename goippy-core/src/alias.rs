//! The alias rules: `+N@example.org` is the same contact as `+N@sms.example.org`.
//!
//! Users chat with phone numbers on their own server's domain (the *local
//! domain*); goippy serves them on its component domain. Prosody's
//! `mod_sms_alias` re-addresses stanzas between the two, and goippy answers
//! XEP-0100 prompts with the alias form. Both use these functions, so the
//! daemon and the Prosody module can never disagree on what an alias is.
//!
//! # Answers come from the address the user wrote to
//!
//! A user may write to one number in several spellings: `+37255512345@example.org`
//! (the alias), `0037255512345@example.org`, or goippy's own
//! `+37255512345@sms.example.org`. A client keys its conversation (and its
//! pending receipts and errors) on the exact JID it wrote to, so every answer
//! to a stanza must come back from that JID, while SMS that arrive later come
//! from the one canonical alias. goippy and the module agree on it through a
//! private element ([`ADDRESSED_NS`]): the module marks each message and
//! presence it re-addresses with the JID the user wrote
//! (`<addressed xmlns='…' jid='0037255512345@example.org'/>`); goippy stores
//! that address with what it answers later and marks every answer with it; the
//! module turns a marked answer's `from` into that address
//! ([`AliasRules::answer_from`], which accepts only a spelling of the very
//! contact the answer comes from) and removes the element before anything
//! else sees the stanza. An answer to a stanza written straight to the
//! component form carries that form, which the module then leaves alone.
//!
//! JIDs are handled as strings split the way Prosody's `util.jid.split` does
//! (`node@host/resource`, the first `@` before the first `/`). Domains compare
//! case-insensitively; nodes are compared as written because Prosody has
//! already applied nodeprep, and a phone-number node has no case anyway.

use crate::number::{E164, NumberError, NumberRules};

/// A JID split into its parts, borrowing from the original string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JidParts<'a> {
    pub node: Option<&'a str>,
    pub host: &'a str,
    pub resource: Option<&'a str>,
}

/// Splits `node@host/resource` like Prosody does. `None` for an empty host.
pub fn split_jid(jid: &str) -> Option<JidParts<'_>> {
    let (bare, resource) = match jid.find('/') {
        Some(i) => (&jid[..i], Some(&jid[i + 1..])),
        None => (jid, None),
    };
    let (node, host) = match bare.find('@') {
        Some(i) => (Some(&bare[..i]), &bare[i + 1..]),
        None => (None, bare),
    };
    if host.is_empty() || node == Some("") {
        return None;
    }
    Some(JidParts {
        node,
        host,
        resource,
    })
}

/// The namespace of the private `<addressed jid='…'/>` element (see the
/// module docs). Only goippy and mod_sms_alias use it; the module strips it
/// from every stanza before delivery, so no client ever sees it.
pub const ADDRESSED_NS: &str = "urn:goippy:sms-alias:addressed:0";
/// The element's name.
pub const ADDRESSED_NAME: &str = "addressed";
/// Its one attribute: the bare JID the user wrote to.
pub const ADDRESSED_ATTR: &str = "jid";

/// Why the alias rules could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("the {0} domain must not be empty")]
    EmptyDomain(&'static str),
    #[error("the local domain and the component domain must differ (both are {0:?})")]
    SameDomain(String),
    #[error(transparent)]
    Number(#[from] NumberError),
}

/// The settings that decide every rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRules {
    local_domain: String,
    component_domain: String,
    numbers: NumberRules,
}

impl AliasRules {
    /// `local_domain` is the users' server (`example.org`), `component_domain`
    /// goippy's (`sms.example.org`); `country_code` enables the national rule
    /// of [`NumberRules`].
    pub fn new(
        local_domain: &str,
        component_domain: &str,
        country_code: Option<&str>,
    ) -> Result<Self, AliasError> {
        let local_domain = local_domain.trim().to_ascii_lowercase();
        let component_domain = component_domain.trim().to_ascii_lowercase();
        if local_domain.is_empty() {
            return Err(AliasError::EmptyDomain("local"));
        }
        if component_domain.is_empty() {
            return Err(AliasError::EmptyDomain("component"));
        }
        if local_domain == component_domain {
            return Err(AliasError::SameDomain(local_domain));
        }
        Ok(AliasRules {
            local_domain,
            component_domain,
            numbers: NumberRules::new(country_code)?,
        })
    }

    pub fn local_domain(&self) -> &str {
        &self.local_domain
    }

    pub fn component_domain(&self) -> &str {
        &self.component_domain
    }

    pub fn numbers(&self) -> &NumberRules {
        &self.numbers
    }

    /// Outbound: `+N@local[/res]` (also `00N@…`, `0N@…` with a country code)
    /// becomes `+N@component[/res]`. Any other localpart that starts with `+`
    /// (`+12`, `+372 5551`) is meant as a number too and goes to goippy as
    /// written, so that the user learns from goippy why it is none, in the
    /// very words goippy uses for `+12@component`. `None` when the JID is not
    /// an alias, which means "route it normally".
    pub fn rewrite_to(&self, jid: &str) -> Option<String> {
        let parts = split_jid(jid)?;
        if !parts.host.eq_ignore_ascii_case(&self.local_domain) {
            return None;
        }
        let node = self.component_node(parts.node?)?;
        Some(join(&node, &self.component_domain, parts.resource))
    }

    /// The localpart on the component domain that `node` on the local
    /// domain stands for: a number in canonical form, any other `+…` as
    /// written; `None` for what is not meant as a number (a user's name).
    fn component_node(&self, node: &str) -> Option<String> {
        match self.numbers.parse_jid_node(node) {
            Ok(number) => Some(number.as_str().to_string()),
            Err(_) if node.starts_with('+') => Some(node.to_string()),
            Err(_) => None,
        }
    }

    /// Inbound, for an answer goippy marked with the address the user wrote
    /// to (`addressed`, a bare JID; see the module docs): the JID the answer
    /// must come from — `addressed`, with the resource of `from` — when
    /// `addressed` names the very contact `from` is: an alias that
    /// [`Self::rewrite_to`] maps to it, or `from` itself on the component
    /// domain. `None` otherwise, and the mark is ignored: nothing can make an
    /// answer appear to come from a user or another contact.
    pub fn answer_from(&self, from: &str, addressed: &str) -> Option<String> {
        let from = split_jid(from)?;
        if !from.host.eq_ignore_ascii_case(&self.component_domain) {
            return None;
        }
        let from_node = from.node?;
        let written = split_jid(addressed)?;
        if written.resource.is_some() {
            return None;
        }
        let written_node = written.node?;
        let same_contact = if written.host.eq_ignore_ascii_case(&self.local_domain) {
            self.component_node(written_node).as_deref() == Some(from_node)
        } else if written.host.eq_ignore_ascii_case(&self.component_domain) {
            written_node == from_node
        } else {
            false
        };
        same_contact.then(|| join(written_node, written.host, from.resource))
    }

    /// Inbound: `+N@component[/res]` becomes `+N@local[/res]`. Only canonical
    /// international numbers are rewritten; short codes and sender names stay
    /// on the component domain, where goippy itself answers them.
    pub fn rewrite_from(&self, jid: &str) -> Option<String> {
        let parts = split_jid(jid)?;
        if !parts.host.eq_ignore_ascii_case(&self.component_domain) {
            return None;
        }
        let number = E164::parse_canonical(parts.node?).ok()?;
        Some(join(number.as_str(), &self.local_domain, parts.resource))
    }
}

fn join(node: &str, host: &str, resource: Option<&str>) -> String {
    match resource {
        Some(r) => format!("{node}@{host}/{r}"),
        None => format!("{node}@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> AliasRules {
        AliasRules::new("example.org", "sms.example.org", None).expect("valid rules")
    }

    #[test]
    fn splits_like_prosody() {
        assert_eq!(
            split_jid("a@b/c@d/e"),
            Some(JidParts {
                node: Some("a"),
                host: "b",
                resource: Some("c@d/e")
            })
        );
        assert_eq!(
            split_jid("example.org"),
            Some(JidParts {
                node: None,
                host: "example.org",
                resource: None
            })
        );
        assert_eq!(split_jid("@example.org"), None);
        assert_eq!(split_jid("alice@"), None);
        assert_eq!(split_jid(""), None);
    }

    #[test]
    fn outbound_rewrites() {
        let r = rules();
        assert_eq!(
            r.rewrite_to("+37255512345@example.org").as_deref(),
            Some("+37255512345@sms.example.org")
        );
        assert_eq!(
            r.rewrite_to("+37255512345@Example.ORG/phone").as_deref(),
            Some("+37255512345@sms.example.org/phone")
        );
        assert_eq!(
            r.rewrite_to("0037255512345@example.org").as_deref(),
            Some("+37255512345@sms.example.org")
        );
        assert_eq!(r.rewrite_to("bob@example.org"), None);
        assert_eq!(r.rewrite_to("2001@example.org"), None);
        assert_eq!(r.rewrite_to("0012@example.org"), None);
        assert_eq!(r.rewrite_to("+37255512345@other.org"), None);
        assert_eq!(r.rewrite_to("+37255512345@sms.example.org"), None);
        assert_eq!(r.rewrite_to("example.org"), None);
    }

    #[test]
    fn every_plus_is_meant_as_a_number() {
        let r = rules();
        // goippy explains why these are no numbers, as it does for the same
        // localpart on its own domain.
        assert_eq!(
            r.rewrite_to("+12@example.org").as_deref(),
            Some("+12@sms.example.org")
        );
        assert_eq!(
            r.rewrite_to("+0123456789@example.org/x").as_deref(),
            Some("+0123456789@sms.example.org/x")
        );
        assert_eq!(
            r.rewrite_to("+abc@example.org").as_deref(),
            Some("+abc@sms.example.org")
        );
        assert_eq!(r.rewrite_to("+12@other.org"), None);
    }

    #[test]
    fn answers_come_from_the_address_written_to() {
        let r = AliasRules::new("example.org", "sms.example.org", Some("372")).expect("valid");
        let from = "+37255512345@sms.example.org";
        for written in [
            "+37255512345@example.org",
            "0037255512345@example.org",
            "055512345@example.org",
            "+37255512345@sms.example.org",
        ] {
            assert_eq!(
                r.answer_from(from, written).as_deref(),
                Some(written),
                "{written}"
            );
        }
        assert_eq!(
            r.answer_from(
                "+37255512345@sms.example.org/gw",
                "0037255512345@example.org"
            )
            .as_deref(),
            Some("0037255512345@example.org/gw")
        );
        assert_eq!(
            r.answer_from("+12@sms.example.org", "+12@example.org")
                .as_deref(),
            Some("+12@example.org")
        );
        // Never another contact, a user, another domain or a full JID.
        for (from, written) in [
            (from, "+37255599999@example.org"),
            (from, "alice@example.org"),
            (from, "+37255512345@other.org"),
            (from, "0037255512345@sms.example.org"),
            (from, "+37255512345@example.org/res"),
            (from, "example.org"),
            (from, ""),
            ("+37255512345@example.org", "+37255512345@example.org"),
            ("sms.example.org", "+37255512345@example.org"),
            ("swedbank@sms.example.org", "swedbank@example.org"),
        ] {
            assert_eq!(r.answer_from(from, written), None, "{from} {written}");
        }
    }

    #[test]
    fn national_rule_applies_to_aliases() {
        let r = AliasRules::new("example.org", "sms.example.org", Some("372")).expect("valid");
        assert_eq!(
            r.rewrite_to("055512345@example.org").as_deref(),
            Some("+37255512345@sms.example.org")
        );
    }

    #[test]
    fn inbound_rewrites() {
        let r = rules();
        assert_eq!(
            r.rewrite_from("+37255512345@sms.example.org").as_deref(),
            Some("+37255512345@example.org")
        );
        assert_eq!(
            r.rewrite_from("+37255512345@sms.example.org/x").as_deref(),
            Some("+37255512345@example.org/x")
        );
        assert_eq!(r.rewrite_from("1345@sms.example.org"), None);
        assert_eq!(r.rewrite_from("Swedbank@sms.example.org"), None);
        assert_eq!(r.rewrite_from("0037255512345@sms.example.org"), None);
        assert_eq!(r.rewrite_from("sms.example.org"), None);
        assert_eq!(r.rewrite_from("+37255512345@example.org"), None);
    }

    #[test]
    fn round_trip() {
        let r = rules();
        let alias = "+37255512345@example.org";
        let there = r.rewrite_to(alias).expect("alias");
        assert_eq!(r.rewrite_from(&there).as_deref(), Some(alias));
    }

    #[test]
    fn bad_settings() {
        assert_eq!(
            AliasRules::new("", "sms.x", None),
            Err(AliasError::EmptyDomain("local"))
        );
        assert_eq!(
            AliasRules::new("x", " ", None),
            Err(AliasError::EmptyDomain("component"))
        );
        assert_eq!(
            AliasRules::new("X", "x", None),
            Err(AliasError::SameDomain("x".into()))
        );
        assert!(matches!(
            AliasRules::new("x", "y", Some("0")),
            Err(AliasError::Number(_))
        ));
    }
}
