//! Reading Lua arguments without raising, and answering in the `value, err` style.
//!
//! Prosody hands the module whatever a stanza carries: `stanza.attr.to` is
//! `nil` for a stanza to the sender's own account, and nothing stops a
//! future caller from passing a number. mlua's automatic conversions would
//! raise a Lua error for those, which inside an event handler drops the
//! stanza; these helpers turn every such case into a value or `nil, message`.

use mlua::{BorrowedStr, Value};

/// An answer to Lua: `value` on success, `nil, message` on failure (mlua
/// converts a `Result` returned by a callback exactly that way; only the
/// outer `LuaResult` raises).
pub(crate) type Answer<T> = Result<T, String>;

/// A Lua argument that should be text: `Ok(None)` for `nil` (absent),
/// `Ok(Some(text))` for a UTF-8 string, `Err(message)` for anything else.
/// Borrows the string from Lua: no copy on the hot path.
pub(crate) fn optional_text(value: &Value, what: &str) -> Result<Option<BorrowedStr>, String> {
    match value {
        Value::Nil => Ok(None),
        Value::String(s) => s
            .to_str()
            .map(Some)
            .map_err(|_| format!("{what} is not valid UTF-8")),
        other => Err(format!(
            "{what} must be a string, got {}",
            other.type_name()
        )),
    }
}
