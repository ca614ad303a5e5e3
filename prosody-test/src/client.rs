//! An XMPP user for tests: tokio-xmpp's c2s stanza stream with timeouts on
//! every await and stanzas handed over as XML elements.
//!
//! Why elements: tests assert on what Prosody really sent — attributes,
//! payload namespaces, error conditions — including stanzas xmpp-parsers
//! would reject; a minidom `Element` shows all of it. Stanzas that arrive
//! while a test waits for something else are kept in a backlog and matched
//! by later waits, so assertions do not depend on incidental ordering
//! (presence, roster pushes, carbons).
//!
//! Why `StanzaStream` and not `tokio_xmpp::Client`: `Client` is this same
//! stream (SASL, resource binding, reconnects) behind a sender/receiver pair
//! that share a mutex, and in tokio-xmpp 6.0.0 the receiving side polls it
//! with `try_lock` and returns `Pending` *without registering a waker* when
//! a send holds the lock. On a multi-threaded runtime a send racing with an
//! incoming stanza then silences the client for good (seen about once per
//! thirty logins here). Owning the `StanzaStream` directly, sends and reads
//! are never concurrent, so there is no lock to lose a wake-up on.
//!
//! The stream reconnects on its own after errors; a test must notice a
//! disconnect instead, so a lost connection is an error here, and every wait
//! has a deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaState, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;

use crate::Result;

/// How long login may take (it takes ~0.1 s).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing one stanza may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Stanzas buffered per direction (as tokio_xmpp::Client does).
const QUEUE_DEPTH: usize = 16;

/// The namespace of stanzas on a c2s stream.
pub const NS_CLIENT: &str = "jabber:client";

/// A logged-in test user.
pub struct XmppClient {
    stream: StanzaStream,
    jid: FullJid,
    backlog: VecDeque<Element>,
}

