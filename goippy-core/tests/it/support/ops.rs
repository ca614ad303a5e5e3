//! A temporary root for the service commands: `etc/`, `units/`, a
//! `run-systemd-system/` directory standing for a booted systemd, a fake
//! `systemctl` that logs its arguments, and a fake `useradd` that adds the
//! user to the root's own `etc/passwd`. The real `goippy` binary runs
//! against it with `--etc-dir`, `--unit-dir`, `--systemctl`,
//! `--systemd-run-dir`, `--useradd` and `--state-dir`, so nothing on the
//! machine is touched.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use super::cli;
pub use super::cli::{goippy, show};

pub struct Root {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub etc: PathBuf,
    pub units: PathBuf,
    pub booted: PathBuf,
    pub systemctl: PathBuf,
    pub useradd: PathBuf,
    /// The fake systemctl's state: `state/<unit>` holds what is-active prints,
    /// `fail/<verb>` makes that verb fail with the file's text on stderr.
    pub state: PathBuf,
    pub fail: PathBuf,
    /// What stands for /var/lib/goippy (`--state-dir`); not created.
    pub state_dir: PathBuf,
    systemctl_log: PathBuf,
    useradd_log: PathBuf,
    /// Our own group: the one an unprivileged test may give files to.
    pub gid: u32,
}

impl Root {
    /// A root whose passwd already has the goippy user.
    pub fn new() -> Root {
        let root = Root::without_user();
        std::fs::write(
            root.etc.join("passwd"),
            format!(
                "root:x:0:0:root:/root:/bin/bash\ngoippy:x:999:{}:goippy:/var/lib/goippy:/usr/sbin/nologin\n",
                root.gid
            ),
        )
        .expect("passwd");
        root
    }

    /// A root without a passwd file: installing creates the user.
    pub fn without_user() -> Root {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let gid = std::fs::metadata(&path).expect("meta").gid();
        let etc = path.join("etc");
        let units = path.join("units");
        let booted = path.join("run-systemd-system");
        let state = path.join("state");
        let fail = path.join("fail");
        for d in [&etc, &units, &booted, &state, &fail] {
            std::fs::create_dir(d).expect("mkdir");
        }
        let systemctl_log = path.join("systemctl.log");
        let useradd_log = path.join("useradd.log");
        let systemctl = path.join("bin-systemctl");
        write_script(
            &systemctl,
            &format!(
                r#"#!/bin/sh
echo "$*" >> '{log}'
if [ -f '{fail}'/"$1" ]; then cat '{fail}'/"$1" >&2; exit 1; fi
if [ "$1" = is-active ]; then
  if [ -f '{state}'/"$2" ]; then cat '{state}'/"$2"; exit 0; fi
  echo inactive; exit 3
fi
"#,
                log = systemctl_log.display(),
                fail = fail.display(),
                state = state.display(),
            ),
        );
        let state_dir = path.join("var-lib-goippy");
        let useradd = path.join("bin-useradd");
        write_script(
            &useradd,
            &format!(
                r#"#!/bin/sh
echo "$*" >> '{log}'
echo "goippy:x:998:{gid}:goippy SMS bridge:/var/lib/goippy:/usr/sbin/nologin" >> '{passwd}'
"#,
                log = useradd_log.display(),
                passwd = etc.join("passwd").display(),
            ),
        );
        Root {
            _dir: dir,
            path,
            etc,
            units,
            booted,
            systemctl,
            useradd,
            state,
            fail,
            state_dir,
            systemctl_log,
            useradd_log,
            gid,
        }
    }

    /// `goippy <args>` against this root.
    pub fn goippy(&self, args: &[&str]) -> Output {
        self.goippy_with(args, &self.systemctl, &self.booted)
    }

    /// `goippy <args>` with another systemctl program or booted marker.
    pub fn goippy_with(&self, args: &[&str], systemctl: &Path, booted: &Path) -> Output {
        let mut cmd = cli::command();
        cmd.args(args)
            .arg("--etc-dir")
            .arg(&self.etc)
            .arg("--unit-dir")
            .arg(&self.units)
            .arg("--systemctl")
            .arg(systemctl)
            .arg("--systemd-run-dir")
            .arg(booted)
            .arg("--useradd")
            .arg(&self.useradd)
            .arg("--state-dir")
            .arg(&self.state_dir);
        cmd.output().expect("run goippy")
    }

