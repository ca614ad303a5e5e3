//! The world the bridge tests run in: a throwaway Prosody, a database
//! (SQLite in a temp dir, or a throwaway MariaDB), a simulated GoIP
//! (the `goip_sim` crate) on loopback, and the users.
//!
//! The users are played by a second component, `users.example.org`, which
//! the bridge under test is told is XMPP_DOMAIN: Prosody checks only that a
//! component sends from its own domain, so the peer can write as
//! `2001@users.example.org/phone` like a logged-in user (a tokio-xmpp c2s
//! client cannot share a build with the component feature; see
//! docs/architecture.md#test-users-are-components). A third component, `other.example.org`, is a foreign
//! domain. Prosody's own VirtualHost `example.org` answers the links' pings.

use std::time::Duration;

use goip_sim::{
    ChannelConfig, Device, DeviceConfig, Event, Events, Failure, FailureChange, SentSms,
};
use goippy_core::bridge::{AlertConfig, Bridge, BridgeConfig};
use goippy_core::config::{AlertSettings, ReceiptPolicy, Secret, SmsMode, XmppSettings};
use goippy_core::engine::EngineConfig;
use goippy_core::number::NumberRules;
use goippy_core::store::{GatewayDefinition, LineDefinition, Store};
use goippy_core::xmpp::{Inbound, LinkConfig, LinkState, XmppHandle, XmppLink};
use goippy_testkit::ports::free_udp_port;
use goippy_testkit::prosody::{Prosody, ProsodyConfig};
use tokio::sync::{mpsc, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Lang, Message};
use tokio_xmpp::parsers::ns;

use crate::support::log;
use crate::support::store::{self, TestDb};

pub use super::{DOMAIN, PATIENCE, SMS, SMS_SECRET, jid};
pub const USERS: &str = "users.example.org";
pub const USERS_SECRET: &str = "userssecret";
pub const OTHER: &str = "other.example.org";
pub const OTHER_SECRET: &str = "othersecret";

/// The extension of the test user and its GoIP channel.
pub const EXT: &str = "2001";
pub const USER: &str = "2001@users.example.org";
pub const PHONE: &str = "2001@users.example.org/phone";
pub const GOIP_ID: &str = "goip1";
pub const GOIP_PASS: &str = "pw1";
/// The channel's own SIM number (the console).
pub const OWN_NUMBER: &str = "+37255500000";
pub const OWN_JID: &str = "+37255500000@sms.example.org";

/// A USSD menu the simulated network offers: the prompt waits for a choice.
pub const MENU_CODE: &str = "*123#";
pub const MENU_PROMPT: &str = "1 Balance\n2 Bonus";
pub const MENU_CHOICE_1: &str = "Balance 5.00 EUR";

/// What varies between tests.
#[derive(Debug, Clone)]
pub struct Options {
    pub mysql: bool,
    pub receipts: ReceiptPolicy,
    pub call_notices: bool,
    pub fallback_dest: Option<&'static str>,
    pub sms_timeout: Duration,
    pub offline_after: Duration,
    pub offline_wait: Duration,
    pub ussd_timeout: Duration,
    /// Extra gateways: (ext, goip_id, allow_regex, enabled).
    pub gateways: Vec<(&'static str, &'static str, Option<&'static str>, bool)>,
    /// The ACL of the test user's own gateway.
    pub allow_regex: Option<&'static str>,
    pub timing: goip_sim::Timing,
    /// SMS_JOIN_WAIT.
    pub sms_join_wait: Duration,
    /// ADMIN_JIDS.
    pub admins: Vec<&'static str>,
    /// How long an ad-hoc command session waits for its next stage.
    pub command_timeout: Duration,
    /// ALERTS and the rest: off unless a test turns them on (the tests
    /// written before alerts expect nothing but what they cause).
    pub alerts: AlertSettings,
    /// The device's USSD table: (code, answer).
    pub ussd_replies: Vec<(&'static str, &'static str)>,
    /// Further lines on the device (channels 2, 3, … in this order), each
    /// made with `--add-line` for its users in order.
    pub pool_lines: Vec<PoolLine>,
}

/// A line on the device's next channel, with no default owner.
#[derive(Debug, Clone)]
pub struct PoolLine {
    pub goip_id: &'static str,
    pub password: &'static str,
    pub number: &'static str,
    pub users: Vec<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mysql: false,
            receipts: ReceiptPolicy::Delivered,
            call_notices: false,
            fallback_dest: None,
            sms_timeout: Duration::from_secs(3),
            offline_after: Duration::from_secs(2),
            offline_wait: Duration::from_secs(1),
            ussd_timeout: Duration::from_secs(1),
            gateways: Vec::new(),
            allow_regex: None,
            timing: goip_sim::Timing {
                keepalive_interval: Duration::from_millis(400),
                retransmit_interval: Duration::from_millis(500),
                retransmits: 3,
                send_time: Duration::from_millis(50),
                deliver_after: None,
                ussd_delay: Duration::from_millis(50),
                session_idle: Duration::from_secs(90),
            },
            sms_join_wait: Duration::from_secs(2),
            admins: Vec::new(),
            command_timeout: Duration::from_secs(300),
            alerts: AlertSettings {
                enabled: false,
                ..AlertSettings::default()
            },
            ussd_replies: Vec::new(),
            pool_lines: Vec::new(),
        }
    }
}

