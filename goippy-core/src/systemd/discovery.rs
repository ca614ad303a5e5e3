//! Which goippy instances are installed: the units in the unit directory
//! that goippy wrote.
//!
//! The unit directory is the single source of truth — there is no separate
//! registry to drift out of date. A file counts as goippy's only if its name
//! is one goippy uses *and* its marker (see `unit.rs`) names the same
//! instance; anything else that looks related (a hand-written
//! `goippy-foo.service`, a `goippy@.service` template, a masked unit
//! symlinked to /dev/null) is reported as foreign and never touched.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::OpsError;
use super::instance::InstanceName;
use super::unit;

/// Larger than any unit goippy writes; a bigger file is not one of them.
const MAX_UNIT_SIZE: u64 = 64 * 1024;

/// An installed instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: InstanceName,
    pub unit_path: PathBuf,
    /// The configuration the unit runs, from its marker.
    pub config: PathBuf,
}

/// A unit file with a goippy-like name that goippy did not write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub path: PathBuf,
    pub why: String,
}

/// What is at the place of one instance's unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFile {
    Absent,
    Ours(Installed),
    Foreign(Foreign),
}

/// Everything goippy-like in the unit directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Sorted: the main instance first, then by name.
    pub installed: Vec<Installed>,
    pub foreign: Vec<Foreign>,
}

/// Looks at `unit_path`, which is where `name`'s unit would be.
pub fn examine(unit_path: &Path, name: &InstanceName) -> Result<UnitFile, OpsError> {
    let foreign = |why: &str| {
        Ok(UnitFile::Foreign(Foreign {
            path: unit_path.to_path_buf(),
            why: why.to_string(),
        }))
    };
    let io = OpsError::io("read", unit_path);
    let meta = match std::fs::symlink_metadata(unit_path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(UnitFile::Absent),
        Err(e) => return Err(io(e)),
    };
    if meta.file_type().is_symlink() {
        return foreign(
            "it is a symbolic link (linked or masked with systemctl), not a file goippy wrote",
        );
    }
    if !meta.is_file() {
        return foreign("it is not a regular file");
    }
    if meta.len() > MAX_UNIT_SIZE {
        return foreign("it is far larger than the units goippy writes");
    }
    let text = match std::fs::read_to_string(unit_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return foreign("it is not UTF-8 text"),
        Err(e) => return Err(io(e)),
    };
    match unit::read_marker(&text) {
        Ok(marker) if marker.instance == *name => Ok(UnitFile::Ours(Installed {
            name: marker.instance,
            unit_path: unit_path.to_path_buf(),
            config: marker.config,
        })),
        Ok(marker) => foreign(&format!(
            "its goippy marker names instance {}, not {name}",
            marker.instance
        )),
        Err(e) => foreign(&e.to_string()),
    }
}

/// `name`'s unit at `unit_path` if goippy wrote it, `None` if there is
/// none; a file goippy did not write there is an error, for goippy leaves
/// it alone.
pub fn ours(unit_path: &Path, name: &InstanceName) -> Result<Option<Installed>, OpsError> {
    match examine(unit_path, name)? {
        UnitFile::Absent => Ok(None),
        UnitFile::Ours(installed) => Ok(Some(installed)),
        UnitFile::Foreign(f) => Err(OpsError::Refused(format!(
            "{} was not written by goippy: {}; goippy leaves it alone",
            f.path.display(),
            f.why
        ))),
    }
}

/// What is in the unit directory; a missing directory holds nothing.
pub fn unit_dir_entries(unit_dir: &Path) -> Result<Vec<fs::DirEntry>, OpsError> {
    match fs::read_dir(unit_dir) {
        Ok(entries) => entries.collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
    .map_err(OpsError::io("read the unit directory", unit_dir))
}

/// Every goippy-like unit in `unit_dir`.
pub fn discover(unit_dir: &Path) -> Result<Discovery, OpsError> {
    let mut found = Discovery::default();
    for entry in unit_dir_entries(unit_dir)? {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if !(file_name.starts_with("goippy") && file_name.ends_with(".service")) {
            continue;
        }
        let path = entry.path();
        match InstanceName::from_unit_file_name(file_name) {
            None => found.foreign.push(Foreign {
                path,
                why: "its name is not one `goippy --install` uses".to_string(),
            }),
            Some(name) => match examine(&path, &name)? {
                UnitFile::Ours(installed) => found.installed.push(installed),
                UnitFile::Foreign(f) => found.foreign.push(f),
                // Removed between read_dir and now.
                UnitFile::Absent => {}
            },
        }
    }
    found.installed.sort_by(|a, b| a.name.cmp(&b.name));
    found.foreign.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systemd::unit::{UnitPath, UnitSpec, render};

    fn our_unit(name: &str) -> String {
        let instance: InstanceName = name.parse().expect("name");
        render(&UnitSpec {
            config: UnitPath::new(&Path::new("/etc").join(instance.config_file_name()), "c")
                .expect("path"),
            instance,
            executable: UnitPath::new(Path::new("/usr/bin/goippy"), "e").expect("path"),
            goip_port: 44444,
            extra_writable_dir: None,
            spool_dir: None,
        })
    }

    #[test]
    fn only_marked_units_with_matching_names_are_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("goippy.service"), our_unit("default")).expect("w");
        std::fs::write(d.join("goippy-2508.service"), our_unit("2508")).expect("w");
        std::fs::write(d.join("goippy-hand.service"), "[Unit]\nDescription=mine\n").expect("w");
        // A copy of instance 2508's unit under another name.
        std::fs::write(d.join("goippy-copy.service"), our_unit("2508")).expect("w");
        std::fs::write(d.join("goippy@.service"), "[Unit]\n").expect("w");
        std::os::unix::fs::symlink("/dev/null", d.join("goippy-masked.service")).expect("ln");
        std::fs::write(d.join("prosody.service"), "[Unit]\n").expect("w");
        std::fs::create_dir(d.join("multi-user.target.wants")).expect("mkdir");

        let found = discover(d).expect("discover");
        let names: Vec<String> = found.installed.iter().map(|i| i.name.to_string()).collect();
        assert_eq!(names, ["default", "2508"]);
        assert_eq!(
            found.installed[1].config,
            Path::new("/etc/goippy-2508.conf")
        );
        assert_eq!(found.installed[1].unit_path, d.join("goippy-2508.service"));
        let foreign: Vec<(String, &str)> = found
            .foreign
            .iter()
            .map(|f| {
                (
                    f.path
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned(),
                    f.why.as_str(),
                )
            })
            .collect();
        assert_eq!(foreign.len(), 4, "{foreign:?}");
        assert!(
            foreign[0].0 == "goippy-copy.service" && foreign[0].1.contains("names instance 2508")
        );
        assert!(
            foreign[1].0 == "goippy-hand.service"
                && foreign[1].1.contains("no \"goippy-instance:\" marker")
        );
        assert!(foreign[2].0 == "goippy-masked.service" && foreign[2].1.contains("symbolic link"));
        assert!(foreign[3].0 == "goippy@.service" && foreign[3].1.contains("not one"));
    }

    #[test]
    fn a_missing_unit_directory_holds_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            discover(&dir.path().join("none")).expect("ok"),
            Discovery::default()
        );
        assert_eq!(
            examine(&dir.path().join("goippy.service"), &InstanceName::Main).expect("ok"),
            UnitFile::Absent
        );
    }
}
