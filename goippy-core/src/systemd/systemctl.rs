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
use std::fmt;
use std::path::{Path, PathBuf};

use super::report::Report;
use super::tool::{self, ToolError};

/// Where systemctl is and how to tell that systemd is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Systemctl {
    program: OsString,
    booted_marker: PathBuf,
}

/// Why systemctl cannot be used here at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The system was not booted with systemd.
    NotBooted { marker: PathBuf },
    /// The program is not there.
    Missing { program: OsString },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NotBooted { marker } => write!(
                f,
                "systemd is not running here ({} does not exist)",
                marker.display()
            ),
            Unavailable::Missing { program } => {
                write!(f, "systemctl was not found (tried {program:?})")
            }
        }
    }
}

/// One systemctl invocation, as arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step(Vec<String>);

impl Step {
    pub fn daemon_reload() -> Step {
        Step(vec!["daemon-reload".into()])
    }

    pub fn enable_now(unit: &str) -> Step {
        Step(vec!["enable".into(), "--now".into(), unit.into()])
    }

    pub fn disable_now(unit: &str) -> Step {
        Step(vec!["disable".into(), "--now".into(), unit.into()])
    }

    pub fn stop(unit: &str) -> Step {
        Step(vec!["stop".into(), unit.into()])
    }

    fn args(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }

    /// `systemctl <args>`, as the operator would type it on a systemd host.
    pub fn command_line(&self) -> String {
        tool::command_line(OsStr::new("systemctl"), &self.args())
    }
}

/// What [`Systemctl::apply`] did.
#[derive(Debug)]
pub enum Applied {
    /// Every step ran and succeeded.
    Ran,
    /// Nothing ran; the operator has to.
    Unavailable(Unavailable),
}

/// A step that failed, and what is left to do.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StepFailed {
    pub error: ToolError,
    /// The failed step and the ones after it, as command lines.
    pub remaining: Vec<String>,
}

/// `systemctl is-active`, or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveState {
    Known(String),
    Unknown(String),
}

impl fmt::Display for ActiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActiveState::Known(state) => f.write_str(state),
            ActiveState::Unknown(why) => write!(f, "unknown ({why})"),
        }
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

    pub fn booted_marker(&self) -> &Path {
        &self.booted_marker
    }

    /// Whether the system was booted with systemd, so that what is
    /// installed here is started here.
    pub fn is_booted(&self) -> bool {
        self.check_booted().is_ok()
    }

    fn check_booted(&self) -> Result<(), Unavailable> {
        if self.booted_marker.is_dir() {
            Ok(())
        } else {
            Err(Unavailable::NotBooted {
                marker: self.booted_marker.clone(),
            })
        }
    }

    /// Runs `steps` in order, noting each in `report`, and stops at the first
    /// failure. When systemd or systemctl is missing nothing runs.
    pub fn apply(&self, steps: &[Step], report: &mut Report) -> Result<Applied, StepFailed> {
        if let Err(why) = self.check_booted() {
            return Ok(Applied::Unavailable(why));
        }
        for (i, step) in steps.iter().enumerate() {
            match tool::run_checked(&self.program, &step.args()) {
                Ok(_) => report.say(format!("ran {}", step.command_line())),
                Err(ToolError::NotFound { program }) if i == 0 => {
                    return Ok(Applied::Unavailable(Unavailable::Missing { program }));
                }
                Err(error) => {
                    return Err(StepFailed {
                        error,
                        remaining: steps[i..].iter().map(Step::command_line).collect(),
                    });
                }
            }
        }
        Ok(Applied::Ran)
    }

    /// The unit's active state (`active`, `inactive`, `failed`, …).
    pub fn is_active(&self, unit: &str) -> ActiveState {
        if let Err(why) = self.check_booted() {
            return ActiveState::Unknown(match why {
                Unavailable::NotBooted { .. } => "systemd not running".into(),
                Unavailable::Missing { .. } => "no systemctl".into(),
            });
        }
        match tool::run_capturing(&self.program, &["is-active", unit]) {
            Ok(output) => {
                // is-active prints the state and exits non-zero unless it is
                // "active": the printed state is the answer either way.
                let stdout = String::from_utf8_lossy(&output.stdout);
                match stdout.lines().next().map(str::trim) {
                    Some(state) if !state.is_empty() => ActiveState::Known(state.to_string()),
                    _ => ActiveState::Unknown(
                        String::from_utf8_lossy(&output.stderr).trim().to_string(),
                    ),
                }
            }
            Err(ToolError::NotFound { .. }) => ActiveState::Unknown("no systemctl".into()),
            Err(e) => ActiveState::Unknown(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_commands() {
        assert_eq!(
            Step::daemon_reload().command_line(),
            "systemctl daemon-reload"
        );
        assert_eq!(
            Step::enable_now("goippy-2508.service").command_line(),
            "systemctl enable --now goippy-2508.service"
        );
        assert_eq!(
            Step::disable_now("goippy.service").command_line(),
            "systemctl disable --now goippy.service"
        );
        assert_eq!(
            Step::stop("goippy.service").command_line(),
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
        match systemctl.apply(&[Step::daemon_reload()], &mut report) {
            Ok(Applied::Unavailable(why @ Unavailable::NotBooted { .. })) => assert_eq!(
                why.to_string(),
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
            ActiveState::Unknown("systemd not running".into())
        );

        std::fs::create_dir(&marker).expect("marker");
        match systemctl.apply(&[Step::daemon_reload()], &mut report) {
            Ok(Applied::Unavailable(why @ Unavailable::Missing { .. })) => {
                assert!(
                    why.to_string()
                        .starts_with("systemctl was not found (tried "),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            systemctl.is_active("goippy.service").to_string(),
            "unknown (no systemctl)"
        );
    }

    #[test]
    fn steps_run_in_order_and_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let systemctl = Systemctl::new("true", dir.path());
        let mut report = Report::default();
        match systemctl.apply(
            &[Step::daemon_reload(), Step::stop("x.service")],
            &mut report,
        ) {
            Ok(Applied::Ran) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.text(),
            "ran systemctl daemon-reload\nran systemctl stop x.service\n"
        );
        // is-active's answer is the first line it prints, whatever its exit status.
        let echo = Systemctl::new("echo", dir.path());
        assert_eq!(
            echo.is_active("goippy.service"),
            ActiveState::Known("is-active goippy.service".into())
        );
    }

    #[test]
    fn a_failing_step_reports_stderr_and_what_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut report = Report::default();
        let err = Systemctl::new("false", dir.path())
            .apply(
                &[Step::daemon_reload(), Step::enable_now("goippy.service")],
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
            .apply(&[Step::daemon_reload()], &mut report)
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
