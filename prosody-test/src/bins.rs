//! The real `goippy` and `goip-sim` binaries of this checkout.
//!
//! They are built from the root workspace (`cargo build -p goippy-core
//! -p goip-sim --bins` with `--manifest-path ../Cargo.toml`), never as a
//! dependency of this crate: goippy-core enables tokio-xmpp's `component`
//! feature, which would switch the stanza namespace of this crate's c2s test
//! clients too. One cargo run for both packages, so goip-sim links the very
//! goippy-core build the daemon does instead of a second one of its own.
//! The build runs once per process and is a no-op when the binaries are up
//! to date (as they are after `cargo test --workspace`); cargo itself says
//! where the executables are, so `CARGO_TARGET_DIR` and profiles need no
//! guessing. `GOIPPY_BIN_DIR=/path/to/dir` skips the build and uses
//! `goippy` and `goip-sim` from that directory instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Result;
use crate::rock::repo_root;

/// The environment variable naming a directory with prebuilt binaries.
pub const BIN_DIR_VAR: &str = "GOIPPY_BIN_DIR";

/// Paths of the two executables.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The daemon.
    pub goippy: PathBuf,
    /// The GoIP simulator.
    pub goip_sim: PathBuf,
}

/// Builds (once per process) or finds the binaries.
pub fn binaries() -> Result<&'static Binaries> {
    static BINARIES: OnceLock<std::result::Result<Binaries, String>> = OnceLock::new();
    BINARIES
        .get_or_init(|| locate().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| e.clone().into())
}

fn locate() -> Result<Binaries> {
    if let Some(dir) = env::var_os(BIN_DIR_VAR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let bins = Binaries {
            goippy: dir.join("goippy"),
            goip_sim: dir.join("goip-sim"),
        };
        for path in [&bins.goippy, &bins.goip_sim] {
            if !path.is_file() {
                return Err(format!("{BIN_DIR_VAR}: no {}", path.display()).into());
            }
        }
        return Ok(bins);
    }
    build(&repo_root())
}

fn build(root: &Path) -> Result<Binaries> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = root.join("Cargo.toml");
    let out = Command::new(&cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "goippy-core", "-p", "goip-sim", "--bins"])
        .arg("--message-format=json")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo to build goippy: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p goippy-core -p goip-sim --bins failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut goippy = None;
    let mut goip_sim = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        match message["target"]["name"].as_str() {
            Some("goippy") => goippy = Some(PathBuf::from(executable)),
            Some("goip-sim") => goip_sim = Some(PathBuf::from(executable)),
            _ => {}
        }
    }
    match (goippy, goip_sim) {
        (Some(goippy), Some(goip_sim)) => Ok(Binaries { goippy, goip_sim }),
        _ => Err(format!(
            "cargo built goippy-core and goip-sim but named no goippy and goip-sim executables:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into()),
    }
}

/// `cargo build --release -p goippy-core -p goip-sim --bins` in the root workspace
/// (progress on stderr); the directory cargo put `goippy` and `goip-sim`
/// in, for [`BIN_DIR_VAR`]. For runs that measure or stress the daemon
/// (the benchmark), where a debug build would say nothing.
pub fn build_release() -> Result<PathBuf> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .args(["-p", "goippy-core", "-p", "goip-sim", "--bins"])
        .arg("--message-format=json")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("the release build of goippy failed ({})", out.status).into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "goippy")
        .find_map(|m| {
            let exe = PathBuf::from(m["executable"].as_str()?);
            exe.parent().map(PathBuf::from)
        })
        .ok_or_else(|| "cargo built goippy-core but named no goippy executable".into())
}
