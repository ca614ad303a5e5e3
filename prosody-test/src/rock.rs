//! mod_sms_alias installed the way `lua/README.md` tells admins to.
//!
//! The rocks are built from this checkout by `lua/make-rocks.sh --binary`
//! (once per test process): a `.src.rock` whose installation runs cargo, and
//! a binary rock from a release build. Servers then get the module through
//! `prosodyctl install <rock>` into their own `installer_plugin_path` — no
//! copying of files behind Prosody's back, so the tests see the real install
//! layout, including the `lib/lua/5.4` directory Prosody 0.12 leaves off
//! `package.cpath`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::Result;
use crate::prosody::{Prosody, output_text};

/// The goippy checkout this harness lives in.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The packed mod_sms_alias rocks of this checkout.
#[derive(Debug, Clone)]
pub struct Rocks {
    /// The crate/rock version, e.g. `0.1.0`.
    pub version: String,
    /// `mod_sms_alias-V-1.src.rock`: installing it builds with cargo.
    pub source_rock: PathBuf,
    /// `mod_sms_alias-V-1.linux-x86_64.rock`: prebuilt, installs in a blink.
    pub binary_rock: PathBuf,
    /// The directory holding them and a luarocks manifest (`--server=DIR`).
    pub dir: PathBuf,
}

/// Builds the rocks once per process and returns them.
pub fn rocks() -> Result<&'static Rocks> {
    static ROCKS: OnceLock<std::result::Result<Rocks, String>> = OnceLock::new();
    ROCKS
        .get_or_init(|| make_rocks().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| e.clone().into())
}

fn make_rocks() -> Result<Rocks> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rocks");
    let script = repo_root().join("lua/make-rocks.sh");
    let out = Command::new(&script)
        .arg("--binary")
        .arg("--out")
        .arg(&dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let text = output_text(&out);
    if !out.status.success() {
        return Err(format!("{} failed ({}):\n{text}", script.display(), out.status).into());
    }
    let made: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.strip_prefix("make-rocks: "))
        .map(PathBuf::from)
        .collect();
    let find = |suffix: &str| {
        made.iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .cloned()
            .ok_or_else(|| format!("make-rocks.sh made no *{suffix}:\n{text}"))
    };
    let source_rock = find(".src.rock")?;
    let binary_rock = find(&format!(".{}.rock", luarocks_arch()))?;
    let version = source_rock
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("mod_sms_alias-"))
        .and_then(|n| n.strip_suffix("-1.src.rock"))
        .ok_or("unexpected source rock name")?
        .to_string();
    Ok(Rocks {
        version,
        source_rock,
        binary_rock,
        dir,
    })
}

fn luarocks_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "linux-x86_64"
    } else if cfg!(target_arch = "aarch64") {
        "linux-aarch64"
    } else {
        "linux"
    }
}

impl Prosody {
    /// `prosodyctl install <rock>` into this server's installer path, with
    /// `RUSTUP_HOME` and `CARGO_HOME` exported as the README says (prosodyctl
    /// points HOME at Prosody's data dir, where rustup finds no toolchain).
    /// `cargo_target_dir` lets source-rock builds reuse compiled dependencies.
    pub fn install_rock(&self, rock: &Path, cargo_target_dir: Option<&Path>) -> Result<String> {
        let home = env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let rustup_home = env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".rustup"));
        let cargo_home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cargo"));
        let mut vars: Vec<(&str, &Path)> =
            vec![("RUSTUP_HOME", &rustup_home), ("CARGO_HOME", &cargo_home)];
        if let Some(target) = cargo_target_dir {
            vars.push(("CARGO_TARGET_DIR", target));
        }
        let rock = rock.to_string_lossy();
        let output = self.prosodyctl_with_env(&["install", &rock], &vars)?;
        for installed in [
            "share/lua/5.4/mod_sms_alias.lua",
            "lib/lua/5.4/sms_alias_native.so",
        ] {
            if !self.installer_path().join(installed).is_file() {
                return Err(format!("prosodyctl install left no {installed}:\n{output}").into());
            }
        }
        Ok(output)
    }

    /// Installs mod_sms_alias from the binary rock of this checkout.
    pub fn install_mod_sms_alias(&self) -> Result<()> {
        self.install_rock(&rocks()?.binary_rock, None)?;
        Ok(())
    }
}
