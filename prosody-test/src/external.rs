//! Running the scenarios against a Prosody someone else started — a
//! Prosody container in a user's CI, say — instead of a throwaway one.
//!
//! Everything the harness needs to know is given in environment variables
//! (see [`ExternalProsody::from_env`] and prosody-test/README.md):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PROSODY_TEST_EXTERNAL` | host name or address of the server (turns the mode on) | — |
//! | `PROSODY_TEST_C2S_PORT` | its client port (plain TCP, PLAIN auth allowed) | 5222 |
//! | `PROSODY_TEST_COMPONENT_PORT` | its component port | 5347 |
//! | `PROSODY_TEST_DOMAIN` | the `VirtualHost` with mod_sms_alias | `example.org` |
//! | `PROSODY_TEST_COMPONENT` | the `Component` goippy connects as | `sms.` + domain |
//! | `PROSODY_TEST_COMPONENT_SECRET` | its `component_secret` | required |
//! | `PROSODY_TEST_REGISTER` | a command creating a user: `{user}`, `{domain}`, `{password}` are replaced (shell-quoted) and it runs under `sh -c` | — |
//! | `PROSODY_TEST_USERS` | or: accounts that exist already, `user=password,…` | — |
//!
//! The scenarios share the one component: only one goippy may be connected
//! at a time, so each scenario holds an exclusive lock file for the server
//! while it runs ([`ExternalProsody::lock`]); scenarios of parallel test
//! threads and binaries queue up instead of kicking each other off.

use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Command, Stdio};

use crate::Result;

/// How the harness gets its XMPP accounts on an external server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// A command template run once per account (`PROSODY_TEST_REGISTER`).
    Register(String),
    /// Accounts that exist already (`PROSODY_TEST_USERS`), as (user, password).
    Existing(Vec<(String, String)>),
}

/// An already-running Prosody (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProsody {
    pub host: String,
    pub c2s_port: u16,
    pub component_port: u16,
    /// The users' domain (mod_sms_alias is loaded there).
    pub domain: String,
    /// goippy's component domain.
    pub component: String,
    pub component_secret: String,
    pub accounts: Accounts,
}

/// The variable that turns external mode on.
pub const EXTERNAL_VAR: &str = "PROSODY_TEST_EXTERNAL";

impl ExternalProsody {
    /// The server described by the `PROSODY_TEST_*` environment; `None` when
    /// `PROSODY_TEST_EXTERNAL` is unset or empty.
    pub fn from_env() -> Result<Option<ExternalProsody>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`ExternalProsody::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<ExternalProsody>> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(host) = get(EXTERNAL_VAR) else {
            return Ok(None);
        };
        let port = |name: &str, default: u16| -> Result<u16> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{name}: expected a port number, got {v:?}").into()),
            }
        };
        let domain = get("PROSODY_TEST_DOMAIN").unwrap_or_else(|| "example.org".into());
        let component = get("PROSODY_TEST_COMPONENT").unwrap_or_else(|| format!("sms.{domain}"));
        let component_secret = get("PROSODY_TEST_COMPONENT_SECRET")
            .ok_or("PROSODY_TEST_COMPONENT_SECRET: required with PROSODY_TEST_EXTERNAL")?;
        let accounts = match (get("PROSODY_TEST_REGISTER"), get("PROSODY_TEST_USERS")) {
            (Some(template), None) => {
                if !template.contains("{user}") || !template.contains("{password}") {
                    return Err(
                        "PROSODY_TEST_REGISTER: the command needs {user} and {password} \
                         (and usually {domain})"
                            .into(),
                    );
                }
                Accounts::Register(template)
            }
            (None, Some(list)) => Accounts::Existing(parse_users(&list)?),
            (Some(_), Some(_)) => {
                return Err("set PROSODY_TEST_REGISTER or PROSODY_TEST_USERS, not both".into());
            }
            (None, None) => {
                return Err(
                    "PROSODY_TEST_EXTERNAL needs PROSODY_TEST_REGISTER (a command that \
                     creates users) or PROSODY_TEST_USERS (user=password,…)"
                        .into(),
                );
            }
        };
        Ok(Some(ExternalProsody {
            c2s_port: port("PROSODY_TEST_C2S_PORT", 5222)?,
            component_port: port("PROSODY_TEST_COMPONENT_PORT", 5347)?,
            host,
            domain,
            component,
            component_secret,
            accounts,
        }))
    }

    /// The client port's address.
    pub fn c2s_addr(&self) -> Result<SocketAddr> {
        (self.host.as_str(), self.c2s_port)
            .to_socket_addrs()
            .map_err(|e| format!("{EXTERNAL_VAR}={}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{EXTERNAL_VAR}={}: no address", self.host).into())
    }

    /// Makes sure `user@domain` exists with `password`: runs the register
    /// command, or checks the list of existing accounts (and returns the
    /// password given there, which wins over `password`).
    pub fn ensure_account(&self, user: &str, domain: &str, password: &str) -> Result<String> {
        match &self.accounts {
            Accounts::Register(template) => {
                let command = template
                    .replace("{user}", &shell_quote(user))
                    .replace("{domain}", &shell_quote(domain))
                    .replace("{password}", &shell_quote(password));
                run_shell("PROSODY_TEST_REGISTER", &command)?;
                Ok(password.to_string())
            }
            Accounts::Existing(users) => users
                .iter()
                .find(|(u, _)| u == user)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| {
                    format!(
                        "PROSODY_TEST_USERS has no account {user:?}; this scenario needs it \
                         (on {domain})"
                    )
                    .into()
                }),
        }
    }

    /// Takes the exclusive lock of this server's component (see the module
    /// docs); held until the returned file is dropped.
    pub fn lock(&self) -> Result<File> {
        let safe: String = format!("{}-{}-{}", self.host, self.component_port, self.component)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = std::env::temp_dir().join(format!("prosody-test-external-{safe}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
        Ok(file)
    }
}

fn parse_users(list: &str) -> Result<Vec<(String, String)>> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(u, p)| (u.trim().to_string(), p.to_string()))
                .filter(|(u, p)| !u.is_empty() && !p.is_empty())
                .ok_or_else(|| {
                    format!("PROSODY_TEST_USERS: expected user=password, got {entry:?}").into()
                })
        })
        .collect()
}

/// A word for `sh`, in single quotes.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn run_shell(what: &str, command: &str) -> Result<()> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: `{command}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Option<ExternalProsody>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExternalProsody::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn off_unless_named() {
        assert_eq!(from(&[]).expect("ok"), None);
        assert_eq!(from(&[(EXTERNAL_VAR, " ")]).expect("ok"), None);
    }

