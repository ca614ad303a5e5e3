//! One end-to-end setup, the way a user runs goippy: Prosody with
//! mod_sms_alias, the real `goippy` daemon, simulated GoIPs, and logged-in
//! XMPP users — started in seconds and stopped by PID when dropped.
//!
//! A [`Scenario`] says what the test needs (devices and their channels,
//! users and the channel each one owns, the database backend, timings); its
//! [`Scenario::start`] brings everything up in the order an admin would:
//!
//! 1. Prosody: a throwaway server with mod_sms_alias installed by
//!    `prosodyctl install` and goippy's `Component`, accounts created with
//!    `prosodyctl register` — or an already-running server described by the
//!    `PROSODY_TEST_*` environment ([`crate::external`]);
//! 2. goippy: a generated `goippy.conf` (SQLite in the scenario's temp dir,
//!    or a MariaDB database), gateways provisioned with `goippy --add`,
//!    then `goippy -v`;
//! 3. one `goip-sim` per device, pointed at goippy's UDP port;
//! 4. every user logged in.
//!
//! It returns once goippy's component answers on the XMPP side and every
//! simulated channel is registered, so a test starts with a working
//! gateway. The [`World`] hands out the parts, restarts them, and at the
//! end ([`World::finish`]) stops everything, insisting on clean exits.
//! Dropped early (a failed assertion), it stops everything anyway; each
//! part then prints the end of its log.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::time::Duration;

use goippy_testkit::mariadb::{TestDatabase, test_database};
use goippy_testkit::ports::free_udp_port;
use tokio::time::{Instant, sleep};
use tokio_xmpp::minidom::Element;

use crate::config::{COMPONENT_SECRET, Config};
use crate::external::ExternalProsody;
use crate::goip_sim::{GoipSim, SimChannel, SimTiming};
use crate::goippy::{Database, Goippy, GoippySettings};
use crate::prosody::Prosody;
use crate::stanzas::NS_DISCO_INFO;
use crate::{Result, XmppClient, xml_of};

/// The users' domain of a throwaway Prosody.
pub const DOMAIN: &str = "example.org";
/// goippy's component domain on a throwaway Prosody.
pub const COMPONENT: &str = "sms.example.org";
/// A generous bound for anything that should happen (it takes milliseconds).
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to watch for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(700);
/// How long start-up (goippy online, channels registered) may take.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// goippy's database for a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in the scenario's temp dir (goippy's default).
    Sqlite,
    /// A fresh database on a throwaway MariaDB (or `GOIPPY_TEST_MYSQL_URL`).
    MariaDb,
}

#[derive(Debug, Clone)]
struct DeviceSpec {
    name: String,
    channels: Vec<SimChannel>,
}

#[derive(Debug, Clone)]
struct UserSpec {
    name: String,
    password: String,
    /// `None`: the users' domain; otherwise another VirtualHost.
    host: Option<String>,
    /// The channel (goip_id) this user owns, and its destination ACL.
    gateway: Option<(String, Option<String>)>,
}

enum Target {
    /// Throwaway unless `PROSODY_TEST_EXTERNAL` says otherwise.
    FromEnv,
    Managed,
    External(ExternalProsody),
}

/// What a test needs (see the module docs).
pub struct Scenario {
    devices: Vec<DeviceSpec>,
    users: Vec<UserSpec>,
    /// Further lines of users: (ext, goip_id), given with `--add-line`.
    shared_lines: Vec<(String, String)>,
    backend: Backend,
    timing: SimTiming,
    sim_args: Vec<String>,
    goippy_options: Vec<(String, String)>,
    target: Target,
    alias_module: bool,
    /// A database the test owns (and may stop), instead of [`Backend`]'s.
    database: Option<TestDatabase>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// Nothing yet: add devices and users.
    pub fn new() -> Self {
        Scenario {
            devices: Vec::new(),
            users: Vec::new(),
            shared_lines: Vec::new(),
            backend: Backend::Sqlite,
            timing: SimTiming::fast(),
            sim_args: Vec::new(),
            goippy_options: Vec::new(),
            target: Target::FromEnv,
            alias_module: true,
            database: None,
        }
    }

    /// A simulated GoIP named `name` with one channel per `(goip_id, SIM
    /// number)`, channel 1 first. Each channel's password is `pw-<goip_id>`.
    pub fn device(mut self, name: &str, channels: &[(&str, &str)]) -> Self {
        self.devices.push(DeviceSpec {
            name: name.into(),
            channels: channels
                .iter()
                .map(|(id, number)| SimChannel::new(id, &format!("pw-{id}"), number))
                .collect(),
        });
        self
    }

