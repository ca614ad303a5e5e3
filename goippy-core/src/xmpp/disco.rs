//! XEP-0030 service discovery answers.
//!
//! The component presents itself as an SMS gateway (`gateway/sms`) with the
//! features it implements; every contact JID presents itself as an SMS
//! client (`client/sms`, as Cheogram and sgx-catapult do) that supports
//! receipts, which is what makes clients such as Conversations request
//! XEP-0184 receipts for what users send. Neither has disco items. The
//! XEP-0050 commands (the feature, the node listing them, each command's
//! node) depend on who asks, so the bridge answers those
//! (`bridge/adhoc/`), with [`info`] and [`command_node_info`].

use tokio_xmpp::parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;

use super::address::Target;
use super::failure::Refusal;
use super::intent::{Envelope, NS_GATEWAY};

/// The component's name in service discovery.
pub const GATEWAY_NAME: &str = "SMS gateway";

/// What the component supports.
pub const COMPONENT_FEATURES: [&str; 5] = [
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    NS_GATEWAY,
    ns::RECEIPTS,
    ns::PING,
];

/// What a contact (phone number) supports.
pub const CONTACT_FEATURES: [&str; 2] = [ns::DISCO_INFO, ns::RECEIPTS];

/// The answer to a disco#info request, with `extra` features (XEP-0050
/// commands, for the requester who may run some).
pub fn info(env: &Envelope, node: Option<&str>, extra: &[&str]) -> Iq {
    if let Some(node) = node {
        return env.iq_refusal(&Refusal::UnknownNode { node: node.into() });
    }
    let (identity, features): (Identity, &[&str]) = match &env.target {
        Target::Component => (identity("gateway", Some(GATEWAY_NAME)), &COMPONENT_FEATURES),
        Target::Contact { .. } => (identity("client", None), &CONTACT_FEATURES),
        Target::Elsewhere => {
            return env.iq_refusal(&Refusal::Unroutable {
                to: env.to.to_string(),
            });
        }
    };
    info_result(env, None, identity, features.iter().chain(extra))
}

/// The disco#info answer for an ad-hoc command's node (XEP-0050 §2.3).
pub fn command_node_info(env: &Envelope, node: &str, name: &str) -> Iq {
    let identity = Identity {
        category: "automation".into(),
        type_: "command-node".into(),
        lang: None,
        name: Some(name.to_string()),
    };
    let features = [super::adhoc::NS_COMMANDS, ns::DATA_FORMS];
    info_result(env, Some(node), identity, features.iter())
}

/// The disco#info result answering `env`: one identity and its features.
fn info_result<'a>(
    env: &Envelope,
    node: Option<&str>,
    identity: Identity,
    features: impl Iterator<Item = &'a &'a str>,
) -> Iq {
    let result = DiscoInfoResult {
        node: node.map(str::to_string),
        identities: vec![identity],
        features: features.map(|f| f.to_string()).collect(),
        extensions: vec![],
    };
    env.iq_result(Some(result.into()))
}

/// The answer to a disco#items request: there are none.
pub fn items(env: &Envelope, node: Option<&str>) -> Iq {
    if let Some(node) = node {
        return env.iq_refusal(&Refusal::UnknownNode { node: node.into() });
    }
    env.iq_result(Some(
        DiscoItemsResult {
            node: None,
            items: vec![],
            rsm: None,
        }
        .into(),
    ))
}

fn identity(category: &str, name: Option<&str>) -> Identity {
    Identity {
        category: category.into(),
        type_: "sms".into(),
        lang: None,
        name: name.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::intent::{Intent, classify};
    use crate::xmpp::link::Inbound;
    use crate::xmpp::testing::{addressing, element, parse_stanza};
    use tokio_xmpp::parsers::stanza_error::DefinedCondition;

    fn request(xml: &str) -> (Envelope, Option<String>) {
        match classify(Inbound::Stanza(parse_stanza(xml)), &addressing()) {
            Intent::DiscoInfo { env, node } | Intent::DiscoItems { env, node } => (env, node),
            other => panic!("{other:?}"),
        }
    }

    fn disco_result(iq: Iq) -> DiscoInfoResult {
        match iq {
            Iq::Result {
                payload: Some(p), ..
            } => DiscoInfoResult::try_from(p).expect("disco#info result"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_component_is_an_sms_gateway() {
        let (env, node) = request(
            "<iq from='2001@example.org/a' to='sms.example.org' id='i1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        );
        let iq = info(&env, node.as_deref(), &[]);
        let e = element(iq.clone());
        assert_eq!(e.attr("from"), Some("sms.example.org"));
        assert_eq!(e.attr("to"), Some("2001@example.org/a"));
        assert_eq!(e.attr("id"), Some("i1"));
        assert_eq!(e.attr("type"), Some("result"));
        let result = disco_result(iq);
        assert_eq!(result.identities.len(), 1);
        assert_eq!(result.identities[0].category, "gateway");
        assert_eq!(result.identities[0].type_, "sms");
        for f in [
            "urn:xmpp:receipts",
            "jabber:iq:gateway",
            "urn:xmpp:ping",
            "http://jabber.org/protocol/disco#info",
        ] {
            assert!(result.features.contains(f), "missing {f}");
        }
    }

    #[test]
    fn numbers_are_sms_clients_with_receipts() {
        let (env, node) = request(
            "<iq from='2001@example.org/a' to='+37255512345@sms.example.org' id='i2' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        );
        let iq = info(&env, node.as_deref(), &[]);
        assert_eq!(
            iq.from().map(|j| j.as_str()),
            Some("+37255512345@sms.example.org")
        );
        let result = disco_result(iq);
        assert_eq!(result.identities[0].category, "client");
        assert_eq!(result.identities[0].type_, "sms");
        assert!(result.features.contains("urn:xmpp:receipts"));
        assert!(!result.features.contains("jabber:iq:gateway"));
    }

    #[test]
    fn nodes_do_not_exist() {
        let (env, node) = request(
            "<iq from='2001@example.org/a' to='sms.example.org' id='i3' type='get'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>",
        );
        match info(&env, node.as_deref(), &[]) {
            Iq::Error { error, id, .. } => {
                assert_eq!(id, "i3");
                assert_eq!(error.defined_condition, DefinedCondition::ItemNotFound);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn there_are_no_items() {
        let (env, node) = request(
            "<iq from='2001@example.org/a' to='sms.example.org' id='i4' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
        );
        match items(&env, node.as_deref()) {
            Iq::Result {
                payload: Some(p),
                id,
                ..
            } => {
                assert_eq!(id, "i4");
                let r = DiscoItemsResult::try_from(p).expect("items");
                assert!(r.items.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
