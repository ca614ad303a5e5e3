//! What a test Prosody looks like: hosts, components, modules and options.
//!
//! A [`Config`] is the test's *intent* (which hosts, which modules); the
//! generated `prosody.cfg.lua` adds what every throwaway server needs and a
//! test should not have to think about: its own temp paths and free ports,
//! loopback only, no TLS, plain internal storage, a debug log in a file,
//! and `run_as_root` when the tests run as root.

use std::fmt::Write as _;
use std::path::Path;

use goippy_testkit::prosody::{lua_quote, running_as_root};

/// A value in the Lua config file, quoted correctly.
#[derive(Debug, Clone, PartialEq)]
pub enum LuaValue {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<LuaValue>),
    /// `{ ["key"] = value; … }`
    Map(Vec<(String, LuaValue)>),
}

impl From<&str> for LuaValue {
    fn from(s: &str) -> Self {
        LuaValue::Str(s.to_string())
    }
}
impl From<String> for LuaValue {
    fn from(s: String) -> Self {
        LuaValue::Str(s)
    }
}
impl From<bool> for LuaValue {
    fn from(b: bool) -> Self {
        LuaValue::Bool(b)
    }
}
impl From<i64> for LuaValue {
    fn from(n: i64) -> Self {
        LuaValue::Int(n)
    }
}
impl From<u16> for LuaValue {
    fn from(n: u16) -> Self {
        LuaValue::Int(n.into())
    }
}
impl<T: Into<LuaValue>> From<Vec<T>> for LuaValue {
    fn from(items: Vec<T>) -> Self {
        LuaValue::List(items.into_iter().map(Into::into).collect())
    }
}

impl LuaValue {
    fn render(&self, out: &mut String) {
        match self {
            LuaValue::Str(s) => out.push_str(&lua_quote(s)),
            LuaValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            LuaValue::Int(n) => {
                let _ = write!(out, "{n}");
            }
            LuaValue::List(items) => {
                out.push_str("{ ");
                for item in items {
                    item.render(out);
                    out.push_str("; ");
                }
                out.push('}');
            }
            LuaValue::Map(pairs) => {
                out.push_str("{ ");
                for (key, value) in pairs {
                    let _ = write!(out, "[{}] = ", lua_quote(key));
                    value.render(out);
                    out.push_str("; ");
                }
                out.push('}');
            }
        }
    }
}

#[derive(Debug, Clone)]
enum HostKind {
    VirtualHost,
    /// `Component "name"` (external, XEP-0114) or `Component "name" "module"`.
    Component {
        module: Option<String>,
    },
}

/// One `VirtualHost` or `Component` section.
#[derive(Debug, Clone)]
pub struct Host {
    name: String,
    kind: HostKind,
    modules: Vec<String>,
    options: Vec<(String, LuaValue)>,
}

impl Host {
    /// Adds a module to this host's `modules_enabled`.
    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_string());
        self
    }

    /// Sets a host option.
    pub fn option(mut self, name: &str, value: impl Into<LuaValue>) -> Self {
        self.options.push((name.to_string(), value.into()));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Log levels worth choosing between: `Debug` for scenario tests (the log is
/// printed when a test fails), `Info` for benchmarks (debug logging per
/// stanza would dominate what is measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
}

/// The test's intent for one Prosody.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) hosts: Vec<Host>,
    modules: Vec<String>,
    options: Vec<(String, LuaValue)>,
    pub(crate) s2s: bool,
    log_level: LogLevel,
}

/// Global modules every test server loads. `blocklist`, `carbons` and `mam`
/// are there because mod_sms_alias must order itself around them.
const BASE_MODULES: &[&str] = &[
    "roster",
    "saslauth",
    "disco",
    "ping",
    "posix",
    "blocklist",
    "carbons",
    "mam",
];

