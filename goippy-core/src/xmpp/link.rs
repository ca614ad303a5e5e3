//! The connection to Prosody: one task that keeps the component stream up.
//!
//! [`XmppLink::spawn`] starts a task that dials Prosody ([`super::connect`]),
//! reads stanzas into a channel in arrival order, writes what
//! [`XmppHandle::send`] asks for, and on *any* end of the stream (server
//! restart, network error, stream error, keepalive unanswered) publishes
//! [`LinkState::Disconnected`], waits (1 s doubling to 30 s, reset by a
//! successful handshake) and dials again, logging every step. It holds no
//! business logic: deciding what a stanza means is [`super::intent`]'s job,
//! answering it the bridge's.
//!
//! Shaped by what tokio-xmpp 6 does (see docs/architecture.md#the-xmpp-link):
//!
//! * **Silence is not death.** The stream reader reports a *soft timeout*
//!   after `read_timeout` of silence; `Component` turns that into "end of
//!   stream". Here `read_timeout` is the keepalive interval and a soft
//!   timeout makes the link ping the server (XEP-0199, answered by Prosody's
//!   mod_ping); only when the answer does not come within
//!   `response_timeout` does the reader fail hard and the link reconnect.
//! * **A malformed stanza costs only that stanza.** `Component` ends the
//!   stream on the first stanza xmpp-parsers cannot parse (a
//!   `<message type='bogus'>` from any client is enough). The link reads the
//!   raw `XmppStream` instead, whose parser consumes the whole bad element
//!   and yields it as an error item with its header (from, to, type, id);
//!   it is passed on as [`Inbound::Invalid`] so the bridge can answer
//!   `bad-request`, and the stream goes on.
//! * **A sent stanza is never silently dropped.** `send` resolves only after
//!   the stanza is written *and flushed* to the socket, or fails
//!   ([`SendError::NotConnected`] while the link is down; nothing is queued,
//!   because Prosody bounces stanzas for an absent component anyway and the
//!   bridge re-sends from its store on [`LinkState::Connected`]).
//!   [`XmppHandle::send_confirmed`] goes further: it resolves once Prosody
//!   has *processed* the stanza, proven by the answer to a ping sent after
//!   it (Prosody handles a component's stanzas strictly in order), so a
//!   Prosody restart right after the write cannot lose it unnoticed.
//! * **Text is made XML-safe.** The builders sanitise outside text; should a
//!   stanza still hold a character XML forbids (tokio-xmpp's encoder refuses
//!   it and leaves the stream intact), the link sanitises a copy, logs a
//!   warning and sends that.
//! * **No deadlock with a busy consumer.** While the inbound channel is full
//!   the link keeps serving `send`, so a consumer that answers a stanza
//!   before taking the next one cannot block itself. Reading stops then
//!   (backpressure), except while a ping is out: its answer may be queued
//!   behind stanzas not taken yet, so the link reads up to
//!   `inbound_capacity` more. Memory stays bounded (at most twice that many
//!   stanzas wait); if the answer is still out of reach after
//!   `response_timeout`, the confirmed sends fail as
//!   [`SendError::Unconfirmed`] instead of waiting forever. An unanswered
//!   ping while everything was read means the stream is dead.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::time::Duration;

use futures::{Sink, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, ReadError, StreamElementError, XmppStreamElement,
};

use crate::config::{Secret, XmppSettings};

use super::connect::{self, ComponentStream};
use super::text::sanitize_element;
use crate::util::Backoff;

/// How the link connects and how patient it is.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The component JID (XMPP_COMPONENT_JID).
    pub component: String,
    pub secret: Secret,
    /// Prosody's host and component port (XMPP_HOST, XMPP_PORT).
    pub host: String,
    pub port: u16,
    /// Who answers the keepalive pings: the users' domain (XMPP_DOMAIN),
    /// whose Prosody host runs mod_ping. (An error answer counts as well.)
    pub ping_target: String,
    /// Silence after which the server is pinged (XMPP_PING_INTERVAL).
    pub keepalive: Duration,
    /// How long a ping may stay unanswered before the stream counts as dead.
    pub response_timeout: Duration,
    /// Bound on resolving, connecting and the handshake.
    pub connect_timeout: Duration,
    /// Bound on writing one stanza to the socket.
    pub write_timeout: Duration,
    /// First and longest wait between connection attempts.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How many inbound stanzas may wait for the consumer.
    pub inbound_capacity: usize,
}

