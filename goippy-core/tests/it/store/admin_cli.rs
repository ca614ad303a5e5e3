//! The gateway admin commands, through the real `goippy` binary, on a
//! SQLite configuration written by `goippy --sample`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use goippy_core::config::DbSettings;
use goippy_core::store::{StateUpdate, Store, Timestamp};
use goippy_testkit::ports::free_tcp_port;

use crate::support::cli::{goippy, show};

const PASSWORD: &str = "s3cret-pw";

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    db_file: PathBuf,
}

/// `goippy --sample` with DB_FILE pointed into a temp dir (not created yet).
fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("goippy.conf");
    let out = goippy(&["--sample", config.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", show(&out));
    let db_file = dir.path().join("var").join("goippy.db");
    let sample = std::fs::read_to_string(&config).expect("sample");
    // And a secret of its own, as an operator sets (the placeholder is
    // warned about on every run).
    let edited = sample
        .replace(
            "DB_FILE                = \"/var/lib/goippy/goippy.db\"",
            &format!("DB_FILE = \"{}\"", db_file.display()),
        )
        .replace(
            "XMPP_COMPONENT_SECRET  = \"change-me\"",
            "XMPP_COMPONENT_SECRET  = \"0f3c9a1d77e2b5c4\"",
        );
    assert_ne!(sample, edited, "the sample has a DB_FILE line");
    std::fs::write(&config, edited).expect("write config");
    Setup {
        _dir: dir,
        config,
        db_file,
    }
}

fn admin(setup: &Setup, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.push("-c");
    all.push(setup.config.to_str().expect("utf-8 path"));
    goippy(&all)
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.contains(PASSWORD), "{stdout}");
    stdout
}

fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.starts_with("goippy: "), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    stderr
}

/// The column where `header` starts on the first line, and the cell there on each row.
fn column(table: &str, header: &str) -> Vec<String> {
    let mut lines = table.lines();
    let first = lines.next().expect("header line");
    let start = first.find(header).expect("column");
    lines
        .map(|l| {
            l.get(start..)
                .unwrap_or_default()
                .split("  ")
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn add_list_disable_enable_remove() {
    let s = setup();
    let out = ok(admin(&s, &["--listExt"]));
    assert!(out.starts_with("no gateways defined"), "{out}");
    assert!(
        s.db_file.exists(),
        "the database and its directory are created"
    );

    let out = ok(admin(&s, &["--add", "2001", PASSWORD]));
    assert!(
        out.starts_with(
            "added extension 2001: goip_id goippy_2001, channel -, destinations any, enabled\n\
             On the GoIP, give this channel SMS Client ID goippy_2001 "
        ),
        "{out}"
    );
    let out = ok(admin(
        &s,
        &[
            "--add",
            "2001",
            PASSWORD,
            "-",
            r"\+372\d+",
            "--goip-id",
            "gw1_ch1",
        ],
    ));
    assert!(
        out.starts_with(
            r"updated extension 2001: goip_id gw1_ch1, channel -, destinations matching \+372\d+, enabled"
        ),
        "{out}"
    );
    ok(admin(&s, &["--add", "10", PASSWORD, "-"]));
    ok(admin(&s, &["--disable", "10"]));
    // The original form: the third value is the GoIP line, the goip_id stays goippy_<ext>.
    let out = ok(admin(&s, &["--add", "2508", PASSWORD, "1"]));
    assert!(
        out.starts_with(
            "added extension 2508: goip_id goippy_2508, channel 1, destinations any, enabled\n\
             On the GoIP, give channel 1 (CH1) SMS Client ID goippy_2508 "
        ),
        "{out}"
    );

    let table = ok(admin(&s, &["--listExt"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("EXT   LINE  GOIP_ID") && lines[0].ends_with("LAST SEEN"),
        "{table}"
    );
    assert_eq!(column(&table, "EXT"), ["10", "2001", "2508"]);
    assert_eq!(
        column(&table, "GOIP_ID"),
        ["goippy_10", "gw1_ch1", "goippy_2508"]
    );
    assert_eq!(column(&table, "CHANNEL"), ["-", "-", "1"]);
    assert_eq!(column(&table, "ENABLED"), ["no", "yes", "yes"]);
    assert_eq!(column(&table, "ALLOW_REGEX"), ["-", r"\+372\d+", "-"]);
    assert_eq!(column(&table, "LAST SEEN"), ["never", "never", "never"]);
    // The original spelling works too.
    assert_eq!(ok(admin(&s, &["--list-ext"])), table);

    ok(admin(&s, &["--enable", "10"]));
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "ENABLED"), ["yes", "yes", "yes"]);

    let out = ok(admin(&s, &["--remove", "10"]));
    assert!(
        out.starts_with("removed extension 10 (goip_id goippy_10)"),
        "{out}"
    );
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "EXT"), ["2001", "2508"]);
}

#[test]
fn add_writes_the_whole_definition() {
    let s = setup();
    ok(admin(
        &s,
        &["--add", "2001", PASSWORD, "7", ".*", "--goip-id", "gw1_ch7"],
    ));
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "GOIP_ID"), ["gw1_ch7"]);
    assert_eq!(column(&table, "CHANNEL"), ["7"]);
    assert_eq!(column(&table, "ALLOW_REGEX"), [".*"]);
    // A new channel and goip_id, the regex kept by giving it again.
    let out = ok(admin(
        &s,
        &["--add", "2001", PASSWORD, "8", ".*", "--goip-id", "gw1_ch8"],
    ));
    assert!(
        out.starts_with(
            "updated extension 2001: goip_id gw1_ch8, channel 8, destinations matching .*, enabled"
        ),
        "{out}"
    );
    // What an update is not given gets its default, as on creation.
    let out = ok(admin(&s, &["--add", "2001", PASSWORD]));
    assert!(
        out.starts_with(
            "updated extension 2001: goip_id goippy_2001, channel -, destinations any, enabled"
        ),
        "{out}"
    );
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "GOIP_ID"), ["goippy_2001"]);
    assert_eq!(column(&table, "CHANNEL"), ["-"]);
    assert_eq!(column(&table, "ALLOW_REGEX"), ["-"]);
}

