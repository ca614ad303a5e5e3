//! Paths that may be written into a unit file as they are.
//!
//! systemd gives meaning to many characters in unit values: whitespace
//! separates words, quotes and backslashes are unescaped, `%` starts a
//! specifier, `$` an environment variable in `ExecStart=`. Rather than an
//! escaping scheme that would have to be right for every directive, goippy
//! accepts only absolute paths made of characters none of them treats
//! specially, and refuses anything else with a message naming the path. Real
//! installations (`/usr/local/bin/goippy`, `/etc/goippy-2508.conf`,
//! `/var/lib/goippy`) never come near the limit.

use std::fmt;
use std::path::{Path, PathBuf};

/// An absolute path that reads the same to systemd as it does to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPath(String);

/// A path goippy will not write into a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {path:?} cannot go into a systemd unit as it is: goippy accepts absolute paths of \
     letters, digits and / . _ - + @ , ~ only"
)]
pub struct UnsafeUnitPath {
    /// What the path is, for the message: "the goippy executable", "DB_FILE's directory".
    pub what: &'static str,
    pub path: PathBuf,
}

impl UnitPath {
    /// Accepts `path` if it is absolute and every character is plain.
    pub fn new(path: &Path, what: &'static str) -> Result<Self, UnsafeUnitPath> {
        let refuse = || UnsafeUnitPath {
            what,
            path: path.to_path_buf(),
        };
        let text = path.to_str().ok_or_else(refuse)?;
        let plain = path.is_absolute()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+@,~".contains(&b));
        if plain {
            Ok(UnitPath(text.to_string()))
        } else {
            Err(refuse())
        }
    }

    #[cfg(test)]
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl fmt::Display for UnitPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_absolute_paths_are_accepted() {
        for ok in [
            "/usr/local/bin/goippy",
            "/etc/goippy-2508.conf",
            "/opt/goippy+1/bin/goippy",
            "/srv/a_b/c.d@e,f~",
        ] {
            let p = UnitPath::new(Path::new(ok), "x").expect(ok);
            assert_eq!(p.to_string(), ok);
            assert_eq!(p.as_path(), Path::new(ok));
        }
    }

    #[test]
    fn anything_systemd_would_reinterpret_is_refused() {
        for bad in [
            "relative/goippy",
            "/opt/my goippy/goippy",
            "/opt/100%/goippy",
            "/opt/$HOME/goippy",
            "/opt/\"q\"/goippy",
            "/opt/a\\b",
            "/opt/a;b",
            "/opt/tab\there",
            "/opt/ä/goippy",
        ] {
            let err = UnitPath::new(Path::new(bad), "the goippy executable").expect_err(bad);
            assert!(
                err.to_string().starts_with("the goippy executable"),
                "{err}"
            );
        }
    }
}