impl LinkConfig {
    /// The production settings for the configured component.
    pub fn from_settings(s: &XmppSettings) -> Self {
        LinkConfig {
            component: s.component_jid.clone(),
            secret: s.secret.clone(),
            host: s.host.clone(),
            port: s.port,
            ping_target: s.domain.clone(),
            keepalive: s.ping_interval,
            response_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(15),
            write_timeout: Duration::from_secs(30),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            inbound_capacity: 256,
        }
    }
}

/// Whether the component stream is up; watched by the bridge, which
/// flushes the inbox and re-sends presence on every `Connected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected (starting, or between attempts).
    Disconnected,
    /// Authenticated; `session` counts successful connections from 1.
    Connected { session: u64 },
    /// Shut down for good.
    Stopped,
}

impl LinkState {
    pub fn is_connected(&self) -> bool {
        matches!(self, LinkState::Connected { .. })
    }
}

/// What the link reads from the stream, in arrival order.
// Nearly every item is a stanza: boxing it would allocate on the common path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    /// A stanza xmpp-parsers understood.
    Stanza(Stanza),
    /// A stanza it could not parse; the stream goes on without it.
    Invalid(Malformed),
}

/// Which kind of stanza a [`Malformed`] one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaKind {
    Message,
    Presence,
    Iq,
}

/// A stanza that could not be read, with whatever of its header survived:
/// its name and header attributes (a JID only if it is one), enough to
/// answer it with an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub kind: StanzaKind,
    pub from: Option<Jid>,
    pub to: Option<Jid>,
    pub id: Option<String>,
    pub type_: Option<String>,
    /// Why it could not be read.
    pub error: String,
}

impl Malformed {
    /// Whether RFC 6120 allows an error reply: the sender is known and the
    /// stanza was neither an error nor an iq result.
    pub fn answerable(&self) -> bool {
        let silent_type = matches!(self.type_.as_deref(), Some("error" | "result"));
        let iq_without_id = self.kind == StanzaKind::Iq && self.id.is_none();
        self.from.is_some() && !silent_type && !iq_without_id
    }
}

/// Why a stanza was not sent (or not confirmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The link is down; nothing was written.
    #[error("not connected to the XMPP server")]
    NotConnected,
    /// The stream failed during the write or before the server confirmed it:
    /// the stanza may or may not have arrived; re-sending is the safe choice.
    #[error("the XMPP connection was lost before the stanza was confirmed")]
    ConnectionLost,
    /// The stanza cannot be serialised even after sanitising (a bug in
    /// whatever built it); the stream is unaffected.
    #[error("the stanza cannot be written as XML: {0}")]
    Unencodable(String),
    /// The stanza was written, but the server's confirmation did not come
    /// within this time because the consumer is not taking inbound stanzas
    /// (the answer is queued behind them). It has most likely arrived; treat
    /// it as unconfirmed (re-send later) rather than lost.
    #[error("the stanza was written but not confirmed within {0:?}")]
    Unconfirmed(Duration),
    /// The link has been shut down.
    #[error("the XMPP link has been shut down")]
    Stopped,
}

/// Where a send's outcome goes (for a confirmed send, once the ping
/// written after it is answered).
type Done = oneshot::Sender<Result<(), SendError>>;

/// A stanza a handle asks the link to write.
struct SendRequest {
    stanza: Box<Stanza>,
    confirm: bool,
    done: Done,
}

enum LinkCommand {
    Send(SendRequest),
    Shutdown(oneshot::Sender<()>),
}

/// Sends stanzas through the link; cheap to clone. Dropping every handle
/// shuts the link down.
#[derive(Debug, Clone)]
pub struct XmppHandle {
    commands: mpsc::Sender<LinkCommand>,
    state: watch::Receiver<LinkState>,
}

