//! The benchmark's world: a throwaway Prosody as a user would run it
//! (mod_sms_alias installed with `prosodyctl install`, goippy's
//! `Component`, the modules of Debian's default configuration — carbons
//! on, MAM off — logging at info), the users, and the
//! release `goippy` on SQLite or on a MariaDB server of its own, with a
//! gateway for every channel — the users' channels and the channels that
//! only send keepalives.
//!
//! Prosody and the users come up first, so that the ceiling can be measured
//! under the component name before goippy takes it ([`BenchWorld::start_goippy`]).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use goippy_testkit::mariadb::MariaDb;
use goippy_testkit::ports::free_udp_port;
use tokio::task::block_in_place;
use tokio::time::{Instant, sleep};

use crate::bench::device::{Channel, ChannelSpec};
use crate::bench::ledger::Ledger;
use crate::bench::users::{Account, User};
use crate::config::{COMPONENT_SECRET, Config, LogLevel};
use crate::stanzas::NS_DISCO_INFO;
use crate::world::{Backend, COMPONENT, DOMAIN};
use crate::{Database, Goippy, GoippySettings, Prosody, Result, XmppClient};

/// How many `prosodyctl register` / `goippy --add` run at once.
const PARALLEL_ADMIN: usize = 8;
/// How often one `goippy --add` is tried.
const ADD_ATTEMPTS: u32 = 5;
/// How long goippy may take to come online as the component.
const ONLINE_TIMEOUT: Duration = Duration::from_secs(30);

/// How big the world is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Users, each owning one channel that carries SMS both ways.
    pub users: usize,
    /// Channels that only send keepalives (no user logs in for them).
    pub keepalive_channels: usize,
}

/// A running world (see the module docs). Fields drop in order: users and
/// channels first, then goippy, then Prosody, then the database server.
pub struct BenchWorld {
    pub users: Vec<User>,
    /// The users' channels, `channels[i]` belonging to `users[i]`.
    pub channels: Vec<Channel>,
    /// The keepalive-only channels, created by [`BenchWorld::start_goippy`].
    pub keepalive_channels: Vec<Channel>,
    keepalive_specs: Vec<ChannelSpec>,
    /// Whether the keepalive-only channels were registered and keep
    /// sending.
    keepalives_running: AtomicBool,
    user_specs: Vec<ChannelSpec>,
    pub goippy: Goippy,
    goippy_running: bool,
    pub prosody: Prosody,
    pub mariadb: Option<MariaDb>,
    pub backend: Backend,
    pub ledger: Ledger,
    window: usize,
    dir: tempfile::TempDir,
}

/// The user of index `i` (0-based): extension 2001, 2002, …
pub fn user_ext(i: usize) -> String {
    format!("{}", 2001 + i)
}

fn user_channel(i: usize) -> ChannelSpec {
    ChannelSpec {
        id: format!("bench{:02}", i + 1),
        password: format!("pw-bench{:02}", i + 1),
        number: format!("+3725550{:04}", i + 1),
    }
}

fn keepalive_channel(i: usize) -> ChannelSpec {
    ChannelSpec {
        id: format!("ka{:04}", i + 1),
        password: format!("pw-ka{:04}", i + 1),
        number: format!("+3725551{:04}", i + 1),
    }
}

/// Runs `job` for each item, `PARALLEL_ADMIN` at a time; the first error.
fn in_parallel<T: Sync>(items: &[T], job: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    for chunk in items.chunks(PARALLEL_ADMIN) {
        std::thread::scope(|scope| {
            for item in chunk {
                let job = &job;
                let first_error = &first_error;
                scope.spawn(move || {
                    if let Err(e) = job(item) {
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e.to_string());
                    }
                });
            }
        });
        if let Some(e) = first_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e.into());
        }
    }
    Ok(())
}

