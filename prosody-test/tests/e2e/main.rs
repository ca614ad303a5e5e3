//! goippy end to end, the way a user runs it: a real Prosody with
//! mod_sms_alias installed by `prosodyctl install`, the real `goippy`
//! binary, `goip-sim` devices, and XMPP users who write to `+N@example.org`.
//! One test per flow of the README; each starts its own world in seconds
//! (see `prosody_test::world`) and stops it by PID, also when it fails.
//!
//! One test binary (modules below) rather than one per file: each binary
//! links tokio-xmpp and xmpp-parsers, which costs more than the tests.

mod access;
mod adhoc;
mod answers;
mod carbons;
mod console;
mod devices;
mod external;
mod faults;
mod inbound;
mod long_sms;
mod mistakes;
mod offline;
mod outbound;
mod pools;
mod restarts;

use std::fmt::Display;

use prosody_test::Scenario;

/// Someone on the GSM side.
pub const SENDER: &str = "+37255512345";
/// The SIM numbers of the basic device's two channels.
pub const NUMBER_1: &str = "+37255500001";
pub const NUMBER_2: &str = "+37255500002";

/// One GoIP with two channels: gw1 (`NUMBER_1`) belongs to 2001, gw2
/// (`NUMBER_2`) to 2002.
pub fn basic() -> Scenario {
    Scenario::new()
        .device("goip", &[("gw1", NUMBER_1), ("gw2", NUMBER_2)])
        .user("2001", "gw1")
        .user("2002", "gw2")
}

/// Unwrapping with the error's own text (not its Debug form), so that a
/// failed step reads as the harness wrote it; the panic also makes every
/// part of the world print the end of its log.
pub trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// Scenarios that must own the Prosody (stop it, add a host) do not run
/// against an external one; they say so instead of passing silently.
pub fn needs_throwaway_prosody(test: &str) -> bool {
    match Scenario::new().targets_external() {
        Ok(false) => true,
        Ok(true) => {
            eprintln!(
                "SKIPPED {test}: it stops or reconfigures Prosody, which only a throwaway \
                 Prosody allows (PROSODY_TEST_EXTERNAL is set)"
            );
            false
        }
        Err(e) => panic!("PROSODY_TEST_* environment: {e}"),
    }
}
