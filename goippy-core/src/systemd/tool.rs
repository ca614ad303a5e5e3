//! Running the external programs installation needs (systemctl, useradd)
//! and describing their failures in the operator's terms.
//!
//! A program that is not there is a distinct outcome, not an error string:
//! the commands then print what the operator should run instead of
//! pretending it ran. A program that ran and failed is reported with its
//! exit status and its own stderr, which is where systemctl explains itself.

use std::ffi::{OsStr, OsString};
use std::io;
use std::process::{Command, ExitStatus, Output, Stdio};

/// Why running an external program did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{program:?} was not found")]
    NotFound { program: OsString },
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    Failed {
        command: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("cannot run {program:?}: {source}")]
    Io {
        program: OsString,
        #[source]
        source: io::Error,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// Runs `program args…` with no input and captures what it says; a
/// non-zero exit is returned as it is, for callers to whom it is an answer
/// (`systemctl is-active` exits 3 for "inactive").
pub fn run_capturing(program: &OsStr, args: &[&str]) -> Result<Output, ToolError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ToolError::NotFound {
                    program: program.to_os_string(),
                }
            } else {
                ToolError::Io {
                    program: program.to_os_string(),
                    source,
                }
            }
        })
}

/// Runs `program args…`; a non-zero exit is an error carrying its stderr.
pub fn run_checked(program: &OsStr, args: &[&str]) -> Result<Output, ToolError> {
    let output = run_capturing(program, args)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(ToolError::Failed {
            command: command_line(program, args),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// `program arg…` as an operator would type it; arguments with spaces or
/// quotes are single-quoted.
pub fn command_line(program: &OsStr, args: &[&str]) -> String {
    let mut line = shell_word(&program.to_string_lossy());
    for arg in args {
        line.push(' ');
        line.push_str(&shell_word(arg));
    }
    line
}

fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@,=:%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_what_needs_it() {
        assert_eq!(
            command_line(
                OsStr::new("systemctl"),
                &["enable", "--now", "goippy.service"]
            ),
            "systemctl enable --now goippy.service"
        );
        assert_eq!(
            command_line(
                OsStr::new("useradd"),
                &["--comment", "goippy bridge", "it's"]
            ),
            r"useradd --comment 'goippy bridge' 'it'\''s'"
        );
    }

    #[test]
    fn missing_failing_and_succeeding_programs() {
        match run_checked(OsStr::new("/nonexistent/goippy-no-such-tool"), &[]) {
            Err(ToolError::NotFound { program }) => {
                assert_eq!(program, "/nonexistent/goippy-no-such-tool")
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        match run_checked(
            OsStr::new("sh"),
            &["-c", "echo 'Unit x not found.' >&2; exit 5"],
        ) {
            Err(e @ ToolError::Failed { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with("`sh -c "), "{msg}");
                assert!(msg.ends_with(": Unit x not found."), "{msg}");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        let out = run_capturing(OsStr::new("sh"), &["-c", "echo inactive; exit 3"]).expect("ran");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "inactive\n");
    }
}
