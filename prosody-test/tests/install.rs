//! `prosodyctl install` of mod_sms_alias, both routes lua/README.md gives
//! admins, into a throwaway Prosody's `installer_plugin_path`; the commands
//! `lua/make-rocks.sh` prints, run as they are; and what the module says
//! when it cannot run.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use prosody_test::{Prosody, repo_root, rocks};

fn loaded_line(prosody: &Prosody) -> String {
    prosody
        .wait_for_log("Loaded sms_alias_native", WAIT)
        .expect("the module logs its native library at load")
}

fn assert_loaded_from_install_tree(prosody: &Prosody) {
    let version = &rocks().expect("rocks").version;
    let line = loaded_line(prosody);
    let so = prosody
        .installer_path()
        .join("lib/lua/5.4/sms_alias_native.so");
    assert!(
        line.contains(&format!("sms_alias_native {version} from {}", so.display())),
        "{line}"
    );
    assert!(line.contains("example.org <-> sms.example.org"), "{line}");
}

#[test]
fn binary_rock_installs_without_a_toolchain_and_loads() {
    let mut prosody = Prosody::new(alias_config(Gateway::Disconnected, |h| h)).expect("prepare");
    let output = prosody
        .install_rock(&rocks().expect("rocks").binary_rock, None)
        .expect("prosodyctl install <binary rock>");
    assert!(output.contains("is now installed"), "{output}");
    prosody.start().expect("start");
    assert_loaded_from_install_tree(&prosody);
}

/// The README tells the operator to run what `make-rocks.sh --binary`
/// prints: those lines, pasted as they are (as root), install the rock into
/// the Prosody whose configuration the script was given, leave the files to
/// the prosody user, and Prosody loads the module.
#[test]
fn the_commands_make_rocks_prints_install_the_binary_rock() {
    if !goippy_testkit::prosody::running_as_root() {
        eprintln!("skipped: the printed commands are for root");
        return;
    }
    // The shared build first, so that two make-rocks runs never share the
    // checkout at once.
    rocks().expect("rocks");
    let mut prosody = Prosody::new(alias_config(Gateway::Disconnected, |h| h)).expect("prepare");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let made = Command::new(repo_root().join("lua/make-rocks.sh"))
        .arg("--binary")
        .arg("--out")
        .arg(out_dir.path())
        .arg("--prosody-config")
        .arg(prosody.config_path())
        .output()
        .expect("run make-rocks.sh");
    let text = String::from_utf8_lossy(&made.stdout).into_owned();
    assert!(
        made.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("To install it into this machine's Prosody"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert_eq!(commands.len(), 2, "{text}");
    assert!(
        commands[0].starts_with("prosodyctl --config '")
            && commands[0].contains(" --root install '"),
        "{text}"
    );
    let installed = prosody.installer_path();
    assert_eq!(
        commands[1],
        format!("chown -R prosody:prosody '{}'", installed.display()),
        "{text}"
    );
    for command in &commands {
        let run = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(prosody.dir())
            .output()
            .expect("sh");
        assert!(
            run.status.success(),
            "{command}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let prosody_uid = Command::new("id")
        .args(["-u", "prosody"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        })
        .expect("the prosody user (Debian package prosody)");
    for file in [
        "share/lua/5.4/mod_sms_alias.lua",
        "lib/lua/5.4/sms_alias_native.so",
    ] {
        let meta = std::fs::metadata(installed.join(file)).expect(file);
        assert_eq!(meta.uid(), prosody_uid, "{file} belongs to prosody");
    }
    prosody.start().expect("start");
    assert_loaded_from_install_tree(&prosody);
}

#[test]
fn source_rock_builds_with_cargo_and_loads() {
    let mut prosody = Prosody::new(alias_config(Gateway::Disconnected, |h| h)).expect("prepare");
    // Reuse compiled dependencies between runs; the rock's own crates are
    // still built from the unpacked sources, as on an admin's machine.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/source-rock-build");
    let output = prosody
        .install_rock(&rocks().expect("rocks").source_rock, Some(&target))
        .expect("prosodyctl install <source rock>");
    assert!(output.contains("cargo build --release"), "{output}");
    prosody.start().expect("start");
    assert_loaded_from_install_tree(&prosody);
}

#[test]
fn without_the_native_library_the_module_refuses_to_load_saying_where_it_looked() {
    let mut prosody = Prosody::new(alias_config(Gateway::Disconnected, |h| {
        h.option("sms_alias_native_path", "/nonexistent/sms_alias_native.so")
    }))
    .expect("prepare");
    prosody.install_mod_sms_alias().expect("install");
    let installed = prosody
        .installer_path()
        .join("lib/lua/5.4/sms_alias_native.so");
    std::fs::remove_file(&installed).expect("remove the installed library");
    prosody.start().expect("start");
    let line = prosody
        .wait_for_log("cannot find the native library", WAIT)
        .expect("one clear error");
    for place in [
        "/nonexistent/sms_alias_native.so".to_string(),
        installed.display().to_string(),
        "package.cpath".to_string(),
    ] {
        assert!(line.contains(&place), "{place} missing from: {line}");
    }
    assert!(
        line.contains("Error initializing module 'sms_alias'"),
        "{line}"
    );
    assert!(!prosody.log().contains("Loaded sms_alias_native"));
}

#[test]
fn invalid_settings_stop_the_module_with_the_reason() {
    let mut prosody = Prosody::new(alias_config(Gateway::Disconnected, |h| {
        h.option("sms_alias_country_code", "0372")
    }))
    .expect("prepare");
    prosody.install_mod_sms_alias().expect("install");
    prosody.start().expect("start");
    let line = prosody
        .wait_for_log("invalid settings on example.org", WAIT)
        .expect("settings error");
    assert!(line.contains("invalid country code"), "{line}");
}

#[test]
fn the_server_keeps_running_with_the_module_loaded_and_stops_cleanly() {
    let mut prosody = start(alias_config(Gateway::Disconnected, |h| h), &[]);
    loaded_line(&prosody);
    std::thread::sleep(Duration::from_millis(200));
    assert!(prosody.is_running());
    prosody.stop().expect("SIGTERM stops it");
    assert!(
        prosody.log().contains("Shutdown complete"),
        "clean shutdown with the .so loaded"
    );
}
