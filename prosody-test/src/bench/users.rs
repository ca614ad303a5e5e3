//! The XMPP side of the load: logged-in users, each a task owning its
//! [`XmppClient`], that record every message they receive in the
//! [`Ledger`] and send what they are told to.
//!
//! A user both receives (inbound SMS, counted by their unique body) and
//! sends (outbound SMS, each taking a permit of the user's window, given
//! back when the message arrives at the GoIP or at the ceiling's
//! component). Sending and reading share one stream, so one task does both;
//! the stream is read whenever there is nothing to send, and the window
//! keeps the send side short.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::bench::ledger::Ledger;
use crate::stanzas::{self, chat_with_receipt_request};
use crate::{NS_CLIENT, Result, XmppClient};

/// How long a read waits before the task looks for commands again.
const READ_SLICE: Duration = Duration::from_millis(200);

/// A user's account.
#[derive(Debug, Clone)]
pub struct Account {
    /// The localpart, which is also goippy's extension for the user.
    pub ext: String,
    pub jid: String,
    pub password: String,
}

enum Command {
    /// Send a chat message with this body to this JID.
    Send { to: String, body: String },
}

/// Makes a [`User`] send.
#[derive(Clone)]
pub struct Sender {
    jid: String,
    commands: mpsc::Sender<Command>,
}

impl Sender {
    /// Sends a chat message (with a receipt request, as clients do); the
    /// message enters the ledger when it is handed to the stream.
    pub async fn send(&self, to: String, body: String) -> Result<()> {
        self.commands
            .send(Command::Send { to, body })
            .await
            .map_err(|_| format!("{}: the user's task ended", self.jid).into())
    }
}

/// A logged-in user, run by its own task.
pub struct User {
    pub account: Account,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<Result<()>>,
}

impl User {
    /// Logs in and starts the task.
    pub async fn start(c2s: SocketAddr, account: Account, ledger: Ledger) -> Result<User> {
        let client = XmppClient::connect(c2s, &account.jid, &account.password).await?;
        let (commands, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(client, rx, ledger));
        Ok(User {
            account,
            commands,
            task,
        })
    }

    /// A handle to make this user send, for a task of its own.
    pub fn sender(&self) -> Sender {
        Sender {
            jid: self.account.jid.clone(),
            commands: self.commands.clone(),
        }
    }

    /// Whether the task still runs (a lost connection ends it).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Logs out; the task's error if it failed.
    pub async fn stop(self) -> Result<()> {
        drop(self.commands);
        self.task
            .await
            .map_err(|e| format!("{}: the user's task: {e}", self.account.jid))?
    }
}

async fn run(
    mut client: XmppClient,
    mut commands: mpsc::Receiver<Command>,
    ledger: Ledger,
) -> Result<()> {
    let mut n = 0u64;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send { to, body }) => {
                    n += 1;
                    let id = format!("b{n}");
                    let message = chat_with_receipt_request(&to, &id, &body)?;
                    ledger.begin(&body);
                    client.enqueue(message).await?;
                }
                None => break,
            },
            received = client.poll(READ_SLICE) => match received? {
                Some(el) if el.name() == "message" && stanzas::is_error(&el) => {
                    ledger.count(|c| c.errors += 1);
                }
                Some(el) if el.name() == "message" => {
                    if let Some(body) = el.get_child("body", NS_CLIENT) {
                        ledger.arrived(&body.text());
                    }
                }
                _ => {}
            },
        }
    }
    client.close().await
}
