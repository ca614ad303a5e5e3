//! Free ports on loopback.
//!
//! The machine is shared: tests never assume a fixed port. A port is found by
//! binding port 0 and releasing it; the small window before the server binds
//! it is acceptable for tests, and [`free_tcp_port`] avoids handing out the
//! same port twice within one process.

use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn remember(port: u16) -> bool {
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    guard.get_or_insert_with(HashSet::new).insert(port)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_tcp_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("cannot bind an ephemeral TCP port on 127.0.0.1");
        if remember(port) {
            return port;
        }
    }
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    loop {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("cannot bind an ephemeral UDP port on 127.0.0.1");
        if remember(port) {
            return port;
        }
    }
}