#[test]
fn errors_are_clear_and_exit_non_zero() {
    let s = setup();
    ok(admin(&s, &["--add", "2001", PASSWORD, "--goip-id", "gw1"]));
    let err = fails(admin(&s, &["--add", "2002", PASSWORD, "--goip-id", "gw1"]));
    assert_eq!(
        err.trim_end(),
        "goippy: goip_id \"gw1\" is already used by extension \"2001\""
    );
    // A goip_id where the channel goes is refused, not stored as a line number.
    let err = fails(admin(&s, &["--add", "2002", PASSWORD, "gw1"]));
    assert_eq!(
        err.trim_end(),
        "goippy: invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got \"gw1\" \
         (a custom SMS Client ID is given with --goip-id gw1)"
    );
    for bad in ["0", "1000"] {
        let err = fails(admin(&s, &["--add", "2002", PASSWORD, bad]));
        assert_eq!(
            err.trim_end(),
            format!(
                "goippy: invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got {bad:?}"
            )
        );
    }
    let err = fails(admin(&s, &["--add", "2002", PASSWORD, "--goip-id", "a;b"]));
    assert!(err.starts_with("goippy: invalid goip_id"), "{err}");
    let err = fails(admin(&s, &["--add", "2003", PASSWORD, "-", "(+372"]));
    assert!(
        err.starts_with("goippy: invalid allow_regex \"(+372\": regex parse error"),
        "{err}"
    );
    let err = fails(admin(&s, &["--add", "20 03", PASSWORD]));
    assert!(err.starts_with("goippy: invalid extension"), "{err}");
    let err = fails(admin(&s, &["--add", "2003", "pass;word"]));
    assert!(err.starts_with("goippy: invalid password"), "{err}");
    assert!(!err.contains("pass;word"), "{err}");
    for cmd in ["--remove", "--enable", "--disable"] {
        let err = fails(admin(&s, &[cmd, "9999"]));
        assert_eq!(err.trim_end(), "goippy: unknown extension \"9999\"");
    }
    // Nothing above changed the database.
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "EXT"), ["2001"]);

    let err = fails(goippy(&["--listExt", "-c", "/nonexistent/goippy.conf"]));
    assert!(err.contains("/nonexistent/goippy.conf"), "{err}");
}