    #[test]
    fn reads_a_complete_description() {
        let p = from(&[
            (EXTERNAL_VAR, "prosody.ci"),
            ("PROSODY_TEST_C2S_PORT", "15222"),
            ("PROSODY_TEST_COMPONENT_SECRET", "x"),
            ("PROSODY_TEST_DOMAIN", "chat.test"),
            ("PROSODY_TEST_USERS", "2001=a, 2002=b=c"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(
            (p.host.as_str(), p.c2s_port, p.component_port),
            ("prosody.ci", 15222, 5347)
        );
        assert_eq!(p.component, "sms.chat.test");
        assert_eq!(
            p.accounts,
            Accounts::Existing(vec![
                ("2001".into(), "a".into()),
                ("2002".into(), "b=c".into())
            ])
        );
        assert_eq!(
            p.ensure_account("2002", "chat.test", "ignored")
                .expect("listed"),
            "b=c"
        );
        assert!(p.ensure_account("2003", "chat.test", "pw").is_err());
    }

    #[test]
    fn refuses_incomplete_descriptions() {
        let base = [(EXTERNAL_VAR, "h"), ("PROSODY_TEST_COMPONENT_SECRET", "x")];
        assert!(from(&base).is_err(), "no way to get accounts");
        assert!(
            from(&[(EXTERNAL_VAR, "h"), ("PROSODY_TEST_USERS", "a=b")]).is_err(),
            "no secret"
        );
        let mut bad_port = base.to_vec();
        bad_port.extend([
            ("PROSODY_TEST_USERS", "a=b"),
            ("PROSODY_TEST_C2S_PORT", "http"),
        ]);
        assert!(from(&bad_port).is_err());
        let mut bad_template = base.to_vec();
        bad_template.push(("PROSODY_TEST_REGISTER", "prosodyctl register"));
        assert!(from(&bad_template).is_err());
    }

    #[test]
    fn register_commands_get_quoted_words() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        let p = ExternalProsody {
            host: "h".into(),
            c2s_port: 1,
            component_port: 2,
            domain: "d".into(),
            component: "sms.d".into(),
            component_secret: "s".into(),
            accounts: Accounts::Register(format!(
                "printf '%s|%s|%s' {{user}} {{domain}} {{password}} > {}",
                shell_quote(&out.display().to_string())
            )),
        };
        p.ensure_account("2001", "d", "it's; $(x)").expect("runs");
        assert_eq!(
            std::fs::read_to_string(&out).expect("written"),
            "2001|d|it's; $(x)"
        );
    }
}
