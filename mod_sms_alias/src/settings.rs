//! The module's settings as `new_rules{ … }` receives them from Lua.
//!
//! Prosody options arrive as whatever the admin typed in the config file:
//! `sms_alias_country_code = 372` is as likely as `= "372"`. They are read
//! into typed [`Settings`] at once, with a message naming the offending key
//! for anything else, and an unknown key is an error rather than silently
//! ignored, so a typo cannot quietly switch a rule off.

use goippy_core::alias::AliasRules;
use mlua::{Table, Value};

/// The settings that decide every rewrite of one Prosody host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The VirtualHost users chat on (`example.org`).
    pub(crate) host: String,
    /// goippy's component domain (`sms.example.org`).
    pub(crate) component: String,
    /// Country calling code for national numbers (`"372"`), if any.
    pub(crate) country_code: Option<String>,
}

const KEYS: &str = "host, component, country_code";

impl Settings {
    /// Reads `{ host = …, component = …, country_code = … }`.
    pub(crate) fn from_lua(value: &Value) -> Result<Self, String> {
        let Value::Table(table) = value else {
            return Err(format!(
                "new_rules expects a settings table {{ {KEYS} }}, got {}",
                value.type_name()
            ));
        };
        read_table(table)
    }

    /// Checks the settings and builds the rules they describe.
    pub(crate) fn rules(&self) -> Result<AliasRules, String> {
        AliasRules::new(&self.host, &self.component, self.country_code.as_deref())
            .map_err(|e| e.to_string())
    }
}

fn read_table(table: &Table) -> Result<Settings, String> {
    let mut host = None;
    let mut component = None;
    let mut country_code = None;
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| format!("cannot read the settings table: {e}"))?;
        let name = match &key {
            Value::String(s) => s.to_string_lossy(),
            other => {
                return Err(format!(
                    "setting names must be strings ({KEYS}), got {}",
                    other.type_name()
                ));
            }
        };
        match name.as_str() {
            "host" => host = Some(required_text(&value, "host")?),
            "component" => component = Some(required_text(&value, "component")?),
            "country_code" => country_code = country_code_text(&value)?,
            other => return Err(format!("unknown setting '{other}' (known: {KEYS})")),
        }
    }
    Ok(Settings {
        host: host.ok_or("setting 'host' is missing")?,
        component: component.ok_or("setting 'component' is missing")?,
        country_code,
    })
}

fn required_text(value: &Value, name: &str) -> Result<String, String> {
    match value {
        Value::String(s) => s
            .to_str()
            .map(|s| s.to_string())
            .map_err(|_| format!("setting '{name}' is not valid UTF-8")),
        other => Err(format!(
            "setting '{name}' must be a string, got {}",
            other.type_name()
        )),
    }
}

/// `"372"`, `"+372"` and `372` all mean Estonia; validity is checked by
/// [`goippy_core::number::NumberRules::new`].
fn country_code_text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Nil => Ok(None),
        Value::Integer(n) => Ok(Some(n.to_string())),
        Value::String(_) => required_text(value, "country_code").map(Some),
        other => Err(format!(
            "setting 'country_code' must be a string such as \"372\", got {}",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, component: &str, cc: Option<&str>) -> Settings {
        Settings {
            host: host.into(),
            component: component.into(),
            country_code: cc.map(Into::into),
        }
    }

    #[test]
    fn valid_settings_build_rules() {
        let rules = settings("Example.org", "sms.example.org", Some("+372"))
            .rules()
            .expect("valid");
        assert_eq!(rules.local_domain(), "example.org");
        assert_eq!(rules.component_domain(), "sms.example.org");
        assert_eq!(rules.numbers().country_code(), Some("372"));
    }

    #[test]
    fn invalid_settings_say_why() {
        let same = settings("example.org", "EXAMPLE.org", None).rules();
        assert!(same.expect_err("same domain").contains("must differ"));
        let empty = settings("", "sms.example.org", None).rules();
        assert!(empty.expect_err("empty").contains("must not be empty"));
        let cc = settings("example.org", "sms.example.org", Some("0372")).rules();
        assert!(cc.expect_err("bad cc").contains("invalid country code"));
    }
}