#[test]
fn unreachable_mysql_is_named_without_the_password() {
    let s = setup();
    let port = free_tcp_port();
    let sample = std::fs::read_to_string(&s.config).expect("config");
    let mysql = sample.replace(
        "DB_BACKEND             = \"sqlite\"",
        &format!(
            "DB_BACKEND = \"mysql\"\nDB_HOST = \"127.0.0.1\"\nDB_PORT = {port}\nDB_BASE = \"goippy_live\"\nDB_USER = \"gwadmin\"\nDB_PASS = \"{PASSWORD}\""
        ),
    );
    std::fs::write(&s.config, mysql).expect("write");
    let err = fails(admin(&s, &["--listExt"]));
    assert!(
        err.starts_with(&format!(
            "goippy: cannot connect to the MySQL/MariaDB server at 127.0.0.1:{port} (database \"goippy_live\", user \"gwadmin\"): "
        )),
        "{err}"
    );
}

#[tokio::test]
async fn list_shows_numbers_and_last_seen() {
    let s = setup();
    ok(admin(&s, &["--add", "2001", PASSWORD]));
    let store = Store::open(&DbSettings::Sqlite {
        file: s.db_file.clone(),
    })
    .await
    .expect("open");
    let mut update = StateUpdate::new("goippy_2001", Timestamp::now());
    update.msisdn = Some("+37255512345".into());
    store.record_keepalive(update);
    store.close().await.expect("close");
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(column(&table, "MSISDN"), ["+37255512345"]);
    let seen = column(&table, "LAST SEEN");
    // "2026-05-07 10:00:00 UTC (3s ago)"
    assert!(
        seen[0].len() == "2026-05-07 10:00:00 UTC".len() + " (3s ago)".len()
            && seen[0].ends_with("s ago)"),
        "{table}"
    );
}

/// `goippy ARGS -c CONFIG` with `input` on its standard input.
fn admin_with_stdin(setup: &Setup, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_goippy"))
        .args(args)
        .arg("-c")
        .arg(&setup.config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run goippy");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for goippy")
}

/// The stored password of every gateway, by extension.
async fn stored_passwords(setup: &Setup) -> Vec<(String, String)> {
    let store = Store::open(&DbSettings::Sqlite {
        file: setup.db_file.clone(),
    })
    .await
    .expect("open");
    let gateways = store.list_gateways().await.expect("list");
    store.close().await.expect("close");
    gateways
        .into_iter()
        .map(|g| (g.ext.unwrap_or_default(), g.password.expose().to_string()))
        .collect()
}

/// The password need not be an argument, where `ps` and the shell history
/// would show it: `-` or nothing reads it from standard input.
#[tokio::test]
async fn add_reads_the_password_from_stdin() {
    let s = setup();
    ok(admin_with_stdin(
        &s,
        &["--add", "2001", "-", "1"],
        &format!("{PASSWORD}\n"),
    ));
    ok(admin_with_stdin(
        &s,
        &["--add", "2002"],
        &format!("{PASSWORD}\r\n"),
    ));
    // The documented argument form keeps working.
    ok(admin(&s, &["--add", "2003", "other-pw"]));
    assert_eq!(
        stored_passwords(&s).await,
        [
            ("2001".to_string(), PASSWORD.to_string()),
            ("2002".to_string(), PASSWORD.to_string()),
            ("2003".to_string(), "other-pw".to_string()),
        ]
    );
    let err = fails(admin_with_stdin(&s, &["--add", "2004", "-"], ""));
    assert_eq!(
        err.trim_end(),
        "goippy: no password on standard input (give it as its first line, or run on a terminal to be asked)"
    );
    // What the GoIP cannot carry is refused, without echoing it.
    let err = fails(admin_with_stdin(&s, &["--add", "2004"], "pass word\n"));
    assert!(err.starts_with("goippy: invalid password"), "{err}");
    assert!(!err.contains("pass word"), "{err}");
    assert_eq!(stored_passwords(&s).await.len(), 3);
}

