//! The real `goippy` binary, run as an operator runs it from a shell, with
//! none of the variables that would change what it does (a developer's
//! RUST_LOG, the service commands' GOIPPY_* directories) leaking in from the
//! environment of the test run.

use std::process::{Command, Output};

/// `goippy <args>`, waited for.
pub fn goippy(args: &[&str]) -> Output {
    command().args(args).output().expect("run goippy")
}

/// The binary under test with a clean environment, for a test to add to.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goippy"));
    for var in [
        "RUST_LOG",
        "GOIPPY_ETC_DIR",
        "GOIPPY_UNIT_DIR",
        "GOIPPY_SYSTEMCTL",
        "GOIPPY_SYSTEMD_RUN_DIR",
        "GOIPPY_USERADD",
        "GOIPPY_STATE_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Exit status, stdout and stderr, for an assertion's message.
pub fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