/// Prosody, database, device, users, and the bridge under test.
pub struct World {
    pub options: Options,
    pub prosody: Prosody,
    pub db: TestDb,
    pub udp_port: u16,
    pub device: Device,
    pub events: Events,
    pub users: Peer,
    pub other: Peer,
    pub bridge: Option<Bridge>,
}

impl World {
    pub async fn start(options: Options) -> World {
        let db = if options.mysql {
            tokio::task::spawn_blocking(store::mysql)
                .await
                .expect("join")
        } else {
            store::sqlite()
        };
        World::start_on(options, db).await
    }

    /// [`World::start`] on a database of the test's own (a MariaDB server
    /// the test stops, say).
    pub async fn start_on(options: Options, db: TestDb) -> World {
        // GOIPPY_TEST_LOG=debug shows goippy's log for a failing test.
        log::init();
        let prosody = tokio::task::spawn_blocking(|| {
            Prosody::start(
                ProsodyConfig::new(DOMAIN)
                    .component(SMS, SMS_SECRET)
                    .component(USERS, USERS_SECRET)
                    .component(OTHER, OTHER_SECRET),
            )
        })
        .await
        .expect("join")
        .expect("prosody starts");
        {
            let store = db.open().await;
            store
                .save_gateway(&GatewayDefinition {
                    ext: EXT,
                    password: GOIP_PASS,
                    goip_id: Some(GOIP_ID),
                    channel: None,
                    allow_regex: options.allow_regex,
                })
                .await
                .expect("gateway");
            for (ext, goip_id, acl, enabled) in &options.gateways {
                store
                    .save_gateway(&GatewayDefinition {
                        ext,
                        password: "pw",
                        goip_id: Some(goip_id),
                        channel: None,
                        allow_regex: *acl,
                    })
                    .await
                    .expect("gateway");
                if !enabled {
                    store
                        .set_gateway_enabled(ext, false)
                        .await
                        .expect("disable");
                }
            }
            for line in &options.pool_lines {
                for (i, ext) in line.users.iter().enumerate() {
                    let definition = (i == 0).then_some(LineDefinition {
                        password: line.password,
                        channel: None,
                        allow_regex: None,
                    });
                    store
                        .add_line(ext, line.goip_id, definition)
                        .await
                        .expect("line");
                }
            }
            store.close().await.expect("close");
        }
        let udp_port = free_udp_port();
        let mut channels = vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)];
        for (i, line) in options.pool_lines.iter().enumerate() {
            channels.push(ChannelConfig::new(
                i + 2,
                line.goip_id,
                line.password,
                line.number,
            ));
        }
        let mut device_config = DeviceConfig::new(
            format!("127.0.0.1:{udp_port}").parse().expect("addr"),
            channels,
        );
        device_config.timing = options.timing.clone();
        device_config
            .ussd
            .insert_menu(MENU_CODE, MENU_PROMPT, &[("1", MENU_CHOICE_1)])
            .expect("menu");
        for (code, answer) in &options.ussd_replies {
            device_config
                .ussd
                .insert(code, answer)
                .expect("a USSD reply");
        }
        let (device, events) = Device::start(device_config).await.expect("device starts");
        let users = Peer::connect(&prosody, USERS, USERS_SECRET).await;
        let other = Peer::connect(&prosody, OTHER, OTHER_SECRET).await;
        let mut world = World {
            options,
            prosody,
            db,
            udp_port,
            device,
            events,
            users,
            other,
            bridge: None,
        };
        world.start_bridge().await;
        world
    }

    pub fn config(&self) -> BridgeConfig {
        let o = &self.options;
        let xmpp = XmppSettings {
            domain: USERS.into(),
            data_domain: SMS.into(),
            component_jid: SMS.into(),
            secret: Secret::new(SMS_SECRET),
            host: "127.0.0.1".into(),
            port: self.prosody.component_port(),
            fallback_dest: o.fallback_dest.map(str::to_string),
            use_alias: true,
            receipts: o.receipts,
            call_notices: o.call_notices,
            ping_interval: Duration::from_secs(1),
        };
        let mut link = LinkConfig::from_settings(&xmpp);
        link.ping_target = DOMAIN.into();
        link.response_timeout = Duration::from_secs(2);
        link.connect_timeout = Duration::from_secs(5);
        link.write_timeout = Duration::from_secs(5);
        // Slower than the users' peer, so that after a Prosody restart the
        // users are back before the bridge sends them anything.
        link.backoff_min = Duration::from_millis(800);
        link.backoff_max = Duration::from_millis(800);
        let mut engine = EngineConfig::new(
            format!("127.0.0.1:{}", self.udp_port)
                .parse()
                .expect("addr"),
        );
        engine.sms_mode = SmsMode::Session;
        engine.offline_after = o.offline_after;
        engine.sweep_interval = Duration::from_millis(100);
        engine.offline_wait = o.offline_wait;
        engine.sms_timeout = o.sms_timeout;
        // No status poll: one SEND per message, which the tests count.
        engine.send_poll_after = o.sms_timeout + Duration::from_secs(1);
        engine.command_retry_interval = Duration::from_millis(500);
        engine.busy_backoff = vec![Duration::from_millis(100)];
        engine.ussd_timeout = o.ussd_timeout;
        engine.shutdown_grace = Duration::from_millis(300);
        BridgeConfig {
            xmpp,
            numbers: NumberRules::international_only(),
            link,
            engine,
            log_days: 0,
            directory_refresh: Duration::from_millis(200),
            sendid_save_interval: Duration::from_millis(500),
            inbox_retry: Duration::from_secs(1),
            sms_join_wait: o.sms_join_wait,
            admin_jids: o.admins.iter().map(|a| a.to_string()).collect(),
            command_timeout: o.command_timeout,
            alerts: AlertConfig {
                settings: o.alerts.clone(),
                tick: Duration::from_millis(100),
            },
        }
    }

    /// Starts the bridge on the world's database and port, and waits until
    /// it is connected to Prosody and hears the device's channel.
    pub async fn start_bridge(&mut self) {
        assert!(self.bridge.is_none(), "the bridge already runs");
        let store = self.db.open().await;
        let bridge = Bridge::start(self.config(), store)
            .await
            .expect("bridge starts");
        let mut state = bridge.probe().link_state();
        tokio::time::timeout(PATIENCE, state.wait_for(LinkState::is_connected))
            .await
            .expect("bridge connects to prosody")
            .expect("link state");
        self.bridge = Some(bridge);
        self.wait_until("the channel is online with its number", |w| {
            let b = w.bridge().probe();
            b.engine().channel(GOIP_ID).is_some_and(|c| c.online)
                && b.directory().gateway_by_msisdn(OWN_NUMBER).is_some()
        })
        .await;
    }

    pub fn bridge(&self) -> &Bridge {
        self.bridge.as_ref().expect("the bridge runs")
    }

    /// Stops the bridge gracefully.
    pub async fn stop_bridge(&mut self) {
        let bridge = self.bridge.take().expect("the bridge runs");
        tokio::time::timeout(Duration::from_secs(10), bridge.shutdown())
            .await
            .expect("the bridge stops within 10 s");
    }

    /// A store on the world's database, for looking and preparing (close it).
    pub async fn store(&self) -> Store {
        self.db.open().await
    }

    pub async fn wait_until(&self, what: &str, mut done: impl FnMut(&World) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !done(self) {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One integer from SQL on the world's database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        self.db.scalar(sql).await
    }

    /// Waits for an SQL count to reach `n`.
    pub async fn wait_for_count(&self, sql: &str, n: i64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = self.scalar(sql).await;
            if got == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql}: {got}, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The device's channel falls silent (no more keepalives) until the
    /// test says otherwise; returns once the engine sees it offline.
    pub async fn silence_channel(&self) {
        self.device
            .fail(1, FailureChange::Set(Failure::Silence))
            .await
            .expect("fail");
        self.wait_until("the channel is offline", |w| {
            w.bridge()
                .probe()
                .engine()
                .channel(GOIP_ID)
                .is_some_and(|c| !c.online)
        })
        .await;
    }

    /// The SMS the device sent, oldest first.
    pub async fn sent(&self) -> Vec<SentSms> {
        self.device.sent_log(1).await.expect("sent log")
    }

    /// Waits for a device event.
    pub async fn device_event(&mut self, what: &str, wanted: impl FnMut(&Event) -> bool) -> Event {
        self.events
            .wait_for(PATIENCE, wanted)
            .await
            .unwrap_or_else(|| panic!("the device never reported: {what}"))
    }

    /// Sends an SMS from the device (a RECEIVE) and waits for its ack.
    pub async fn receive(&mut self, from: &str, text: &str) -> String {
        let recvid = self
            .device
            .inbound_sms(1, from, text)
            .await
            .expect("inbound sms");
        let id = recvid.clone();
        self.device_event("the RECEIVE is acked", move |e| {
            matches!(e, Event::Ack { tag, recvid, .. } if tag == "RECEIVE" && *recvid == id)
        })
        .await;
        recvid
    }
}