/// On a terminal, the password is asked for twice and never echoed. The
/// terminal is a real pseudo-terminal, made by util-linux's `script`.
#[tokio::test]
async fn add_asks_for_the_password_on_a_terminal_without_echo() {
    let s = setup();
    let typed = |second: &str| {
        let command = format!(
            "{} --add 2001 -c {}",
            env!("CARGO_BIN_EXE_goippy"),
            s.config.display()
        );
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run script (util-linux)");
        let mut keyboard = child.stdin.take().expect("stdin");
        let mut screen = child.stdout.take().expect("stdout");
        // Type only once asked and echo is off (the prompt comes just
        // before), so whatever appears on the screen is what goippy
        // printed, not the terminal's echo.
        let mut seen = wait_for(&mut screen, "GoIP password for extension 2001: ");
        wait_until_echo_is_off(child.id());
        keyboard
            .write_all(format!("{PASSWORD}\r").as_bytes())
            .expect("type");
        seen.push_str(&wait_for(&mut screen, "The same again: "));
        wait_until_echo_is_off(child.id());
        keyboard
            .write_all(format!("{second}\r").as_bytes())
            .expect("type");
        let mut rest = String::new();
        screen.read_to_string(&mut rest).expect("read the screen");
        seen.push_str(&rest);
        drop(keyboard);
        let status = child.wait().expect("wait");
        (status, seen)
    };
    let (status, screen) = typed(PASSWORD);
    assert!(status.success(), "{screen}");
    assert!(screen.contains("added extension 2001"), "{screen}");
    assert!(!screen.contains(PASSWORD), "echoed: {screen}");
    assert_eq!(
        stored_passwords(&s).await,
        [("2001".to_string(), PASSWORD.to_string())]
    );
    // A typo in the second entry saves nothing.
    let (status, screen) = typed("s3cret-pX");
    assert!(!status.success(), "{screen}");
    assert!(
        screen.contains("goippy: the two passwords differ; nothing was saved"),
        "{screen}"
    );
    assert!(!screen.contains("s3cret-p"), "echoed: {screen}");
}

/// Waits until the terminal of the goippy that `script` (PID `script`)
/// runs no longer echoes what is typed.
fn wait_until_echo_is_off(script: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let tty = descendants(script).into_iter().find_map(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            if exe != std::path::Path::new(env!("CARGO_BIN_EXE_goippy")) {
                return None;
            }
            std::fs::read_link(format!("/proc/{pid}/fd/0")).ok()
        });
        if let Some(tty) = tty {
            let settings = Command::new("stty")
                .arg("-a")
                .arg("-F")
                .arg(&tty)
                .output()
                .expect("run stty");
            let settings = String::from_utf8_lossy(&settings.stdout);
            if settings.split_whitespace().any(|flag| flag == "-echo") {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "goippy never turned echo off"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The PIDs below `pid` in the process tree.
fn descendants(pid: u32) -> Vec<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut all = Vec::new();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        all.push(child);
        all.extend(descendants(child));
    }
    all
}

