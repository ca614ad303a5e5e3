//! Which JID stands for what, on both sides of goippy.
//!
//! * **Users** are `<ext>@XMPP_DOMAIN` (`2001@example.org`).
//! * **Contacts** (phone numbers, short codes, sender names) are
//!   `<node>@XMPP_DATA_DOMAIN` (`+37255512345@sms.example.org`); with
//!   `mod_sms_alias` users see international numbers as `+N@XMPP_DOMAIN`.
//! * **The component itself** is `XMPP_COMPONENT_JID` (`sms.example.org`),
//!   which answers disco, XEP-0100 and pings.
//!
//! [`Addressing`] is built once from the settings, so domains are parsed
//! and normalised (nameprep) at startup, and every JID goippy sends from
//! or to is made here.
//!
//! Answers to a stanza come from the JID the user wrote to. With
//! mod_sms_alias that may be a spelling on the users' domain
//! (`0037255512345@example.org`) that the module re-addressed and marked
//! (`crate::alias`); [`Addressing::written_to`] reads the mark,
//! [`Addressing::mark_for`] says whether an answer needs one, and
//! [`Addressing::sender_for`] which component JID a stored answer is sent from.
//!
//! Note: Prosody 0.12 accepts from a component only `from` addresses whose
//! domain is exactly the component's (`validate_from_addresses`); a data
//! domain that differs from the component JID therefore needs
//! `validate_from_addresses = false` on the Prosody side.

use std::borrow::Cow;

use tokio_xmpp::jid::{self, BareJid, DomainPart, DomainRef, Jid, NodePart};

use crate::alias::AliasRules;
use crate::config::XmppSettings;
use crate::number::{E164, NumberRules, Sender};

use super::node_escape::{WITHHELD_NODE, sender_node};

/// Settings that cannot be turned into JIDs.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AddressError {
    #[error("{what} {value:?} is not a valid XMPP domain: {source}")]
    InvalidDomain {
        what: &'static str,
        value: String,
        source: jid::Error,
    },
    #[error("{value:?} is not a valid JID localpart: {source}")]
    InvalidNode { value: String, source: jid::Error },
}

/// Where an inbound stanza was addressed, from goippy's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The component's own JID (no localpart).
    Component,
    /// A contact on the data domain; `node` is the localpart as Prosody and
    /// the `jid` crate normalised it (e.g. `+37255512345`, `swedbank`).
    Contact { node: String },
    /// Anything else (a localpart on the component domain when the data
    /// domain differs, a resource-only address…). Prosody should never
    /// route such a stanza to goippy.
    Elsewhere,
}

/// goippy's JIDs, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    user_domain: DomainPart,
    component: BareJid,
    data_domain: DomainPart,
    numbers: NumberRules,
    use_alias: bool,
    /// mod_sms_alias's rules between the users' and the data domain (none
    /// when the two are the same, which no Prosody allows anyway).
    alias: Option<AliasRules>,
}

impl Addressing {
    /// `user_domain` is XMPP_DOMAIN, `component` XMPP_COMPONENT_JID and
    /// `data_domain` XMPP_DATA_DOMAIN; `use_alias` makes XEP-0100 answer
    /// with the `+N@user_domain` alias form.
    pub fn new(
        user_domain: &str,
        component: &str,
        data_domain: &str,
        numbers: NumberRules,
        use_alias: bool,
    ) -> Result<Self, AddressError> {
        let component = domain("XMPP_COMPONENT_JID", component)?;
        let user_domain = domain("XMPP_DOMAIN", user_domain)?;
        let data_domain = domain("XMPP_DATA_DOMAIN", data_domain)?;
        let alias = AliasRules::new(
            user_domain.as_str(),
            data_domain.as_str(),
            numbers.country_code(),
        )
        .ok();
        Ok(Addressing {
            user_domain,
            component: BareJid::from_parts(None, &component),
            data_domain,
            numbers,
            use_alias,
            alias,
        })
    }

    /// From the configuration file's settings.
    pub fn from_settings(s: &XmppSettings, numbers: NumberRules) -> Result<Self, AddressError> {
        Self::new(
            &s.domain,
            &s.component_jid,
            &s.data_domain,
            numbers,
            s.use_alias,
        )
    }

    /// The component's JID (`sms.example.org`).
    pub fn component(&self) -> &BareJid {
        &self.component
    }

    /// The contacts' domain (`sms.example.org`).
    pub fn data_domain(&self) -> &DomainRef {
        &self.data_domain
    }

    pub fn numbers(&self) -> &NumberRules {
        &self.numbers
    }

    /// `<ext>@XMPP_DOMAIN`.
    pub fn user_jid(&self, ext: &str) -> Result<BareJid, AddressError> {
        Ok(BareJid::from_parts(Some(&node(ext)?), &self.user_domain))
    }

    /// The contact JID of a number or short code on the data domain
    /// (`+N@data_domain`, `1345@data_domain`).
    pub fn contact_jid(&self, number: &str) -> BareJid {
        BareJid::from_parts(Some(&number_node(number)), &self.data_domain)
    }