    /// Writes the main configuration with `goippy --sample`, gives it a
    /// secret of its own (as the operator does; the placeholder is warned
    /// about), then applies `edits` (pairs of whole lines: old, new).
    pub fn main_config(&self, edits: &[(&str, &str)]) -> PathBuf {
        let path = self.etc.join("goippy.conf");
        let out = goippy(&["--sample", path.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{}", show(&out));
        edit(&path, &[(SAMPLE_SECRET, OWN_SECRET)]);
        edit(&path, edits);
        path
    }

    pub fn unit(&self, file: &str) -> String {
        std::fs::read_to_string(self.units.join(file)).expect("unit file")
    }

    pub fn systemctl_calls(&self) -> Vec<String> {
        read_lines(&self.systemctl_log)
    }

    pub fn useradd_calls(&self) -> Vec<String> {
        read_lines(&self.useradd_log)
    }

    pub fn set_active(&self, unit: &str, state: &str) {
        std::fs::write(self.state.join(unit), format!("{state}\n")).expect("state");
    }

    pub fn make_fail(&self, verb: &str, stderr: &str) {
        std::fs::write(self.fail.join(verb), stderr).expect("fail");
    }

    /// Instance 2508's configuration, written as an operator would: a copy
    /// of `main` on GOIP port 44445 for the component sms2.example.org, with
    /// `edits` besides.
    pub fn instance_2508_config(&self, main: &Path, edits: &[(&str, &str)]) -> PathBuf {
        let instance = self.etc.join("goippy-2508.conf");
        std::fs::copy(main, &instance).expect("copy");
        let [data, jid] = component("sms2.example.org");
        let mut all = vec![
            (SAMPLE_PORT, "GOIP_PORT = 44445"),
            (data.0.as_str(), data.1.as_str()),
            (jid.0.as_str(), jid.1.as_str()),
        ];
        all.extend_from_slice(edits);
        edit(&instance, &all);
        instance
    }
}

/// Replaces whole lines of a configuration; every `old` must be there.
pub fn edit(path: &Path, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(path).expect("read");
    for (old, new) in edits {
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(old), "{old:?} not in {}", path.display());
        text = lines
            .iter()
            .map(|l| if l == old { *new } else { *l })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
    }
    std::fs::write(path, text).expect("write");
}

/// The sample's lines, for [`edit`].
pub const SAMPLE_PORT: &str = "GOIP_PORT              = 44444";
pub const SAMPLE_SECRET: &str = "XMPP_COMPONENT_SECRET  = \"change-me\"";
/// What [`Root::main_config`] puts instead of the placeholder.
pub const OWN_SECRET: &str = "XMPP_COMPONENT_SECRET  = \"0f3c9a1d77e2b5c4\"";
pub const SAMPLE_DATA_DOMAIN: &str = "XMPP_DATA_DOMAIN       = \"sms.example.org\"";
pub const SAMPLE_COMPONENT: &str = "XMPP_COMPONENT_JID     = \"sms.example.org\"";

/// The lines that give a configuration the component `domain`.
pub fn component(domain: &str) -> [(String, String); 2] {
    [
        (
            SAMPLE_DATA_DOMAIN.to_string(),
            format!("XMPP_DATA_DOMAIN = \"{domain}\""),
        ),
        (
            SAMPLE_COMPONENT.to_string(),
            format!("XMPP_COMPONENT_JID = \"{domain}\""),
        ),
    ]
}

/// Asserts success with nothing on stderr; returns stdout.
pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit status 1 with a `goippy: ` error; returns (stdout, stderr).
pub fn fails(out: Output) -> (String, String) {
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.starts_with("goippy: "), "{}", show(&out));
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The canonical path of the binary under test: what ExecStart must say.
pub fn canonical_goippy() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_goippy"))
        .canonicalize()
        .expect("canonical")
}

/// The directives of a unit: no comments, no section headers, no blanks.
pub fn directives(unit: &str) -> Vec<&str> {
    unit.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .collect()
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("meta").mode() & 0o7777
}

fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => t.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
