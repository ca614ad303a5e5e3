//! End-to-end test harness for goippy against a real Prosody 0.12.
//!
//! The pieces, each usable on its own:
//! * [`Config`] — the test's intent for one server (hosts, components,
//!   modules, options), rendered into a complete `prosody.cfg.lua`;
//! * [`Prosody`] — a throwaway server: temp dir, free ports, prosodyctl,
//!   `prosody -F`, restartable, stopped by PID when dropped, its log printed
//!   when the test failed;
//! * [`rocks`] / [`Prosody::install_mod_sms_alias`] — mod_sms_alias packed
//!   and installed with `prosodyctl install`, as the README tells admins;
//! * [`XmppClient`] — a logged-in user (tokio-xmpp c2s), every await bounded;
//!   [`stanzas`] builds what users send and reads what they get;
//! * [`Goippy`] — the real daemon with a generated configuration (SQLite or
//!   MariaDB), gateways provisioned by `goippy --add`, restart/stop/kill;
//! * [`GoipSim`] — a simulated GoIP: the real `goip-sim` driven over its
//!   pipes (script lines in, JSON events out);
//! * [`Scenario`] / [`World`] — all of the above started together in
//!   seconds, for one end-to-end test or the demo;
//! * [`ExternalProsody`] — the same scenarios against an already-running
//!   Prosody (`PROSODY_TEST_EXTERNAL=…`);
//! * [`relay::Relay`] — a TCP relay a test cuts to drop a client's
//!   connection the way a lost network does;
//! * [`starttls_login`] — a client login over STARTTLS (through `openssl
//!   s_client`), for servers that require encryption.
//! * [`faults`] — the fault-injection run (`--bin faults`).
//! * [`bench`] — the whole-daemon benchmark (`cargo bench --bench daemon`).
//!
//! Processes are `goippy_testkit` guards: stopped by PID on drop, also when
//! a test fails. Fixture modules for test servers live in `fixtures/` (on
//! every test server's `plugin_paths`).
//!
//! This crate is its own Cargo workspace on purpose: tokio-xmpp's c2s
//! `Client` breaks when built together with the `component` feature goippy
//! needs (the feature switches xmpp-parsers' default namespace). For the
//! same reason the `goippy` and `goip-sim` binaries are built from the root
//! workspace ([`bins`]), never as a dependency of this crate.

pub mod bench;
pub mod bins;
pub mod client;
pub mod config;
pub mod external;
pub mod faults;
pub mod goip_sim;
pub mod goippy;
pub mod logfile;
pub mod prosody;
pub mod relay;
pub mod rock;
pub mod stanzas;
pub mod starttls;
pub mod world;

pub use goippy_testkit::ports;

pub use bins::{Binaries, binaries};
pub use client::{NS_CLIENT, XmppClient, parse_stanza, xml_of};
pub use config::{COMPONENT_SECRET, Config, Host, LogLevel, LuaValue, Ports};
pub use external::ExternalProsody;
pub use goip_sim::{GoipSim, SimChannel, SimTiming};
pub use goippy::{Database, Goippy, GoippySettings};
pub use prosody::{Prosody, fixtures_dir};
pub use rock::{Rocks, repo_root, rocks};
pub use starttls::{TlsLogin, starttls_login};
pub use world::{Backend, Scenario, World};

/// Errors of the harness: a message saying what failed, with context.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
