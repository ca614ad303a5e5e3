//! goippy-core's integration tests, one module per area, in the order of the
//! layers (docs/architecture.md#layers): the UDP engine, the store, the XMPP
//! link, whole bridges, the real `goippy` binary's service commands. The
//! pieces they share are in `support`. The wire format's vectors and
//! proptests are unit tests beside its parsers, in `src/goip/`.
//!
//! One test binary (modules below) rather than one per file: each binary
//! links all of goippy-core, sqlx and tokio-xmpp, which costs far more disk
//! and link time than the tests themselves. `cargo test -p goippy-core --test
//! it bridge::outbound` runs one module; any part of a test's path filters.
//!
//! The tests run as threads of one process, so nothing here may change what
//! the process shares: no `set_var`, no current-directory changes, ports from
//! `goippy_testkit::ports`, processes stopped by PID, and the one tracing
//! subscriber installed by `support::log`.

#[cfg(feature = "daemon")]
mod support;

/// The engine over real loopback UDP, against scripted datagrams.
#[cfg(feature = "daemon")]
mod engine {
    mod receive;
    mod robustness;
    mod shutdown;
    mod sms;
    mod ussd;
}

/// SQLite, a throwaway MariaDB (also over TLS), upgrades of an original
/// database, and the gateway admin commands of the real binary.
#[cfg(feature = "daemon")]
mod store {
    mod admin_cli;
    mod backends;
    mod mysql;
    mod mysql_tls;
    mod pools;
    mod upgrade;
}

/// The component link and the pure XMPP answers against a real Prosody.
#[cfg(feature = "daemon")]
mod xmpp {
    mod link;
    mod prosody_kit;
    mod services;
}

/// Whole flows: the simulator, the engine, the store and Prosody, in
/// process; and the real `goippy` binary under signals.
#[cfg(feature = "daemon")]
mod bridge {
    mod adhoc;
    mod alerts;
    mod console;
    mod daemon;
    mod inbound;
    mod inbox;
    mod long_sms;
    mod metrics;
    mod outbound;
    mod pools;
    mod restart;
    mod store;
}

/// systemd install, list and uninstall through the real binary, in a
/// temporary root.
#[cfg(feature = "daemon")]
mod ops {
    mod install;
    mod list_uninstall;
    mod no_systemd;
}

/// `--sample`, `--check` and `--help` through the real binary.
#[cfg(feature = "daemon")]
mod cli_check;
