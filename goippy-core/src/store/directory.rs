//! The channel registry the engine and the bridge ask, from memory.
//!
//! The engine authenticates every datagram and cannot wait on a database,
//! and the bridge maps ext ↔ goip_id ↔ msisdn for every message. Both read a
//! snapshot of the ENABLED rows of `goippy_gateways` (lines) and who uses
//! each (`goippy_line_users`, see `store/lines.rs`), held in memory and
//! replaced as a whole (a reader sees the old or the new set, never a mix).
//! An extension's lines ([`GatewayDirectory::lines_of`]) are its default
//! line, then the lines it was given, in that order: "line N" is the N-th.
//! A background task reloads it every few seconds, so `goippy --add`,
//! `--disable` and a channel's new number reach a running daemon without a
//! restart; [`GatewayDirectory::refresh_now`] is for SIGHUP. When a reload
//! fails the old snapshot stays.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::Secret;
use crate::engine::{ChannelCredentials, CredentialSource};
use crate::number::NumberRules;

use super::error::StoreError;
use super::records::Gateway;
use super::{Store, StoreTask};
use crate::config::gateway::DestinationAcl;
use crate::util::{SharedWarnLimiter, lock, read_lock, write_lock};

/// How often the snapshot is reloaded by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// An enabled line (gateway), as the registry knows it.
#[derive(Debug, Clone)]
pub struct ActiveGateway {
    /// The extension whose default line this is; `None` for a line made
    /// only to be shared.
    pub ext: Option<String>,
    /// Every extension that may use the line: the default owner first.
    pub users: Vec<String>,
    /// The most SMS it may send per UTC day; `None`: no cap.
    pub daily_limit: Option<i64>,
    pub goip_id: String,
    pub password: Secret,
    /// The channel's own number, as stored (from `--add` or the keepalive's `num:`).
    pub msisdn: Option<String>,
    /// Empty allows every destination.
    pub allow_regex: String,
    acl: Result<Option<DestinationAcl>, String>,
}

impl ActiveGateway {
    fn new(g: Gateway) -> ActiveGateway {
        let allow_regex = g.allow_regex.clone().unwrap_or_default();
        let acl = DestinationAcl::compile(&allow_regex).map_err(|e| e.to_string());
        // Each user once, in order.
        let mut seen = HashSet::new();
        let distinct = g.users().filter(|u| seen.insert(*u));
        let users = distinct.map(str::to_string).collect();
        ActiveGateway {
            users,
            daily_limit: g.daily_limit,
            ext: g.ext,
            goip_id: g.goip_id,
            password: g.password,
            msisdn: g.msisdn,
            allow_regex,
            acl,
        }
    }

    /// Whether this extension may send to `destination`: the allow_regex
    /// is searched in it, anchored where it says (see
    /// [`crate::config::gateway::acl`]). A stored allow_regex that does not compile
    /// (edited by hand) allows nothing.
    pub fn allows_destination(&self, destination: &str) -> bool {
        match &self.acl {
            Ok(None) => true,
            Ok(Some(acl)) => acl.allows(destination),
            Err(_) => false,
        }
    }

    /// The extension to name in logs and in the operator's lists: the
    /// default owner, else every user joined with `,` (`-` for none).
    pub fn owner_label(&self) -> String {
        match &self.ext {
            Some(ext) => ext.clone(),
            None if self.users.is_empty() => "-".to_string(),
            None => self.users.join(","),
        }
    }

    /// Why the stored allow_regex cannot be used, if it cannot.
    pub fn acl_error(&self) -> Option<&str> {
        self.acl.as_ref().err().map(String::as_str)
    }

