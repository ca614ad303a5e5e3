//! Dialling Prosody and authenticating as an external component (XEP-0114).
//!
//! tokio-xmpp's `Component::new_*` does the same, but it hides why a
//! handshake failed (every stream error becomes "component authentication
//! failure") and hands back a `Component` whose reader ends the stream on the
//! first stanza it cannot parse. goippy dials with tokio-xmpp's lower-level
//! pieces instead — `TcpServerConnector`, the stream header exchange and the
//! `<handshake/>` — and keeps the raw [`XmppStream`], whose reader reports a
//! malformed stanza as one recoverable item (see [`super::link`]).
//!
//! Without tokio-xmpp's `dns` feature a connector only takes `ip:port`, so
//! XMPP_HOST is resolved here with the system resolver and every address is
//! tried in turn.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::connect::{DnsConfig, ServerConnector, TcpServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::component::Handshake;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stream_error::{DefinedCondition, StreamError};
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, ReadError, Timeouts, XmppStream, XmppStreamElement,
};

use super::link::LinkConfig;

/// The component stream as goippy uses it.
pub type ComponentStream = XmppStream<BufStream<TcpStream>>;

/// Why a connection attempt failed; its `Display` is the log line.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve XMPP_HOST {host:?}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("XMPP_HOST {host:?} resolved to no address")]
    NoAddress { host: String },
    #[error(
        "connection to {addr} refused: is Prosody running, and is {port} in its component_ports?",
        port = addr.port()
    )]
    Refused { addr: SocketAddr },
    #[error("cannot connect to {addr}: {source}")]
    Io { addr: SocketAddr, source: io::Error },
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error(
        "Prosody rejected the component secret for {component} ({detail}): XMPP_COMPONENT_SECRET must equal component_secret in Prosody's Component \"{component}\" section"
    )]
    WrongSecret { component: String, detail: String },
    #[error(
        "Prosody does not serve {component} as a component ({detail}): add Component \"{component}\" to its configuration or fix XMPP_COMPONENT_JID"
    )]
    UnknownHost { component: String, detail: String },
    #[error(
        "another component is already connected as {component} ({detail}); is a second goippy running?"
    )]
    Conflict { component: String, detail: String },
    #[error("Prosody refused the component stream: {detail}")]
    Refusal { detail: String },
    #[error("protocol error from {addr}: {detail}")]
    Protocol { addr: SocketAddr, detail: String },
}

impl ConnectError {
    /// Whether the operator must change a setting (as opposed to waiting for
    /// Prosody to come back); such failures are logged as errors.
    pub fn is_configuration_problem(&self) -> bool {
        matches!(
            self,
            ConnectError::WrongSecret { .. }
                | ConnectError::UnknownHost { .. }
                | ConnectError::Resolve { .. }
                | ConnectError::NoAddress { .. }
        )
    }
}

/// Resolves, connects and authenticates as `component`, all within the
/// connect timeout; returns the authenticated stream and the address it is
/// connected to.
pub async fn dial(
    config: &LinkConfig,
    component: &Jid,
) -> Result<(ComponentStream, SocketAddr), ConnectError> {
    let attempt = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((config.host.as_str(), config.port))
            .await
            .map_err(|source| ConnectError::Resolve {
                host: config.host.clone(),
                source,
            })?
            .collect();
        let mut last_error = None;
        for addr in addrs {
            match dial_addr(config, component, addr).await {
                Ok(stream) => return Ok((stream, addr)),
                // Worth trying the next address only if this one was unreachable.
                Err(e @ (ConnectError::Refused { .. } | ConnectError::Io { .. })) => {
                    last_error = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| ConnectError::NoAddress {
            host: config.host.clone(),
        }))
    };
    tokio::time::timeout(config.connect_timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Timeout {
                addr: format!("{}:{}", config.host, config.port),
                timeout: config.connect_timeout,
            })
        })
}

async fn dial_addr(
    config: &LinkConfig,
    component: &Jid,
    addr: SocketAddr,
) -> Result<ComponentStream, ConnectError> {
    let timeouts = Timeouts {
        read_timeout: config.keepalive,
        response_timeout: config.response_timeout,
    };
    let connector = TcpServerConnector::from(DnsConfig::addr(&addr.to_string()));
    let (mut pending, _) = connector
        .connect(component, ns::COMPONENT, timeouts)
        .await
        .map_err(|e| connect_error(addr, e))?;
    let protocol = |detail: String| ConnectError::Protocol { addr, detail };
    let header = pending.take_header();
    let Some(stream_id) = header.id else {
        return Err(protocol("the server's stream header has no id".into()));
    };
    // Component streams carry no <stream:features/>.
    let mut stream: ComponentStream = pending.skip_features();
    no_delay(&stream, addr);
    let handshake =
        Handshake::from_stream_id_and_password(stream_id.into_owned(), config.secret.expose());
    stream
        .send(&XmppStreamElement::ComponentHandshake(handshake))
        .await
        .map_err(|source| io_error(addr, source))?;
    loop {
        let error = match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::ComponentHandshake(_)))) => {
                return Ok(stream);
            }
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                refusal(component, &e.0)
            }
            Some(Ok(other)) => protocol(format!("expected <handshake/>, got {other:?}")),
            // Waiting is bounded by the caller's connect timeout.
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(ReadError::HardError(source))) => io_error(addr, source),
            Some(Err(ReadError::ParseError(e))) => {
                protocol(format!("unreadable handshake answer: {e}"))
            }
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                protocol("the server closed the stream during the handshake".into())
            }
        };
        return Err(error);
    }
}

