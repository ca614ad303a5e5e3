//! `prosodyctl install` of mod_sms_alias, both routes lua/README.md gives
//! admins, into a throwaway Prosody's `installer_plugin_path`; and what the
//! module says when it cannot run.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use prosody_test::{Prosody, rocks};

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