    /// A user `<ext>@domain` who owns the channel `goip_id`
    /// (`goippy --add <ext> <channel password> --goip-id <goip_id>`).
    pub fn user(self, ext: &str, goip_id: &str) -> Self {
        self.add_user(ext, None, Some((goip_id.into(), None)))
    }

    /// User `ext` (already a user) also uses the channel `goip_id`, another
    /// user's line (`goippy --add-line ext goip_id`): its line 2, 3, …
    pub fn shares(mut self, ext: &str, goip_id: &str) -> Self {
        self.shared_lines.push((ext.into(), goip_id.into()));
        self
    }

    /// As [`Scenario::user`], limited to destinations `allow_regex` matches.
    pub fn user_with_acl(self, ext: &str, goip_id: &str, allow_regex: &str) -> Self {
        self.add_user(ext, None, Some((goip_id.into(), Some(allow_regex.into()))))
    }

    /// An account on the users' domain that goippy knows nothing about.
    pub fn stranger(self, name: &str) -> Self {
        self.add_user(name, None, None)
    }

    /// An account on another VirtualHost `host` of the same (throwaway)
    /// Prosody, without mod_sms_alias: a sender from a foreign domain.
    pub fn foreign_user(self, name: &str, host: &str) -> Self {
        self.add_user(name, Some(host.into()), None)
    }

