//! The exported table as Lua 5.4 code sees it.
//!
//! Each test opens the module in a fresh Lua state (linked against the
//! system liblua5.4 for the tests only, see build.rs) and runs Lua that
//! asserts on the answers, so what is checked is the real calling convention
//! the Prosody module relies on: method calls on the rules userdata, `nil`
//! for "not an alias", and `nil, message` instead of raised errors.

use mlua::{Function, Lua, Table};

fn lua_with_native() -> Lua {
    let lua = Lua::new();
    let native: Table = sms_alias_native::sms_alias_native(&lua).expect("module opens");
    lua.globals().set("native", native).expect("set global");
    lua
}

/// Runs a Lua chunk; a failed `assert` inside fails the test with Lua's message.
fn run(lua: &Lua, chunk: &str) {
    if let Err(e) = lua.load(chunk).exec() {
        panic!("Lua chunk failed: {e}");
    }
}

#[test]
fn reports_its_version() {
    let lua = lua_with_native();
    let version: Function = lua
        .globals()
        .get::<Table>("native")
        .and_then(|t| t.get("version"))
        .expect("version function");
    let v: String = version.call(()).expect("version() answers");
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn rewrites_both_ways() {
    run(
        &lua_with_native(),
        r#"
        local rules = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        assert(rules:rewrite_to("+37255512345@example.org") == "+37255512345@sms.example.org")
        assert(rules:rewrite_to("+37255512345@example.org/phone") == "+37255512345@sms.example.org/phone")
        assert(rules:rewrite_to("0037255512345@example.org") == "+37255512345@sms.example.org")
        assert(rules:rewrite_from("+37255512345@sms.example.org") == "+37255512345@example.org")
        assert(rules:rewrite_from("+37255512345@sms.example.org/x") == "+37255512345@example.org/x")
        -- Any other `+…` is meant as a number: goippy explains why it is none.
        assert(rules:rewrite_to("+12@example.org") == "+12@sms.example.org")
        -- Not aliases: nil and no error, which means "route normally".
        for _, jid in ipairs{ "bob@example.org", "2001@example.org", "example.org",
                              "+37255512345@other.org", "+37255512345@sms.example.org" } do
            local v, err = rules:rewrite_to(jid)
            assert(v == nil and err == nil, jid)
        end
        for _, jid in ipairs{ "Swedbank@sms.example.org", "1345@sms.example.org",
                              "sms.example.org", "alice@example.org" } do
            local v, err = rules:rewrite_from(jid)
            assert(v == nil and err == nil, jid)
        end
        "#,
    );
}

#[test]
fn names_the_bytes_an_alias_starts_with() {
    run(
        &lua_with_native(),
        r#"
        local rules = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        assert(native.alias_node_first_bytes == "+0")
        for _, jid in ipairs{ "+37255512345@example.org", "0037255512345@example.org", "+12@example.org" } do
            assert(native.alias_node_first_bytes:find(jid:sub(1, 1), 1, true), jid)
            assert(rules:rewrite_to(jid), jid)
        end
        "#,
    );
}

#[test]
fn answers_keep_the_address_written_to() {
    run(
        &lua_with_native(),
        r#"
        local rules = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        assert(native.addressed.ns == "urn:goippy:sms-alias:addressed:0")
        assert(native.addressed.name == "addressed" and native.addressed.attr == "jid")
        local from = "+37255512345@sms.example.org"
        assert(rules:answer_from(from, "0037255512345@example.org") == "0037255512345@example.org")
        assert(rules:answer_from(from .. "/r", from) == from .. "/r")
        for _, written in ipairs{ "alice@example.org", "+37255599999@example.org", "x@other.org" } do
            local v, err = rules:answer_from(from, written)
            assert(v == nil and err == nil, written)
        end
        assert(rules:answer_from(nil, "0037255512345@example.org") == nil)
        assert(rules:answer_from(from, nil) == nil)
        local v, err = rules:answer_from(from, 42)
        assert(v == nil and type(err) == "string")
        "#,
    );
}

#[test]
fn country_code_enables_national_numbers() {
    run(
        &lua_with_native(),
        r#"
        local without = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        assert(without:rewrite_to("055512345@example.org") == nil)
        assert(without.country_code == nil)
        for _, cc in ipairs{ "372", "+372", 372 } do
            local rules = assert(native.new_rules{ host = "example.org",
                component = "sms.example.org", country_code = cc })
            assert(rules.country_code == "372")
            assert(rules:rewrite_to("055512345@example.org") == "+37255512345@sms.example.org")
            assert(rules:is_phone_number("055512345") == true)
        end
        "#,
    );
}

#[test]
fn numbers_and_fields() {
    run(
        &lua_with_native(),
        r#"
        local rules = assert(native.new_rules{ host = "Example.ORG", component = "SMS.example.org" })
        assert(rules.host == "example.org" and rules.component == "sms.example.org")
        assert(tostring(rules):find("example.org <-> sms.example.org", 1, true))
        assert(rules:is_phone_number("+37255512345") == true)
        assert(rules:is_phone_number("bob") == false)
        assert(rules:is_phone_number(nil) == false)
        assert(rules:normalize(" +372 5551-2345 ") == "+37255512345")
        local v, err = rules:normalize("call me")
        assert(v == nil and type(err) == "string", "normalize explains failures")
        v, err = rules:normalize(nil)
        assert(v == nil and err == "no number given")
        "#,
    );
}

#[test]
fn bad_arguments_answer_nil_and_a_message() {
    run(
        &lua_with_native(),
        r#"
        local rules = assert(native.new_rules{ host = "example.org", component = "sms.example.org" })
        -- A stanza to one's own account has no `to`: not an error.
        local v, err = rules:rewrite_to(nil)
        assert(v == nil and err == nil)
        -- Wrong types and invalid UTF-8: nil, message -- never raised.
        for _, call in ipairs{
            function() return rules:rewrite_to(42) end,
            function() return rules:rewrite_from({}) end,
            function() return rules:is_phone_number(true) end,
            function() return rules:normalize(1.5) end,
            function() return rules:rewrite_to("\255@example.org") end,
        } do
            local ok, value, message = pcall(call)
            assert(ok, "must not raise: " .. tostring(value))
            assert(value == nil and type(message) == "string", tostring(message))
        end
        "#,
    );
}

#[test]
fn bad_settings_answer_nil_and_a_message() {
    run(
        &lua_with_native(),
        r#"
        local cases = {
            { nil, "settings table" },
            { "example.org", "settings table" },
            { { component = "sms.example.org" }, "'host' is missing" },
            { { host = "example.org" }, "'component' is missing" },
            { { host = "example.org", component = "EXAMPLE.org" }, "must differ" },
            { { host = "", component = "sms.example.org" }, "must not be empty" },
            { { host = 1, component = "sms.example.org" }, "'host' must be a string" },
            { { host = "example.org", component = "sms.example.org", country_code = "0372" }, "invalid country code" },
            { { host = "example.org", component = "sms.example.org", country_code = 37.2 }, "'country_code' must be a string" },
            { { host = "example.org", component = "sms.example.org", contry_code = "372" }, "unknown setting 'contry_code'" },
            { { "example.org" }, "setting names must be strings" },
        }
        for i, case in ipairs(cases) do
            local ok, rules, err = pcall(native.new_rules, case[1])
            assert(ok, "must not raise: " .. tostring(rules))
            assert(rules == nil, "case " .. i .. " must fail")
            assert(type(err) == "string" and err:find(case[2], 1, true),
                "case " .. i .. ": " .. tostring(err))
        end
        "#,
    );
}