impl XmppClient {
    /// Logs in over plain TCP (the test servers have no TLS) and sends
    /// initial presence, as a real client would: without it Prosody does
    /// not deliver messages addressed to the bare JID to this session.
    pub async fn connect(addr: SocketAddr, jid: &str, password: &str) -> Result<Self> {
        let bare = BareJid::from_str(jid).map_err(|e| format!("bad JID {jid:?}: {e}"))?;
        let mut stream = StanzaStream::new_c2s(
            TcpServerConnector::from(DnsConfig::addr(&addr.to_string())),
            Jid::from(bare),
            password.to_string(),
            Timeouts::tight(),
            QUEUE_DEPTH,
        );
        // A wrong password is retried by the stream forever: the deadline
        // is what turns it into an error.
        let bound = timeout(LOGIN_TIMEOUT, async {
            loop {
                match stream.next().await {
                    Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                        return Ok(bound_jid);
                    }
                    Some(Event::Stream(_)) | Some(Event::Stanza(_)) => {}
                    None => return Err(format!("{jid}: stream ended during login")),
                }
            }
        })
        .await
        .map_err(|_| {
            format!("{jid} did not log in within {LOGIN_TIMEOUT:?} (wrong password?)")
        })??;
        let jid = bound
            .try_into_full()
            .map_err(|bare| format!("server bound a bare JID {bare}"))?;
        let mut this = XmppClient {
            stream,
            jid,
            backlog: VecDeque::new(),
        };
        this.send(Presence::available()).await?;
        Ok(this)
    }

    /// The full JID the server bound.
    pub fn jid(&self) -> &FullJid {
        &self.jid
    }

    /// Sends a typed stanza and waits until it is written to the socket.
    pub async fn send(&mut self, stanza: impl Into<Stanza>) -> Result<()> {
        let stanza = Box::new(stanza.into());
        let sent = timeout(SEND_TIMEOUT, async {
            let mut token = self.stream.send(stanza).await;
            token.wait_for(StanzaStage::Sent).await
        })
        .await
        .map_err(|_| format!("{}: sending took over {SEND_TIMEOUT:?}", self.jid))?;
        match sent {
            Some(StanzaState::Sent { .. }) | Some(StanzaState::Acked { .. }) => Ok(()),
            Some(StanzaState::Failed { error }) => {
                Err(format!("{}: sending failed: {}", self.jid, error.into_io_error()).into())
            }
            other => Err(format!("{}: stanza not sent: {other:?}", self.jid).into()),
        }
    }

    /// Queues a stanza for sending without waiting for it to be written —
    /// for streaming many stanzas (benchmarks). The queue holds
    /// [`QUEUE_DEPTH`] stanzas; beyond that this waits for room.
    pub async fn enqueue(&mut self, stanza: impl Into<Stanza>) -> Result<()> {
        let stanza = Box::new(stanza.into());
        timeout(SEND_TIMEOUT, self.stream.send(stanza))
            .await
            .map_err(|_| {
                format!(
                    "{}: no room in the send queue for {SEND_TIMEOUT:?}",
                    self.jid
                )
            })?;
        Ok(())
    }

    /// Sends a stanza written as XML; `xmlns='jabber:client'` is implied.
    pub async fn send_xml(&mut self, xml: &str) -> Result<()> {
        let stanza = parse_stanza(xml)?;
        self.send(stanza).await
    }

    /// The next stanza (backlog first), within `within`.
    pub async fn recv(&mut self, within: Duration) -> Result<Element> {
        if let Some(el) = self.backlog.pop_front() {
            return Ok(el);
        }
        let deadline = Instant::now() + within;
        self.read_one(deadline)
            .await?
            .ok_or_else(|| format!("no stanza within {within:?}").into())
    }

    /// The next stanza (backlog first) if one arrives within `within`, else
    /// `None`: silence is no error here (a lost connection still is). For
    /// clients that show whatever comes, like the demo.
    pub async fn poll(&mut self, within: Duration) -> Result<Option<Element>> {
        if let Some(el) = self.backlog.pop_front() {
            return Ok(Some(el));
        }
        self.read_one(Instant::now() + within).await
    }

    /// The first stanza (backlog first) for which `wanted` holds; others are
    /// kept for later waits. `what` names it in the error.
    pub async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&Element) -> bool,
    ) -> Result<Element> {
        if let Some(el) = self
            .backlog
            .iter()
            .position(&wanted)
            .and_then(|i| self.backlog.remove(i))
        {
            return Ok(el);
        }
        let deadline = Instant::now() + within;
        loop {
            match self.read_one(deadline).await? {
                Some(el) if wanted(&el) => return Ok(el),
                Some(el) => self.backlog.push_back(el),
                None => {
                    return Err(format!(
                        "{}: no {what} within {within:?}; received meanwhile:\n{}",
                        self.jid,
                        self.describe_backlog()
                    )
                    .into());
                }
            }
        }
    }

    /// Fails if a stanza for which `unwanted` holds is in the backlog or
    /// arrives within `window`.
    pub async fn expect_none(
        &mut self,
        what: &str,
        window: Duration,
        unwanted: impl Fn(&Element) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + window;
        if let Some(el) = self.backlog.iter().find(|el| unwanted(el)) {
            return Err(format!("{}: unexpected {what}: {}", self.jid, xml_of(el)).into());
        }
        while let Some(el) = self.read_one(deadline).await? {
            if unwanted(&el) {
                return Err(format!("{}: unexpected {what}: {}", self.jid, xml_of(&el)).into());
            }
            self.backlog.push_back(el);
        }
        Ok(())
    }

    /// Removes and returns every stanza already received (backlog) for which
    /// `wanted` holds, in arrival order; for collecting what arrived before
    /// a terminating stanza (MAM results before the query's iq result).
    pub fn take_received(&mut self, wanted: impl Fn(&Element) -> bool) -> Vec<Element> {
        let (taken, kept) = self.backlog.drain(..).partition(|el| wanted(el));
        self.backlog = kept;
        taken.into()
    }

    /// Closes the stream cleanly.
    pub async fn close(self) -> Result<()> {
        timeout(SEND_TIMEOUT, self.stream.close())
            .await
            .map_err(|_| format!("closing took over {SEND_TIMEOUT:?}"))?;
        Ok(())
    }

    /// One stanza, or `None` at the deadline.
    async fn read_one(&mut self, deadline: Instant) -> Result<Option<Element>> {
        loop {
            match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Ok(None),
                Ok(Some(Event::Stanza(stanza))) => return Ok(Some(Element::from(stanza))),
                Ok(Some(Event::Stream(StreamEvent::Resumed))) => {}
                Ok(Some(Event::Stream(StreamEvent::Suspended))) => {
                    return Err(format!("{}: disconnected", self.jid).into());
                }
                Ok(Some(Event::Stream(StreamEvent::Reset { .. }))) => {
                    return Err(format!("{}: the stream was re-established", self.jid).into());
                }
                Ok(None) => return Err(format!("{}: the stream ended", self.jid).into()),
            }
        }
    }

    fn describe_backlog(&self) -> String {
        if self.backlog.is_empty() {
            return "  (nothing)".into();
        }
        self.backlog
            .iter()
            .map(|el| format!("  {}", xml_of(el)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Parses a stanza written as XML; `xmlns='jabber:client'` is added to the
/// root element when it declares no namespace.
pub fn parse_stanza(xml: &str) -> Result<Stanza> {
    let xml = xml.trim();
    let with_ns;
    let xml = if root_declares_namespace(xml) {
        xml
    } else {
        let name_end = xml
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .ok_or("not an XML element")?;
        with_ns = format!(
            "{} xmlns='{NS_CLIENT}'{}",
            &xml[..name_end],
            &xml[name_end..]
        );
        &with_ns
    };
    let element = Element::from_str(xml).map_err(|e| format!("bad XML {xml:?}: {e}"))?;
    Stanza::try_from(element).map_err(|e| format!("not a stanza {xml:?}: {e}").into())
}

fn root_declares_namespace(xml: &str) -> bool {
    let start_tag = xml.split('>').next().unwrap_or("");
    start_tag.contains(" xmlns=") || start_tag.contains("\txmlns=")
}

/// An element as XML text, for messages.
pub fn xml_of(el: &Element) -> String {
    String::from(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_with_implied_namespace() {
        let stanza = parse_stanza("<message to='a@b' type='chat'><body>hi</body></message>")
            .expect("valid message");
        assert!(matches!(stanza, Stanza::Message(_)));
        let el = Element::from(stanza);
        assert_eq!(el.ns(), NS_CLIENT);
        assert_eq!(
            el.get_child("body", NS_CLIENT).map(|b| b.text()),
            Some("hi".into())
        );
        assert!(
            parse_stanza(
                "<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"
            )
            .is_ok()
        );
        assert!(parse_stanza("<foo/>").is_err());
    }
}
