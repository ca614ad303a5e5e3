//! Whether the service user can write the files an instance keeps.
//!
//! A goippy run by hand as root — the README's goip-sim walk-through, or a
//! test before installing — creates its SQLite files as root. systemd's
//! `StateDirectory=goippy` hands `/var/lib/goippy` and everything in it to
//! the service user, but only when the directory itself belongs to someone
//! else: once it is `goippy`'s (after an earlier install), root's files
//! inside stay root's, and the service cannot open its database. A `DB_FILE`
//! or `SPOOL_FILE` outside the state directory (`ReadWritePaths=`) is never
//! re-owned at all. So `--install` looks before it starts anything and
//! names what to fix.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::account::{SERVICE_USER, ServiceAccount};

/// How many entries of the state directory are looked at, at most: it
/// holds a few files per instance, and a check must not wander for ever.
const MAX_ENTRIES: usize = 10_000;

/// What the service user cannot write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Paths the service could not write, by directory to fix.
    pub unwritable: Vec<(PathBuf, Vec<Unwritable>)>,
    /// The state directory belongs to someone else (root, after a run by
    /// hand): systemd gives it and its contents to the service user when
    /// the service starts.
    pub state_dir_reowned_at_start: Option<Unwritable>,
}

/// Checks `state_dir` (what `StateDirectory=goippy` stands for) and the
/// instance's own files in `other_dirs` (`DB_FILE`'s and `SPOOL_FILE`'s
/// directories outside it, with the files in them that goippy opens).
pub fn check(
    state_dir: &Path,
    other: &[(PathBuf, Vec<PathBuf>)],
    account: ServiceAccount,
) -> Access {
    let mut access = Access::default();
    if let Ok(meta) = fs::symlink_metadata(state_dir) {
        if meta.uid() != account.uid || meta.gid() != account.gid {
            access.state_dir_reowned_at_start = Some(describe(state_dir, &meta));
        } else {
            let mut found = Vec::new();
            let mut budget = MAX_ENTRIES;
            walk(state_dir, account, &mut found, &mut budget);
            if !found.is_empty() {
                access.unwritable.push((state_dir.to_path_buf(), found));
            }
        }
    }
    for (dir, files) in other {
        if dir.starts_with(state_dir) {
            continue;
        }
        let mut found = Vec::new();
        for path in std::iter::once(dir).chain(files) {
            if let Ok(meta) = fs::metadata(path)
                && !writable_by(&meta, account)
            {
                found.push(describe(path, &meta));
            }
        }
        if !found.is_empty() {
            access.unwritable.push((dir.clone(), found));
        }
    }
    access
}

/// Everything below `dir` not owned by the service user, or not writable
/// by it.
fn walk(dir: &Path, account: ServiceAccount, found: &mut Vec<Unwritable>, budget: &mut usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != account.uid || !writable_by(&meta, account) {
            found.push(describe(&path, &meta));
        }
        if meta.is_dir() {
            walk(&path, account, found, budget);
        }
    }
}

/// Whether the user can write (and, for a directory, enter) it, by its
/// owner, group and mode alone.
fn writable_by(meta: &fs::Metadata, account: ServiceAccount) -> bool {
    let mode = meta.mode();
    let (write, exec) = if meta.uid() == account.uid {
        (0o200, 0o100)
    } else if meta.gid() == account.gid {
        (0o020, 0o010)
    } else {
        (0o002, 0o001)
    };
    mode & write != 0 && (!meta.is_dir() || mode & exec != 0)
}

fn describe(path: &Path, meta: &fs::Metadata) -> Unwritable {
    Unwritable {
        path: path.to_path_buf(),
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
    }
}