    fn add_user(
        mut self,
        name: &str,
        host: Option<String>,
        gateway: Option<(String, Option<String>)>,
    ) -> Self {
        self.users.push(UserSpec {
            name: name.into(),
            password: format!("{name}-xmpp-pw"),
            host,
            gateway,
        });
        self
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// goippy's database on a MariaDB server the test started itself
    /// (`MariaDb::start`), so that it can stop or kill it.
    pub fn mariadb_database(mut self, database: TestDatabase) -> Self {
        self.backend = Backend::MariaDb;
        self.database = Some(database);
        self
    }

    /// The simulated devices' timing (default: [`SimTiming::fast`]).
    pub fn timing(mut self, timing: SimTiming) -> Self {
        self.timing = timing;
        self
    }

    /// One more `goip-sim` argument for every device (`--ussd-reply …`).
    pub fn sim_arg(mut self, arg: &str) -> Self {
        self.sim_args.push(arg.into());
        self
    }

    /// A `goippy.conf` setting; `toml_value` is written as is (`"text"`, `5`).
    pub fn goippy_option(mut self, key: &str, toml_value: &str) -> Self {
        self.goippy_options.push((key.into(), toml_value.into()));
        self
    }

    /// A throwaway Prosody without mod_sms_alias, and goippy told so
    /// (`XMPP_USE_ALIAS = false`): users write to goippy's own JIDs,
    /// `+N@sms.example.org` ([`World::alias`] gives those).
    pub fn without_alias_module(mut self) -> Self {
        self.alias_module = false;
        self.target = Target::Managed;
        self.goippy_option("XMPP_USE_ALIAS", "false")
    }

    /// Always a throwaway Prosody, whatever the environment says (for
    /// scenarios that need to own the server).
    pub fn managed(mut self) -> Self {
        self.target = Target::Managed;
        self
    }

    /// This already-running Prosody instead of a throwaway one.
    pub fn external(mut self, prosody: ExternalProsody) -> Self {
        self.target = Target::External(prosody);
        self
    }

    /// Whether [`Scenario::start`] would use an external Prosody.
    pub fn targets_external(&self) -> Result<bool> {
        Ok(match &self.target {
            Target::FromEnv => ExternalProsody::from_env()?.is_some(),
            Target::Managed => false,
            Target::External(_) => true,
        })
    }

    fn channel_password(&self, goip_id: &str) -> Result<String> {
        self.devices
            .iter()
            .flat_map(|d| &d.channels)
            .find(|c| c.id == goip_id)
            .map(|c| c.password.clone())
            .ok_or_else(|| format!("no device has a channel {goip_id:?}").into())
    }

    /// Starts everything (see the module docs).
    pub async fn start(mut self) -> Result<World> {
        let dir = tempfile::Builder::new().prefix("goippy-e2e.").tempdir()?;
        let target = match &self.target {
            Target::FromEnv => ExternalProsody::from_env()?,
            Target::Managed => None,
            Target::External(p) => Some(p.clone()),
        };
        let mut users = self.users.clone();
        let (prosody, lock) = match target {
            None => (
                ProsodyTarget::Managed(Box::new(self.start_prosody()?)),
                None,
            ),
            Some(external) => {
                if let Some(u) = users.iter().find(|u| u.host.is_some()) {
                    return Err(format!(
                        "user {} needs a second VirtualHost: only a throwaway Prosody has one",
                        u.name
                    )
                    .into());
                }
                let lock = external.lock()?;
                for user in &mut users {
                    user.password =
                        external.ensure_account(&user.name, &external.domain, &user.password)?;
                }
                (ProsodyTarget::External(external), Some(lock))
            }
        };
        let (domain, component, xmpp_host, xmpp_port, secret, c2s) = match &prosody {
            ProsodyTarget::Managed(p) => (
                DOMAIN.to_string(),
                COMPONENT.to_string(),
                "127.0.0.1".to_string(),
                p.ports().component,
                COMPONENT_SECRET.to_string(),
                p.c2s_addr(),
            ),
            ProsodyTarget::External(e) => (
                e.domain.clone(),
                e.component.clone(),
                e.host.clone(),
                e.component_port,
                e.component_secret.clone(),
                e.c2s_addr()?,
            ),
        };

        let database = match (self.database.take(), self.backend) {
            (Some(own), _) => Database::MySql(own),
            (None, Backend::Sqlite) => Database::Sqlite(dir.path().join("goippy.db")),
            (None, Backend::MariaDb) => Database::MySql(
                test_database().map_err(|e| format!("a MariaDB database for goippy: {e}"))?,
            ),
        };
        let mut goippy = Goippy::new(
            dir.path(),
            GoippySettings {
                domain: domain.clone(),
                component: component.clone(),
                component_secret: secret,
                xmpp_host,
                xmpp_port,
                goip_port: free_udp_port(),
                database,
                extra: self.goippy_options.clone(),
            },
        )?;
        for user in &users {
            if let Some((goip_id, acl)) = &user.gateway {
                goippy.add_gateway(
                    &user.name,
                    &self.channel_password(goip_id)?,
                    goip_id,
                    acl.as_deref(),
                )?;
            }
        }
        for (ext, goip_id) in &self.shared_lines {
            goippy.add_line(ext, goip_id)?;
        }
        goippy.start()?;

        let sim_args: Vec<&str> = self.sim_args.iter().map(String::as_str).collect();
        let mut sims = Vec::new();
        for device in &self.devices {
            sims.push(
                GoipSim::start(
                    &device.name,
                    goippy.goip_addr(),
                    &device.channels,
                    &self.timing,
                    &sim_args,
                    dir.path(),
                )
                .await?,
            );
        }

        let mut world = World {
            alias_module: self.alias_module,
            clients: HashMap::new(),
            sims,
            goippy,
            users,
            domain,
            component,
            c2s,
            prosody,
            _lock: lock,
            dir,
        };
        world.login_all().await?;
        world.wait_ready().await?;
        Ok(world)
    }

    fn start_prosody(&self) -> Result<Prosody> {
        let alias_module = self.alias_module;
        let mut config = Config::new()
            .virtual_host(DOMAIN, |h| {
                if alias_module {
                    h.module("sms_alias")
                        .option("sms_alias_component", COMPONENT)
                } else {
                    h
                }
            })
            .external_component(COMPONENT);
        let mut foreign: Vec<&str> = self
            .users
            .iter()
            .filter_map(|u| u.host.as_deref())
            .collect();
        foreign.sort_unstable();
        foreign.dedup();
        for host in foreign {
            config = config.virtual_host(host, |h| h);
        }
        let mut prosody = Prosody::new(config)?;
        // The README's way: `prosodyctl install` of the packed module.
        if alias_module {
            prosody.install_mod_sms_alias()?;
        }
        for user in &self.users {
            prosody.register(
                &user.name,
                user.host.as_deref().unwrap_or(DOMAIN),
                &user.password,
            )?;
        }
        prosody.start()?;
        Ok(prosody)
    }
}

/// The Prosody a world runs against.
enum ProsodyTarget {
    Managed(Box<Prosody>),
    External(ExternalProsody),
}

/// A running setup (see the module docs). Fields drop in order: clients,
/// devices, goippy, then Prosody.
pub struct World {
    /// Whether Prosody runs mod_sms_alias (see [`Scenario::without_alias_module`]).
    alias_module: bool,
    clients: HashMap<String, XmppClient>,
    sims: Vec<GoipSim>,
    goippy: Goippy,
    users: Vec<UserSpec>,
    domain: String,
    component: String,
    c2s: SocketAddr,
    prosody: ProsodyTarget,
    /// With an external Prosody: its component's lock, held while this
    /// world runs (see [`ExternalProsody::lock`]).
    _lock: Option<File>,
    dir: tempfile::TempDir,
}

impl World {
    /// The users' domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// goippy's component domain.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Where clients connect.
    pub fn c2s_addr(&self) -> SocketAddr {
        self.c2s
    }