/// A component playing XMPP users (or a foreign server's).
pub struct Peer {
    pub domain: &'static str,
    pub handle: XmppHandle,
    pub inbound: mpsc::Receiver<Inbound>,
    pub state: watch::Receiver<LinkState>,
}

impl Peer {
    pub async fn connect(prosody: &Prosody, domain: &'static str, secret: &str) -> Peer {
        let config = LinkConfig {
            component: domain.into(),
            secret: Secret::new(secret),
            host: "127.0.0.1".into(),
            port: prosody.component_port(),
            ping_target: DOMAIN.into(),
            keepalive: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(100),
            inbound_capacity: 256,
        };
        let (handle, inbound, mut state) = XmppLink::spawn(config);
        tokio::time::timeout(PATIENCE, state.wait_for(LinkState::is_connected))
            .await
            .expect("peer connects")
            .expect("state");
        Peer {
            domain,
            handle,
            inbound,
            state,
        }
    }

    /// A peer that also answers XEP-0199 pings addressed to its domain, as
    /// Prosody's mod_ping does for a VirtualHost: a goippy whose
    /// XMPP_DOMAIN is this peer pings it to confirm what it sends.
    pub async fn connect_answering_pings(
        prosody: &Prosody,
        domain: &'static str,
        secret: &str,
    ) -> Peer {
        let mut peer = Peer::connect(prosody, domain, secret).await;
        let (forward, inbound) = mpsc::channel(256);
        let mut raw = std::mem::replace(&mut peer.inbound, inbound);
        let handle = peer.handle.clone();
        tokio::spawn(async move {
            while let Some(item) = raw.recv().await {
                if let Inbound::Stanza(Stanza::Iq(Iq::Get {
                    from,
                    to,
                    id,
                    payload,
                })) = &item
                    && payload.is("ping", ns::PING)
                {
                    let pong = Iq::Result {
                        from: to.clone(),
                        to: from.clone(),
                        id: id.clone(),
                        payload: None,
                    };
                    let _ = handle.send(pong).await;
                    continue;
                }
                if forward.send(item).await.is_err() {
                    break;
                }
            }
        });
        peer
    }

