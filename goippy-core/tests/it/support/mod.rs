//! What the test modules share: one file per world a test can run in, and
//! the names the XMPP worlds (`xmpp`, `bridge`) have in common.

use std::time::Duration;

use tokio_xmpp::jid::Jid;

pub mod bridge;
pub mod cli;
pub mod engine;
pub mod http;
pub mod log;
pub mod ops;
pub mod store;
pub mod xmpp;

/// The throwaway Prosody's VirtualHost.
pub const DOMAIN: &str = "example.org";
/// The component under test, and its secret.
pub const SMS: &str = "sms.example.org";
pub const SMS_SECRET: &str = "s3cret";

/// How long any single expectation may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub fn jid(s: &str) -> Jid {
    Jid::new(s).expect("valid jid")
}
