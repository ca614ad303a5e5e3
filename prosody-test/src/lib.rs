//! End-to-end test harness for goippy against a real Prosody 0.12.
//!
//! The pieces, each usable on its own:
//! * [`Config`] — the test's intent for one server (hosts, components,
//!   modules, options), rendered into a complete `prosody.cfg.lua`;
//! * [`Prosody`] — a throwaway server: temp dir, free ports, prosodyctl,
//!   `prosody -F`, stopped by PID when dropped, its log printed when the
//!   test failed;
//! * [`rocks`] / [`Prosody::install_mod_sms_alias`] — mod_sms_alias packed
//!   and installed with `prosodyctl install`, as the README tells admins;
//! * [`XmppClient`] — a logged-in user (tokio-xmpp c2s), every await bounded.
//!
//! Fixture modules for test servers live in `fixtures/` (on every test
//! server's `plugin_paths`).
//!
//! This crate is its own Cargo workspace on purpose: tokio-xmpp's c2s
//! `Client` breaks when built together with the `component` feature goippy
//! needs (the feature switches xmpp-parsers' default namespace).

pub mod client;
pub mod config;
pub mod ports;
pub mod prosody;
pub mod rock;

pub use client::{NS_CLIENT, XmppClient, parse_stanza, xml_of};
pub use config::{COMPONENT_SECRET, Config, Host, LogLevel, LuaValue, Ports};
pub use prosody::{Prosody, fixtures_dir};
pub use rock::{Rocks, repo_root, rocks};

/// Errors of the harness: a message saying what failed, with context.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
