//! What the test modules share: one file per world a test can run in.

pub mod bridge;
pub mod engine;
pub mod log;
pub mod ops;
pub mod store;
pub mod xmpp;