    /// How users address a phone number: `+N@domain` with mod_sms_alias,
    /// goippy's own `+N@component` without it.
    pub fn alias(&self, number: &str) -> String {
        if self.alias_module {
            format!("{number}@{}", self.domain)
        } else {
            self.component_jid(number)
        }
    }

    /// goippy's own JID for `node` (`+N@sms.example.org`), which users may
    /// also write to directly.
    pub fn component_jid(&self, node: &str) -> String {
        format!("{node}@{}", self.component)
    }

    /// A user's bare JID.
    pub fn jid(&self, user: &str) -> String {
        let host = self
            .user(user)
            .and_then(|u| u.host.clone())
            .unwrap_or_else(|| self.domain.clone());
        format!("{user}@{host}")
    }

    /// The user's XMPP password.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.user(user).map(|u| u.password.as_str())
    }

    /// The SIM number of the channel `goip_id`.
    pub fn number_of(&self, goip_id: &str) -> Option<&str> {
        self.sims
            .iter()
            .flat_map(|s| s.channels())
            .find(|c| c.id == goip_id)
            .map(|c| c.number.as_str())
    }

    /// The alias of the user's own SIM: chatting with it is the console.
    pub fn own_alias(&self, user: &str) -> Option<String> {
        let (goip_id, _) = self.user(user)?.gateway.as_ref()?;
        Some(self.alias(self.number_of(goip_id)?))
    }

    fn user(&self, name: &str) -> Option<&UserSpec> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The logged-in client of `user`.
    ///
    /// # Panics
    /// When `user` is not logged in: a mistake in the test itself.
    pub fn client(&mut self, user: &str) -> &mut XmppClient {
        match self.clients.get_mut(user) {
            Some(client) => client,
            None => panic!("{user} is not logged in (World::login)"),
        }
    }

    /// The simulated device `n` (in the order of [`Scenario::device`], from 0).
    ///
    /// # Panics
    /// When there is no such device: a mistake in the test itself.
    pub fn sim(&mut self, n: usize) -> &mut GoipSim {
        let count = self.sims.len();
        match self.sims.get_mut(n) {
            Some(sim) => sim,
            None => panic!("there is no device {n} (the scenario has {count})"),
        }
    }

    pub fn goippy(&mut self) -> &mut Goippy {
        &mut self.goippy
    }

    /// The throwaway Prosody, or `None` for an external one.
    pub fn prosody(&mut self) -> Option<&mut Prosody> {
        match &mut self.prosody {
            ProsodyTarget::Managed(p) => Some(p),
            ProsodyTarget::External(_) => None,
        }
    }

    /// Whether this world runs against an external Prosody.
    pub fn is_external(&self) -> bool {
        matches!(self.prosody, ProsodyTarget::External(_))
    }

    /// The scenario's temp dir (goippy.conf, goippy.log, the SQLite file).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Logs `user` in (again: an old session of this world is replaced).
    pub async fn login(&mut self, user: &str) -> Result<()> {
        let password = self
            .password(user)
            .ok_or_else(|| format!("the scenario has no user {user}"))?
            .to_string();
        self.clients.remove(user);
        let client = XmppClient::connect(self.c2s, &self.jid(user), &password).await?;
        self.clients.insert(user.to_string(), client);
        Ok(())
    }

    /// Logs `user` out: the stream is closed cleanly, and Prosody ends the
    /// session at once. Nothing happens when `user` is not logged in.
    pub async fn logout(&mut self, user: &str) -> Result<()> {
        match self.clients.remove(user) {
            Some(client) => client.close().await,
            None => Ok(()),
        }
    }

    /// Logs every user in (again).
    pub async fn login_all(&mut self) -> Result<()> {
        let names: Vec<String> = self.users.iter().map(|u| u.name.clone()).collect();
        for name in names {
            self.login(&name).await?;
        }
        Ok(())
    }

    /// Waits until goippy's component answers and every channel of every
    /// device is registered with goippy.
    pub async fn wait_ready(&mut self) -> Result<()> {
        self.wait_component_online(READY_TIMEOUT).await?;
        for sim in &mut self.sims {
            sim.wait_registered(READY_TIMEOUT).await?;
        }
        Ok(())
    }