impl BenchWorld {
    /// Prosody with its users logged in, and goippy configured and
    /// provisioned but not started.
    pub async fn prepare(backend: Backend, size: Size, window: usize) -> Result<BenchWorld> {
        let dir = tempfile::Builder::new().prefix("goippy-bench.").tempdir()?;
        let accounts: Vec<Account> = (0..size.users)
            .map(|i| {
                let ext = user_ext(i);
                Account {
                    jid: format!("{ext}@{DOMAIN}"),
                    password: format!("{ext}-xmpp-pw"),
                    ext,
                }
            })
            .collect();
        let prosody = block_in_place(|| -> Result<Prosody> {
            // As Debian's prosody.cfg.lua ships: carbons on, MAM off. (With
            // MAM on internal storage, a user's archive beyond
            // storage_archive_item_limit, 10,000, is rewritten whole every
            // hundred messages: Prosody's storage, not routing, would then
            // be what the 20,000-message scenarios measure.)
            let config = Config::new()
                .without_module("mam")
                .log_level(LogLevel::Info)
                .virtual_host(DOMAIN, |h| {
                    h.module("sms_alias")
                        .option("sms_alias_component", COMPONENT)
                })
                .external_component(COMPONENT);
            let mut prosody = Prosody::new(config)?;
            prosody.install_mod_sms_alias()?;
            in_parallel(&accounts, |a| prosody.register(&a.ext, DOMAIN, &a.password))?;
            prosody.start()?;
            Ok(prosody)
        })?;

        let mariadb = match backend {
            Backend::Sqlite => None,
            Backend::MariaDb => Some(block_in_place(MariaDb::start)?),
        };
        let database = match &mariadb {
            None => Database::Sqlite(dir.path().join("goippy.db")),
            Some(server) => Database::MySql(server.create_database()?),
        };
        let mut goippy = Goippy::new(
            dir.path(),
            GoippySettings {
                domain: DOMAIN.into(),
                component: COMPONENT.into(),
                component_secret: COMPONENT_SECRET.into(),
                xmpp_host: "127.0.0.1".into(),
                xmpp_port: prosody.ports().component,
                goip_port: free_udp_port(),
                database,
                // As goippy ships: XMPP_PING_INTERVAL at its default.
                extra: vec![("XMPP_PING_INTERVAL".into(), "30".into())],
            },
        )?;
        goippy.set_verbose(false);
        let user_specs: Vec<ChannelSpec> = (0..size.users).map(user_channel).collect();
        let keepalive_specs: Vec<ChannelSpec> = (0..size.keepalive_channels)
            .map(keepalive_channel)
            .collect();
        block_in_place(|| -> Result<()> {
            let gateways: Vec<(String, &ChannelSpec)> = user_specs
                .iter()
                .enumerate()
                .map(|(i, spec)| (user_ext(i), spec))
                .chain(
                    keepalive_specs
                        .iter()
                        .enumerate()
                        .map(|(i, spec)| (format!("{}", 5001 + i), spec)),
                )
                .collect();
            // Tried again when it fails: on MariaDB, admin commands at
            // the same moment can deadlock (error 1213), and `--add` does
            // not retry by itself.
            let add = |(ext, spec): &(String, &ChannelSpec)| {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match goippy.add_gateway(ext, &spec.password, &spec.id, None) {
                        Ok(_) => return Ok(()),
                        Err(e) if attempt >= ADD_ATTEMPTS => return Err(e),
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            };
            // The first alone: it creates the schema, which two admin
            // commands at once on a fresh database would both try.
            let (first, rest) = gateways.split_first().ok_or("no gateways")?;
            add(first)?;
            in_parallel(rest, add)
        })?;

        let ledger = Ledger::new();
        let mut users = Vec::new();
        for account in accounts {
            users.push(User::start(prosody.c2s_addr(), account, ledger.clone()).await?);
        }
        Ok(BenchWorld {
            users,
            channels: Vec::new(),
            keepalive_channels: Vec::new(),
            keepalive_specs,
            keepalives_running: AtomicBool::new(false),
            user_specs,
            goippy,
            goippy_running: false,
            prosody,
            mariadb,
            backend,
            ledger,
            window,
            dir,
        })
    }

    /// Starts goippy and the users' channels (registered, keepalives every
    /// `interval`); returns once goippy answers as the component.
    pub async fn start_goippy(&mut self, interval: Duration) -> Result<()> {
        block_in_place(|| self.goippy.start())?;
        self.goippy_running = true;
        let server = self.goippy.goip_addr();
        for (i, spec) in self.user_specs.iter().enumerate() {
            let channel =
                Channel::start(spec.clone(), i, server, self.window, self.ledger.clone()).await?;
            self.channels.push(channel);
        }
        for (i, spec) in self.keepalive_specs.iter().enumerate() {
            let index = self.user_specs.len() + i;
            let channel = Channel::start(
                spec.clone(),
                index,
                server,
                self.window,
                self.ledger.clone(),
            )
            .await?;
            self.keepalive_channels.push(channel);
        }
        register(&self.ledger, &self.channels, interval).await?;
        self.wait_online().await
    }

    /// Waits until goippy's component answers a disco#info query.
    async fn wait_online(&self) -> Result<()> {
        let account = &self.users.first().ok_or("the world has no users")?.account;
        // A client of its own: the users' tasks own theirs.
        let mut client =
            XmppClient::connect(self.prosody.c2s_addr(), &account.jid, &account.password).await?;
        let deadline = Instant::now() + ONLINE_TIMEOUT;
        for probe in 1.. {
            let id = format!("online-{probe}");
            client
                .send_xml(&format!(
                    "<iq type='get' to='{COMPONENT}' id='{id}'><query xmlns='{NS_DISCO_INFO}'/></iq>"
                ))
                .await?;
            let answer = client
                .wait_for("disco#info", Duration::from_secs(10), |el| {
                    el.name() == "iq" && el.attr("id") == Some(id.as_str())
                })
                .await?;
            if answer.attr("type") == Some("result") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("goippy did not come online within {ONLINE_TIMEOUT:?}").into());
            }
            sleep(Duration::from_millis(100)).await;
        }
        client.close().await
    }

    /// Whether the keepalive-only channels were started.
    pub fn keepalives_running(&self) -> bool {
        self.keepalives_running.load(Ordering::Relaxed)
    }

    pub fn set_keepalives_running(&self) {
        self.keepalives_running.store(true, Ordering::Relaxed);
    }

    pub fn c2s_addr(&self) -> SocketAddr {
        self.prosody.c2s_addr()
    }

    pub fn component_addr(&self) -> SocketAddr {
        self.prosody.component_addr()
    }

    pub fn goippy_pid(&self) -> Result<u32> {
        self.goippy
            .pid()
            .ok_or_else(|| "goippy is not running".into())
    }

    pub fn prosody_pid(&self) -> Result<u32> {
        self.prosody
            .pid()
            .ok_or_else(|| "prosody is not running".into())
    }

    pub fn mariadb_pid(&self) -> Option<u32> {
        self.mariadb.as_ref().and_then(MariaDb::pid)
    }

    /// Logs the users out and stops goippy cleanly (an error unless it
    /// exits with status 0).
    pub async fn finish(mut self) -> Result<()> {
        let mut problems = Vec::new();
        for user in std::mem::take(&mut self.users) {
            if let Err(e) = user.stop().await {
                problems.push(e.to_string());
            }
        }
        self.channels.clear();
        self.keepalive_channels.clear();
        if self.goippy_running
            && let Err(e) = block_in_place(|| self.goippy.stop())
        {
            problems.push(e.to_string());
        }
        if std::env::var_os("PROSODY_TEST_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "bench: goippy's files (goippy.conf, goippy.log, the database) kept in {}",
                self.dir.path().display()
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    }
}

/// Starts keepalives on `channels`, evenly spread over `interval` (one at
/// once to register), and waits until each was acked once.
pub async fn register(ledger: &Ledger, channels: &[Channel], interval: Duration) -> Result<()> {
    let before = ledger.counts().registered;
    let n = channels.len().max(1) as u32;
    for (k, channel) in channels.iter().enumerate() {
        channel.keepalives(interval, interval * k as u32 / n);
        // At most ~2,000 registrations a second: a burst of a thousand
        // would overflow goippy's socket buffer, as a real power cut
        // of that many devices would not (they come back one by one).
        if k % 20 == 19 {
            sleep(Duration::from_millis(10)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger.counts().registered < before + channels.len() as u64 {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} channels registered within 30 s",
                ledger.counts().registered - before,
                channels.len()
            )
            .into());
        }
        sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
