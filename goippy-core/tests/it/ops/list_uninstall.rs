//! `goippy --list` and `goippy --uninstall` through the real binary, in a
//! temporary root with a fake systemctl (see `support::ops`).

use std::path::PathBuf;

use crate::support::ops::*;

/// The main instance and instance 2508 (port 44445, sms2.example.org).
fn two_instances(root: &Root) -> (PathBuf, PathBuf) {
    let main = root.main_config(&[]);
    ok(root.goippy(&["--install"]));
    let instance = root.instance_2508_config(
        &main,
        &[(
            "DB_FILE                = \"/var/lib/goippy/goippy.db\"",
            "DB_FILE = \"/var/lib/goippy/goippy-2508.db\"",
        )],
    );
    ok(root.goippy(&["--install", "2508"]));
    (main, instance)
}

/// Splits a table row into its cells, checking that each cell starts in
/// the column of its header.
fn cells<'a>(header: &str, row: &'a str) -> Vec<&'a str> {
    let starts: Vec<usize> = ["INSTANCE", "UNIT", "ACTIVE", "CONFIG ", "CONFIG STATUS"]
        .iter()
        .map(|h| header.find(h).expect("header column"))
        .collect();
    let mut out = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(row.len());
        let cell = row
            .get(*start..end.min(row.len()))
            .expect("aligned")
            .trim_end();
        // The cell starts right at its column, with two spaces before the next.
        assert!(!cell.starts_with(' '), "{row:?} column {i}");
        out.push(cell);
    }
    out
}

#[test]
fn list_shows_each_instance_its_state_and_its_config_status() {
    let root = Root::new();
    let out = ok(root.goippy(&["--list"]));
    assert_eq!(
        out,
        format!(
            "no goippy instances are installed in {}; install one with `goippy --install` or `goippy --install <name>`\n",
            root.units.display()
        )
    );

    let (main, instance) = two_instances(&root);
    // A third instance whose configuration broke after it was installed.
    let broken = root.etc.join("goippy-site_b.conf");
    std::fs::copy(&main, &broken).expect("copy");
    let [data, jid] = component("b.example.org");
    edit(
        &broken,
        &[
            (SAMPLE_PORT, "GOIP_PORT = 44446"),
            (&data.0, &data.1),
            (&jid.0, &jid.1),
            (
                "DB_FILE                = \"/var/lib/goippy/goippy.db\"",
                "DB_FILE = \"/var/lib/goippy/b.db\"",
            ),
        ],
    );
    ok(root.goippy(&["--install", "site_b"]));
    edit(
        &broken,
        &[
            ("GOIP_PORT = 44446", "GOIP_PORT = 0"),
            ("LOG_DAYS               = 3", "LOG_DAYS = -1"),
        ],
    );
    root.set_active("goippy.service", "active");
    root.set_active("goippy-2508.service", "failed");

    let out = ok(root.goippy(&["--list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header = lines[0];
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["INSTANCE", "UNIT", "ACTIVE", "CONFIG", "CONFIG", "STATUS"]
    );
    assert_eq!(
        cells(header, lines[1]),
        [
            "default",
            "goippy.service",
            "active",
            &main.display().to_string(),
            "ok"
        ]
    );
    assert_eq!(
        cells(header, lines[2]),
        [
            "2508",
            "goippy-2508.service",
            "failed",
            &instance.display().to_string(),
            "ok"
        ]
    );
    assert_eq!(
        cells(header, lines[3]),
        [
            "site_b",
            "goippy-site_b.service",
            "inactive",
            &broken.display().to_string(),
            &format!(
                "GOIP_PORT: expected an integer 1–65535, got 0 (and 1 more: goippy --check {})",
                broken.display()
            )
        ]
    );
    let is_active: Vec<String> = root
        .systemctl_calls()
        .into_iter()
        .filter(|c| c.starts_with("is-active"))
        .collect();
    assert_eq!(
        is_active,
        [
            "is-active goippy.service",
            "is-active goippy-2508.service",
            "is-active goippy-site_b.service"
        ]
    );
}

#[test]
fn list_warns_about_collisions_made_after_install_and_names_foreign_units() {
    let root = Root::new();
    let (main, instance) = two_instances(&root);
    edit(&instance, &[("GOIP_PORT = 44445", SAMPLE_PORT)]);
    let hand = root.units.join("goippy-hand.service");
    std::fs::write(&hand, "[Service]\nExecStart=/bin/true\n").expect("write");
    let out = ok(root.goippy(&["--list"]));
    assert!(
        out.contains(&format!(
            "\nwarning: GOIP_PORT = 44444 in {} (instance default) collides with {} (instance 2508, goippy-2508.service)",
            main.display(),
            instance.display()
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "left alone: {}: it has no \"goippy-instance:\" marker, so goippy did not write it\n",
            hand.display()
        )),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("hand")).count(),
        1,
        "{out}"
    );
}

#[test]
fn uninstall_a_named_instance_removes_its_unit_and_config() {
    let root = Root::new();
    let (main, instance) = two_instances(&root);
    let wants = root.units.join("multi-user.target.wants");
    std::fs::create_dir(&wants).expect("mkdir");
    // What `systemctl enable` would have left, had the fake made it.
    std::os::unix::fs::symlink(
        root.units.join("goippy-2508.service"),
        wants.join("goippy-2508.service"),
    )
    .expect("link");
    std::os::unix::fs::symlink(
        root.units.join("goippy.service"),
        wants.join("goippy.service"),
    )
    .expect("link");
    let calls_before = root.systemctl_calls().len();

    let out = ok(root.goippy(&["--uninstall", "2508"]));
    let unit = root.units.join("goippy-2508.service");
    assert_eq!(
        out,
        format!(
            "ran systemctl disable --now goippy-2508.service\n\
             removed {link} (an enable link)\n\
             removed {unit}\n\
             ran systemctl daemon-reload\n\
             removed {config} (the configuration of instance 2508)\n\
             kept the database /var/lib/goippy/goippy-2508.db (delete it yourself if its history is no longer needed)\n\
             uninstalled instance 2508 (goippy-2508.service)\n",
            link = wants.join("goippy-2508.service").display(),
            unit = unit.display(),
            config = instance.display(),
        )
    );
    assert_eq!(
        root.systemctl_calls()[calls_before..],
        ["disable --now goippy-2508.service", "daemon-reload"]
    );
    assert!(!unit.exists());
    assert!(!instance.exists());
    // The main instance is untouched.
    assert!(main.exists());
    assert!(root.units.join("goippy.service").exists());
    assert!(wants.join("goippy.service").is_symlink());

    // Again: not installed.
    let (stdout, stderr) = fails(root.goippy(&["--uninstall", "2508"]));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "goippy: instance 2508 is not installed ({} does not exist); `goippy --list` shows what is\n",
            unit.display()
        )
    );
}

