//! A client login over STARTTLS, as every real XMPP client makes it to a
//! server that requires encryption (the README's Prosody configuration).
//!
//! The harness's own clients ([`XmppClient`](crate::XmppClient), tokio-xmpp
//! built with `insecure-tcp`) speak plain TCP only, and a TLS stack for
//! tokio-xmpp would be a second, heavy build for one test. So this drives
//! `openssl s_client -starttls xmpp`: openssl negotiates STARTTLS and the
//! TLS handshake (accepting any certificate, as a user who confirmed a
//! self-signed one does), then the probe opens the encrypted stream and
//! authenticates with SASL PLAIN.

use std::fs;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use goippy_testkit::process::ChildGuard;

use crate::Result;

/// A login that succeeded.
#[derive(Debug, Clone)]
pub struct TlsLogin {
    /// What openssl said about the handshake and the server's certificate
    /// (`depth=0 … CN = example.org`, `verify error:num=18:self-signed
    /// certificate`, …).
    pub handshake: String,
    /// What the server sent on the encrypted stream (features, `<success/>`).
    pub stream: String,
}

/// Logs `user@domain` in over STARTTLS at `addr`; an error carries what
/// openssl and the server said.
pub fn starttls_login(
    addr: SocketAddr,
    domain: &str,
    user: &str,
    password: &str,
    within: Duration,
) -> Result<TlsLogin> {
    let dir = tempfile::tempdir()?;
    let handshake_path = dir.path().join("s_client.err");
    let mut command = Command::new("openssl");
    command
        .args([
            "s_client",
            "-starttls",
            "xmpp",
            "-xmpphost",
            domain,
            "-quiet",
        ])
        .arg("-connect")
        .arg(addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&handshake_path)?);
    let mut child = ChildGuard::spawn("openssl s_client", &mut command)
        .map_err(|e| format!("{e} (Debian package openssl)"))?
        .with_grace(Duration::from_secs(2));
    let mut stdout = child.take_stdout().ok_or("no stdout from openssl")?;
    let stream = Arc::new(Mutex::new(String::new()));
    let reader = {
        let stream = stream.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = stream.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        })
    };
    // openssl reads this only once the handshake is done; it then goes out
    // encrypted. Its stdin stays open until the answer is in, or openssl
    // would close the connection.
    let mut stdin = child.take_stdin().ok_or("no stdin to openssl")?;
    let credentials = base64(format!("\0{user}\0{password}").as_bytes());
    write!(
        stdin,
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
         to='{domain}' version='1.0'>\n\
         <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>\n"
    )?;
    stdin.flush()?;

    let deadline = Instant::now() + within;
    let outcome = loop {
        let seen = stream.lock().map(|s| s.clone()).unwrap_or_default();
        if seen.contains("<success") {
            break Ok(seen);
        }
        if seen.contains("<failure") {
            break Err(format!("the server refused the login: {seen}"));
        }
        if child.try_wait()?.is_some() {
            break Err(format!("openssl ended the connection: {seen}"));
        }
        if Instant::now() > deadline {
            break Err(format!("no answer within {within:?}: {seen}"));
        }
        sleep(Duration::from_millis(20));
    };
    drop(stdin);
    child.stop()?;
    let _ = reader.join();
    let handshake = fs::read_to_string(&handshake_path).unwrap_or_default();
    match outcome {
        Ok(stream) => Ok(TlsLogin { handshake, stream }),
        Err(why) => Err(format!("{why}\nopenssl said:\n{handshake}").into()),
    }
}

/// Standard base64 with padding (RFC 4648), for SASL PLAIN.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_rfc_4648_says() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("\0alice\0pw123", "AGFsaWNlAHB3MTIz"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }
}
