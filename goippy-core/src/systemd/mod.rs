//! Running goippy under systemd: one service per extension, managed with
//! `goippy --install [NAME]`, `--list` and `--uninstall NAME`.
//!
//! # Names
//!
//! The operator speaks of `default` (the main instance: `goippy.service`
//! running `/etc/goippy.conf`) and of names such as `2508`
//! (`goippy-2508.service` running `/etc/goippy-2508.conf`); see
//! [`InstanceName`]. Names are letters, digits, `-` and `_`.
//!
//! # Units
//!
//! Each instance gets a complete unit of its own rather than an instance of
//! a `goippy@.service` template, because instances differ in more than their
//! name: only one with GOIP_PORT below 1024 keeps `CAP_NET_BIND_SERVICE`, only
//! one whose SQLite file lies outside `/var/lib/goippy` needs
//! `ReadWritePaths=`. The unit is `Type=notify` with `NotifyAccess=main` and
//! `WatchdogSec=30` (the daemon sends READY=1 and WATCHDOG=1),
//! `Restart=on-failure`, `TimeoutStopSec=15` for a shutdown that takes at most
//! 10 s, and hardening fit for a UDP daemon that talks to Prosody and
//! perhaps MySQL over TCP; each directive is commented in the unit itself
//! (`unit.rs`). `ExecStart=` is the canonical path of the goippy that ran
//! `--install`. The first lines mark the file as goippy's; only marked files
//! are listed, rewritten or removed (`discovery.rs`).
//!
//! # User and permissions
//!
//! All instances run as one static system user `goippy`, created with
//! `useradd --system` when missing. The configuration holds secrets: install
//! makes it `root:goippy`, mode 0640, so the service reads it and nobody
//! else does. `DynamicUser=` was rejected: it has no stable group to share
//! the configuration with (only `LoadCredential=`, which would make the
//! daemon read `$CREDENTIALS_DIRECTORY`), and instances sharing
//! `StateDirectory=goippy` under different dynamic users would have systemd
//! re-own the directory at every start (`account.rs`).
//!
//! # Databases
//!
//! `StateDirectory=goippy` (`/var/lib/goippy`, owned by `goippy`) holds the
//! SQLite files. A named instance's configuration created from the main one
//! gets its own file, `/var/lib/goippy/goippy-<name>.db`; GOIP_PORT and
//! XMPP_COMPONENT_JID are copied unchanged, so the collision check refuses
//! it until the operator gives it its own, naming the file to edit
//! (`instance_config.rs`, `collision.rs`).
//!
//! # systemctl
//!
//! `daemon-reload`, `enable --now`, `disable --now` and `is-active` run
//! through the program given by `--systemctl` / `GOIPPY_SYSTEMCTL`. When
//! systemd is not running (no `/run/systemd/system`) or systemctl is not
//! there, the files are still written and the command prints exactly what to
//! run, exiting 0 — it never claims that something started. A failing call is
//! an error carrying systemctl's stderr and the commands still to run
//! (`systemctl.rs`).
//!
//! # Directories
//!
//! `/etc`, `/etc/systemd/system`, `/run/systemd/system`, `systemctl`,
//! `useradd` and `/var/lib/goippy` can all be replaced (flags or `GOIPPY_*`
//! variables, see [`Host`]), which is how the tests install into a
//! temporary root.
//!
//! # What would stop the service at once
//!
//! When systemd runs on the machine, `--install` refuses while another
//! process holds the instance's GOIP_PORT — typically a goippy started by
//! hand — naming it (`port_holder.rs`), and while the service user could
//! not write the instance's files, which a run by hand as root leaves
//! behind (`state_access.rs`).

mod account;
mod collision;
mod discovery;
mod host;
mod install;
mod instance;
mod instance_config;
mod list;
mod port_holder;
mod state_access;
mod systemctl;
mod tool;
mod uninstall;
mod unit;

use std::io;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, STATE_DIR};
pub use host::{
    DEFAULT_ETC_DIR, DEFAULT_SYSTEMCTL, DEFAULT_SYSTEMD_RUN_DIR, DEFAULT_UNIT_DIR, DEFAULT_USERADD,
    Host,
};
pub use instance::InstanceName;
pub use port_holder::udp_port_holders;

/// One of the service-management commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpsCommand {
    /// `--install` (the main instance) or `--install NAME`.
    Install(InstanceName),
    /// `--list`.
    List,
    /// `--uninstall NAME` (`default`: the main instance).
    Uninstall(InstanceName),
}

/// Runs `command` on `host`. What it did is in `report` — also when it
/// fails half-way, so the caller prints the report and then the error.
pub fn run(command: &OpsCommand, host: &Host, report: &mut Report) -> Result<(), OpsError> {
    match command {
        OpsCommand::Install(name) => install::install(name, host, report),
        OpsCommand::List => list::list(host, report),
        OpsCommand::Uninstall(name) => uninstall::uninstall(name, host, report),
    }
}

/// An install, list or uninstall command that could not finish. Whatever it
/// already did is in its [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A check that stopped the command (a foreign unit, a collision, a
    /// taken port, a failed systemctl call, …), in words that say what to
    /// do next: the text is all anyone ever does with it.
    #[error("{0}")]
    Refused(String),
}

impl OpsError {
    /// For `map_err`: `action` on `path` failed with the error it is given.
    fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(io::Error) -> OpsError + 'a {
        move |source| OpsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What an install command tells the operator, collected in order.
///
/// The commands return their messages rather than print them, so the library
/// does no terminal I/O and tests can read exactly what an operator would see.
/// When a command fails half-way, the report still holds what was already
/// done (files written, steps run) and the caller prints it before the error.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    text: String,
}

impl Report {
    /// Adds a line (a trailing newline is added).
    pub fn say(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}