    /// Waits until goippy's component answers a disco#info query from a
    /// logged-in user (Prosody answers with an error while it is offline).
    pub async fn wait_component_online(&mut self, within: Duration) -> Result<()> {
        let user = self
            .clients
            .keys()
            .next()
            .cloned()
            .ok_or("no user is logged in to ask the component")?;
        let component = self.component.clone();
        let deadline = Instant::now() + within;
        let mut probe = 0u32;
        loop {
            probe += 1;
            let id = format!("component-probe-{probe}");
            let client = self.client(&user);
            client
                .send_xml(&format!(
                    "<iq type='get' to='{component}' id='{id}'><query xmlns='{NS_DISCO_INFO}'/></iq>"
                ))
                .await?;
            let answer = client
                .wait_for("the component's disco#info answer", WAIT, |el| {
                    el.name() == "iq" && el.attr("id") == Some(id.as_str())
                })
                .await?;
            if answer.attr("type") == Some("result") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "goippy's component {component} did not come online within {within:?}; \
                     Prosody's last answer: {}",
                    xml_of(&answer)
                )
                .into());
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every channel had a keepalive accepted *after* this call
    /// (after a goippy restart).
    pub async fn wait_reregistered(&mut self) -> Result<()> {
        for sim in &mut self.sims {
            sim.take_received(|e| e["event"] == "keepalive_ack");
            sim.wait_registered(READY_TIMEOUT).await?;
        }
        Ok(())
    }

    /// Restarts goippy (a clean stop, then start) and waits until it is
    /// back on both sides.
    pub async fn restart_goippy(&mut self) -> Result<()> {
        self.goippy.restart()?;
        self.wait_reregistered().await?;
        self.wait_component_online(READY_TIMEOUT).await
    }

    /// Stops a throwaway Prosody (clients are disconnected); an error for
    /// an external one.
    pub fn stop_prosody(&mut self) -> Result<()> {
        self.clients.clear();
        match &mut self.prosody {
            ProsodyTarget::Managed(p) => p.stop(),
            ProsodyTarget::External(_) => {
                Err("an external Prosody cannot be stopped and started by the harness".into())
            }
        }
    }

    /// Starts a throwaway Prosody stopped by [`World::stop_prosody`] again,
    /// on the same ports and data.
    pub fn start_prosody(&mut self) -> Result<()> {
        match &mut self.prosody {
            ProsodyTarget::Managed(p) => p.start_again(),
            ProsodyTarget::External(_) => {
                Err("an external Prosody cannot be stopped and started by the harness".into())
            }
        }
    }

    /// Hands the simulated devices over to the caller, for a traffic driver
    /// that reads their events in a task of its own; [`World::finish`] then
    /// leaves them to the caller (each stops by PID when dropped).
    pub fn take_sims(&mut self) -> Vec<GoipSim> {
        std::mem::take(&mut self.sims)
    }

    /// Every message (any stanza) `user` has received and not yet matched,
    /// for which `wanted` holds.
    pub fn take_received(&mut self, user: &str, wanted: impl Fn(&Element) -> bool) -> Vec<Element> {
        self.client(user).take_received(wanted)
    }

    /// Ends the scenario: users log out, every device quits, goippy and
    /// Prosody stop. An error if goippy or a device did not exit cleanly.
    pub async fn finish(mut self) -> Result<()> {
        for (_, client) in self.clients.drain() {
            // A client of a restarted server may already be gone; only the
            // daemons' exits are what this checks.
            let _ = client.close().await;
        }
        let mut problems = Vec::new();
        for sim in &mut self.sims {
            if let Err(e) = sim.quit() {
                problems.push(e.to_string());
            }
        }
        if let Err(e) = self.goippy.stop() {
            problems.push(e.to_string());
        }
        if let ProsodyTarget::Managed(p) = &mut self.prosody
            && let Err(e) = p.stop()
        {
            problems.push(e.to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let keep = std::env::var_os("PROSODY_TEST_KEEP").is_some();
        if keep {
            self.dir.disable_cleanup(true);
        }
        if std::thread::panicking() || keep {
            eprintln!(
                "prosody-test: the scenario's files (goippy.conf, goippy.log, the database) are in {}{}",
                self.dir.path().display(),
                if keep {
                    ""
                } else {
                    " (removed; PROSODY_TEST_KEEP=1 keeps them)"
                }
            );
        }
    }
}
