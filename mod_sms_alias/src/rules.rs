//! The rules object Lua holds: one per Prosody host, built once at module load.
//!
//! Building [`AliasRules`] validates and lower-cases the domains and parses
//! the country code; doing that once, not per stanza, keeps the per-stanza
//! calls down to a string split and a digit check. The object is immutable,
//! so a Prosody config reload simply builds a new one.

use goippy_core::alias::AliasRules;
use mlua::prelude::*;
use mlua::{UserData, UserDataFields, UserDataMethods, Value};

use crate::lua_args::{Answer, optional_text};
use crate::settings::Settings;

/// Every JID localpart that [`AliasRules::rewrite_to`] re-addresses starts
/// with one of these bytes: `+N`, any other `+…`, `00N`, national `0N`.
///
/// Exported to Lua as `alias_node_first_bytes`: every stanza of every user
/// of the host passes the Prosody module's outbound hook, and one whose
/// address starts with anything else (a user's name, the domain) is routed
/// on without a call into this library. The test `no_other_first_byte_is_an_alias`
/// holds goippy's rules to it.
pub(crate) const ALIAS_NODE_FIRST_BYTES: &str = "+0";

/// Lua userdata wrapping the alias rules of one host.
#[derive(Debug, Clone)]
pub(crate) struct Rules(AliasRules);

/// `sms_alias_native.new_rules(settings)` → rules, or `nil, message`.
pub(crate) fn new_rules(_: &Lua, settings: Value) -> LuaResult<Answer<Rules>> {
    Ok(Settings::from_lua(&settings)
        .and_then(|s| s.rules())
        .map(Rules))
}

/// Shared shape of `rewrite_to` / `rewrite_from`: `nil` in, `nil` out;
/// a JID in, its rewrite or `nil` ("route it normally") out.
fn rewrite(jid: &Value, rewrite: impl FnOnce(&str) -> Option<String>) -> Answer<Option<String>> {
    Ok(optional_text(jid, "the JID")?.and_then(|jid| rewrite(&jid)))
}

impl UserData for Rules {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("host", |_, this| Ok(this.0.local_domain().to_string()));
        fields.add_field_method_get("component", |_, this| {
            Ok(this.0.component_domain().to_string())
        });
        fields.add_field_method_get("country_code", |_, this| {
            Ok(this.0.numbers().country_code().map(str::to_string))
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Outbound: `+N@host[/res]` → `+N@component[/res]`, else nil.
        methods.add_method("rewrite_to", |_, this, jid: Value| {
            Ok(rewrite(&jid, |jid| this.0.rewrite_to(jid)))
        });
        // Inbound: `+N@component[/res]` → `+N@host[/res]`, else nil.
        methods.add_method("rewrite_from", |_, this, jid: Value| {
            Ok(rewrite(&jid, |jid| this.0.rewrite_from(jid)))
        });
        // Inbound answer marked with the address the user wrote to:
        // the JID it must come from, else nil (the mark is ignored).
        methods.add_method(
            "answer_from",
            |_, this, (from, addressed): (Value, Value)| {
                let answer: Answer<Option<String>> =
                    optional_text(&from, "the JID").and_then(|from| {
                        let addressed = optional_text(&addressed, "the addressed JID")?;
                        Ok(from
                            .zip(addressed)
                            .and_then(|(from, addressed)| this.0.answer_from(&from, &addressed)))
                    });
                Ok(answer)
            },
        );
        // A JID localpart: is it a phone number under these rules?
        methods.add_method("is_phone_number", |_, this, node: Value| {
            let answer: Answer<bool> = optional_text(&node, "the node")
                .map(|node| node.is_some_and(|node| this.0.numbers().is_phone_number(&node)));
            Ok(answer)
        });
        // Text a person typed → canonical `+N`, or nil and why not.
        methods.add_method("normalize", |_, this, typed: Value| {
            let answer: Answer<String> = optional_text(&typed, "the number").and_then(|typed| {
                let typed = typed.ok_or("no number given")?;
                this.0
                    .numbers()
                    .normalize(&typed)
                    .map(|number| number.to_string())
                    .map_err(|e| e.to_string())
            });
            Ok(answer)
        });
        methods.add_meta_method(LuaMetaMethod::ToString, |_, this, ()| {
            let cc = match this.0.numbers().country_code() {
                Some(cc) => format!("country code +{cc}"),
                None => "no country code".to_string(),
            };
            Ok(format!(
                "sms_alias_native rules ({} <-> {}, {cc})",
                this.0.local_domain(),
                this.0.component_domain()
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Localparts after their first character: numbers in every form the
    /// rules know, short codes, letters.
    const TAILS: &[&str] = &[
        "",
        "37255512345",
        "0037255512345",
        "55512345",
        "555123456789",
        "+37255512345",
        "12",
        "abc",
    ];

    fn rules_both_ways() -> [AliasRules; 2] {
        [
            AliasRules::new("example.org", "sms.example.org", None).expect("rules"),
            AliasRules::new("example.org", "sms.example.org", Some("372")).expect("rules"),
        ]
    }

    #[test]
    fn no_other_first_byte_is_an_alias() {
        let firsts = (0x20u8..0x7f)
            .map(char::from)
            .chain(['\u{0663}', '\u{ff0b}', '\u{ff10}', '\u{00a0}', '\u{2212}']);
        for rules in rules_both_ways() {
            for first in firsts.clone() {
                if first.is_ascii() && ALIAS_NODE_FIRST_BYTES.contains(first) {
                    continue;
                }
                for tail in TAILS {
                    for resource in ["", "/res"] {
                        let jid = format!("{first}{tail}@example.org{resource}");
                        assert_eq!(rules.rewrite_to(&jid), None, "{jid}");
                    }
                }
            }
        }
    }

    #[test]
    fn each_first_byte_starts_some_alias() {
        let rules = &rules_both_ways()[1];
        for first in ALIAS_NODE_FIRST_BYTES.chars() {
            let found = TAILS.iter().any(|tail| {
                rules
                    .rewrite_to(&format!("{first}{tail}@example.org"))
                    .is_some()
            });
            assert!(
                found,
                "no alias starts with {first:?}: drop it from the list"
            );
        }
    }
}
