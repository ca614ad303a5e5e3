//! The ceiling: what Prosody itself allows. A trivial external component
//! (XEP-0114, written by hand over a TCP stream: a stream header, the
//! `<handshake>` with SHA-1 of stream id and secret) takes goippy's place
//! under the same component name, and moves the same messages goippy would:
//! chat stanzas from `+N@sms.example.org` to the users (mod_sms_alias
//! rewrites them as it does goippy's), and it takes the users' messages
//! to numbers, doing nothing with them but counting. No database, no GoIP,
//! no work: the rate it reaches is the most any component could get through
//! this Prosody, with these users, on this machine.
//!
//! (tokio-xmpp's component cannot be used here: its `component` feature
//! breaks the c2s clients of this crate, see [`crate`].)

use std::net::SocketAddr;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::Result;
use crate::bench::ledger::Ledger;
use crate::bench::user_of;

/// How long the stream set-up may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Stanzas written per write call.
const BATCH: usize = 64;

/// A connected trivial component.
pub struct Component {
    domain: String,
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
    next_id: u64,
}

impl Component {
    /// Connects to Prosody's component port as `domain` with `secret`.
    pub async fn connect(
        addr: SocketAddr,
        domain: &str,
        secret: &str,
        ledger: Ledger,
    ) -> Result<Component> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut reader, mut writer) = stream.into_split();
        let mut seen = String::new();
        let handshake = timeout(HANDSHAKE_TIMEOUT, async {
            writer
                .write_all(
                    format!(
                        "<stream:stream xmlns='jabber:component:accept' \
                         xmlns:stream='http://etherx.jabber.org/streams' to='{domain}'>"
                    )
                    .as_bytes(),
                )
                .await?;
            let id = loop {
                read_more(&mut reader, &mut seen).await?;
                if let Some(id) = stream_id(&seen) {
                    break id;
                }
            };
            let digest = Sha1::digest(format!("{id}{secret}").as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            writer
                .write_all(format!("<handshake>{hex}</handshake>").as_bytes())
                .await?;
            loop {
                if seen.contains("<handshake/>") || seen.contains("<handshake></handshake>") {
                    return Ok::<(), crate::Error>(());
                }
                if seen.contains("stream:error") {
                    return Err(format!("Prosody refused the component: {seen}").into());
                }
                read_more(&mut reader, &mut seen).await?;
            }
        })
        .await;
        match handshake {
            Ok(done) => done?,
            Err(_) => {
                return Err(format!(
                    "the component handshake took over {HANDSHAKE_TIMEOUT:?}: {seen}"
                )
                .into());
            }
        }
        let reader = tokio::spawn(read_bodies(reader, ledger));
        Ok(Component {
            domain: domain.to_string(),
            writer,
            reader,
            next_id: 0,
        })
    }

    /// Sends each `(user JID, body)` as a chat message from `sender`'s JID
    /// on this component, entering each body in the ledger as it goes.
    pub async fn send(
        &mut self,
        sender: &str,
        messages: &[(String, String)],
        ledger: &Ledger,
    ) -> Result<()> {
        let from = format!("{sender}@{}", self.domain);
        for batch in messages.chunks(BATCH) {
            let mut xml = String::new();
            for (to, body) in batch {
                self.next_id += 1;
                xml.push_str(&format!(
                    "<message type='chat' from='{from}' to='{to}' id='c{}'><body>{body}</body></message>",
                    self.next_id
                ));
            }
            for (_, body) in batch {
                ledger.begin(body);
            }
            self.writer.write_all(xml.as_bytes()).await?;
        }
        Ok(())
    }

    /// Ends the stream and waits until Prosody closed it too.
    pub async fn close(mut self) -> Result<()> {
        self.writer.write_all(b"</stream:stream>").await?;
        let _ = self.writer.shutdown().await;
        let _ = timeout(Duration::from_secs(5), &mut self.reader).await;
        self.reader.abort();
        Ok(())
    }
}

async fn read_more(reader: &mut OwnedReadHalf, seen: &mut String) -> Result<()> {
    let mut buf = [0u8; 4096];
    let n = reader.read(&mut buf).await?;
    if n == 0 {
        return Err(format!("Prosody closed the component stream: {seen}").into());
    }
    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    Ok(())
}

/// The `id` of the stream header Prosody sent.
fn stream_id(seen: &str) -> Option<String> {
    let header = &seen[seen.find("<stream:stream")?..];
    let header = &header[..header.find('>')?];
    let (_, rest) = header.split_once(" id=")?;
    let quote = rest.chars().next()?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

/// Reads the stream until it ends; every `<body>` is a user's message
/// arriving: counted, and its user's window opened by one.
async fn read_bodies(mut reader: OwnedReadHalf, ledger: Ledger) {
    let mut pending = String::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        let mut done = 0;
        while let Some(start) = pending[done..].find("<body>") {
            let start = done + start + "<body>".len();
            let Some(len) = pending[start..].find("</body>") else {
                done = start - "<body>".len();
                break;
            };
            let body = &pending[start..start + len];
            if ledger.arrived(body)
                && let Some(user) = user_of(body)
            {
                ledger.release(user);
            }
            done = start + len + "</body>".len();
        }
        if !pending[done..].contains("<body>") {
            // Keep only what could be the start of a `<body>`.
            done = done.max(pending.len().saturating_sub(5));
            while !pending.is_char_boundary(done) {
                done -= 1;
            }
        }
        pending.drain(..done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stream_id() {
        let header = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
                      xml:lang='en' xmlns='jabber:component:accept' from='sms.example.org' id='3a7-x'>";
        assert_eq!(stream_id(header).as_deref(), Some("3a7-x"));
        assert_eq!(stream_id("<stream:stream id=\"q\">").as_deref(), Some("q"));
        assert_eq!(stream_id("<stream:stream id='unfinished"), None);
    }
}
