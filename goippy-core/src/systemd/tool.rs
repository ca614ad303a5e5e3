//! Running the external programs installation needs (systemctl, useradd)
//! and describing their failures in the operator's terms.
//!
//! A program that is not there is a distinct outcome, not an error string:
//! the commands then print what the operator should run instead of
//! pretending it ran. A program that ran and failed is reported with its
//! exit status and its own stderr, which is where systemctl explains itself.

use std::ffi::{OsStr, OsString};
use std::io;
use std::process::{Command, Output, Stdio};

/// Why running an external program did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{program:?} was not found")]
    NotFound { program: OsString },
    /// It could not be run, or it ran and failed; the text says which, with
    /// the exit status and the program's own stderr.
    #[error("{0}")]
    Failed(String),
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
                ToolError::Failed(format!("cannot run {program:?}: {source}"))
            }
        })
}

/// Runs `program args…`; a non-zero exit is an error carrying its stderr.
pub fn run_checked(program: &OsStr, args: &[&str]) -> Result<Output, ToolError> {
    let output = run_capturing(program, args)?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = match stderr.trim() {
        "" => String::new(),
        stderr => format!(": {stderr}"),
    };
    Err(ToolError::Failed(format!(
        "`{}` failed ({}){said}",
        command_line(program, args),
        output.status
    )))
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
            Err(e @ ToolError::Failed(_)) => {
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
