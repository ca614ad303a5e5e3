//! A value that must never be printed.
//!
//! GoIP passwords, the component secret and database passwords travel
//! through settings, rows and error messages that end up in logs and
//! `Debug` output; wrapping them makes printing one a visible act
//! ([`Secret::expose`]) instead of an accident of `{:?}`. It is part of the
//! pure crate (no I/O) because a GoIP command carries the channel password.

use std::fmt;

/// A value that must never be printed: passwords and shared secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that needs it (a handshake, a login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}
