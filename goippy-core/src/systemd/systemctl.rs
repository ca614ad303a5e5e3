//! Talking to systemd through `systemctl`, honestly.
//!
//! The install commands must work (and be testable) where systemd is not
//! running: in a container, a chroot, a staging root, CI. Before the first
//! call goippy checks that the system was booted with systemd (the
//! directory `/run/systemd/system` exists — the test `sd_booted()` makes) and
//! then that the program exists at all. When either is missing, nothing is
//! run and the caller prints the exact commands the operator should run;
//! it never says something was started that was not. A call that ran and
//! failed is reported with systemctl's own stderr and the commands still
//! to do.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use super::tool::{self, ToolError};
use super::{OpsError, Report};

/// Where systemctl is and how to tell that systemd is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Systemctl {
    program: OsString,
    booted_marker: PathBuf,
}

/// `systemctl <args>`, as the operator would type it on a systemd host.
pub fn command_line(args: &[&str]) -> String {
    tool::command_line(OsStr::new("systemctl"), args)
}

/// What [`Systemctl::apply`] did.
#[derive(Debug)]
pub enum Applied {
    /// Every step ran and succeeded.
    Ran,
    /// Nothing ran, for the reason given; the operator has to.
    Unavailable(String),
}

/// A step that failed, and what is left to do.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StepFailed {
    pub error: ToolError,
    /// The failed step and the ones after it, as command lines.
    pub remaining: Vec<String>,
}

impl StepFailed {
    /// The error that stops the command: systemctl's, where things stand
    /// (`situation`, e.g. "the unit file is written") and what is left to run.
    pub fn stopped(self, situation: &str) -> OpsError {
        let mut s = format!(
            "{}\n{situation}; once the problem is fixed, run:",
            self.error
        );
        for command in &self.remaining {
            s.push_str("\n  ");
            s.push_str(command);
        }
        OpsError::Refused(s)
    }
}

impl Systemctl {
    /// `program` is run for every step; systemd counts as running when
    /// `booted_marker` (normally `/run/systemd/system`) is a directory.
    pub fn new(program: impl Into<OsString>, booted_marker: impl Into<PathBuf>) -> Self {
        Systemctl {
            program: program.into(),
            booted_marker: booted_marker.into(),
        }
    }

    #[cfg(test)]
    pub fn booted_marker(&self) -> &std::path::Path {
        &self.booted_marker
    }

    /// Whether the system was booted with systemd, so that what is
    /// installed here is started here.
    pub fn is_booted(&self) -> bool {
        self.booted_marker.is_dir()
    }

    /// Runs `steps` (each systemctl's arguments) in order, noting each in
    /// `report`, and stops at the first failure. When systemd or systemctl
    /// is missing nothing runs.
    pub fn apply(&self, steps: &[&[&str]], report: &mut Report) -> Result<Applied, StepFailed> {
        if !self.is_booted() {
            return Ok(Applied::Unavailable(format!(
                "systemd is not running here ({} does not exist)",
                self.booted_marker.display()
            )));
        }
        for (i, step) in steps.iter().enumerate() {
            match tool::run_checked(&self.program, step) {
                Ok(_) => report.say(format!("ran {}", command_line(step))),
                Err(ToolError::NotFound { program }) if i == 0 => {
                    return Ok(Applied::Unavailable(format!(
                        "systemctl was not found (tried {program:?})"
                    )));
                }
                Err(error) => {
                    return Err(StepFailed {
                        error,
                        remaining: steps[i..].iter().map(|s| command_line(s)).collect(),
                    });
                }
            }
        }
        Ok(Applied::Ran)
    }