impl XmppHandle {
    /// Writes `stanza` to the component stream; resolves once it has been
    /// written and flushed to the socket.
    pub async fn send(&self, stanza: impl Into<Stanza>) -> Result<(), SendError> {
        self.submit(stanza.into(), false).await
    }

    /// Like [`Self::send`], but resolves only once the server has processed
    /// the stanza (a ping sent after it has been answered). Use it when
    /// losing the stanza matters, e.g. before marking an SMS delivered.
    /// [`SendError::ConnectionLost`] and [`SendError::Unconfirmed`] both mean
    /// "not confirmed": keep it to re-send (a duplicate is possible, a loss
    /// is not).
    pub async fn send_confirmed(&self, stanza: impl Into<Stanza>) -> Result<(), SendError> {
        self.submit(stanza.into(), true).await
    }

    /// Whether the link's task still runs (for the watchdog: it ends only
    /// after [`Self::shutdown`]).
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// The link's current state.
    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }

    /// Closes the stream cleanly (`</stream:stream>`) and stops the link;
    /// resolves when it has stopped. Later sends fail with [`SendError::Stopped`].
    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self
            .commands
            .send(LinkCommand::Shutdown(done))
            .await
            .is_ok()
        {
            let _ = stopped.await;
        }
    }

    async fn submit(&self, stanza: Stanza, confirm: bool) -> Result<(), SendError> {
        match self.state() {
            LinkState::Connected { .. } => {}
            LinkState::Disconnected => return Err(SendError::NotConnected),
            LinkState::Stopped => return Err(SendError::Stopped),
        }
        let (done, result) = oneshot::channel();
        let request = SendRequest {
            stanza: Box::new(stanza),
            confirm,
            done,
        };
        self.commands
            .send(LinkCommand::Send(request))
            .await
            .map_err(|_| SendError::Stopped)?;
        // A dropped reply means the link task ended while holding it.
        result.await.unwrap_or(Err(SendError::Stopped))
    }
}

/// The connection task's entry point.
#[derive(Debug)]
pub struct XmppLink;

impl XmppLink {
    /// Starts the connection task on the current tokio runtime. Returns the
    /// sending handle, the inbound stanzas and the state watch.
    pub fn spawn(
        config: LinkConfig,
    ) -> (
        XmppHandle,
        mpsc::Receiver<Inbound>,
        watch::Receiver<LinkState>,
    ) {
        let (commands_tx, commands) = mpsc::channel(64);
        let (inbound, inbound_rx) = mpsc::channel(config.inbound_capacity.max(1));
        let (state, state_rx) = watch::channel(LinkState::Disconnected);
        let handle = XmppHandle {
            commands: commands_tx,
            state: state_rx.clone(),
        };
        let task = LinkTask {
            config,
            commands,
            inbound,
            state,
            backlog: VecDeque::new(),
            sessions: 0,
            pings_sent: 0,
        };
        tokio::spawn(task.run());
        (handle, inbound_rx, state_rx)
    }
}

struct LinkTask {
    config: LinkConfig,
    commands: mpsc::Receiver<LinkCommand>,
    inbound: mpsc::Sender<Inbound>,
    state: watch::Sender<LinkState>,
    /// Inbound items read but not yet taken by the consumer, oldest first.
    /// They outlive the session that read them: the server considers them
    /// delivered, so a lost stream must not lose them too.
    backlog: VecDeque<Inbound>,
    sessions: u64,
    pings_sent: u64,
}

/// Why the link task stops for good.
enum Stop {
    Shutdown(oneshot::Sender<()>),
    HandlesDropped,
    ConsumerGone,
    /// Already logged.
    Misconfigured,
}

/// How a connected session ended.
enum SessionEnd {
    /// The stream is gone; reconnect.
    Lost(String),
    Stop(Stop),
}

impl From<Stop> for SessionEnd {
    fn from(stop: Stop) -> Self {
        SessionEnd::Stop(stop)
    }
}