impl Access {
    /// The text that refuses the install, if anything is unwritable.
    pub fn refusal(&self, unit: &str, retry: &str) -> Option<String> {
        if self.unwritable.is_empty() {
            return None;
        }
        let mut s = format!("{unit} runs as user {SERVICE_USER}, which cannot write:");
        for (_, paths) in &self.unwritable {
            for u in paths {
                s.push_str(&format!(
                    "\n  - {} (owner uid {}, group gid {}, mode {:04o})",
                    u.path.display(),
                    u.uid,
                    u.gid,
                    u.mode
                ));
            }
        }
        s.push_str(
            "\n(A goippy run by hand as root leaves such files; systemd gives the state \
             directory to the service user only while the directory itself belongs to \
             someone else.) Give them to the service user:",
        );
        for (dir, _) in &self.unwritable {
            s.push_str(&format!(
                "\n  chown -R {SERVICE_USER}:{SERVICE_USER} {}",
                dir.display()
            ));
        }
        s.push_str(&format!(
            "\nand run `{retry}` again. The unit was not written."
        ));
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn running_as_root() -> bool {
        fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }

    fn chown(path: &Path, uid: u32, gid: u32) {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    }

    const GOIPPY: ServiceAccount = ServiceAccount {
        uid: 64_999,
        gid: 64_998,
    };

    #[test]
    fn a_state_directory_of_someone_else_is_reowned_by_systemd() {
        if !running_as_root() {
            eprintln!("skipped: needs root to give files to another user");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("goippy");
        fs::create_dir(&state).expect("mkdir");
        fs::write(state.join("goippy.db"), "").expect("write");
        // Root's, as after `goippy` run by hand: systemd fixes all of it.
        let access = check(&state, &[], GOIPPY);
        assert!(access.unwritable.is_empty(), "{access:?}");
        assert_eq!(
            access.state_dir_reowned_at_start.map(|u| u.uid),
            Some(0),
            "said"
        );
        assert_eq!(access_refusal(&state), None);
    }

    fn access_refusal(state: &Path) -> Option<String> {
        check(state, &[], GOIPPY).refusal("goippy.service", "goippy --install")
    }

    #[test]
    fn root_files_in_a_state_directory_of_the_service_user_are_named() {
        if !running_as_root() {
            eprintln!("skipped: needs root to give files to another user");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("goippy");
        fs::create_dir(&state).expect("mkdir");
        chown(&state, GOIPPY.uid, GOIPPY.gid);
        fs::write(state.join("goippy.db"), "").expect("write");
        chown(&state.join("goippy.db"), GOIPPY.uid, GOIPPY.gid);
        assert_eq!(access_refusal(&state), None, "all the service user's");

        // A run by hand as root since: its new files are root's.
        fs::write(state.join("goippy.spool.db"), "").expect("write");
        let refusal = access_refusal(&state).expect("refused");
        assert!(
            refusal.starts_with("goippy.service runs as user goippy, which cannot write:\n"),
            "{refusal}"
        );
        assert!(
            refusal.contains(&format!(
                "  - {} (owner uid 0, group gid 0, mode 0644)",
                state.join("goippy.spool.db").display()
            )),
            "{refusal}"
        );
        assert!(!refusal.contains("goippy.db (owner"), "{refusal}");
        assert!(
            refusal.contains(&format!("\n  chown -R goippy:goippy {}\n", state.display())),
            "{refusal}"
        );
        assert!(
            refusal.ends_with("and run `goippy --install` again. The unit was not written."),
            "{refusal}"
        );
    }

    #[test]
    fn a_directory_outside_the_state_directory_must_be_writable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("mkdir");
        let db = data.join("goippy.db");
        fs::write(&db, "").expect("write");
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("chmod");
        let other = vec![(data.clone(), vec![db.clone(), data.join("goippy.db-wal")])];
        // Ours (root's or the test user's), mode 0755: not another user's to write.
        let access = check(&state, &other, GOIPPY);
        let names: Vec<&Path> = access.unwritable[0]
            .1
            .iter()
            .map(|u| u.path.as_path())
            .collect();
        assert_eq!(names, vec![data.as_path(), db.as_path()]);

        // Writable by the service user's group: fine.
        let me = fs::metadata(&data).expect("meta");
        let group = ServiceAccount {
            uid: GOIPPY.uid,
            gid: me.gid(),
        };
        fs::set_permissions(&data, fs::Permissions::from_mode(0o775)).expect("chmod");
        fs::set_permissions(&db, fs::Permissions::from_mode(0o664)).expect("chmod");
        assert_eq!(check(&state, &other, group), Access::default());
    }
}