    /// The unit's active state (`active`, `inactive`, `failed`, …), or
    /// `unknown (…)` saying why it is not known.
    pub fn is_active(&self, unit: &str) -> String {
        if !self.is_booted() {
            return "unknown (systemd not running)".into();
        }
        let why = match tool::run_capturing(&self.program, &["is-active", unit]) {
            Ok(output) => {
                // is-active prints the state and exits non-zero unless it is
                // "active": the printed state is the answer either way.
                let stdout = String::from_utf8_lossy(&output.stdout);
                match stdout.lines().next().map(str::trim) {
                    Some(state) if !state.is_empty() => return state.to_string(),
                    _ => String::from_utf8_lossy(&output.stderr).trim().to_string(),
                }
            }
            Err(ToolError::NotFound { .. }) => "no systemctl".into(),
            Err(e) => e.to_string(),
        };
        format!("unknown ({why})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_commands() {
        assert_eq!(command_line(&["daemon-reload"]), "systemctl daemon-reload");
        assert_eq!(
            command_line(&["enable", "--now", "goippy-2508.service"]),
            "systemctl enable --now goippy-2508.service"
        );
        assert_eq!(
            command_line(&["disable", "--now", "goippy.service"]),
            "systemctl disable --now goippy.service"
        );
        assert_eq!(
            command_line(&["stop", "goippy.service"]),
            "systemctl stop goippy.service"
        );
    }

    // Real programs only (`true`, `false`, `sh`): a script written and run
    // at once by a multi-threaded test can fail with ETXTBSY. The scripted
    // fake systemctl is exercised through the binary in tests/ops_*.rs.

    #[test]
    fn nothing_runs_without_systemd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("run-systemd-system");
        // Were it run, a missing program would say Missing, not NotBooted.
        let systemctl = Systemctl::new(dir.path().join("no-such-systemctl"), &marker);
        let mut report = Report::default();
        match systemctl.apply(&[&["daemon-reload"]], &mut report) {
            Ok(Applied::Unavailable(why)) => assert_eq!(
                why,
                format!(
                    "systemd is not running here ({} does not exist)",
                    marker.display()
                )
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(report.text(), "");
        assert_eq!(
            systemctl.is_active("goippy.service"),
            "unknown (systemd not running)"
        );

        std::fs::create_dir(&marker).expect("marker");
        match systemctl.apply(&[&["daemon-reload"]], &mut report) {
            Ok(Applied::Unavailable(why)) => {
                assert!(why.starts_with("systemctl was not found (tried "), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            systemctl.is_active("goippy.service"),
            "unknown (no systemctl)"
        );
    }

    #[test]
    fn steps_run_in_order_and_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let systemctl = Systemctl::new("true", dir.path());
        let mut report = Report::default();
        match systemctl.apply(&[&["daemon-reload"], &["stop", "x.service"]], &mut report) {
            Ok(Applied::Ran) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.text(),
            "ran systemctl daemon-reload\nran systemctl stop x.service\n"
        );
        // is-active's answer is the first line it prints, whatever its exit status.
        let echo = Systemctl::new("echo", dir.path());
        assert_eq!(echo.is_active("goippy.service"), "is-active goippy.service");
    }

    #[test]
    fn a_failing_step_reports_stderr_and_what_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut report = Report::default();
        let err = Systemctl::new("false", dir.path())
            .apply(
                &[&["daemon-reload"], &["enable", "--now", "goippy.service"]],
                &mut report,
            )
            .expect_err("false fails");
        assert!(
            err.to_string().ends_with("failed (exit status: 1)"),
            "{err}"
        );
        assert_eq!(
            err.remaining,
            vec![
                "systemctl daemon-reload",
                "systemctl enable --now goippy.service"
            ]
        );
        assert_eq!(report.text(), "");
        // `sh daemon-reload` fails, saying so on stderr: that text is in the error.
        let err = Systemctl::new("sh", dir.path())
            .apply(&[&["daemon-reload"]], &mut report)
            .expect_err("no such script");
        let msg = err.to_string();
        assert!(msg.starts_with("`sh daemon-reload` failed ("), "{msg}");
        assert!(
            msg.rsplit("): ")
                .next()
                .is_some_and(|e| e.contains("daemon-reload")),
            "{msg}"
        );
    }
}