/// What a handle's command asks for: a send, or (as `Err`) to stop.
fn requested(command: Option<LinkCommand>) -> Result<SendRequest, Stop> {
    match command {
        Some(LinkCommand::Send(request)) => Ok(request),
        Some(LinkCommand::Shutdown(done)) => Err(Stop::Shutdown(done)),
        None => Err(Stop::HandlesDropped),
    }
}

/// Hands the oldest item read to the consumer once it has room for it.
async fn hand_over(
    inbound: &mpsc::Sender<Inbound>,
    backlog: &mut VecDeque<Inbound>,
) -> Result<(), Stop> {
    let permit = inbound.reserve().await.map_err(|_| Stop::ConsumerGone)?;
    if let Some(item) = backlog.pop_front() {
        permit.send(item);
    }
    Ok(())
}

impl LinkTask {
    async fn run(mut self) {
        let Err(stop) = self.keep_connected().await;
        self.finish(stop);
    }

    /// Dials, serves the session, waits and dials again, until the link
    /// must stop.
    async fn keep_connected(&mut self) -> Result<Infallible, Stop> {
        let component = match Jid::new(&self.config.component) {
            Ok(jid) => jid,
            Err(e) => {
                tracing::error!(component = %self.config.component, "XMPP_COMPONENT_JID is not a valid JID ({e}); the XMPP link cannot start");
                return Err(Stop::Misconfigured);
            }
        };
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let mut failures: u64 = 0;
        let config = self.config.clone();
        loop {
            tracing::debug!(host = %config.host, port = config.port, %component, "connecting to the XMPP server");
            let delay = match self
                .while_disconnected(connect::dial(&config, &component))
                .await?
            {
                Ok((stream, addr)) => {
                    backoff.reset();
                    self.sessions += 1;
                    let session = self.sessions;
                    tracing::info!(%addr, %component, session, failed_attempts = failures, "XMPP component connected");
                    failures = 0;
                    self.state.send_replace(LinkState::Connected { session });
                    let end = Session::new(self, stream, &component).run().await;
                    self.state.send_replace(LinkState::Disconnected);
                    let reason = match end {
                        SessionEnd::Lost(reason) => reason,
                        SessionEnd::Stop(stop) => return Err(stop),
                    };
                    let delay = backoff.next_delay();
                    tracing::warn!(%component, session, "XMPP stream ended: {reason}; reconnecting in {delay:?}");
                    delay
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff.next_delay();
                    if e.is_configuration_problem() {
                        tracing::error!(%component, attempt = failures, "XMPP connection failed: {e}; next attempt in {delay:?}");
                    } else {
                        tracing::warn!(%component, attempt = failures, "XMPP connection failed: {e}; next attempt in {delay:?}");
                    }
                    delay
                }
            };
            self.while_disconnected(tokio::time::sleep(delay)).await?;
        }
    }

    /// Runs `fut` while answering every send with `NotConnected` and
    /// handing the consumer what the last session read.
    async fn while_disconnected<F: Future>(&mut self, fut: F) -> Result<F::Output, Stop> {
        tokio::pin!(fut);
        loop {
            let has_backlog = !self.backlog.is_empty();
            tokio::select! {
                output = &mut fut => return Ok(output),
                handed = hand_over(&self.inbound, &mut self.backlog), if has_backlog => handed?,
                command = self.commands.recv() => {
                    let _ = requested(command)?.done.send(Err(SendError::NotConnected));
                }
                _ = self.inbound.closed() => return Err(Stop::ConsumerGone),
            }
        }
    }

    fn finish(&mut self, stop: Stop) {
        self.state.send_replace(LinkState::Stopped);
        // Hand over what fits; the consumer is stopping too.
        while let Some(item) = self.backlog.pop_front() {
            if self.inbound.try_send(item).is_err() {
                tracing::warn!(
                    component = %self.config.component,
                    "{} inbound stanza(s) read from the server were not taken before the link stopped",
                    self.backlog.len() + 1
                );
                break;
            }
        }
        self.commands.close();
        // Anything still queued learns that the link is gone.
        while let Ok(command) = self.commands.try_recv() {
            match command {
                LinkCommand::Send(request) => {
                    let _ = request.done.send(Err(SendError::Stopped));
                }
                LinkCommand::Shutdown(done) => {
                    let _ = done.send(());
                }
            }
        }
        match stop {
            Stop::Shutdown(done) => {
                tracing::info!(component = %self.config.component, "XMPP link shut down");
                let _ = done.send(());
            }
            Stop::HandlesDropped => {
                tracing::info!(component = %self.config.component, "XMPP link stopped: no handle left")
            }
            Stop::ConsumerGone => {
                tracing::info!(component = %self.config.component, "XMPP link stopped: nobody reads inbound stanzas")
            }
            Stop::Misconfigured => {}
        }
    }
}

