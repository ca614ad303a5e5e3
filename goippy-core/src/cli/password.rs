//! The GoIP password of `goippy --add`, without putting it on the command
//! line.
//!
//! An argument is visible to every user in `ps` and stays in the shell
//! history. So `--add EXT` and `--add EXT -` read the password instead: on a
//! terminal, typed twice without echo (a typo would lock the channel out
//! until the GoIP and goippy agree again); otherwise the first line of
//! standard input, for scripts (`goippy --add 2001 - < pw.txt`, or from a
//! secret store through a pipe). The password is never printed.

use std::io::{self, BufRead, IsTerminal};

/// The `--add` password value that means "read it".
pub const READ_PASSWORD: &str = "-";

/// The most that is read from standard input: far more than any password
/// the GoIP takes, and the line need not be read to its end.
const MAX_LINE: u64 = 4096;

/// Reads the password for extension `ext`: prompts without echo when
/// standard input is a terminal, else takes its first line.
pub fn read_password(ext: &str) -> io::Result<String> {
    if io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("GoIP password for extension {ext}: "))?;
        if first.is_empty() {
            return Err(io::Error::other("no password typed"));
        }
        let again = rpassword::prompt_password("The same again: ")?;
        if again != first {
            return Err(io::Error::other(
                "the two passwords differ; nothing was saved",
            ));
        }
        return Ok(first);
    }
    first_line(io::stdin().lock())
}

/// The first line of `input`, without its line ending.
fn first_line(input: impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    input.take(MAX_LINE).read_line(&mut line).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read the password from standard input: {e}"),
        )
    })?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(io::Error::other(
            "no password on standard input (give it as its first line, or run on a terminal to be asked)",
        ));
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_without_its_ending() {
        assert_eq!(first_line(&b"s3cret\n"[..]).expect("read"), "s3cret");
        assert_eq!(
            first_line(&b"s3cret\r\nmore\n"[..]).expect("read"),
            "s3cret"
        );
        assert_eq!(first_line(&b"s3cret"[..]).expect("read"), "s3cret");
        // Spaces are kept, for validation to refuse with its own message.
        assert_eq!(first_line(&b" a b \n"[..]).expect("read"), " a b ");
        for empty in [&b""[..], b"\n", b"\r\n"] {
            let e = first_line(empty).expect_err("empty");
            assert!(
                e.to_string().starts_with("no password on standard input"),
                "{e}"
            );
        }
    }
}
