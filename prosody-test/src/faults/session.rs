//! A user's connection, logged in again whenever it breaks, and what the
//! stanzas the user receives are (for the [`Ledger`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::{Instant, sleep};
use tokio_xmpp::minidom::Element;

use crate::XmppClient;
use crate::faults::ledger::Ledger;
use crate::faults::traffic::SENDER;
use crate::relay::Relay;
use crate::stanzas::{body, chat_with_receipt_request, error_condition, is_error, receipt_for};
use crate::xml_of;

/// How long one poll of a client waits: the traffic tasks' time resolution
/// (an answer is timed when it arrives, not at the next poll).
pub const TICK: Duration = Duration::from_millis(20);
/// Between two login attempts while the server is away.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);

/// A user's account, and which number is the user's own.
#[derive(Debug, Clone)]
pub struct Account {
    pub c2s: SocketAddr,
    pub jid: String,
    pub password: String,
    pub domain: String,
    /// The SIM number of the user's channel (chatting with it is the console).
    pub own_number: String,
}

impl Account {
    pub fn alias(&self, number: &str) -> String {
        format!("{number}@{}", self.domain)
    }
}

/// One user's session, logged in again whenever it breaks.
pub struct Session {
    pub account: Account,
    /// Through a relay that can be cut (user A), or straight to Prosody.
    through_relay: bool,
    relay: Option<Relay>,
    pub client: Option<XmppClient>,
    pub logins: u32,
    /// When the connection last broke (taken by whoever times waits).
    pub lost_at: Option<Instant>,
}

impl Session {
    pub fn new(account: Account, through_relay: bool) -> Session {
        Session {
            account,
            through_relay,
            relay: None,
            client: None,
            logins: 0,
            lost_at: None,
        }
    }

    /// The client, logging in first if there is none; `None` (after a
    /// short pause) while the server cannot be reached.
    pub async fn client(&mut self) -> Option<&mut XmppClient> {
        if self.client.is_none() {
            let addr = if self.through_relay {
                match Relay::start(self.account.c2s).await {
                    Ok(relay) => {
                        let addr = relay.addr();
                        self.relay = Some(relay);
                        addr
                    }
                    Err(_) => {
                        sleep(RECONNECT_PAUSE).await;
                        return None;
                    }
                }
            } else {
                self.account.c2s
            };
            match XmppClient::connect(addr, &self.account.jid, &self.account.password).await {
                Ok(client) => {
                    self.client = Some(client);
                    self.logins += 1;
                }
                Err(_) => {
                    self.relay = None;
                    sleep(RECONNECT_PAUSE).await;
                    return None;
                }
            }
        }
        self.client.as_mut()
    }

    /// The next stanza within [`TICK`]; a broken connection is dropped (the
    /// next [`Session::client`] logs in again).
    pub async fn poll(&mut self) -> Option<Element> {
        let client = self.client.as_mut()?;
        match client.poll(TICK).await {
            Ok(el) => el,
            Err(_) => {
                self.lost();
                None
            }
        }
    }

    /// The network vanishes: the relay resets the connection (both ends),
    /// with no `</stream:stream>`.
    pub fn cut(&mut self) {
        if let Some(relay) = &self.relay {
            relay.cut();
        }
        self.lost();
    }

    /// The connection broke: the next [`Session::client`] logs in again.
    pub fn lost(&mut self) {
        if self.client.is_some() {
            self.lost_at = Some(Instant::now());
        }
        self.client = None;
        self.relay = None;
    }
}

/// What a stanza a user received is, for the ledger.
pub enum Seen {
    /// An SMS from [`SENDER`].
    Inbound {
        text: String,
        id: String,
    },
    /// An answer from the user's own number (the console).
    Console(String),
    Error {
        id: String,
        condition: String,
    },
    Receipt(String),
    NotYet {
        number: String,
    },
    Note {
        number: String,
        text: String,
    },
    /// Presence, iq, chat states: nothing about a message.
    Nothing,
    Other(String),
}

pub fn classify(el: &Element, account: &Account) -> Seen {
    if el.name() != "message" {
        return Seen::Nothing;
    }
    let from = el.attr("from").unwrap_or_default();
    let bare = from.split('/').next().unwrap_or_default();
    let number = bare.split('@').next().unwrap_or_default().to_string();
    if is_error(el) {
        return Seen::Error {
            id: el.attr("id").unwrap_or_default().to_string(),
            condition: error_condition(el).unwrap_or_else(|| "?".into()),
        };
    }
    if let Some(id) = receipt_for(el) {
        return Seen::Receipt(id);
    }
    let Some(text) = body(el) else {
        return Seen::Nothing;
    };
    if bare == account.alias(SENDER) {
        Seen::Inbound {
            text,
            id: el.attr("id").unwrap_or_default().to_string(),
        }
    } else if number == account.own_number {
        Seen::Console(text)
    } else if text.starts_with("Not sent yet") {
        Seen::NotYet { number }
    } else if text.starts_with("> ") {
        Seen::Note { number, text }
    } else {
        Seen::Other(xml_of(el))
    }
}

/// Writes down what a user saw (the console is the caller's business).
pub fn record(ledger: &Ledger, user: &str, seen: Seen) {
    match seen {
        Seen::Inbound { text, id } => ledger.inbound_received(&text, &id),
        Seen::Error { id, condition } => ledger.outbound_error(&id, &condition),
        Seen::Receipt(id) => ledger.outbound_receipt(&id),
        Seen::NotYet { number } => ledger.outbound_not_yet(&number),
        Seen::Note { number, text } => ledger.outbound_note(&number, &text),
        Seen::Console(text) => ledger.stray(format!("{user} got a console answer: {text:?}")),
        Seen::Other(xml) => ledger.stray(format!("{user} got {xml}")),
        Seen::Nothing => {}
    }
}

/// Sends one SMS of `user` (id `id`) to `number`, with a receipt request.
/// Written down before it is sent: a send that fails is the user's client
/// telling them so.
pub async fn send_sms(session: &mut Session, ledger: &Ledger, user: &str, number: &str, id: &str) {
    let to = session.account.alias(number);
    let Some(client) = session.client.as_mut() else {
        return;
    };
    ledger.outbound_sent(user, number, id);
    let sent = match chat_with_receipt_request(&to, id, &format!("SMS {id}")) {
        Ok(message) => client.send(message).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        ledger.outbound_error(id, &format!("the client could not send it: {e}"));
        session.lost();
    }
}
