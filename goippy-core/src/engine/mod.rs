//! The GoIP UDP engine (see the engine issue): one socket, a channel registry, acks, dedup,
//! and one outbound job at a time per channel.

pub mod credentials;
pub mod dedup;
pub mod ledger;
pub mod sendid;
pub mod warn_limit;

pub use credentials::{ChannelCredentials, CredentialSource, StaticCredentials};