#[test]
fn uninstall_default_keeps_the_main_config() {
    let root = Root::new();
    let main = root.main_config(&[]);
    ok(root.goippy(&["--install"]));
    let before = std::fs::read_to_string(&main).expect("read");
    let out = ok(root.goippy(&["--uninstall", "default"]));
    let unit = root.units.join("goippy.service");
    assert_eq!(
        out,
        format!(
            "ran systemctl disable --now goippy.service\n\
             removed {unit}\n\
             ran systemctl daemon-reload\n\
             kept {main} (the main configuration; `goippy --install` uses it again)\n\
             kept the database /var/lib/goippy/goippy.db (delete it yourself if its history is no longer needed)\n\
             uninstalled instance default (goippy.service)\n",
            unit = unit.display(),
            main = main.display(),
        )
    );
    assert!(!unit.exists());
    assert_eq!(std::fs::read_to_string(&main).expect("read"), before);
}

#[test]
fn foreign_units_are_never_touched() {
    let root = Root::new();
    root.main_config(&[]);
    let hand = "[Unit]\nDescription=someone else's\n[Service]\nExecStart=/bin/true\n";
    let files = ["goippy.service", "goippy-7.service", "goippy@.service"];
    for f in files {
        std::fs::write(root.units.join(f), hand).expect("write");
    }
    std::os::unix::fs::symlink("/dev/null", root.units.join("goippy-masked.service"))
        .expect("link");
    let config_7 = root.etc.join("goippy-7.conf");
    std::fs::write(&config_7, "mine").expect("write");

    for name in ["default", "7", "masked"] {
        let (_, stderr) = fails(root.goippy(&["--uninstall", name]));
        assert!(stderr.contains("was not written by goippy"), "{stderr}");
        assert!(stderr.ends_with("goippy leaves it alone\n"), "{stderr}");
    }
    let (_, stderr) = fails(root.goippy(&["--install", "7"]));
    assert!(stderr.contains("was not written by goippy"), "{stderr}");
    let out = ok(root.goippy(&["--list"]));
    assert!(
        out.starts_with("no goippy instances are installed"),
        "{out}"
    );
    assert_eq!(out.matches("left alone: ").count(), 4, "{out}");

    for f in files {
        assert_eq!(
            std::fs::read_to_string(root.units.join(f)).expect("read"),
            hand
        );
    }
    assert!(root.units.join("goippy-masked.service").is_symlink());
    assert_eq!(std::fs::read_to_string(&config_7).expect("read"), "mine");
    assert!(
        root.systemctl_calls().is_empty(),
        "{:?}",
        root.systemctl_calls()
    );
}

#[test]
fn a_failing_disable_removes_nothing() {
    let root = Root::new();
    let (_, instance) = two_instances(&root);
    root.make_fail(
        "disable",
        "Failed to stop goippy-2508.service: Access denied\n",
    );
    let (stdout, stderr) = fails(root.goippy(&["--uninstall", "2508"]));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(
            "failed (exit status: 1): Failed to stop goippy-2508.service: Access denied\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "nothing was removed; once the problem is fixed, run:\n  systemctl disable --now goippy-2508.service\n"
        ),
        "{stderr}"
    );
    assert!(root.units.join("goippy-2508.service").exists());
    assert!(instance.exists());
}

#[test]
fn bad_instance_names_are_refused_by_the_parser() {
    let root = Root::new();
    let out = root.goippy(&["--uninstall", "../etc/passwd"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("instance name \"../etc/passwd\": use 1–64 letters, digits, '-' or '_'"),
        "{stderr}"
    );
}