/// How long sending the stream footer may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);
/// How long to keep reading after a session ended, for what the server sent.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A ping the server has not answered yet.
struct PendingPing {
    id: String,
    sent: tokio::time::Instant,
    /// The confirmed sends written before it.
    waiters: Vec<Done>,
}

/// One connected stream, from handshake to its end.
struct Session<'a> {
    link: &'a mut LinkTask,
    stream: ComponentStream,
    session: u64,
    ping_to: Option<Jid>,
    component: Jid,
    /// Confirmed sends written after the last ping.
    unconfirmed: Vec<Done>,
    /// Pings in flight, oldest first.
    pings: VecDeque<PendingPing>,
}

#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error(transparent)]
    Io(io::Error),
    #[error("{0}")]
    Unencodable(String),
}

impl<'a> Session<'a> {
    fn new(link: &'a mut LinkTask, stream: ComponentStream, component: &Jid) -> Self {
        let ping_to = Jid::new(&link.config.ping_target)
            .inspect_err(|e| {
                tracing::error!(ping_target = %link.config.ping_target, "cannot ping the XMPP server ({e}): the stream will be declared dead after each silence");
            })
            .ok();
        Session {
            session: link.sessions,
            link,
            stream,
            ping_to,
            component: component.clone(),
            unconfirmed: Vec::new(),
            pings: VecDeque::new(),
        }
    }

    async fn run(mut self) -> SessionEnd {
        let Err(end) = self.serve().await;
        if let SessionEnd::Stop(_) = &end {
            self.close().await;
        }
        // Stanzas the server already wrote are delivered as far as it knows:
        // read them before the socket goes, whatever ended the session.
        self.drain(DRAIN_LIMIT).await;
        // Whatever was not confirmed may be lost: say so.
        let waiting = self
            .unconfirmed
            .drain(..)
            .chain(self.pings.drain(..).flat_map(|p| p.waiters));
        for done in waiting {
            let _ = done.send(Err(SendError::ConnectionLost));
        }
        end
    }

    /// Whether to read more from the stream. Normally only when the
    /// consumer has taken everything; but while a ping is out, reading goes
    /// on (up to `inbound_capacity` items ahead) because its answer may sit
    /// behind stanzas the consumer has not taken yet, and a consumer that
    /// waits for a confirmed send before taking the next stanza must not
    /// wait forever.
    fn may_read(&self) -> bool {
        self.link.backlog.is_empty()
            || (!self.pings.is_empty()
                && self.link.backlog.len() < self.link.config.inbound_capacity)
    }

    async fn serve(&mut self) -> Result<Infallible, SessionEnd> {
        loop {
            let may_read = self.may_read();
            let has_backlog = !self.link.backlog.is_empty();
            let ping_deadline = self
                .pings
                .front()
                .map(|p| p.sent + self.link.config.response_timeout);
            tokio::select! {
                biased;
                command = self.link.commands.recv() => {
                    let SendRequest { stanza, confirm, done } = requested(command)?;
                    self.send(*stanza, confirm, done).await?;
                }
                handed = hand_over(&self.link.inbound, &mut self.link.backlog), if has_backlog => {
                    handed?;
                }
                item = self.stream.next(), if may_read => self.receive(item).await?,
                // Without a ping out the deadline is never polled.
                () = tokio::time::sleep_until(ping_deadline.unwrap_or_else(tokio::time::Instant::now)),
                    if ping_deadline.is_some() => self.ping_overdue(may_read).await?,
            }
        }
    }