    pub async fn wait_connected(&mut self) {
        tokio::time::timeout(PATIENCE, self.state.wait_for(LinkState::is_connected))
            .await
            .expect("peer reconnects")
            .expect("state");
    }

    /// Sends raw XML as a stanza (written without a namespace).
    pub async fn send_xml(&self, xml: &str) {
        let stanza = parse_stanza(xml);
        self.handle
            .send_confirmed(stanza)
            .await
            .expect("prosody takes the stanza");
    }

    /// A chat message from `from` to `to`.
    pub async fn chat(&self, from: &str, to: &str, id: &str, body: &str, receipt: bool) {
        let mut m = Message::chat(Some(jid(to))).with_body(Lang::new(), body.to_string());
        m.from = Some(jid(from));
        m.id = Some(Id(id.to_string()));
        if receipt {
            m.payloads
                .push(Element::builder("request", ns::RECEIPTS).build());
        }
        self.handle
            .send_confirmed(m)
            .await
            .expect("prosody takes the message");
    }

    /// The next stanza for which `wanted` holds; others are skipped.
    pub async fn expect(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&Element) -> bool,
    ) -> Element {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut skipped = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.inbound.recv()).await {
                Ok(Some(Inbound::Stanza(s))) => {
                    let e = Element::from(&s);
                    if wanted(&e) {
                        return e;
                    }
                    skipped.push(String::from(&e));
                }
                Ok(Some(Inbound::Invalid(i))) => skipped.push(format!("{i:?}")),
                Ok(None) => panic!("{}: the link stopped while waiting for {what}", self.domain),
                Err(_) => panic!(
                    "{}: no {what} within {PATIENCE:?}; got instead: {skipped:#?}",
                    self.domain
                ),
            }
        }
    }

    /// Every stanza that arrives within `window` for which `wanted` holds.
    pub async fn collect(
        &mut self,
        window: Duration,
        mut wanted: impl FnMut(&Element) -> bool,
    ) -> Vec<Element> {
        let deadline = tokio::time::Instant::now() + window;
        let mut got = Vec::new();
        while let Ok(item) = tokio::time::timeout_at(deadline, self.inbound.recv()).await {
            match item {
                Some(Inbound::Stanza(s)) => {
                    let e = Element::from(&s);
                    if wanted(&e) {
                        got.push(e);
                    }
                }
                Some(Inbound::Invalid(_)) => {}
                None => break,
            }
        }
        got
    }

    /// Nothing at all arrives within `window`.
    pub async fn expect_silence(&mut self, window: Duration) {
        let got = self.collect(window, |_| true).await;
        assert!(
            got.is_empty(),
            "{}: expected nothing, got {:#?}",
            self.domain,
            got.iter().map(String::from).collect::<Vec<_>>()
        );
    }
}