    /// The JID an inbound SMS comes from: the number, or the XEP-0106
    /// escaped sender name (see [`super::node_escape`]).
    pub fn sender_jid(&self, sender: &Sender) -> BareJid {
        match sender {
            Sender::International(n) => self.contact_jid(n.as_str()),
            Sender::Local(digits) => self.contact_jid(digits),
            Sender::Alphanumeric(name) => {
                BareJid::from_parts(Some(&sender_node(name)), &self.data_domain)
            }
            // See [`super::node_escape::WITHHELD_NODE`].
            Sender::Withheld => self.contact_jid(WITHHELD_NODE),
        }
    }

    /// The JID a user should add to their roster for `number`: the alias
    /// `+N@XMPP_DOMAIN` when mod_sms_alias is in use, else `+N@data_domain`.
    pub fn roster_jid(&self, number: &E164) -> BareJid {
        if self.use_alias {
            BareJid::from_parts(Some(&number_node(number.as_str())), &self.user_domain)
        } else {
            self.contact_jid(number.as_str())
        }
    }

    /// The JID the user wrote to, for a stanza that reached goippy at `to`:
    /// the JID mod_sms_alias marked it with (`mark`) when that is a spelling
    /// of the same contact on the users' domain, else `to` itself. A mark
    /// naming anything else (a client's own, sent straight to goippy) is
    /// ignored.
    pub fn written_to(&self, to: &Jid, mark: Option<&str>) -> BareJid {
        let to = to.to_bare();
        mark.zip(self.alias.as_ref())
            .and_then(|(mark, alias)| alias.answer_from(to.as_str(), mark))
            .and_then(|written| BareJid::new(&written).ok())
            .filter(|written| written.domain() == &*self.user_domain)
            .unwrap_or(to)
    }

    /// The mark an answer to what the user wrote to `written` carries, so
    /// that mod_sms_alias delivers it from `written` (see [`crate::alias`]):
    /// whenever the module is in use (XMPP_USE_ALIAS), or `written` is on the
    /// users' domain (only the module routes that to goippy). Without the
    /// module nothing rewrites answers, and nothing would remove the mark.
    pub fn mark_for<'a>(&self, written: &'a BareJid) -> Option<&'a BareJid> {
        (self.use_alias || written.domain() == &*self.user_domain).then_some(written)
    }

    /// The JID goippy sends an answer from when the user wrote to
    /// `written`: `written` itself on the data domain, its contact on the
    /// data domain for an alias on the users' domain; `None` for anything
    /// else.
    pub fn sender_for(&self, written: &BareJid) -> Option<BareJid> {
        let domain = written.domain();
        if domain == &*self.data_domain {
            return Some(written.clone());
        }
        if domain != &*self.user_domain {
            return None;
        }
        let contact = self.alias.as_ref()?.rewrite_to(written.as_str())?;
        BareJid::new(&contact).ok()
    }

    /// What an inbound stanza's `to` addresses.
    pub fn target(&self, to: &Jid) -> Target {
        let on_data_domain = to.domain() == &*self.data_domain;
        let on_component = to.domain() == self.component.domain();
        match to.node() {
            None if on_component => Target::Component,
            Some(node) if on_data_domain => Target::Contact {
                node: node.as_str().to_string(),
            },
            _ => Target::Elsewhere,
        }
    }

    /// The localpart of `from` when it is a user of XMPP_DOMAIN (whether that
    /// user may send SMS is the bridge's decision).
    pub fn local_user<'a>(&self, from: &'a Jid) -> Option<&'a str> {
        if from.domain() == &*self.user_domain {
            from.node().map(|n| n.as_str())
        } else {
            None
        }
    }
}

fn domain(what: &'static str, value: &str) -> Result<DomainPart, AddressError> {
    DomainPart::new(value.trim())
        .map(Cow::into_owned)
        .map_err(|source| AddressError::InvalidDomain {
            what,
            value: value.to_string(),
            source,
        })
}

fn node(value: &str) -> Result<NodePart, AddressError> {
    NodePart::new(value)
        .map(Cow::into_owned)
        .map_err(|source| AddressError::InvalidNode {
            value: value.to_string(),
            source,
        })
}

