//! The lua-busted unit tests of mod_sms_alias.lua (lua/spec), run under
//! Lua 5.4 against a fresh build of the native library, so that
//! `cargo test` here covers every layer of the module.

use std::process::Command;

#[test]
fn busted_specs_pass_under_lua54() {
    let script = prosody_test::repo_root().join("lua/run-busted.sh");
    let out = Command::new(&script)
        .arg("--output=plainTerminal")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "busted failed:\n{text}");
    assert!(text.contains(" 0 failures / 0 errors"), "{text}");
}