/// Reads `from` until `text` has appeared; returns all that was read.
fn wait_for(from: &mut impl Read, text: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains(text) {
        match from.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!(
                "{text:?} never appeared; the screen showed:\n{}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// `--add` shows what the allow_regex means on a few numbers: the original
/// goippy's `^\+3712` (searched) allows numbers beginning with +3712.
#[test]
fn add_shows_which_sample_numbers_the_allow_regex_allows() {
    let s = setup();
    let out = ok(admin(&s, &["--add", "2001", PASSWORD, "1", r"^\+3712"]));
    assert!(
        out.contains(
            "The allow_regex ^\\+3712 is searched in each number, as grep does: anchor it where\n\
             it must match (^ at the start, $ at the end; ^(…)$ for exactly these numbers).\n\
             Sample numbers:\n  \
             +37120000001    allowed\n  \
             +37255512345    refused\n  \
             +4915112345678  refused\n"
        ),
        "{out}"
    );
    // A pattern anchored nowhere is found anywhere in the number, as grep
    // finds it; the samples show it.
    let out = ok(admin(&s, &["--add", "2001", PASSWORD, "1", "372"]));
    assert!(out.contains("\n  +37255512345    allowed\n"), "{out}");
    assert!(out.contains("\n  +4915112345678  refused\n"), "{out}");
    // No allow_regex: nothing to show.
    let out = ok(admin(&s, &["--add", "2001", PASSWORD]));
    assert!(!out.contains("Sample numbers"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_pools_through_the_cli() {
    let s = setup();
    ok(admin(&s, &["--add", "2001", PASSWORD]));
    ok(admin(&s, &["--add", "2002", PASSWORD]));
    // A new line: its password read from standard input, as --add reads it.
    let out = ok(admin_with_stdin(
        &s,
        &["--add-line", "2001", "pool_a", "-", "2"],
        "pool-pw\n",
    ));
    assert!(
        out.starts_with(
            "added line pool_a (channel 2, destinations any) for extension 2001 as its line 2\n"
        ),
        "{out}"
    );
    // Sharing an existing line reads nothing and takes no password.
    let out = ok(admin_with_stdin(&s, &["--add-line", "2002", "pool_a"], ""));
    assert!(
        out.starts_with(
            "extension 2002 now shares line pool_a as its line 2; its users: 2001, 2002\n"
        ),
        "{out}"
    );
    let err = fails(admin(&s, &["--add-line", "2002", "goippy_2001", PASSWORD]));
    assert!(err.contains("exists already"), "{err}");
    let err = fails(admin(&s, &["--add-line", "2002", "goippy_2001", "-", "3"]));
    assert!(err.contains("to share it give only the extension"), "{err}");
    let err = fails(admin(&s, &["--remove-line", "2001", "goippy_2001"]));
    assert!(err.contains("goippy --remove 2001"), "{err}");

    let out = ok(admin(&s, &["--daily-limit", "pool_a", "100"]));
    assert!(out.contains("may send 100 SMS per day (UTC)"), "{out}");
    let err = fails(admin(&s, &["--daily-limit", "pool_a", "lots"]));
    assert!(err.contains("invalid daily limit"), "{err}");
    let err = fails(admin(&s, &["--daily-limit", "nope", "1"]));
    assert!(err.contains("unknown line \"nope\""), "{err}");
    ok(admin(&s, &["--failover", "2001", "on"]));
    let err = fails(admin(&s, &["--failover", "2001", "maybe"]));
    assert!(err.contains("expected on or off"), "{err}");

    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(
        column(&table, "EXT"),
        ["2001", "2001", "2002", "2002"],
        "{table}"
    );
    assert_eq!(column(&table, "LINE"), ["1", "2", "1", "2"], "{table}");
    assert_eq!(
        column(&table, "GOIP_ID"),
        ["goippy_2001", "pool_a", "goippy_2002", "pool_a"],
        "{table}"
    );
    assert_eq!(
        column(&table, "DAILY_LIMIT"),
        ["-", "100", "-", "100"],
        "{table}"
    );
    assert_eq!(column(&table, "TODAY"), ["0", "0", "0", "0"], "{table}");

    let out = ok(admin(&s, &["--remove-line", "2002", "pool_a"]));
    assert!(
        out.starts_with("extension 2002 no longer uses line pool_a.\n"),
        "{out}"
    );
    let out = ok(admin(&s, &["--remove-line", "2001", "pool_a"]));
    assert!(
        out.contains("it was its last user, so the line is removed"),
        "{out}"
    );
    let table = ok(admin(&s, &["--listExt"]));
    assert_eq!(
        column(&table, "GOIP_ID"),
        ["goippy_2001", "goippy_2002"],
        "{table}"
    );
}
