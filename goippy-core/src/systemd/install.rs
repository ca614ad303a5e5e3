//! `goippy --install [NAME]`: write an instance's unit and start it.
//!
//! The steps, each of which can stop the install with a message saying what
//! to do: the unit's place must be free or goippy's own; the configuration
//! must exist (a named instance's is created from the main one); it must
//! load; it must not collide with another installed instance; when systemd
//! runs here, no other process may hold its GOIP_PORT (a goippy started by
//! hand, say); then the service user is made sure of, and must be able to
//! write the instance's files; the configuration is shared with it, the
//! unit is written, and systemd is told. Everything up to writing the unit
//! is checked before anything but the service user is changed on the
//! system, so a refused install leaves at most the configuration it created
//! for the operator to edit.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::{Config, DbSettings};

use super::account::{self, CONFIG_MODE, SERVICE_USER};
use super::host::{Host, executable};
use super::instance::InstanceName;
use super::systemctl::{Applied, command_line};
use super::unit::{self, UnitPath, UnitSpec};
use super::{OpsError, Report, STATE_DIR};
use super::{collision, discovery, instance_config, port_holder, state_access};

/// Installs (or reinstalls) `name`.
pub fn install(name: &InstanceName, host: &Host, report: &mut Report) -> Result<(), OpsError> {
    let unit_path = host.unit_path(name);
    let unit_name = name.unit_name();
    let config_path = host.config_path(name);
    let previous = discovery::ours(&unit_path, name)?;

    let created_from = provide_config(name, host, &config_path, report)?;
    let (config, warnings) = Config::load(&config_path)?;
    for w in warnings {
        report.say(format!("warning: {}: {w}", config_path.display()));
    }
    check_collisions(name, &config, host, created_from, report)?;

    let running = executable(std::env::current_exe())?;
    let executable = UnitPath::new(&running, "the goippy executable")?;
    let unit_config = UnitPath::new(&config_path, "the configuration file")?;
    let (extra_writable_dir, spool_dir) = writable_dirs(&config, report)?;
    let text = unit::render(&UnitSpec {
        instance: name.clone(),
        executable,
        config: unit_config,
        goip_port: config.goip.port,
        extra_writable_dir,
        spool_dir,
    });

    // What would make the service fail the moment it starts. Only when it
    // is started here: without systemd the files may be meant for another
    // machine.
    let starts_here = host.systemctl.is_booted();
    if starts_here {
        let holders =
            port_holder::udp_port_holders(Path::new("/proc"), config.goip.bind, config.goip.port);
        if let Some(refusal) = port_holder::refusal(
            &holders,
            config.goip.port,
            &config_path,
            &unit_name,
            &name.install_command(),
        ) {
            return Err(OpsError::Refused(refusal));
        }
    }

    let account = account::ensure(host, report)?;
    if starts_here {
        check_state_access(name, &config, host, account, report)?;
    }
    account::share_config(&config_path, account)?;
    report.say(format!(
        "{}: group {SERVICE_USER}, mode {CONFIG_MODE:04o} (the service user reads it, others cannot)",
        config_path.display()
    ));

    let unchanged =
        previous.is_some() && std::fs::read_to_string(&unit_path).ok().as_deref() == Some(&text);
    if unchanged {
        report.say(format!("{} is up to date", unit_path.display()));
    } else {
        write_unit(&unit_path, &text)?;
        report.say(format!("wrote {}", unit_path.display()));
    }

    let steps: [&[&str]; 2] = [&["daemon-reload"], &["enable", "--now", &unit_name]];
    match host.systemctl.apply(&steps, report) {
        Ok(Applied::Ran) => {
            report.say(format!(
                "{unit_name} is enabled and running; see `goippy --list` and `journalctl -u {unit_name}`"
            ));
            if previous.is_some() {
                report.say(format!(
                    "it was installed before: if it was already running, `systemctl restart {unit_name}` \
                     makes it use this unit and its configuration"
                ));
            }
            Ok(())
        }
        Ok(Applied::Unavailable(why)) => {
            report.say(format!(
                "{why}: nothing was enabled or started. On the systemd host, run:"
            ));
            for step in steps {
                report.say(format!("  {}", command_line(step)));
            }
            Ok(())
        }
        Err(failed) => Err(failed.stopped(&format!("{} is written", unit_path.display()))),
    }
}

/// Makes sure `name`'s configuration exists; returns the base it was
/// created from, if it was created now.
fn provide_config(
    name: &InstanceName,
    host: &Host,
    config_path: &Path,
    report: &mut Report,
) -> Result<Option<PathBuf>, OpsError> {
    // A dangling symlink counts as existing: it is not goippy's to replace.
    let exists = |path: &Path| match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(OpsError::io("look at", path)(e)),
    };
    if exists(config_path)? {
        return Ok(None);
    }
    let base = host.config_path(&InstanceName::Main);
    if *name == InstanceName::Main || !exists(&base)? {
        return Err(OpsError::Refused(format!(
            "{} does not exist: write one with `goippy --sample {}`, edit it, then run `{}` again",
            base.display(),
            base.display(),
            name.install_command()
        )));
    }
    let database = match instance_config::create(&base, config_path, name)? {
        Some(db) => format!("its own database: {}", db.display()),
        None => "it uses the same MySQL database until you give it its own DB_BASE".to_string(),
    };
    report.say(format!(
        "created {} from {} ({database})",
        config_path.display(),
        base.display()
    ));
    Ok(Some(base))
}

