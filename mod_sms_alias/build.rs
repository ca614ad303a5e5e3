//! Link the *test* binaries (and only them) against the system's Lua 5.4.
//!
//! The shipped cdylib must not link liblua: Prosody's `lua5.4` process
//! provides the Lua API, and a second copy would mean two VMs in one process.
//! The Lua-state tests in `tests/` create their own `mlua::Lua`, so they need
//! the library; `rustc-link-arg-tests` applies to `tests/*.rs` targets only
//! (cargo rejects it while the package has no such target, so keep at least
//! one file in `tests/`). Needs Debian's `liblua5.4-dev`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-tests=-llua5.4");
}
