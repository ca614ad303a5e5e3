//! Free TCP ports on loopback for test servers.
//!
//! The OS picks a free ephemeral port (bind to port 0); the listener is
//! closed again so that Prosody can bind it. Between the two another process
//! could take the port, so [`crate::Prosody`] also checks its log for a port
//! it failed to open and retries with fresh ports. Within this process no
//! port is handed out twice, so parallel tests never collide with each other.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// One port on 127.0.0.1 that was free a moment ago and that this process
/// has not handed out before.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut seen = handed_out().lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        "no fresh free port on 127.0.0.1 after 100 tries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let a = free_port().expect("port");
        let b = free_port().expect("port");
        assert_ne!(a, b);
        TcpListener::bind((Ipv4Addr::LOCALHOST, a)).expect("bindable");
    }
}