    pub fn credentials(&self) -> ChannelCredentials {
        ChannelCredentials {
            goip_id: self.goip_id.clone(),
            password: self.password.clone(),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Snapshot {
    by_goip_id: HashMap<String, Arc<ActiveGateway>>,
    /// Each extension's lines, in order (line 1 first).
    lines_by_ext: HashMap<String, Vec<Arc<ActiveGateway>>>,
    by_number: HashMap<String, Arc<ActiveGateway>>,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    rules: NumberRules,
    snapshot: RwLock<Arc<Snapshot>>,
    /// How many times `snapshot` was replaced: advanced under its write
    /// lock ([`GatewayDirectory::generation`]).
    generation: AtomicU64,
    reload: tokio::sync::Mutex<()>,
    /// A digest of the set last kept in the spool, to keep it only when it changed.
    cached: std::sync::Mutex<Option<u64>>,
    /// The numbers channels reported in their keepalives, by goip_id. A
    /// reload installs what it read from `goippy_gateways`, which may
    /// predate the keepalive (its write is still queued): without these, a
    /// reload running at the moment the number is learned would forget it,
    /// and `status` to the own number would go out as an SMS. Locked only
    /// while holding `snapshot`'s write lock, so a learn and an install are
    /// never interleaved. As many entries as gateways at most.
    learned: std::sync::Mutex<HashMap<String, String>>,
}

/// The in-memory registry of enabled gateways. Clones share one snapshot.
#[derive(Debug, Clone)]
pub struct GatewayDirectory {
    shared: Arc<Shared>,
}

static RELOAD_FAILED: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

impl GatewayDirectory {
    /// Loads the enabled gateways. `rules` decide which written forms of a
    /// number are the same ([`GatewayDirectory::gateway_by_msisdn`]).
    pub async fn load(store: &Store, rules: NumberRules) -> Result<GatewayDirectory, StoreError> {
        let directory = GatewayDirectory {
            shared: Arc::new(Shared {
                store: store.clone(),
                rules,
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                generation: AtomicU64::new(0),
                reload: tokio::sync::Mutex::new(()),
                cached: std::sync::Mutex::new(None),
                learned: std::sync::Mutex::new(HashMap::new()),
            }),
        };
        match directory.refresh_now().await {
            Ok(_) => {}
            // The daemon starts while its database is down: the gateways
            // the spool kept authenticate the GoIPs until it is back.
            Err(e) if e.is_unavailable() => match store.cached_gateways().await? {
                Some(gateways) => {
                    let n = directory.install(gateways);
                    tracing::warn!(
                        gateways = n,
                        "the database is unavailable ({e}): using the gateways kept in the spool \
                         until it answers"
                    );
                }
                None => tracing::error!(
                    "the database is unavailable ({e}) and no gateways were kept in the spool: \
                     every GoIP is refused until the database answers"
                ),
            },
            Err(e) => return Err(e),
        }
        Ok(directory)
    }

    /// Reloads the snapshot now; returns how many gateways are enabled.
    /// A set that changed is also kept in the spool (for a start while the
    /// database is down).
    pub async fn refresh_now(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.shared.reload.lock().await;
        let gateways = self.shared.store.list_gateways().await?;
        let enabled: Vec<Gateway> = gateways.into_iter().filter(active).collect();
        let digest = cache_digest(&enabled);
        if lock(&self.shared.cached).replace(digest) == Some(digest) {
            // The rows are those installed last time (the digest covers
            // every field the snapshot is built from, and the numbers
            // learned since are in the snapshot already): rebuilding a
            // thousand gateways every few seconds for nothing was a tenth
            // of the daemon's CPU with only keepalives coming in.
            return Ok(self.snapshot().by_goip_id.len());
        }
        if let Err(e) = self.shared.store.cache_gateways(&enabled).await {
            // Only the next start while the database is down would miss it.
            lock(&self.shared.cached).take();
            tracing::warn!("cannot keep the gateways in the spool: {e}");
        }
        Ok(self.install(enabled))
    }

    /// Makes `gateways` the snapshot; returns how many are enabled.
    fn install(&self, gateways: Vec<Gateway>) -> usize {
        let mut guard = write_lock(&self.shared.snapshot);
        let mut learned = lock(&self.shared.learned);
        let present: HashSet<&str> = gateways.iter().map(|g| g.goip_id.as_str()).collect();
        learned.retain(|goip_id, _| present.contains(goip_id.as_str()));
        let mut next = Snapshot::default();
        // (ext, place among its lines, line): the default line first, then
        // the shared ones by when they were given.
        let mut places: Vec<(String, i64, Arc<ActiveGateway>)> = Vec::new();
        for mut g in gateways {
            if !active(&g) {
                continue;
            }
            // The channel's own report is newer than the row.
            if let Some(number) = learned.get(&g.goip_id) {
                g.msisdn = Some(number.clone());
            }
            let shares = g.shared_with.clone();
            let g = Arc::new(ActiveGateway::new(g));
            if next.by_goip_id.contains_key(&g.goip_id) {
                continue;
            }
            next.by_goip_id.insert(g.goip_id.clone(), Arc::clone(&g));
            if let Some(ext) = &g.ext {
                places.push((ext.clone(), i64::MIN, Arc::clone(&g)));
            }
            for share in shares {
                places.push((share.ext, share.order, Arc::clone(&g)));
            }
            if let Some(key) = g.msisdn.as_deref().and_then(|m| self.number_key(m)) {
                next.by_number.entry(key).or_insert_with(|| Arc::clone(&g));
            }
        }
        places.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (ext, _, g) in places {
            let lines = next.lines_by_ext.entry(ext).or_default();
            if !lines.iter().any(|l| l.goip_id == g.goip_id) {
                lines.push(g);
            }
        }
        let count = next.by_goip_id.len();
        report_changes(&guard, &next);
        *guard = Arc::new(next);
        self.shared.generation.fetch_add(1, Ordering::Release);
        count
    }

    /// Takes the number a channel reports in its keepalive (`num:`) into the
    /// snapshot at once. The store writes the same number to
    /// `goippy_gateways` in the background, but until the next reload the
    /// router would not recognise the user's own number and would send a
    /// console command (`status`) as an SMS to the user's own SIM. Returns
    /// whether anything changed.
    pub fn learn_msisdn(&self, goip_id: &str, number: &str) -> bool {
        let number = number.trim();
        if number.is_empty() {
            return false;
        }
        let mut guard = write_lock(&self.shared.snapshot);
        let Some(current) = guard.by_goip_id.get(goip_id) else {
            return false;
        };
        lock(&self.shared.learned).insert(goip_id.to_string(), number.to_string());
        if current.msisdn.as_deref() == Some(number) {
            return false;
        }
        let mut updated = ActiveGateway::clone(current);
        updated.msisdn = Some(number.to_string());
        let updated = Arc::new(updated);
        let mut next = Snapshot::clone(&guard);
        for entry in next
            .lines_by_ext
            .values_mut()
            .flatten()
            .chain(next.by_goip_id.values_mut())
        {
            if entry.goip_id == goip_id {
                *entry = Arc::clone(&updated);
            }
        }
        next.by_number.retain(|_, g| g.goip_id != goip_id);
        if let Some(key) = self.number_key(number) {
            next.by_number.entry(key).or_insert(updated);
        }
        *guard = Arc::new(next);
        self.shared.generation.fetch_add(1, Ordering::Release);
        true
    }

    /// Reloads every `every` until the returned task is dropped.
    pub fn spawn_refresh(&self, every: Duration) -> StoreTask {
        let directory = self.clone();
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match directory.refresh_now().await {
                    Ok(_) => {}
                    Err(StoreError::Closed) => break,
                    Err(e) => {
                        if let Some(suppressed) = RELOAD_FAILED.allow() {
                            tracing::warn!(
                                suppressed,
                                "cannot reload the gateways (the last known set stays in use): {e}"
                            );
                        }
                    }
                }
            }
        });
        StoreTask(handle)
    }

