//! XEP-0100 "jabber:iq:gateway": turning a typed phone number into a JID.
//!
//! Clients offer "add contact via gateway": they ask the component what to
//! type (`get` → a description and a prompt label), then send what the user
//! typed (`set`) and put the JID they get back into the roster. Typed
//! numbers may carry spaces, dashes or brackets and start with `+` or `00`
//! (or `0` with a configured country code); short codes such as `1345` are
//! accepted as they are. With mod_sms_alias in use the answer is the alias
//! `+N@XMPP_DOMAIN`, so the roster entry matches what users see on incoming
//! messages; short codes always stay on the data domain, because the alias
//! module only rewrites international numbers.

use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;

use crate::number::{Destination, E164};

use super::address::Addressing;
use super::failure::Refusal;
use super::intent::{Envelope, NS_GATEWAY};
use super::text::xml_safe;

/// The number every example shows.
pub const EXAMPLE_NUMBER: &str = "+37255512345";
/// The input field's label.
pub const PROMPT_LABEL: &str = "Phone Number";

/// What the client shows above the input field: what to type, and the JID
/// the contact then has — the form that is canonical for this deployment
/// (the alias with mod_sms_alias), the one every SMS from it comes from.
pub fn prompt_description(addressing: &Addressing) -> String {
    let example = E164::parse_canonical(EXAMPLE_NUMBER)
        .map(|n| addressing.roster_jid(&n).to_string())
        .unwrap_or_default();
    format!(
        "Enter the contact's phone number in international form, for example {EXAMPLE_NUMBER}. \
         You then chat with {example}."
    )
}

/// The answer to `get`: description and prompt label.
pub fn prompt(env: &Envelope, addressing: &Addressing) -> Iq {
    let query = Element::builder("query", NS_GATEWAY)
        .append(
            Element::builder("desc", NS_GATEWAY)
                .append(prompt_description(addressing))
                .build(),
        )
        .append(
            Element::builder("prompt", NS_GATEWAY)
                .append(PROMPT_LABEL)
                .build(),
        )
        .build();
    env.iq_result(Some(query))
}

/// The answer to `set`: the contact's JID, or `not-acceptable` with a text
/// saying why the input is not a number.
pub fn answer(env: &Envelope, typed: Option<&str>, addressing: &Addressing) -> Iq {
    let typed = typed.unwrap_or_default();
    match resolve(typed, addressing) {
        Ok(jid) => {
            let query = Element::builder("query", NS_GATEWAY)
                .append(Element::builder("jid", NS_GATEWAY).append(jid).build())
                .build();
            env.iq_result(Some(query))
        }
        Err(reason) => {
            let refusal = Refusal::BadPrompt {
                prompt: typed.trim().to_string(),
                reason,
            };
            env.iq_refusal(&refusal)
        }
    }
}

/// The JID for what the user typed.
fn resolve(typed: &str, addressing: &Addressing) -> Result<String, String> {
    let numbers = addressing.numbers();
    match numbers.normalize(typed) {
        Ok(number) => Ok(addressing.roster_jid(&number).to_string()),
        Err(international_error) => match numbers.parse_destination(typed.trim()) {
            Ok(Destination::Local(digits)) => Ok(addressing.contact_jid(&digits).to_string()),
            Ok(Destination::International(number)) => {
                Ok(addressing.roster_jid(&number).to_string())
            }
            Err(_) => Err(xml_safe(&international_error.to_string()).into_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::NumberRules;
    use crate::xmpp::intent::{Intent, classify};
    use crate::xmpp::link::Inbound;
    use crate::xmpp::testing::{addressing, parse_stanza, xml};
    use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType};

    fn set(prompt: &str) -> (Envelope, Option<String>) {
        let stanza = parse_stanza(&format!(
            "<iq from='2001@example.org/a' to='sms.example.org' id='g1' type='set'><query xmlns='jabber:iq:gateway'><prompt>{prompt}</prompt></query></iq>"
        ));
        match classify(Inbound::Stanza(stanza), &addressing()) {
            Intent::GatewayPromptSet { env, prompt } => (env, prompt),
            other => panic!("{other:?}"),
        }
    }

    fn answered_jid(iq: &Iq) -> Option<String> {
        match iq {
            Iq::Result {
                payload: Some(q), ..
            } => q.get_child("jid", NS_GATEWAY).map(Element::text),
            _ => None,
        }
    }

    #[test]
    fn the_prompt_explains_what_to_type() {
        let (env, _) = set("x");
        let text = xml(prompt(&env, &addressing()));
        assert!(text.contains("<desc>Enter the contact"), "{text}");
        assert!(
            text.contains("You then chat with +37255512345@example.org."),
            "the canonical form of the deployment: {text}"
        );
        assert!(text.contains("<prompt>Phone Number</prompt>"), "{text}");
        assert!(text.contains("type='result'"), "{text}");
        assert!(text.contains("id='g1'"), "{text}");
        assert!(text.contains("to='2001@example.org/a'"), "{text}");
        assert!(text.contains("from='sms.example.org'"), "{text}");
    }

    #[test]
    fn typed_numbers_become_alias_jids() {
        for typed in ["+372 5551 2345", "0037255512345", "(+372) 555-12345"] {
            let (env, prompt) = set(typed);
            let iq = answer(&env, prompt.as_deref(), &addressing());
            assert_eq!(
                answered_jid(&iq).as_deref(),
                Some("+37255512345@example.org"),
                "{typed}"
            );
            assert_eq!(iq.id(), "g1");
        }
    }

    #[test]
    fn without_the_alias_module_the_data_domain_is_answered() {
        let plain = Addressing::new(
            "example.org",
            "sms.example.org",
            "sms.example.org",
            NumberRules::international_only(),
            false,
        )
        .expect("valid");
        let (env, prompt) = set("+37255512345");
        let iq = answer(&env, prompt.as_deref(), &plain);
        assert_eq!(
            answered_jid(&iq).as_deref(),
            Some("+37255512345@sms.example.org")
        );
        assert!(prompt_description(&plain).contains("chat with +37255512345@sms.example.org."));
    }

    #[test]
    fn short_codes_stay_on_the_data_domain() {
        let (env, prompt) = set("1345");
        let iq = answer(&env, prompt.as_deref(), &addressing());
        assert_eq!(answered_jid(&iq).as_deref(), Some("1345@sms.example.org"));
    }

    #[test]
    fn anything_else_is_not_acceptable() {
        for typed in ["call me", "+12", ""] {
            let (env, prompt) = set(typed);
            match answer(&env, prompt.as_deref(), &addressing()) {
                Iq::Error { error, id, .. } => {
                    assert_eq!(id, "g1");
                    assert_eq!(error.type_, ErrorType::Modify);
                    assert_eq!(error.defined_condition, DefinedCondition::NotAcceptable);
                    let text = error.texts.get("en").cloned().unwrap_or_default();
                    assert!(text.contains("international form"), "{text}");
                }
                other => panic!("{typed:?}: {other:?}"),
            }
        }
    }
}
