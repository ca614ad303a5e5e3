//! goippy: a bridge between GoIP GSM gateways and XMPP.
//!
//! The crate has two layers, split by the `daemon` feature:
//!
//! * the **pure part** (always built): [`number`] (what a phone number is),
//!   [`alias`] (how `+N@example.org` maps to goippy's component domain),
//!   [`goip`] (the GoIP wire format), [`secret`] (a password that is never
//!   printed, as a GoIP command carries one) and [`segments`] (how a phone
//!   cuts a long SMS into parts). It does no I/O and has no heavy dependencies, so
//!   Prosody's `mod_sms_alias` native library links the very same rules the
//!   daemon uses, and so does the GoIP simulator (the `goip-sim` crate in
//!   `goippy-core/goip-sim/`);
//! * the **daemon** (feature `daemon`, on by default): configuration, the UDP
//!   engine, storage, the XMPP component, the [`bridge`] that joins them,
//!   and the command line.
//!
//! Data flows one way per direction:
//! UDP → engine → store → XMPP for what arrives from the GSM network, and
//! XMPP → router → outbox → engine → UDP for what users send.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod alias;
pub mod goip;
pub mod number;
pub mod secret;
pub mod segments;

#[cfg(feature = "daemon")]
pub mod bridge;
#[cfg(feature = "daemon")]
pub mod cli;
#[cfg(feature = "daemon")]
pub mod config;
#[cfg(feature = "daemon")]
pub mod daemon;
#[cfg(feature = "daemon")]
pub mod engine;
#[cfg(feature = "daemon")]
pub mod logging;
#[cfg(feature = "daemon")]
pub mod metrics;
#[cfg(feature = "daemon")]
pub mod store;
#[cfg(feature = "daemon")]
pub mod systemd;
#[cfg(feature = "daemon")]
pub(crate) mod util;
#[cfg(feature = "daemon")]
pub mod xmpp;