    /// Confirmed sends written while an older ping was out need a ping of
    /// their own once nothing else is out.
    async fn ping_for_unconfirmed(&mut self) -> Result<(), SessionEnd> {
        if self.unconfirmed.is_empty() || !self.pings.is_empty() {
            return Ok(());
        }
        self.ping("confirmation").await
    }

    /// The oldest ping has waited `response_timeout` for its answer.
    async fn ping_overdue(&mut self, reading: bool) -> Result<(), SessionEnd> {
        let timeout = self.link.config.response_timeout;
        if reading {
            // Everything the server sent was read, and no answer among it.
            return Err(SessionEnd::Lost(format!(
                "the server did not answer a ping within {timeout:?}"
            )));
        }
        // The answer is stuck behind stanzas the consumer does not take:
        // stop waiting rather than block the consumer's send forever.
        tracing::warn!(
            session = self.session,
            backlog = self.link.backlog.len(),
            "inbound stanzas are not being taken; confirmed sends fail as unconfirmed"
        );
        for ping in self.pings.drain(..) {
            for done in ping.waiters {
                let _ = done.send(Err(SendError::Unconfirmed(timeout)));
            }
        }
        self.ping_for_unconfirmed().await
    }

    /// Handles one item read from the stream.
    async fn receive(
        &mut self,
        item: Option<Result<FallibleStreamElement, ReadError>>,
    ) -> Result<(), SessionEnd> {
        match item {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)))) => {
                if self.is_ping_answer(&stanza) {
                    self.ping_for_unconfirmed().await
                } else {
                    self.link.backlog.push_back(Inbound::Stanza(stanza));
                    Ok(())
                }
            }
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => Err(
                SessionEnd::Lost(format!("the server sent a stream error: {}", e.0)),
            ),
            Some(Ok(FallibleStreamElement::Ok(other))) => {
                tracing::warn!(
                    session = self.session,
                    "ignoring an unexpected stream element: {other:?}"
                );
                Ok(())
            }
            Some(Ok(FallibleStreamElement::Err(e @ StreamElementError::InvalidStanza { .. }))) => {
                self.keep_invalid(e);
                Ok(())
            }
            Some(Ok(FallibleStreamElement::Err(e @ StreamElementError::InvalidNonza { .. }))) => {
                tracing::warn!(session = self.session, "ignoring {e}");
                Ok(())
            }
            Some(Err(ReadError::SoftTimeout)) => {
                tracing::debug!(
                    session = self.session,
                    "XMPP stream silent: pinging the server"
                );
                self.ping("keepalive").await
            }
            Some(Err(ReadError::ParseError(e))) => {
                tracing::warn!(session = self.session, "skipped an unreadable element: {e}");
                Ok(())
            }
            Some(Err(ReadError::HardError(e))) if e.kind() == io::ErrorKind::TimedOut => {
                Err(SessionEnd::Lost(format!(
                    "no answer to a keepalive ping within {:?}",
                    self.link.config.response_timeout
                )))
            }
            Some(Err(ReadError::HardError(e))) => Err(SessionEnd::Lost(format!("read error: {e}"))),
            Some(Err(ReadError::StreamFooterReceived)) => {
                // Answer the server's </stream:stream> with ours.
                self.close().await;
                Err(SessionEnd::Lost("the server closed the stream".into()))
            }
            None => Err(SessionEnd::Lost("the server closed the connection".into())),
        }
    }

    /// Writes a stanza for a handle; `Err` means the stream is dead.
    async fn send(&mut self, stanza: Stanza, confirm: bool, done: Done) -> Result<(), SessionEnd> {
        match self.write(&stanza).await {
            Ok(()) if confirm => {
                self.unconfirmed.push(done);
                self.ping_for_unconfirmed().await
            }
            Ok(()) => {
                let _ = done.send(Ok(()));
                Ok(())
            }
            Err(WriteError::Unencodable(e)) => {
                tracing::error!(
                    session = self.session,
                    "a stanza cannot be written as XML, dropped it: {e}"
                );
                let _ = done.send(Err(SendError::Unencodable(e)));
                Ok(())
            }
            Err(WriteError::Io(e)) => {
                let _ = done.send(Err(SendError::ConnectionLost));
                Err(SessionEnd::Lost(format!("write error: {e}")))
            }
        }
    }

    /// Pings the server; the answer confirms every send written before it.
    /// `purpose` names it in the error that ends the session.
    async fn ping(&mut self, purpose: &str) -> Result<(), SessionEnd> {
        let Some(to) = self.ping_to.clone() else {
            return Ok(());
        };
        self.link.pings_sent += 1;
        let id = format!("goippy-ping-{}-{}", self.session, self.link.pings_sent);
        let iq = Iq::from_get(id.clone(), Ping)
            .with_to(to)
            .with_from(self.component.clone());
        let waiters = std::mem::take(&mut self.unconfirmed);
        self.pings.push_back(PendingPing {
            id,
            sent: tokio::time::Instant::now(),
            waiters,
        });
        self.write(&Stanza::Iq(iq))
            .await
            .map_err(|e| SessionEnd::Lost(format!("cannot send a {purpose} ping: {e}")))
    }

    /// Whether `stanza` answers one of our pings; if so, confirms the sends
    /// it covers (and all older pings': the server answers in order).
    fn is_ping_answer(&mut self, stanza: &Stanza) -> bool {
        let Stanza::Iq(iq @ (Iq::Result { .. } | Iq::Error { .. })) = stanza else {
            return false;
        };
        let Some(position) = self.pings.iter().position(|p| p.id == iq.id()) else {
            return false;
        };
        for ping in self.pings.drain(..=position) {
            for done in ping.waiters {
                let _ = done.send(Ok(()));
            }
        }
        true
    }
    /// Serialises and flushes one stanza. tokio-xmpp's encoder rejects text
    /// XML forbids before anything is buffered, so the stream stays usable
    /// and a sanitised copy can be sent instead.
    async fn write(&mut self, stanza: &Stanza) -> Result<(), WriteError> {
        let timeout = self.link.config.write_timeout;
        let session = self.session;
        let stream = &mut self.stream;
        let written = tokio::time::timeout(timeout, async move {
            poll_fn(|cx| Sink::<&Stanza>::poll_ready(Pin::new(&mut *stream), cx))
                .await
                .map_err(WriteError::Io)?;
            match Sink::<&Stanza>::start_send(Pin::new(&mut *stream), stanza) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    let safe = sanitised(stanza).map_err(WriteError::Unencodable)?;
                    Sink::<&Stanza>::start_send(Pin::new(&mut *stream), &safe)
                        .map_err(|e| WriteError::Unencodable(e.to_string()))?;
                    tracing::warn!(session, "a stanza held characters XML forbids ({e}); sent it with U+FFFD in their place");
                }
                Err(e) => return Err(WriteError::Io(e)),
            }
            poll_fn(|cx| Sink::<&Stanza>::poll_flush(Pin::new(&mut *stream), cx))
                .await
                .map_err(WriteError::Io)
        })
        .await;
        written.unwrap_or_else(|_| {
            Err(WriteError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the server did not accept data for {timeout:?}"),
            )))
        })
    }

    /// Sends `</stream:stream>` (the server answers with its own).
    async fn close(&mut self) {
        let closed = tokio::time::timeout(CLOSE_LIMIT, self.stream.shutdown()).await;
        if !matches!(closed, Ok(Ok(()))) {
            tracing::debug!(session = self.session, "could not send the stream footer");
        }
    }

    /// Reads until the server's side of the stream ends (or `limit`
    /// passes), keeping every stanza for the consumer and honouring ping
    /// answers. Bounded by time; after a read error it returns at once.
    async fn drain(&mut self, limit: Duration) {
        let drained = tokio::time::timeout(limit, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)))) => {
                        if !self.is_ping_answer(&stanza) {
                            self.link.backlog.push_back(Inbound::Stanza(stanza));
                        }
                    }
                    Some(Ok(FallibleStreamElement::Err(
                        e @ StreamElementError::InvalidStanza { .. },
                    ))) => self.keep_invalid(e),
                    Some(Ok(_)) | Some(Err(ReadError::SoftTimeout | ReadError::ParseError(_))) => {}
                    Some(Err(ReadError::StreamFooterReceived | ReadError::HardError(_))) | None => {
                        break;
                    }
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::debug!(
                session = self.session,
                "the server did not end its stream within {limit:?}"
            );
        }
    }

    /// Keeps an unparseable stanza (as [`Inbound::Invalid`]). Logged at
    /// debug only: any client can send them by the thousand, and the bridge
    /// logs its `bad-request` answer, rate-limited per sender.
    fn keep_invalid(&mut self, e: StreamElementError) {
        let StreamElementError::InvalidStanza {
            name,
            header,
            error,
            ..
        } = e
        else {
            return;
        };
        let kind = match name.to_string().as_str() {
            "message" => StanzaKind::Message,
            "presence" => StanzaKind::Presence,
            _ => StanzaKind::Iq,
        };
        tracing::debug!(
            session = self.session,
            from = header.from.as_deref().unwrap_or("-"),
            to = header.to.as_deref().unwrap_or("-"),
            id = header.id.as_deref().unwrap_or("-"),
            "skipped an invalid {name} stanza: {error}"
        );
        let jid = |s: Option<String>| s.and_then(|s| Jid::new(&s).ok());
        self.link.backlog.push_back(Inbound::Invalid(Malformed {
            kind,
            from: jid(header.from),
            to: jid(header.to),
            type_: header.type_,
            id: header.id,
            error: error.to_string(),
        }));
    }
}