/// The secret of every external component in test configs.
pub const COMPONENT_SECRET: &str = "s3cret";

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    pub fn new() -> Self {
        Config {
            hosts: Vec::new(),
            modules: BASE_MODULES.iter().map(|m| m.to_string()).collect(),
            options: Vec::new(),
            s2s: false,
            log_level: LogLevel::Debug,
        }
    }

    /// Adds `VirtualHost "name"`, shaped by `with`.
    pub fn virtual_host(mut self, name: &str, with: impl FnOnce(Host) -> Host) -> Self {
        self.hosts.push(with(Host {
            name: name.to_string(),
            kind: HostKind::VirtualHost,
            modules: Vec::new(),
            options: Vec::new(),
        }));
        self
    }

    /// Adds an external (XEP-0114) `Component "name"` with [`COMPONENT_SECRET`].
    pub fn external_component(mut self, name: &str) -> Self {
        self.hosts.push(Host {
            name: name.to_string(),
            kind: HostKind::Component { module: None },
            modules: Vec::new(),
            options: vec![("component_secret".into(), COMPONENT_SECRET.into())],
        });
        self
    }

    /// Adds `Component "name" "module"`: a component implemented by a
    /// Prosody module (for instance a fixture from `fixtures/`).
    pub fn internal_component(mut self, name: &str, module: &str) -> Self {
        self.hosts.push(Host {
            name: name.to_string(),
            kind: HostKind::Component {
                module: Some(module.to_string()),
            },
            modules: Vec::new(),
            options: Vec::new(),
        });
        self
    }

    /// Adds a global module.
    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_string());
        self
    }

    /// Removes a global module (for instance one of the base modules).
    pub fn without_module(mut self, name: &str) -> Self {
        self.modules.retain(|m| m != name);
        self
    }

    /// Sets a global option.
    pub fn option(mut self, name: &str, value: impl Into<LuaValue>) -> Self {
        self.options.push((name.to_string(), value.into()));
        self
    }

    /// Enables server-to-server connections (with dialback, no TLS) on a
    /// free loopback port.
    pub fn with_s2s(mut self) -> Self {
        self.s2s = true;
        self
    }

    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = level;
        self
    }

    pub(crate) fn has_external_component(&self) -> bool {
        self.hosts
            .iter()
            .any(|h| matches!(h.kind, HostKind::Component { module: None }))
    }

    /// The full `prosody.cfg.lua` for a server living in `dir`.
    pub(crate) fn render(&self, paths: &ConfigPaths<'_>, ports: &Ports) -> String {
        let mut cfg = String::from("-- Generated by prosody-test for one throwaway server.\n");
        let mut set = |name: &str, value: LuaValue| {
            let _ = write!(cfg, "{name} = ");
            value.render(&mut cfg);
            cfg.push('\n');
        };
        if running_as_root() {
            set("run_as_root", true.into());
        }
        let path = |p: &Path| LuaValue::Str(p.display().to_string());
        set("data_path", path(&paths.data));
        set("pidfile", path(&paths.pidfile));
        set("plugin_paths", LuaValue::List(vec![path(paths.fixtures)]));
        set("installer_plugin_path", path(&paths.installer));
        set("certificates", path(&paths.certs));
        set("interfaces", vec!["127.0.0.1"].into());
        set("c2s_ports", vec![ports.c2s].into());
        set("c2s_direct_tls_ports", LuaValue::List(vec![]));
        set("component_ports", vec![ports.component].into());
        set("component_interfaces", vec!["127.0.0.1"].into());
        set(
            "s2s_ports",
            LuaValue::List(ports.s2s.into_iter().map(Into::into).collect()),
        );
        set("s2s_interfaces", vec!["127.0.0.1"].into());
        set("use_ipv6", false.into());
        let mut modules = self.modules.clone();
        if self.s2s {
            modules.push("dialback".into());
        }
        set("modules_enabled", modules.into());
        set(
            "modules_disabled",
            if self.s2s { vec![] } else { vec!["s2s"] }.into(),
        );
        set("c2s_require_encryption", false.into());
        set("s2s_require_encryption", false.into());
        set("s2s_secure_auth", false.into());
        set("allow_unencrypted_plain_auth", true.into());
        set("authentication", "internal_plain".into());
        set("storage", "internal".into());
        let level = match self.log_level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
        };
        set(
            "log",
            LuaValue::List(vec![LuaValue::Map(vec![
                (
                    "levels".into(),
                    LuaValue::Map(vec![("min".into(), level.into())]),
                ),
                ("to".into(), "file".into()),
                ("filename".into(), path(&paths.log)),
            ])]),
        );
        for (name, value) in &self.options {
            set(name, value.clone());
        }
        for host in &self.hosts {
            cfg.push('\n');
            match &host.kind {
                HostKind::VirtualHost => {
                    let _ = writeln!(cfg, "VirtualHost {}", lua_quote(&host.name));
                }
                HostKind::Component { module: None } => {
                    let _ = writeln!(cfg, "Component {}", lua_quote(&host.name));
                }
                HostKind::Component {
                    module: Some(module),
                } => {
                    let _ = writeln!(
                        cfg,
                        "Component {} {}",
                        lua_quote(&host.name),
                        lua_quote(module)
                    );
                }
            }
            let mut options = host.options.clone();
            if !host.modules.is_empty() {
                options.insert(0, ("modules_enabled".into(), host.modules.clone().into()));
            }
            for (name, value) in options {
                let _ = write!(cfg, "    {name} = ");
                value.render(&mut cfg);
                cfg.push('\n');
            }
        }
        cfg
    }
}

/// Where one test server keeps its files.
pub(crate) struct ConfigPaths<'a> {
    pub data: std::path::PathBuf,
    pub pidfile: std::path::PathBuf,
    pub installer: std::path::PathBuf,
    pub certs: std::path::PathBuf,
    pub log: std::path::PathBuf,
    pub fixtures: &'a Path,
}

/// The ports one test server listens on (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub c2s: u16,
    pub component: u16,
    pub s2s: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_hosts_and_options() {
        let cfg = Config::new()
            .virtual_host("example.org", |h| {
                h.module("sms_alias")
                    .option("sms_alias_component", "sms.example.org")
            })
            .internal_component("sms.example.org", "sms_echo_test")
            .external_component("gw.example.org")
            .option("test_map", LuaValue::Map(vec![("a.b".into(), 5i64.into())]));
        let fixtures = Path::new("/fx");
        let paths = ConfigPaths {
            data: "/t/data".into(),
            pidfile: "/t/pid".into(),
            installer: "/t/installed".into(),
            certs: "/t/certs".into(),
            log: "/t/log".into(),
            fixtures,
        };
        let ports = Ports {
            c2s: 1,
            component: 2,
            s2s: None,
        };
        let text = cfg.render(&paths, &ports);
        assert!(text.contains("c2s_ports = { 1; }\n"));
        assert!(text.contains("modules_disabled = { \"s2s\"; }\n"));
        assert!(text.contains("test_map = { [\"a.b\"] = 5; }\n"));
        assert!(text.contains(
            "VirtualHost \"example.org\"\n    modules_enabled = { \"sms_alias\"; }\n    sms_alias_component = \"sms.example.org\"\n"
        ));
        assert!(text.contains("Component \"sms.example.org\" \"sms_echo_test\"\n"));
        assert!(text.contains("Component \"gw.example.org\"\n    component_secret = \"s3cret\"\n"));
    }
}