    /// Changes whenever the set of gateways (or anything in one) may have
    /// changed: a reader that looks every second compares it instead of
    /// reading every gateway again. Read it before the gateways.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&read_lock(&self.shared.snapshot))
    }

    pub fn gateway_by_goip_id(&self, goip_id: &str) -> Option<Arc<ActiveGateway>> {
        self.snapshot().by_goip_id.get(goip_id).cloned()
    }

    /// The extension's line 1: its default line, else the first line it
    /// was given. An extension with no line is no user of the bridge.
    pub fn gateway_by_ext(&self, ext: &str) -> Option<Arc<ActiveGateway>> {
        self.snapshot()
            .lines_by_ext
            .get(ext)
            .and_then(|lines| lines.first().cloned())
    }

    /// The extension's lines, in order: line N is `lines_of(ext)[N - 1]`.
    pub fn lines_of(&self, ext: &str) -> Vec<Arc<ActiveGateway>> {
        self.snapshot()
            .lines_by_ext
            .get(ext)
            .cloned()
            .unwrap_or_default()
    }

    /// How many lines the extension has, without copying the list: asked
    /// for every SMS (one line or several decides the tag and `/line`).
    pub fn line_count(&self, ext: &str) -> usize {
        self.snapshot().lines_by_ext.get(ext).map_or(0, Vec::len)
    }

    /// The gateway whose channel has this number, in any written form the
    /// number rules equate (`+37255512345`, `0037255512345`, and with a
    /// country code `055512345`).
    pub fn gateway_by_msisdn(&self, number: &str) -> Option<Arc<ActiveGateway>> {
        let key = self.number_key(number)?;
        self.snapshot().by_number.get(&key).cloned()
    }

    /// All enabled lines, by default owner (lines no one has as default
    /// last), then goip_id.
    pub fn gateways(&self) -> Vec<Arc<ActiveGateway>> {
        let mut all: Vec<_> = self.snapshot().by_goip_id.values().cloned().collect();
        all.sort_by(|a, b| {
            (a.ext.is_none(), &a.ext, &a.goip_id).cmp(&(b.ext.is_none(), &b.ext, &b.goip_id))
        });
        all
    }

    /// One key per number: its international digits when the rules can make
    /// it international, else just its digits (so `+372…` and a `372…` the
    /// GoIP was configured with are the same number).
    fn number_key(&self, number: &str) -> Option<String> {
        if let Ok(n) = self.shared.rules.normalize(number) {
            return Some(n.digits().to_string());
        }
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    }
}