/// `number@sms.example.org`.
pub fn contact(number: &str) -> String {
    format!("{number}@{SMS}")
}

/// Parses a stanza written without a namespace, as a component sends it.
pub fn parse_stanza(xml: &str) -> Stanza {
    let name_end = xml[1..]
        .find([' ', '>', '/'])
        .map(|i| i + 1)
        .expect("an element");
    let xml = format!(
        "{} xmlns='jabber:component:accept'{}",
        &xml[..name_end],
        &xml[name_end..]
    );
    let element: Element = xml.parse().expect("well-formed XML");
    Stanza::try_from(element).expect("a valid stanza")
}

/// A message's body.
pub fn body(e: &Element) -> String {
    e.get_child("body", ns::DEFAULT_NS)
        .map(Element::text)
        .unwrap_or_default()
}

pub fn is_message(e: &Element) -> bool {
    e.name() == "message"
}

/// A chat message with a body.
pub fn is_chat(e: &Element) -> bool {
    is_message(e) && e.attr("type") == Some("chat") && e.has_child("body", ns::DEFAULT_NS)
}

pub fn is_error(e: &Element) -> bool {
    e.attr("type") == Some("error")
}

/// The error stanza answering the message with this id.
pub fn error_for(id: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_error(e) && e.attr("id") == Some(id)
}

/// A chat message from `number@sms.example.org`.
pub fn chat_from(number: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_chat(e) && e.attr("from") == Some(contact(number).as_str())
}

/// The XEP-0184 receipt's id, if `e` is one.
pub fn receipt_id(e: &Element) -> Option<String> {
    e.get_child("received", ns::RECEIPTS)
        .and_then(|r| r.attr("id"))
        .map(str::to_string)
}

/// (type, condition, text) of an error stanza.
pub fn error_of(e: &Element) -> (String, String, String) {
    let error = e
        .get_child("error", ns::DEFAULT_NS)
        .unwrap_or_else(|| panic!("no <error/> in {}", String::from(e)));
    let condition = error
        .children()
        .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let text = error
        .get_child("text", ns::XMPP_STANZAS)
        .map(Element::text)
        .unwrap_or_default();
    (
        error.attr("type").unwrap_or_default().to_string(),
        condition,
        text,
    )
}
