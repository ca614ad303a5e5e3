//! Native core of Prosody's `mod_sms_alias`, loaded from Lua as `sms_alias_native`.
//!
//! Placeholder until the mod_sms_alias issue: it only reports its version.

use mlua::prelude::*;

/// Entry point for `require "sms_alias_native"` (`luaopen_sms_alias_native`).
#[mlua::lua_module]
pub fn sms_alias_native(lua: &Lua) -> LuaResult<LuaTable> {
    let exports = lua.create_table()?;
    exports.set("version", env!("CARGO_PKG_VERSION"))?;
    Ok(exports)
}
