//! `goippy --uninstall NAME`: stop and disable an instance and remove what
//! `--install` wrote.
//!
//! Removed: the unit, its enable links, and — for a named instance — the
//! instance's configuration (`/etc/goippy-2508.conf`). Kept: the main
//! configuration (`--uninstall default` keeps `/etc/goippy.conf`, which the
//! operator wrote and `--install` will use again), every database (message
//! history is not goippy's to throw away), and the service user (other
//! instances may run as it). The report says each of these.

use std::path::Path;

use crate::config::{Config, DbSettings};

use super::discovery;
use super::host::Host;
use super::instance::InstanceName;
use super::systemctl::{Applied, command_line};
use super::{OpsError, Report};

/// Uninstalls `name`.
pub fn uninstall(name: &InstanceName, host: &Host, report: &mut Report) -> Result<(), OpsError> {
    let unit_path = host.unit_path(name);
    let unit_name = name.unit_name();
    let Some(installed) = discovery::ours(&unit_path, name)? else {
        return Err(OpsError::Refused(format!(
            "instance {name} is not installed ({} does not exist); `goippy --list` shows what is",
            unit_path.display()
        )));
    };
    // Read before anything is removed, to say which database is kept.
    let database = Config::load(&installed.config).ok().map(|(c, _)| c.db);

    let stopped = host
        .systemctl
        .apply(&[&["disable", "--now", &unit_name]], report)
        .map_err(|failed| failed.stopped("nothing was removed"))?;

    for link in remove_enable_links(&host.unit_dir, &unit_name)? {
        report.say(format!("removed {} (an enable link)", link.display()));
    }
    std::fs::remove_file(&unit_path).map_err(OpsError::io("remove", &unit_path))?;
    report.say(format!("removed {}", unit_path.display()));

    match stopped {
        Applied::Ran => {
            host.systemctl
                .apply(&[&["daemon-reload"]], report)
                .map_err(|failed| {
                    failed.stopped(&format!("{unit_name} is stopped and its unit removed"))
                })?;
        }
        Applied::Unavailable(why) => {
            report.say(format!(
                "{why}: nothing was stopped or disabled by systemctl. On the systemd host, run:"
            ));
            report.say(format!("  {}", command_line(&["stop", &unit_name])));
            report.say(format!("  {}", command_line(&["daemon-reload"])));
        }
    }

    match name {
        InstanceName::Main => report.say(format!(
            "kept {} (the main configuration; `goippy --install` uses it again)",
            installed.config.display()
        )),
        InstanceName::Named(_) => remove_instance_config(name, &installed.config, report)?,
    }
    match database {
        Some(DbSettings::Sqlite { file }) => report.say(format!(
            "kept the database {} (delete it yourself if its history is no longer needed)",
            file.display()
        )),
        Some(DbSettings::MySql(my)) => report.say(format!(
            "kept the MySQL database {} on {}:{}",
            my.database, my.host, my.port
        )),
        None => {}
    }
    report.say(format!("uninstalled instance {name} ({unit_name})"));
    Ok(())
}

/// Removes a named instance's configuration — but only a file with the name
/// goippy gives it, whatever a damaged marker might point at.
fn remove_instance_config(
    name: &InstanceName,
    config: &Path,
    report: &mut Report,
) -> Result<(), OpsError> {
    let expected = name.config_file_name();
    if config.file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
        report.say(format!(
            "kept {} (not named {expected}, so not goippy's to remove)",
            config.display()
        ));
        return Ok(());
    }
    match std::fs::remove_file(config) {
        Ok(()) => {
            report.say(format!(
                "removed {} (the configuration of instance {name})",
                config.display()
            ));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.say(format!("{} was already gone", config.display()));
            Ok(())
        }
        Err(e) => Err(OpsError::io("remove", config)(e)),
    }
}

/// Removes `<unit_dir>/*.wants/<unit>` and `*.requires/<unit>` symlinks that
/// point at a file called `<unit>`: what `systemctl enable` leaves, and what
/// would dangle once the unit is gone when systemctl could not disable it.
fn remove_enable_links(
    unit_dir: &Path,
    unit_name: &str,
) -> Result<Vec<std::path::PathBuf>, OpsError> {
    let mut removed = Vec::new();
    for entry in discovery::unit_dir_entries(unit_dir)? {
        let dir_name = entry.file_name();
        let dir_name = dir_name.to_string_lossy();
        if !(dir_name.ends_with(".wants") || dir_name.ends_with(".requires")) {
            continue;
        }
        let link = entry.path().join(unit_name);
        let Ok(target) = std::fs::read_link(&link) else {
            continue;
        };
        if target.file_name().and_then(|n| n.to_str()) == Some(unit_name) {
            std::fs::remove_file(&link).map_err(OpsError::io("remove", &link))?;
            removed.push(link);
        }
    }
    removed.sort();
    Ok(removed)
}