impl CredentialSource for GatewayDirectory {
    fn lookup(&self, goip_id: &str) -> Option<ChannelCredentials> {
        self.gateway_by_goip_id(goip_id).map(|g| g.credentials())
    }
}

/// Logs what a reload changed: lines that appeared or went away, users
/// that came or went, and allow_regex values that cannot be used.
fn report_changes(previous: &Snapshot, next: &Snapshot) {
    for (goip_id, g) in &next.by_goip_id {
        let old = previous.by_goip_id.get(goip_id);
        match old {
            None => tracing::info!(
                goip_id = %goip_id,
                ext = %g.owner_label(),
                users = %g.users.join(","),
                "line active"
            ),
            Some(old) if old.users != g.users => tracing::info!(
                goip_id = %goip_id,
                ext = %g.owner_label(),
                users = %g.users.join(","),
                "line now has other users"
            ),
            _ => {}
        }
        let was = old.and_then(|o| o.acl_error().map(str::to_string));
        if let Some(e) = g.acl_error()
            && was.as_deref() != Some(e)
        {
            tracing::error!(
                goip_id = %goip_id,
                ext = %g.owner_label(),
                allow_regex = %g.allow_regex,
                "the stored allow_regex is invalid, so this line may send to nobody: {e}"
            );
        }
    }
    for (goip_id, g) in &previous.by_goip_id {
        if !next.by_goip_id.contains_key(goip_id) {
            tracing::info!(
                goip_id = %goip_id,
                ext = %g.owner_label(),
                "line no longer active (removed or disabled)"
            );
        }
    }
}

/// Whether a line goes into the snapshot: enabled, with a goip_id and a
/// user. A row without an extension and without users (hand-made;
/// `--remove-line` removes a shared line with its last user) is refused,
/// as such rows always were.
fn active(g: &Gateway) -> bool {
    g.enabled && !g.goip_id.is_empty() && (g.ext.is_some() || !g.shared_with.is_empty())
}

/// A digest of what the spool's copy of the gateways holds. It runs on
/// every reload, so it hashes the fields in place rather than building the
/// cache's JSON (about 150 KB for 1,000 lines) each time.
fn cache_digest(gateways: &[Gateway]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for g in gateways {
        (
            &g.ext,
            &g.goip_id,
            g.password.expose(),
            g.channel,
            &g.msisdn,
            &g.allow_regex,
            g.daily_limit,
            &g.shared_with,
        )
            .hash(&mut h);
    }
    h.finish()
}
