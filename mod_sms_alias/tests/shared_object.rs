//! The built `.so` itself: what Prosody's lua5.4 will dlopen.
//!
//! `cargo test` builds the library with all its crate types into the same
//! `deps/` directory as the test binary, so the cdylib there is the one this
//! very build produced (the copy in `target/<profile>/` is only refreshed by
//! `cargo build`). It must load
//! into Debian's `lua5.4` by path (the way mod_sms_alias.lua loads it), and it
//! must not link liblua: the Lua API comes from the host process, and a second
//! Lua in Prosody's process would be a second VM.

use std::path::PathBuf;
use std::process::Command;

fn built_library() -> PathBuf {
    // target/<profile>/deps/shared_object-<hash> → target/<profile>/deps/libsms_alias_native.so
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("target/<profile>/deps");
    let lib = deps.join("libsms_alias_native.so");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

#[test]
fn loads_into_lua54_by_path() {
    let lib = built_library();
    let script = r#"
        local open = assert(package.loadlib(arg[1], "luaopen_sms_alias_native"))
        local native = open()
        local rules = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        io.write(native.version(), " ", rules:rewrite_to("+37255512345@example.org"))
    "#;
    let out = Command::new("lua5.4")
        .arg("-e")
        .arg(format!("arg = {{ [1] = {:?} }}", lib.display().to_string()))
        .arg("-e")
        .arg(script)
        .output()
        .expect("run lua5.4 (Debian package lua5.4)");
    assert!(
        out.status.success(),
        "lua5.4 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{} +37255512345@sms.example.org", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn does_not_link_liblua() {
    let lib = built_library();
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success());
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(!needed.is_empty(), "readelf showed no NEEDED entries");
    assert!(
        needed.iter().all(|l| !l.contains("liblua")),
        "the module must take Lua from the host process, not link it: {needed:#?}"
    );
}