/// Turns Nagle's algorithm off on the component socket. The link writes
/// each stanza as it comes and then waits for Prosody to confirm the last of
/// a batch; with Nagle on, everything after the first small write waits in
/// the kernel for the ACK of the first, which Prosody (having nothing to
/// send back yet) delays by up to 40 ms — the inbox pump then spent about
/// 50 ms a page of 64 stanzas waiting, not working, and delivered ~1,100
/// SMS/s with both processes mostly idle. XMPP servers set TCP_NODELAY on
/// their own sockets for the same reason.
fn no_delay(stream: &ComponentStream, addr: SocketAddr) {
    if let Err(e) = stream.get_stream().get_ref().set_nodelay(true) {
        // Only slower, never wrong: go on.
        tracing::warn!(%addr, "cannot set TCP_NODELAY on the component socket: {e}");
    }
}

fn connect_error(addr: SocketAddr, e: tokio_xmpp::Error) -> ConnectError {
    match e {
        tokio_xmpp::Error::Io(source) => io_error(addr, source),
        tokio_xmpp::Error::StreamError(e) => ConnectError::Refusal {
            detail: e.0.to_string(),
        },
        other => ConnectError::Protocol {
            addr,
            detail: other.to_string(),
        },
    }
}

fn io_error(addr: SocketAddr, source: io::Error) -> ConnectError {
    match source.kind() {
        io::ErrorKind::ConnectionRefused => ConnectError::Refused { addr },
        _ => ConnectError::Io { addr, source },
    }
}

fn refusal(component: &Jid, e: &StreamError) -> ConnectError {
    let component = component.to_string();
    let detail = e.to_string();
    match e.condition {
        DefinedCondition::NotAuthorized => ConnectError::WrongSecret { component, detail },
        DefinedCondition::HostUnknown => ConnectError::UnknownHost { component, detail },
        DefinedCondition::Conflict => ConnectError::Conflict { component, detail },
        _ => ConnectError::Refusal { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_error_conditions_read_like_rfc_6120() {
        let e = StreamError::new(DefinedCondition::NotAuthorized, "en", "bad token");
        assert_eq!(e.to_string(), "not-authorized (\"bad token\")");
        let e = StreamError {
            condition: DefinedCondition::HostUnknown,
            texts: Default::default(),
            application_specific: vec![],
        };
        assert_eq!(e.to_string(), "host-unknown");
    }

    /// A minimal XEP-0114 server: reads the stream header, answers with
    /// its own, reads the handshake and accepts it; then keeps the socket
    /// open until the test ends.
    async fn accept_one_component(listener: tokio::net::TcpListener) -> TcpStream {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        let mut read_until = async |socket: &mut TcpStream, needle: &str| {
            while !String::from_utf8_lossy(&seen).contains(needle) {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "the client closed the socket");
                seen.extend_from_slice(&buf[..n]);
            }
        };
        read_until(&mut socket, "<stream:stream").await;
        socket
            .write_all(
                b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
                  xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='sms.example.org'>",
            )
            .await
            .expect("write");
        read_until(&mut socket, "</handshake>").await;
        socket.write_all(b"<handshake/>").await.expect("write");
        socket
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_component_socket_does_not_wait_for_delayed_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(accept_one_component(listener));
        let component = Jid::new("sms.example.org").expect("valid");
        let config = LinkConfig::for_tests("sms.example.org", port);
        let (stream, _) = dial(&config, &component).await.expect("dialled");
        assert!(
            stream.get_stream().get_ref().nodelay().expect("nodelay"),
            "Nagle's algorithm is on: small stanzas wait for delayed ACKs"
        );
        drop(server);
    }

    #[test]
    fn wrong_secret_names_both_settings() {
        let component = Jid::new("sms.example.org").expect("valid");
        let e = refusal(
            &component,
            &StreamError::new(DefinedCondition::NotAuthorized, "en", "x"),
        );
        assert!(e.is_configuration_problem());
        let text = e.to_string();
        assert!(text.contains("XMPP_COMPONENT_SECRET"), "{text}");
        assert!(text.contains("component_secret"), "{text}");
        let e = refusal(
            &component,
            &StreamError::new(DefinedCondition::Conflict, "en", "x"),
        );
        assert!(!e.is_configuration_problem());
        assert!(e.to_string().contains("second goippy"));
    }
}
