//! Native core of Prosody's `mod_sms_alias`, loaded from Lua 5.4 as `sms_alias_native`.
//!
//! Every decision the Prosody module makes about an address — is this node a
//! phone number, where does a stanza to `+N@example.org` really go, which
//! alias does a stanza from `+N@sms.example.org` come from — is made here, by
//! the very rules goippy itself uses (`goippy_core::{number, alias}`), so the
//! daemon and the Prosody module can never disagree. The Lua file only wires
//! these answers into Prosody's events.
//!
//! The Lua API (see `lua/README.md` for how the module uses it):
//!
//! ```lua
//! local native = package.loadlib(path, "luaopen_sms_alias_native")()
//! native.version()                 --> "0.1.0"
//! local rules, err = native.new_rules{ host = "example.org",
//!     component = "sms.example.org", country_code = "372" }   -- or nil, message
//! rules:rewrite_to("+37255512345@example.org/res")   --> "+37255512345@sms.example.org/res" | nil
//! rules:rewrite_from("+37255512345@sms.example.org") --> "+37255512345@example.org" | nil
//! rules:answer_from("+37255512345@sms.example.org", "0037255512345@example.org")
//!                                                    --> "0037255512345@example.org" | nil
//! native.addressed                 --> { ns = "urn:goippy:sms-alias:addressed:0", name = "addressed", attr = "jid" }
//! native.alias_node_first_bytes    --> "+0": rewrite_to answers nil for a JID starting otherwise
//! rules:is_phone_number("055512345")                 --> true
//! rules:normalize("+372 5551-2345")                  --> "+37255512345" | nil, message
//! rules.host, rules.component, rules.country_code    --> settings as normalised
//! ```
//!
//! Errors reach Lua as `nil, message`, never as raised errors or panics:
//! a Prosody event handler that raises loses the stanza it was handling.
//! (mlua would turn a panic into a Lua error anyway; the release profile must
//! never use `panic = "abort"`, which would take Prosody down with it.)
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod lua_args;
mod rules;
mod settings;

use goippy_core::alias;
use mlua::prelude::*;

/// The version Prosody logs at load time, to tell which build is running.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Entry point for `require "sms_alias_native"` / `package.loadlib(…, "luaopen_sms_alias_native")`.
///
/// `pub` so that the Lua-state tests in `tests/` can open the module in a Lua
/// of their own.
#[mlua::lua_module]
pub fn sms_alias_native(lua: &Lua) -> LuaResult<LuaTable> {
    let exports = lua.create_table()?;
    exports.set("version", lua.create_function(|_, ()| Ok(VERSION))?)?;
    exports.set("new_rules", lua.create_function(rules::new_rules)?)?;
    // The private element goippy and the module mark answers with (see
    // `goippy_core::alias`): one definition for both sides.
    let addressed = lua.create_table()?;
    addressed.set("ns", alias::ADDRESSED_NS)?;
    addressed.set("name", alias::ADDRESSED_NAME)?;
    addressed.set("attr", alias::ADDRESSED_ATTR)?;
    exports.set("addressed", addressed)?;
    exports.set("alias_node_first_bytes", rules::ALIAS_NODE_FIRST_BYTES)?;
    Ok(exports)
}