/// `+` and digits always pass nodeprep; should anything else slip in, the
/// sender-name escaping still yields a valid localpart.
fn number_node(number: &str) -> NodePart {
    node(number).unwrap_or_else(|_| sender_node(number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::NumberRules;

    fn addressing(use_alias: bool) -> Addressing {
        Addressing::new(
            "Example.ORG",
            "sms.example.org",
            "sms.example.org",
            NumberRules::international_only(),
            use_alias,
        )
        .expect("valid domains")
    }

    fn e164(s: &str) -> E164 {
        E164::parse_canonical(s).expect("canonical number")
    }

    #[test]
    fn contact_and_user_jids() {
        let a = addressing(true);
        assert_eq!(
            a.user_jid("2001").expect("jid").domain().as_str(),
            "example.org"
        );
        assert_eq!(a.component().as_str(), "sms.example.org");
        assert_eq!(
            a.contact_jid(e164("+37255512345").as_str()).as_str(),
            "+37255512345@sms.example.org"
        );
        assert_eq!(a.contact_jid("1345").as_str(), "1345@sms.example.org");
        assert_eq!(
            a.user_jid("2001").expect("valid").as_str(),
            "2001@example.org"
        );
        assert!(a.user_jid("a b").is_err());
    }

    #[test]
    fn sender_jids() {
        let a = addressing(true);
        let rules = NumberRules::international_only();
        let jid = |s: &str| a.sender_jid(&rules.classify_sender(s)).to_string();
        assert_eq!(jid("+37255512345"), "+37255512345@sms.example.org");
        assert_eq!(jid("1380013800"), "1380013800@sms.example.org");
        assert_eq!(jid("Swedbank"), "swedbank@sms.example.org");
        assert_eq!(jid("My Bank"), "my\\20bank@sms.example.org");
        assert_eq!(jid(""), "withheld-number@sms.example.org");
        assert_eq!(jid("Anonymous"), "withheld-number@sms.example.org");
        assert_eq!(jid("Withheld-Number"), "withheld-number_@sms.example.org");
    }

    #[test]
    fn roster_jid_follows_the_alias_setting() {
        let n = e164("+37255512345");
        assert_eq!(
            addressing(true).roster_jid(&n).as_str(),
            "+37255512345@example.org"
        );
        assert_eq!(
            addressing(false).roster_jid(&n).as_str(),
            "+37255512345@sms.example.org"
        );
    }

    #[test]
    fn answers_follow_the_address_written_to() {
        let a = addressing(true);
        let to = Jid::new("+37255512345@sms.example.org").expect("valid");
        let bare = |s: &str| BareJid::new(s).expect("valid");
        // The module's mark, when it names the same contact.
        assert_eq!(
            a.written_to(&to, Some("0037255512345@example.org")),
            bare("0037255512345@example.org")
        );
        // No mark (written straight to goippy), or one naming anything else.
        for mark in [
            None,
            Some("+37255599999@example.org"),
            Some("alice@example.org"),
            Some("0037255512345@sms.example.org"),
            Some("not a jid@@"),
        ] {
            assert_eq!(
                a.written_to(&to, mark),
                bare("+37255512345@sms.example.org")
            );
        }
        let alias = bare("0037255512345@example.org");
        let direct = bare("+37255512345@sms.example.org");
        assert_eq!(a.mark_for(&alias), Some(&alias));
        assert_eq!(a.mark_for(&direct), Some(&direct));
        let plain = addressing(false);
        assert_eq!(plain.mark_for(&direct), None, "no module, no mark");
        assert_eq!(plain.mark_for(&alias), Some(&alias));
        assert_eq!(a.sender_for(&alias), Some(direct.clone()));
        assert_eq!(a.sender_for(&direct), Some(direct.clone()));
        assert_eq!(
            a.sender_for(&bare("+12@example.org")),
            Some(bare("+12@sms.example.org"))
        );
        assert_eq!(a.sender_for(&bare("alice@example.org")), None);
        assert_eq!(a.sender_for(&bare("x@other.org")), None);
    }

    #[test]
    fn targets() {
        let a = addressing(true);
        let t = |s: &str| a.target(&Jid::new(s).expect("valid jid"));
        assert_eq!(t("sms.example.org"), Target::Component);
        assert_eq!(t("SMS.example.org/res"), Target::Component);
        assert_eq!(
            t("+37255512345@sms.example.org/x"),
            Target::Contact {
                node: "+37255512345".into()
            }
        );
        assert_eq!(
            t("SwedBank@sms.example.org"),
            Target::Contact {
                node: "swedbank".into()
            }
        );
        assert_eq!(t("example.org"), Target::Elsewhere);
        assert_eq!(t("alice@example.org"), Target::Elsewhere);
    }

    #[test]
    fn separate_data_domain() {
        let a = Addressing::new(
            "example.org",
            "sms.example.org",
            "data.sms.example.org",
            NumberRules::international_only(),
            false,
        )
        .expect("valid");
        let t = |s: &str| a.target(&Jid::new(s).expect("valid jid"));
        assert_eq!(t("sms.example.org"), Target::Component);
        assert_eq!(t("+37255512345@sms.example.org"), Target::Elsewhere);
        assert!(matches!(
            t("+37255512345@data.sms.example.org"),
            Target::Contact { .. }
        ));
        assert_eq!(t("data.sms.example.org"), Target::Elsewhere);
    }

    #[test]
    fn local_users() {
        let a = addressing(true);
        let from = |s: &str| Jid::new(s).expect("valid jid");
        assert_eq!(a.local_user(&from("2001@example.org/phone")), Some("2001"));
        assert_eq!(a.local_user(&from("2001@other.org")), None);
        assert_eq!(a.local_user(&from("example.org")), None);
    }

    #[test]
    fn bad_domains_are_named() {
        let err = Addressing::new(
            "exa mple.org",
            "sms.example.org",
            "sms.example.org",
            NumberRules::international_only(),
            true,
        )
        .expect_err("space in domain");
        assert!(err.to_string().contains("XMPP_DOMAIN"), "{err}");
    }
}
