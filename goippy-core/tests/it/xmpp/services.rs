//! The pure answers (disco, XEP-0100, ping, refusals) and the builders,
//! through a real Prosody: a peer component asks, a tiny dispatcher on the
//! component under test classifies and answers with `service::answer`, and
//! the peer checks what arrives after Prosody routed it.

use std::time::{Duration, UNIX_EPOCH};

use goippy_core::number::NumberRules;
use goippy_core::xmpp::intent::{Intent, PresenceKind, classify};
use goippy_core::xmpp::link::{Inbound, XmppHandle, XmppLink};
use goippy_core::xmpp::presence;
use goippy_core::xmpp::reply::InboundChat;
use goippy_core::xmpp::service::{self, Handled};
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::DefinedCondition;

use crate::support::xmpp::*;

const ASKER: &str = "alice@peer.example.org/laptop";

/// The component under test: answers what `service::answer` settles and
/// accepts subscriptions; everything else is dropped.
fn dispatcher(sms: XmppHandle, mut inbound: mpsc::Receiver<Inbound>) {
    tokio::spawn(async move {
        let addressing = addressing();
        while let Some(item) = inbound.recv().await {
            let intent = classify(item, &addressing);
            let replies: Vec<Stanza> = match service::answer(&intent, &addressing) {
                Some(Handled::Reply(stanzas)) => stanzas,
                Some(Handled::Ignore(_)) => vec![],
                None => match &intent {
                    Intent::Presence {
                        env,
                        kind: PresenceKind::Subscribe,
                    } => presence::accept_subscription(env)
                        .into_iter()
                        .map(Stanza::from)
                        .collect(),
                    _ => vec![],
                },
            };
            for stanza in replies {
                sms.send(stanza).await.expect("reply sent");
            }
        }
    });
}

struct Peer {
    handle: XmppHandle,
    inbound: mpsc::Receiver<Inbound>,
    _prosody: goippy_testkit::prosody::Prosody,
}

impl Peer {
    async fn ask(&mut self, iq: Iq) -> Iq {
        self.handle.send(iq).await.expect("send");
        match next(&mut self.inbound).await {
            Inbound::Stanza(Stanza::Iq(iq)) => iq,
            other => panic!("expected an iq, got {other:?}"),
        }
    }

    async fn next_stanza(&mut self) -> Stanza {
        match next(&mut self.inbound).await {
            Inbound::Stanza(stanza) => stanza,
            other => panic!("expected a stanza, got {other:?}"),
        }
    }
}