/// Refuses the install when `config` shares a port, component or database
/// with another installed instance. An instance whose configuration does
/// not load cannot be compared; that is a warning, since it cannot run
/// either.
fn check_collisions(
    name: &InstanceName,
    config: &Config,
    host: &Host,
    created_from: Option<PathBuf>,
    report: &mut Report,
) -> Result<(), OpsError> {
    let installed = discovery::discover(&host.unit_dir)?;
    let mut collisions = Vec::new();
    for other in installed.installed.iter().filter(|i| i.name != *name) {
        match Config::load(&other.config) {
            Ok((other_config, _)) => collisions.extend(collision::between(
                (name, config),
                (&other.name, &other_config),
            )),
            Err(e) => report.say(format!(
                "warning: not compared with instance {} ({}): its configuration does not load: {}",
                other.name,
                other.name.unit_name(),
                e.problems
                    .first()
                    .map(String::as_str)
                    .unwrap_or("unknown problem")
            )),
        }
    }
    if collisions.is_empty() {
        Ok(())
    } else {
        Err(collision::refusal(
            name,
            &config.path,
            created_from.as_deref(),
            &collisions,
        ))
    }
}

/// Refuses the install when the service user could not write the
/// instance's files (left by a goippy run by hand as root); says when
/// systemd will give the state directory to the service user at start.
fn check_state_access(
    name: &InstanceName,
    config: &Config,
    host: &Host,
    account: account::ServiceAccount,
    report: &mut Report,
) -> Result<(), OpsError> {
    let access = state_access::check(&host.state_dir, &own_files(config), account);
    if let Some(dir) = &access.state_dir_reowned_at_start {
        report.say(format!(
            "{} belongs to uid {} (goippy was run by hand?): systemd gives it and everything in it \
             to user {SERVICE_USER} when the service starts",
            dir.path.display(),
            dir.uid
        ));
    }
    match access.refusal(&name.unit_name(), &name.install_command()) {
        Some(refusal) => Err(OpsError::Refused(refusal)),
        None => Ok(()),
    }
}

/// The SQLite DB_FILE, if the instance uses SQLite.
fn sqlite_file(config: &Config) -> Option<&Path> {
    match &config.db {
        DbSettings::Sqlite { file } => Some(file),
        DbSettings::MySql(_) => None,
    }
}

/// The directory of `file` when it lies outside the state directory, which
/// systemd makes writable (and hands to the service user) by itself.
fn outside_state_dir(file: &Path) -> Option<&Path> {
    file.parent()
        .filter(|dir| dir.is_absolute() && !dir.starts_with(STATE_DIR))
}

/// The files an instance opens outside the state directory (SQLite's
/// database, spool and their journals), by directory; files inside it are
/// the state directory's check.
fn own_files(config: &Config) -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut dirs: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for file in sqlite_file(config)
        .into_iter()
        .chain([&*config.store.spool_file])
    {
        let Some(dir) = outside_state_dir(file) else {
            continue;
        };
        let files = ["", "-wal", "-shm", "-journal"].map(|suffix| {
            let mut name = file.as_os_str().to_os_string();
            name.push(suffix);
            PathBuf::from(name)
        });
        match dirs.iter_mut().find(|(d, _)| d == dir) {
            Some((_, known)) => known.extend(files),
            None => dirs.push((dir.to_path_buf(), files.to_vec())),
        }
    }
    dirs
}

/// The directories outside the state directory the unit keeps writable: a
/// SQLite DB_FILE's, and SPOOL_FILE's when it is not that one too.
fn writable_dirs(
    config: &Config,
    report: &mut Report,
) -> Result<(Option<UnitPath>, Option<UnitPath>), OpsError> {
    let db_file = sqlite_file(config);
    if let Some(file) = db_file.filter(|f| !f.is_absolute()) {
        let suggestion =
            Path::new(STATE_DIR).join(file.file_name().unwrap_or("goippy.db".as_ref()));
        return Err(OpsError::Refused(format!(
            "{}: DB_FILE {:?} is a relative path; a service needs an absolute one, such as {:?}",
            config.path.display(),
            file.display().to_string(),
            suggestion.display().to_string()
        )));
    }
    let db_dir = db_file.and_then(outside_state_dir);
    let db_unit_dir = db_dir
        .map(|dir| UnitPath::new(dir, "the directory of DB_FILE"))
        .transpose()?;
    if let Some(dir) = db_dir.filter(|dir| !dir.is_dir()) {
        report.say(format!(
            "warning: {} (the directory of DB_FILE) does not exist; create it, writable by user {SERVICE_USER}, \
             or goippy cannot open its database",
            dir.display()
        ));
    }
    let spool_dir = outside_state_dir(&config.store.spool_file)
        .filter(|dir| Some(*dir) != db_dir)
        .map(|dir| UnitPath::new(dir, "the directory of SPOOL_FILE"))
        .transpose()?;
    Ok((db_unit_dir, spool_dir))
}

/// Writes the unit through a temporary file and a rename, so systemd never
/// reads half a unit; mode 0644 like every unit file.
fn write_unit(path: &Path, text: &str) -> Result<(), OpsError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(OpsError::io("create the directory of", path))?;
    }
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(".goippy-new");
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        // Whatever the umask, a unit is world-readable (systemctl cat).
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(OpsError::io("write", path)(e));
    }
    Ok(())
}
