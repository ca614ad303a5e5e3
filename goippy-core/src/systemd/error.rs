//! Why an install command stopped, in words that say what to do next.

use std::io;
use std::path::PathBuf;

use crate::config::ConfigError;

use super::collision::Collision;
use super::instance::InstanceName;
use super::systemctl::StepFailed;
use super::unit_path::UnsafeUnitPath;

/// An install, list or uninstall command that could not finish. Whatever it
/// already did is in its [`Report`](super::Report).
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

    #[error(
        "{} does not exist: write one with `goippy --sample {}`, edit it, then run `{retry}` again",
        .path.display(), .path.display()
    )]
    MissingConfig { path: PathBuf, retry: String },

    #[error("{} was not written by goippy: {why}; goippy leaves it alone", .path.display())]
    Foreign { path: PathBuf, why: String },

    #[error(
        "instance {name} is not installed ({} does not exist); `goippy --list` shows what is",
        .unit_path.display()
    )]
    NotInstalled {
        name: InstanceName,
        unit_path: PathBuf,
    },

    #[error("{}", render_collisions(.name, .config, .created_from.as_ref(), .collisions))]
    Collisions {
        name: InstanceName,
        config: PathBuf,
        /// The base configuration, when `config` was created from it by this very run.
        created_from: Option<PathBuf>,
        collisions: Vec<Collision>,
    },

    #[error(transparent)]
    UnitPath(#[from] UnsafeUnitPath),

    #[error(
        "{}: DB_FILE {:?} is a relative path; a service needs an absolute one, such as {:?}",
        .config.display(), .file.display().to_string(), .suggestion.display().to_string()
    )]
    RelativeDbFile {
        config: PathBuf,
        file: PathBuf,
        suggestion: PathBuf,
    },

    #[error("cannot tell where the goippy executable is (for ExecStart=): {0}")]
    Executable(#[source] io::Error),

    #[error("{0}")]
    Account(String),

    /// Another process holds the instance's GOIP_PORT: the service would
    /// fail with "Address already in use".
    #[error("{0}")]
    PortInUse(String),

    /// The service user could not write the instance's files.
    #[error("{0}")]
    StateAccess(String),

    #[error("{0}")]
    InstanceConfig(String),

    #[error("{}", render_step_failure(.failed, .situation))]
    Systemctl {
        failed: StepFailed,
        /// Where things stand, e.g. "the unit file is written".
        situation: String,
    },
}

fn render_collisions(
    name: &InstanceName,
    config: &std::path::Path,
    created_from: Option<&PathBuf>,
    collisions: &[Collision],
) -> String {
    let mut s = format!("instance {name} collides with another installed instance:");
    for c in collisions {
        s.push_str("\n  - ");
        s.push_str(&c.to_string());
    }
    s.push_str(&format!(
        "\nNothing was installed. Edit {}",
        config.display()
    ));
    if let Some(base) = created_from {
        s.push_str(&format!(
            " (created just now from {}, so it still has its settings)",
            base.display()
        ));
    }
    s.push_str(&format!(" and run `{}` again.", name.install_command()));
    s
}

fn render_step_failure(failed: &StepFailed, situation: &str) -> String {
    let mut s = format!(
        "{}\n{situation}; once the problem is fixed, run:",
        failed.error
    );
    for command in &failed.remaining {
        s.push_str("\n  ");
        s.push_str(command);
    }
    s
}
