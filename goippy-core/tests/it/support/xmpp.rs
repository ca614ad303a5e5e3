//! Shared pieces of the XMPP integration tests: a Prosody with the component
//! under test and two peers, short link timings, a log capture, and a raw
//! component that can write any XML (including stanzas xmpp-parsers would
//! refuse to build).
//!
//! Peers are components, not clients: a tokio-xmpp c2s client cannot share a
//! build with the `component` feature
//! (docs/architecture.md#test-users-are-components), and
//! Prosody routes component → component like any other stanza.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goippy_core::config::Secret;
use goippy_core::number::NumberRules;
use goippy_core::xmpp::address::Addressing;
use goippy_core::xmpp::link::{Inbound, LinkConfig, LinkState};
use goippy_testkit::prosody::{Prosody, ProsodyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::component::Handshake;

pub use super::{DOMAIN, PATIENCE, SMS, SMS_SECRET, jid};
pub const PEER: &str = "peer.example.org";
pub const PEER_SECRET: &str = "peersecret";
pub const RAW: &str = "raw.example.org";
pub const RAW_SECRET: &str = "rawsecret";

/// The component's addressing as goippy configures it by default:
/// `+number@sms.example.org` for users of `example.org`.
pub fn addressing() -> Addressing {
    Addressing::new(DOMAIN, SMS, SMS, NumberRules::international_only(), true).expect("valid")
}

pub fn prosody() -> Prosody {
    Prosody::start(
        ProsodyConfig::new(DOMAIN)
            .component(SMS, SMS_SECRET)
            .component(PEER, PEER_SECRET)
            .component(RAW, RAW_SECRET),
    )
    .expect("prosody starts")
}

/// A link configuration with test-sized timings.
pub fn link_config(prosody: &Prosody, component: &str, secret: &str) -> LinkConfig {
    LinkConfig {
        component: component.to_string(),
        secret: Secret::new(secret),
        host: "localhost".to_string(),
        port: prosody.component_port(),
        ping_target: DOMAIN.to_string(),
        keepalive: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        inbound_capacity: 16,
    }
}

/// Waits until the link is connected; returns its session number.
pub async fn connected(state: &mut watch::Receiver<LinkState>) -> u64 {
    let result = tokio::time::timeout(
        PATIENCE,
        state.wait_for(|s| matches!(s, LinkState::Connected { .. })),
    )
    .await
    .map(|r| r.map(|state| *state));
    match result {
        Ok(Ok(LinkState::Connected { session, .. })) => session,
        other => panic!("link did not connect: {other:?}"),
    }
}

/// The next inbound item.
pub async fn next(inbound: &mut mpsc::Receiver<Inbound>) -> Inbound {
    match tokio::time::timeout(PATIENCE, inbound.recv()).await {
        Ok(Some(item)) => item,
        other => panic!("no inbound stanza: {other:?}"),
    }
}

/// Captures this thread's log output (use a current-thread runtime, so the
/// link's tasks log on the same thread).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Starts capturing at debug level until the guard is dropped.
    pub fn start() -> (LogCapture, tracing::subscriber::DefaultGuard) {
        let capture = LogCapture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    pub fn contents(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.contents().matches(needle).count()
    }

    /// Waits until `needle` has been logged `times` times.
    pub async fn wait_for(&self, needle: &str, times: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.count(needle) < times {
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{needle:?} logged {} times, expected {times}; log:\n{}",
                    self.count(needle),
                    self.contents()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A component speaking raw XML: writes exactly what a test gives it.
pub struct RawComponent {
    stream: TcpStream,
    received: String,
}

impl RawComponent {
    /// Connects and authenticates as `raw.example.org`.
    pub async fn connect(prosody: &Prosody) -> RawComponent {
        let stream = TcpStream::connect(prosody.component_addr())
            .await
            .expect("connect to the component port");
        let mut raw = RawComponent {
            stream,
            received: String::new(),
        };
        raw.write(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{RAW}'>"
        ))
        .await;
        let header = raw.read_until("id=").await;
        let id = stream_id(&header).expect("stream id in the header");
        let handshake = Handshake::from_stream_id_and_password(id, RAW_SECRET);
        raw.write(&String::from(&Element::from(handshake))).await;
        raw.read_until("<handshake").await;
        raw.received.clear();
        raw
    }

    pub async fn write(&mut self, xml: &str) {
        self.stream
            .write_all(xml.as_bytes())
            .await
            .expect("write to prosody");
    }

    /// Reads until `needle` has arrived; returns everything read so far.
    pub async fn read_until(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut buf = [0u8; 4096];
        while !self.received.contains(needle) {
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{needle:?} never arrived; got {:?}", self.received))
                .expect("read from prosody");
            assert!(
                n > 0,
                "prosody closed the raw stream; got {:?}",
                self.received
            );
            self.received.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        self.received.clone()
    }
}

fn stream_id(header: &str) -> Option<String> {
    let start = header
        .find("id='")
        .map(|i| i + 4)
        .or_else(|| header.find("id=\"").map(|i| i + 4))?;
    let rest = &header[start..];
    let end = rest.find(['\'', '"'])?;
    Some(rest[..end].to_string())
}
