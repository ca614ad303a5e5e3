//! The service commands where systemctl cannot be used: the program is
//! missing, or the system was not booted with systemd. The files are still
//! written or removed; the output says that nothing was started or stopped
//! and prints exactly the commands to run. Also: the directories given
//! through GOIPPY_* environment variables instead of flags.

use std::process::{Command, Output};

use crate::support::ops::*;

#[test]
fn without_systemctl_install_says_what_to_run_and_claims_nothing() {
    let root = Root::new();
    let config = root.main_config(&[]);
    let missing = root.path.join("no-systemctl");
    let out = ok(root.goippy_with(&["--install"], &missing, &root.booted));
    let unit = root.units.join("goippy.service");
    assert_eq!(
        out,
        format!(
            "{config}: group goippy, mode 0640 (the service user reads it, others cannot)\n\
             wrote {unit}\n\
             systemctl was not found (tried {missing:?}): nothing was enabled or started. On the systemd host, run:\n  \
             systemctl daemon-reload\n  \
             systemctl enable --now goippy.service\n",
            config = config.display(),
            unit = unit.display(),
        )
    );
    assert!(!out.contains("running"), "{out}");
    assert!(!out.contains("ran "), "{out}");
    assert!(root.unit("goippy.service").contains("Type=notify"));

    let list = ok(root.goippy_with(&["--list"], &missing, &root.booted));
    assert!(
        list.lines()
            .nth(1)
            .expect("row")
            .contains("  unknown (no systemctl)  "),
        "{list}"
    );

    let out = ok(root.goippy_with(&["--uninstall", "default"], &missing, &root.booted));
    assert!(
        out.starts_with(&format!(
            "removed {}\nsystemctl was not found (tried {missing:?}): nothing was stopped or disabled by systemctl. \
             On the systemd host, run:\n  systemctl stop goippy.service\n  systemctl daemon-reload\n",
            unit.display()
        )),
        "{out}"
    );
    assert!(!unit.exists());
    assert!(config.exists());
}

#[test]
fn without_systemd_the_fake_systemctl_is_never_run() {
    let root = Root::new();
    root.main_config(&[]);
    let not_booted = root.path.join("run-systemd-system-absent");
    let out = ok(root.goippy_with(&["--install"], &root.systemctl, &not_booted));
    assert!(
        out.ends_with(&format!(
            "systemd is not running here ({} does not exist): nothing was enabled or started. On the systemd host, run:\n  \
             systemctl daemon-reload\n  systemctl enable --now goippy.service\n",
            not_booted.display()
        )),
        "{out}"
    );
    let list = ok(root.goippy_with(&["--list"], &root.systemctl, &not_booted));
    assert!(list.contains("  unknown (systemd not running)  "), "{list}");
    assert!(
        root.systemctl_calls().is_empty(),
        "{:?}",
        root.systemctl_calls()
    );
    assert!(root.units.join("goippy.service").exists());
}

#[test]
fn uninstall_without_systemctl_removes_the_enable_links_itself() {
    let root = Root::new();
    let main = root.main_config(&[]);
    let instance = root.instance_2508_config(&main, &[]);
    // DB_FILE still the main one's, but the main instance is not installed.
    let missing = root.path.join("no-systemctl");
    ok(root.goippy_with(&["--install", "2508"], &missing, &root.booted));
    // As `systemctl enable` on the real host would have linked it.
    let wants = root.units.join("multi-user.target.wants");
    std::fs::create_dir(&wants).expect("mkdir");
    let link = wants.join("goippy-2508.service");
    std::os::unix::fs::symlink("/etc/systemd/system/goippy-2508.service", &link).expect("link");

    let out = ok(root.goippy_with(&["--uninstall", "2508"], &missing, &root.booted));
    assert!(
        out.starts_with(&format!("removed {} (an enable link)\n", link.display())),
        "{out}"
    );
    assert!(
        out.contains("  systemctl stop goippy-2508.service\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "removed {} (the configuration of instance 2508)\n",
            instance.display()
        )),
        "{out}"
    );
    assert!(!link.is_symlink());
    assert!(!instance.exists());
}

/// The same install and list with the directories in the environment.
#[test]
fn directories_and_programs_from_the_environment() {
    let root = Root::new();
    root.main_config(&[]);
    let run = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_goippy"))
            .args(args)
            .env_remove("RUST_LOG")
            .env("GOIPPY_ETC_DIR", &root.etc)
            .env("GOIPPY_UNIT_DIR", &root.units)
            .env("GOIPPY_SYSTEMCTL", &root.systemctl)
            .env("GOIPPY_SYSTEMD_RUN_DIR", &root.booted)
            .env("GOIPPY_USERADD", &root.useradd)
            .output()
            .expect("run goippy")
    };
    let out = ok(run(&["--install"]));
    assert!(
        out.contains("ran systemctl enable --now goippy.service\n"),
        "{out}"
    );
    root.set_active("goippy.service", "active");
    let list = ok(run(&["--list"]));
    assert!(
        list.lines()
            .nth(1)
            .expect("row")
            .starts_with("default   goippy.service  active  "),
        "{list}"
    );
    assert_eq!(
        root.systemctl_calls(),
        [
            "daemon-reload",
            "enable --now goippy.service",
            "is-active goippy.service"
        ]
    );
}