/// A copy of `stanza` with every forbidden character replaced.
fn sanitised(stanza: &Stanza) -> Result<Stanza, String> {
    let mut element = Element::from(stanza);
    sanitize_element(&mut element);
    Stanza::try_from(element).map_err(|e| e.to_string())
}

#[cfg(test)]
impl LinkConfig {
    /// Short timeouts, for a server on this machine.
    pub(super) fn for_tests(component: &str, port: u16) -> Self {
        LinkConfig {
            component: component.into(),
            secret: Secret::new("x"),
            host: "127.0.0.1".into(),
            port,
            ping_target: "example.org".into(),
            keepalive: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(100),
            inbound_capacity: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::parsers::message::Message;

    /// A port nothing listens on: bound, then released.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("ephemeral port")
    }

    /// Waits (at most 5 s) for the link to stop.
    async fn stops(state: &mut watch::Receiver<LinkState>) {
        tokio::time::timeout(
            Duration::from_secs(5),
            state.wait_for(|s| *s == LinkState::Stopped),
        )
        .await
        .expect("stops")
        .expect("watch");
    }

    #[tokio::test]
    async fn an_invalid_component_jid_stops_the_link() {
        let (handle, _inbound, mut state) =
            XmppLink::spawn(LinkConfig::for_tests("not a jid@@", closed_port()));
        stops(&mut state).await;
        assert_eq!(
            handle.send(Message::chat(None)).await,
            Err(SendError::Stopped)
        );
    }

    #[tokio::test]
    async fn sends_fail_at_once_while_disconnected_and_shutdown_stops() {
        let (handle, _inbound, state) =
            XmppLink::spawn(LinkConfig::for_tests("sms.example.org", closed_port()));
        assert_eq!(*state.borrow(), LinkState::Disconnected);
        assert_eq!(
            handle.send(Message::chat(None)).await,
            Err(SendError::NotConnected)
        );
        assert_eq!(
            handle.send_confirmed(Message::chat(None)).await,
            Err(SendError::NotConnected)
        );
        tokio::time::timeout(Duration::from_secs(5), handle.shutdown())
            .await
            .expect("shutdown while disconnected");
        assert_eq!(handle.state(), LinkState::Stopped);
    }

    #[tokio::test]
    async fn dropping_every_handle_stops_the_link() {
        let (handle, _inbound, mut state) =
            XmppLink::spawn(LinkConfig::for_tests("sms.example.org", closed_port()));
        drop(handle);
        stops(&mut state).await;
    }
}
