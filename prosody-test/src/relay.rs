//! A TCP relay between a test client and Prosody that the test can cut, as
//! a phone's network vanishes: both sides get a reset at once, nobody sends
//! `</stream:stream>`, and the relay takes no new connection afterwards (so
//! the client's automatic reconnect goes nowhere).
//!
//! Dropping an [`crate::XmppClient`] is no such loss: tokio-xmpp closes the
//! stream politely first.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Result;

/// A running relay to one address; stops (cutting what goes through it)
/// when dropped.
pub struct Relay {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port and relays every connection to
    /// `target`.
    pub async fn start(target: SocketAddr) -> Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, cut_rx) = watch::channel(false);
        let task = tokio::spawn(accept(listener, target, cut_rx));
        Ok(Relay { addr, cut, task })
    }

    /// Where a client connects instead of `target`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resets every connection through the relay and stops taking new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, cut: watch::Receiver<bool>) {
    let mut stopped = cut.clone();
    loop {
        let client = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
            _ = stopped.wait_for(|cut| *cut) => return,
        };
        tokio::spawn(relay(client, target, cut.clone()));
    }
}

async fn relay(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {
            // A zero linger time makes closing send RST instead of FIN.
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
    }
}
