//! Who may talk to the engine: the GoIP channels goippy knows.
//!
//! The engine authenticates every packet against a [`CredentialSource`]. The
//! lookup is synchronous and must answer from memory — it runs for every
//! datagram on the UDP loop, which must never wait on a database. The storage
//! layer backs it with a snapshot of `goippy_gateways` that it refreshes in
//! the background; tests use a plain map.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

use crate::config::Secret;

/// What the engine knows about one configured channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCredentials {
    /// The GoIP "SMS Client ID" of the channel.
    pub goip_id: String,
    pub password: Secret,
}

impl ChannelCredentials {
    pub fn new(goip_id: impl Into<String>, password: impl Into<String>) -> Self {
        ChannelCredentials {
            goip_id: goip_id.into(),
            password: Secret::new(password),
        }
    }

    /// Compares a password from a datagram in constant time, so that timing
    /// does not reveal how much of a guess was right.
    pub fn password_matches(&self, candidate: &str) -> bool {
        self.password
            .expose()
            .as_bytes()
            .ct_eq(candidate.as_bytes())
            .into()
    }
}

/// The engine's view of the configured channels.
pub trait CredentialSource: Send + Sync + 'static {
    /// The enabled channel with this GoIP id, if any. Must not block.
    fn lookup(&self, goip_id: &str) -> Option<ChannelCredentials>;
}

/// A fixed set of channels by GoIP id, for tests and benchmarks (the daemon's
/// comes from the store).
impl CredentialSource for HashMap<String, ChannelCredentials> {
    fn lookup(&self, goip_id: &str) -> Option<ChannelCredentials> {
        self.get(goip_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_compare() {
        let channels = |c: ChannelCredentials| HashMap::from([(c.goip_id.clone(), c)]);
        let mut creds = channels(ChannelCredentials::new("goip-1", "secret"));
        let c = creds.lookup("goip-1").expect("known channel");
        assert!(c.password_matches("secret"));
        assert!(!c.password_matches("secre"));
        assert!(!c.password_matches("secret2"));
        assert!(!c.password_matches(""));
        assert!(creds.lookup("goip-2").is_none());
        creds = channels(ChannelCredentials::new("goip-2", "x"));
        assert!(creds.lookup("goip-1").is_none());
        assert!(creds.lookup("goip-2").is_some());
    }

    #[test]
    fn debug_hides_the_password() {
        let c = ChannelCredentials::new("goip-1", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
