//! The README's Prosody configuration requires encryption
//! (`c2s_require_encryption = true`). Without a certificate Prosody starts
//! and every client login fails ("no shared cipher"); with the one the
//! README's commands make, a client logs in over STARTTLS once it accepts
//! the self-signed certificate.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use prosody_test::{Config, Prosody, starttls_login};

const DOMAIN: &str = "example.org";
const WAIT: Duration = Duration::from_secs(10);

/// The README's server, as far as encryption goes: mod_tls, encryption
/// required, hashed passwords, goippy's component.
fn encrypted_config() -> Config {
    Config::new()
        .module("tls")
        .option("c2s_require_encryption", true)
        .option("authentication", "internal_hashed")
        .virtual_host(DOMAIN, |h| h)
        .external_component("sms.example.org")
}

/// `prosodyctl <args>` with our configuration, `answers` on its stdin.
fn prosodyctl(config: &Path, args: &[&str], answers: &str) -> String {
    let mut child = Command::new("prosodyctl")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prosodyctl (Debian package prosody)");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(answers.as_bytes()).expect("answers");
    }
    let out = child.wait_with_output().expect("prosodyctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "prosodyctl {args:?}: {text}");
    text
}

#[test]
fn the_readmes_certificate_commands_make_a_starttls_login_work() {
    let mut prosody = Prosody::new(encrypted_config()).expect("prepare");
    prosody
        .register("alice", DOMAIN, "pw-5e1f")
        .expect("register");
    prosody.start().expect("start");

    // What the operator met: Prosody runs, and nobody can log in.
    let refused = starttls_login(prosody.c2s_addr(), DOMAIN, "alice", "pw-5e1f", WAIT)
        .expect_err("no certificate, no login");
    prosody
        .wait_for_log("no shared cipher", WAIT)
        .unwrap_or_else(|e| panic!("{e}; the login failed with: {refused}"));

    // The README's commands. `prosodyctl cert generate`, run as root,
    // switches to the prosody user and writes into Prosody's data
    // directory; the test server runs as root, so a copy of its
    // configuration points `certificates` at such a directory instead.
    let generated = prosody.dir().join("generated");
    std::fs::create_dir(&generated).expect("mkdir");
    let text = std::fs::read_to_string(prosody.config_path()).expect("config");
    let certs_line = text
        .lines()
        .find(|l| l.starts_with("certificates = "))
        .expect("a certificates line");
    let generate_config = prosody.dir().join("generate.cfg.lua");
    std::fs::write(
        &generate_config,
        text.replace(
            certs_line,
            &format!("certificates = \"{}\"", generated.display()),
        ),
    )
    .expect("write");
    // Enter at every question: the key size, then the certificate's fields.
    prosodyctl(
        &generate_config,
        &["cert", "generate", DOMAIN],
        &"\n".repeat(12),
    );
    assert!(generated.join("example.org.crt").is_file());
    let generated = generated.to_str().expect("utf-8 path");
    let imported = prosodyctl(
        prosody.config_path(),
        &["--root", "cert", "import", generated],
        "",
    );
    assert!(
        imported.contains("Imported certificate and key for hosts example.org"),
        "{imported}"
    );
    prosody.restart().expect("restart");

    let login = starttls_login(prosody.c2s_addr(), DOMAIN, "alice", "pw-5e1f", WAIT)
        .expect("a STARTTLS login with the certificate");
    assert!(login.stream.contains("<success"), "{}", login.stream);
    // What the client must accept: a self-signed certificate for the domain.
    assert!(
        login.handshake.contains("self-signed certificate"),
        "{}",
        login.handshake
    );
    assert!(
        login.handshake.contains("CN = example.org"),
        "{}",
        login.handshake
    );
    prosody
        .wait_for_log("Authenticated as alice@example.org", WAIT)
        .expect("logged in");
}