async fn setup() -> Peer {
    let prosody = prosody();
    let (sms, sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    let (peer, peer_in, mut peer_state) = XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;
    dispatcher(sms, sms_in);
    Peer {
        handle: peer,
        inbound: peer_in,
        _prosody: prosody,
    }
}

fn get(id: &str, to: &str, payload: Element) -> Iq {
    Iq::Get {
        from: Some(jid(ASKER)),
        to: Some(jid(to)),
        id: id.into(),
        payload,
    }
}

fn gateway_query(prompt: Option<&str>) -> Element {
    let builder = Element::builder("query", "jabber:iq:gateway");
    match prompt {
        Some(p) => builder
            .append(
                Element::builder("prompt", "jabber:iq:gateway")
                    .append(p)
                    .build(),
            )
            .build(),
        None => builder.build(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn disco_info_of_the_component_and_of_a_number() {
    let mut peer = setup().await;
    let iq = peer
        .ask(get("d1", SMS, DiscoInfoQuery { node: None }.into()))
        .await;
    let Iq::Result {
        from,
        to,
        id,
        payload: Some(payload),
    } = iq
    else {
        panic!("{iq:?}")
    };
    assert_eq!(
        (from, to, id.as_str()),
        (Some(jid(SMS)), Some(jid(ASKER)), "d1")
    );
    let info = DiscoInfoResult::try_from(payload).expect("disco#info");
    assert_eq!(
        (
            info.identities[0].category.as_str(),
            info.identities[0].type_.as_str()
        ),
        ("gateway", "sms")
    );
    for feature in [ns::RECEIPTS, "jabber:iq:gateway", ns::PING, ns::DISCO_INFO] {
        assert!(info.features.contains(feature), "missing {feature}");
    }

    let number = "+37255512345@sms.example.org";
    let iq = peer
        .ask(get("d2", number, DiscoInfoQuery { node: None }.into()))
        .await;
    let Iq::Result {
        from,
        payload: Some(payload),
        ..
    } = iq
    else {
        panic!("{iq:?}")
    };
    assert_eq!(from, Some(jid(number)));
    let info = DiscoInfoResult::try_from(payload).expect("disco#info");
    assert_eq!(
        (
            info.identities[0].category.as_str(),
            info.identities[0].type_.as_str()
        ),
        ("client", "sms")
    );
    assert!(info.features.contains(ns::RECEIPTS));
}

#[tokio::test(flavor = "current_thread")]
async fn xep_0100_prompt_and_answer() {
    let mut peer = setup().await;
    let iq = peer.ask(get("g1", SMS, gateway_query(None))).await;
    let Iq::Result {
        payload: Some(query),
        id,
        ..
    } = iq
    else {
        panic!("{iq:?}")
    };
    assert_eq!(id, "g1");
    assert_eq!(
        query
            .get_child("prompt", "jabber:iq:gateway")
            .map(Element::text)
            .as_deref(),
        Some("Phone Number")
    );
    assert!(query.get_child("desc", "jabber:iq:gateway").is_some());

    let set = Iq::Set {
        from: Some(jid(ASKER)),
        to: Some(jid(SMS)),
        id: "g2".into(),
        payload: gateway_query(Some("+372 5551 2345")),
    };
    let iq = peer.ask(set).await;
    let Iq::Result {
        payload: Some(query),
        ..
    } = iq
    else {
        panic!("{iq:?}")
    };
    assert_eq!(
        query
            .get_child("jid", "jabber:iq:gateway")
            .map(Element::text)
            .as_deref(),
        Some("+37255512345@example.org")
    );

    let bad = Iq::Set {
        from: Some(jid(ASKER)),
        to: Some(jid(SMS)),
        id: "g3".into(),
        payload: gateway_query(Some("pizza")),
    };
    let iq = peer.ask(bad).await;
    let Iq::Error { error, id, .. } = iq else {
        panic!("{iq:?}")
    };
    assert_eq!(id, "g3");
    assert_eq!(error.defined_condition, DefinedCondition::NotAcceptable);
}

#[tokio::test(flavor = "current_thread")]
async fn pings_and_unknown_iqs() {
    let mut peer = setup().await;
    let iq = peer.ask(get("p1", SMS, Ping.into())).await;
    assert!(
        matches!(&iq, Iq::Result { id, from: Some(f), .. } if id == "p1" && f.as_str() == SMS),
        "{iq:?}"
    );
    let version = Element::builder("query", "jabber:iq:version").build();
    let iq = peer.ask(get("v1", SMS, version)).await;
    let Iq::Error { error, id, .. } = iq else {
        panic!("{iq:?}")
    };
    assert_eq!(id, "v1");
    assert_eq!(
        error.defined_condition,
        DefinedCondition::ServiceUnavailable
    );
}

#[tokio::test(flavor = "current_thread")]
async fn subscriptions_are_mutual() {
    let mut peer = setup().await;
    let subscribe = Presence::subscribe()
        .with_from(jid("alice@peer.example.org"))
        .with_to(jid("+37255512345@sms.example.org"))
        .with_id("s1".into());
    peer.handle.send(subscribe).await.expect("send");
    let mut types = vec![];
    for _ in 0..2 {
        match peer.next_stanza().await {
            Stanza::Presence(p) => {
                assert_eq!(p.from, Some(jid("+37255512345@sms.example.org")));
                assert_eq!(p.to, Some(jid("alice@peer.example.org")));
                types.push(p.type_);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(types, [PresenceType::Subscribed, PresenceType::Subscribe]);
}

#[tokio::test(flavor = "current_thread")]
async fn an_inbound_sms_arrives_as_built() {
    let prosody = prosody();
    let (sms, _sms_in, mut sms_state) = XmppLink::spawn(link_config(&prosody, SMS, SMS_SECRET));
    let (_peer, mut peer_in, mut peer_state) =
        XmppLink::spawn(link_config(&prosody, PEER, PEER_SECRET));
    connected(&mut sms_state).await;
    connected(&mut peer_state).await;

    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let from =
        addressing().sender_jid(&NumberRules::international_only().classify_sender("My Bank"));
    let message = InboundChat::sms(
        from.clone(),
        jid("alice@peer.example.org"),
        "in-1",
        "Code 1234\u{1b}",
    )
    .received_at(at)
    .sender_name("My Bank")
    .build(&BareJid::new(SMS).expect("valid"));
    sms.send_confirmed(message)
        .await
        .expect("delivered to Prosody");

    let Inbound::Stanza(Stanza::Message(m)) = next(&mut peer_in).await else {
        panic!("no message")
    };
    assert_eq!(
        m.from.as_ref().map(|j| j.as_str()),
        Some("my\\20bank@sms.example.org")
    );
    assert_eq!(m.id.as_ref().map(|i| i.0.as_str()), Some("in-1"));
    assert_eq!(
        m.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("Code 1234\u{FFFD}")
    );
    let payload = |name, namespace| m.payloads.iter().find(|p| p.is(name, namespace));
    let delay = payload("delay", ns::DELAY).expect("delay survives routing");
    assert_eq!(delay.attr("stamp"), Some("2023-11-14T22:13:20+00:00"));
    let nick = payload("nick", ns::NICK).map(Element::text);
    assert_eq!(nick.as_deref(), Some("My Bank"));
}
