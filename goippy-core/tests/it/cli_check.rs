//! `goippy --sample`, `--check` and `--help` through the real binary: what an
//! operator types first, and the exit codes scripts and `ExecStartPre=` rely on.

use std::path::Path;
use std::process::Output;

use crate::support::cli::goippy;

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
fn the_sample_checks_and_prints_its_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    let out = goippy(&["--sample", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = goippy(&["--check", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "{}: OK, but see the warning above",
            conf.display()
        )),
        "{text}"
    );
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

/// The secret the sample writes is the one the README's Prosody example
/// sets, so a setup copied from both connects; and `--check` says it is a
/// placeholder to replace, in both files.
#[test]
fn the_samples_secret_matches_the_readmes_prosody_and_check_warns_on_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    assert!(goippy(&["--sample", path_str(&conf)]).status.success());
    let quoted_value = |text: &str, key: &str| -> String {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split('"').nth(1))
            .unwrap_or_else(|| panic!("no {key} = \"…\" in\n{text}"))
            .to_string()
    };
    let sample = std::fs::read_to_string(&conf).expect("sample");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let prosody_section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Prosody"))
        .expect("the README's Prosody section");
    assert_eq!(
        quoted_value(&sample, "XMPP_COMPONENT_SECRET"),
        quoted_value(prosody_section, "component_secret")
    );

    let out = goippy(&["--check", path_str(&conf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "warning: {}: XMPP_COMPONENT_SECRET is still the sample's placeholder",
            conf.display()
        )),
        "{text}"
    );
    assert!(text.contains("component_secret"), "{text}");

    // A secret of one's own: no warning.
    std::fs::write(
        &conf,
        sample.replace("= \"change-me\"", "= \"0f3c9a1d77e2b5c4\""),
    )
    .expect("write");
    let text = stdout(&goippy(&["--check", path_str(&conf)]));
    assert!(!text.contains("warning"), "{text}");
    assert!(
        text.contains(&format!("{}: OK\n", conf.display())),
        "{text}"
    );
}

/// A misspelt key is usually why a required one is missing: `--check`
/// names both, not only the error.
#[test]
fn check_keeps_the_unknown_key_warnings_beside_the_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("goippy.conf");
    std::fs::write(
        &conf,
        "XMPP_DOMIAN = \"example.org\"\n\
         XMPP_DATA_DOMAIN = \"sms.example.org\"\n\
         XMPP_COMPONENT_SECRET = \"0f3c9a1d77e2b5c4\"\n\
         GOIP_PROT = 4444\n\
         GOIP_BIND = \"nowhere\"\n",
    )
    .expect("write");
    let out = goippy(&["--check", path_str(&conf)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    for said in [
        "XMPP_DOMAIN: required, but missing",
        "GOIP_BIND: expected ",
        "unknown key XMPP_DOMIAN (ignored); did you mean XMPP_DOMAIN?",
        "unknown key GOIP_PROT (ignored); did you mean GOIP_PORT?",
    ] {
        assert!(err.contains(said), "{said:?} missing from:\n{err}");
    }
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
