//! `goippy --sample`, `--check` and `--help` through the real binary: what an
//! operator types first, and the exit codes scripts and `ExecStartPre=` rely on.

use std::path::Path;
use std::process::{Command, Output};

fn goippy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goippy"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run goippy")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn the_sample_checks_clean_and_prints_its_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    let out = goippy(&["--sample", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = goippy(&["--check", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("{}: OK", conf.display())), "{text}");
    assert!(text.contains("GOIP_PORT"), "{text}");
    let sample = std::fs::read_to_string(&conf).expect("sample");
    let secret_line = sample
        .lines()
        .find(|l| l.starts_with("XMPP_COMPONENT_SECRET"))
        .expect("the sample sets the component secret");
    let secret = secret_line
        .split('"')
        .nth(1)
        .expect("a quoted secret in the sample");
    assert!(!secret.is_empty());
    assert!(
        !text.contains(secret),
        "--check printed the component secret: {text}"
    );
}

#[test]
fn a_bad_value_fails_the_check_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    assert!(goippy(&["--sample", path_str(&conf)]).status.success());
    let sample = std::fs::read_to_string(&conf).expect("sample");
    // Replace the sample's own GOIP_PORT line: a second one would be a
    // duplicate key, a syntax error rather than the bad value under test.
    assert!(sample.lines().any(|l| l.starts_with("GOIP_PORT ")));
    let bad = sample
        .lines()
        .map(|l| {
            if l.starts_with("GOIP_PORT ") {
                "GOIP_PORT = \"abc\""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&conf, bad).expect("write");

    let out = goippy(&["--check", path_str(&conf)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(r#"GOIP_PORT: expected an integer 1–65535, got "abc""#),
        "{err}"
    );
    assert!(err.contains(&conf.display().to_string()), "{err}");
}

/// TLS to MySQL: `--check` reads the CA file a configuration names, and
/// prints the mode a server on another host gets by default.
#[test]
fn db_tls_settings_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    assert!(goippy(&["--sample", path_str(&conf)]).status.success());
    let sample = std::fs::read_to_string(&conf).expect("sample");
    let mysql = |extra: &str| {
        sample.replace(
            "DB_BACKEND             = \"sqlite\"",
            &format!(
                "DB_BACKEND = \"mysql\"\nDB_HOST = \"db.example.org\"\nDB_BASE = \"goippy\"\n\
                 DB_USER = \"goippy\"\nDB_PASS = \"pw\"\n{extra}"
            ),
        )
    };
    std::fs::write(&conf, mysql("")).expect("write");
    let out = goippy(&["--check", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "DB_TLS                 = \"preferred\" (default for a server on another host)\n"
        ),
        "{text}"
    );

    let missing = dir.path().join("no-such-ca.pem");
    std::fs::write(
        &conf,
        mysql(&format!(
            "DB_TLS = \"verify-full\"\nDB_TLS_CA = \"{}\"\n",
            missing.display()
        )),
    )
    .expect("write");
    let out = goippy(&["--check", path_str(&conf)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "DB_TLS_CA: expected a readable PEM file with the server's CA certificate, got \"{}\" \
             (cannot read it: No such file or directory",
            missing.display()
        )),
        "{err}"
    );
    std::fs::write(&conf, mysql("DB_TLS = \"sometimes\"\n")).expect("write");
    let err = stderr(&goippy(&["--check", path_str(&conf)]));
    assert!(
        err.contains("DB_TLS: expected one of \"off\", \"preferred\""),
        "{err}"
    );
}

#[test]
fn a_missing_file_fails_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("nowhere.conf");
    let out = goippy(&["--check", path_str(&conf)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot read the configuration file"), "{err}");
}

#[test]
fn the_sample_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    std::fs::write(&conf, "# mine\n").expect("write");
    // Not an error (installing twice is normal), but said, and nothing written.
    let out = goippy(&["--sample", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("never overwrites"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&conf).expect("read"),
        "# mine\n",
        "--sample overwrote an existing file"
    );
}

#[test]
fn help_lists_what_exists() {
    let out = goippy(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in [
        "--sample",
        "--check",
        "--add",
        "--remove",
        "--listExt",
        "--enable",
        "--disable",
        "--install",
        "--list",
        "--uninstall",
        "--verbose",
        "--quiet",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    let out = goippy(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}
