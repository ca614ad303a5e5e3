//! Line alerts: a line's users, and the admins (`ADMIN_JIDS`), are told
//! when the line goes offline and comes back, when GSM registration is lost
//! and back, when the signal stays weak and recovers, and when the balance
//! check finds the balance low and recovered — each change once.
//!
//! One task, the *monitor*, reads the enabled lines once a tick (1 s):
//! online/offline as the engine decides it (a channel without a keepalive
//! for `GOIP_OFFLINE_AFTER` is offline; see `engine/sweeper.rs`), and the
//! GSM status and signal of the line's latest keepalive. It pulls from the
//! engine's registry instead of following its events, because a keepalive
//! event may be dropped when the queue is full (`engine/events.rs`) and the
//! registry is always current — but only the lines whose channel changed
//! since the last tick, or whose time to be read again has come (`wakes.rs`):
//! a line that reads as before changes nothing, and a thousand quiet lines
//! must cost next to nothing each second. Each condition goes through the
//! hysteresis of `condition.rs`; the balance check (`balance.rs`) runs
//! beside the monitor, at most one per line at a time, and reports its
//! reading back.
//!
//! **Who tells whom.** A line's user gets an alert as a chat message from
//! the line's own number — the console they already talk to, where `status`
//! shows the same states — so it lands in that conversation. An admin gets
//! it from the gateway's JID instead: an admin is usually not the line's
//! user, the own number is a console only to its user, and one contact for
//! every line is what an admin wants. Alerts are chat messages to the bare
//! JID, stored in the inbox like the failure notes of `notice.rs`: durable,
//! sent once Prosody confirms them, and kept by Prosody (mod_offline,
//! mod_mam) for a user who is offline.
//!
//! **Across a restart.** The state the users were last told is stored
//! (`goippy_alerts`), in the same transaction as the alerts that tell it,
//! rather than re-derived quietly at start: re-deriving would miss every
//! change that happened while goippy was stopped (a line that died with it
//! would never be reported offline) and could not tell a recovery from a
//! first sighting. So a line that was online and sends nothing after the
//! start is reported offline once the offline timeout has passed since the
//! start; a line that went offline before and is back is reported back; an
//! alert already told is not told again.

mod balance;
mod condition;
mod text;
mod wakes;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_xmpp::jid::BareJid;

use crate::config::{AlertSettings, Amount};
use crate::engine::ChannelInfo;
use crate::goip::Keepalive;
use crate::store::{ActiveGateway, AlertRecord, NoticeRecord, Timestamp};
use crate::util::{SharedWarnLimiter, WarnLimiter, lock};

use super::Context;
use super::line_pool::known_number;
use super::notice;
use condition::{Change, Condition, Seen, Told, Tracker};
use text::Thresholds;
use wakes::Wakes;

/// The alert settings and the monitor's timers. Tests shorten them.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub settings: AlertSettings,
    /// How often every line is looked at.
    pub tick: Duration,
}

static NOT_SAVED: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

/// A GSM status that means "registered".
const REGISTERED: &str = "LOGIN";
/// The CSQ a GoIP reports when it does not know the signal.
const CSQ_UNKNOWN: u8 = 99;

/// What the console's `status` shows of a line's alerts: kept by the
/// monitor, read by the console.
#[derive(Debug)]
pub(crate) struct AlertBoard {
    /// The lines `status` adds, by goip_id.
    lines: Mutex<HashMap<String, Vec<String>>>,
    limits: Thresholds,
}

impl AlertBoard {
    pub(crate) fn new(settings: &AlertSettings) -> AlertBoard {
        AlertBoard {
            lines: Mutex::default(),
            limits: Thresholds::new(settings),
        }
    }

    /// The lines `status` adds for `goip_id` (none while all is well).
    pub(crate) fn status_lines(&self, goip_id: &str) -> Vec<String> {
        lock(&self.lines).get(goip_id).cloned().unwrap_or_default()
    }

    fn set(&self, goip_id: &str, line: &Line) {
        let told = Condition::ALL.into_iter().zip(&line.trackers);
        let told = told.filter_map(|(c, t)| Some((c, t.told()?)));
        let text = text::status_lines(told, line.balance.as_ref(), &self.limits);
        lock(&self.lines).insert(goip_id.to_owned(), text);
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.lines).retain(|goip_id, _| keep(goip_id));
    }
}

/// The monitor's memory of one line.
#[derive(Debug, Default)]
struct Line {
    /// The line's extension (none for a line only shared): lines that
    /// change at the same tick are looked at in extension order.
    ext: Option<String>,
    /// One per condition, in the order of [`Condition::ALL`]: an array, not
    /// a map, whose node took a kilobyte per line (massif: 1.1 MB of the
    /// heap with 1,064 lines).
    trackers: [Tracker; Condition::ALL.len()],
    /// When the next balance check is due (`None`: at once).
    next_check: Option<Instant>,
    checking: bool,
    /// The latest balance reading: the amount, when, and whether it is low.
    balance: Option<(String, Timestamp, bool)>,
    /// When it is to be looked at again without a change of its channel
    /// (see `wakes.rs`).
    wake: Option<Instant>,
}

/// What the users were told before the start, by goip_id.
type ToldBefore = HashMap<String, Vec<(Condition, Told)>>;

/// A balance check's result, back to the monitor.
type CheckResult = (String, Result<Amount, String>, Timestamp);

/// What the monitor keeps between ticks.
struct Monitor {
    started: Instant,
    lines: HashMap<String, Line>,
    /// The directory's generation the lines were matched with last.
    directory: Option<u64>,
    /// The engine's change number at the last tick.
    channels_seen: u64,
    /// Whether lines not heard from since the start count as offline yet.
    silent_ones_due: bool,
    wakes: Wakes,
}

/// Watches every enabled line until the bridge aborts it (at shutdown there
/// is nothing to finish: see [`super::Bridge::shutdown_by`]).
pub(crate) async fn run(ctx: Arc<Context>, config: AlertConfig) {
    let mut monitor = Monitor {
        started: Instant::now(),
        lines: HashMap::new(),
        directory: None,
        channels_seen: 0,
        silent_ones_due: false,
        wakes: Wakes::default(),
    };
    let mut told: Option<ToldBefore> = None;
    let (results_tx, mut results) = mpsc::channel::<CheckResult>(64);
    let mut ticks = tokio::time::interval(config.tick.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warn = WarnLimiter::new(Duration::from_secs(60));
    loop {
        tokio::select! {
            Some((goip_id, reading, at)) = results.recv() => {
                balance_read(&ctx, &config, &mut monitor, &goip_id, reading, at).await;
            }
            _ = ticks.tick() => {
                // What was told before the start comes first: without it, a
                // change cannot be told from a state told already.
                if told.is_none() {
                    told = load_told(&ctx).await.inspect_err(|e| {
                        if let Some(missed) = warn.allow(Instant::now()) {
                            tracing::warn!(not_logged = missed, "alerts wait for the database: {e}");
                        }
                    }).ok();
                }
                let Some(before) = told.as_mut() else { continue };
                tick(&ctx, &config, &mut monitor, before, &results_tx).await;
            }
        }
    }
}

async fn load_told(ctx: &Context) -> Result<ToldBefore, crate::store::StoreError> {
    let mut by_line = ToldBefore::new();
    for row in ctx.store.alert_states().await? {
        let Some(condition) = Condition::parse(&row.alert) else {
            continue;
        };
        by_line.entry(row.goip_id).or_default().push((
            condition,
            Told {
                active: row.active,
                since: row.since,
                detail: row.detail,
            },
        ));
    }
    Ok(by_line)
}

/// One tick: a look at each line that can have changed since the last one
/// — a line just enabled, a line whose channel changed (a keepalive, gone
/// offline), a line whose time to look again has come (see `wakes.rs`), and
/// every line once when the offline timeout has passed since the start. Any
/// other line would read as it did at its last look, which changes nothing
/// ([`Tracker::settled_with`]): with a thousand lines, reading each one every
/// second was most of what keepalives cost.
async fn tick(
    ctx: &Arc<Context>,
    config: &AlertConfig,
    monitor: &mut Monitor,
    before: &mut ToldBefore,
    results: &mpsc::Sender<CheckResult>,
) {
    // No allocation unless a line is due.
    let mut due: HashMap<String, Option<ChannelInfo>> = HashMap::new();
    let generation = ctx.directory.generation();
    if monitor.directory != Some(generation) {
        monitor.directory = Some(generation);
        match_directory(ctx, &mut monitor.lines, before, &mut due);
    }
    if !monitor.silent_ones_due && monitor.started.elapsed() >= ctx.policy.offline_after {
        monitor.silent_ones_due = true;
        for goip_id in monitor.lines.keys() {
            due.entry(goip_id.clone())
                .or_insert_with_key(|id| ctx.engine.channel(id));
        }
    }
    let (seen, changed) = ctx.engine.channels_changed_since(monitor.channels_seen);
    monitor.channels_seen = seen;
    for info in changed {
        if monitor.lines.contains_key(&info.goip_id) {
            due.insert(info.goip_id.clone(), Some(info));
        }
    }
    let lines = &mut monitor.lines;
    while let Some(goip_id) = monitor.wakes.next_due(Instant::now(), |id, f| {
        if let Some(line) = lines.get_mut(id) {
            f(&mut line.wake);
        }
    }) {
        due.entry(goip_id)
            .or_insert_with_key(|id| ctx.engine.channel(id));
    }
    let mut due: Vec<(String, Option<ChannelInfo>)> = due.into_iter().collect();
    due.sort_by(|(a, _), (b, _)| {
        let ext = |id: &String| monitor.lines.get(id).and_then(|l| l.ext.as_deref());
        ext(a).cmp(&ext(b))
    });
    for (goip_id, info) in due {
        look(ctx, config, monitor, &goip_id, info.as_ref(), results).await;
    }
}

/// Follows the directory: lines disabled or removed are forgotten, new ones
/// are set up (with what was told before the start) and due for a look.
fn match_directory(
    ctx: &Context,
    lines: &mut HashMap<String, Line>,
    before: &mut ToldBefore,
    due: &mut HashMap<String, Option<ChannelInfo>>,
) {
    let gateways = ctx.directory.gateways();
    // A set, not a search of the list per line: with a thousand lines a
    // search each would compare a million strings.
    let enabled: HashSet<&str> = gateways.iter().map(|g| g.goip_id.as_str()).collect();
    lines.retain(|goip_id, _| enabled.contains(goip_id.as_str()));
    ctx.alerts.retain(|goip_id| enabled.contains(goip_id));
    for gateway in &gateways {
        if let Some(line) = lines.get_mut(&gateway.goip_id) {
            line.ext.clone_from(&gateway.ext);
            continue;
        }
        let mut line = Line {
            ext: gateway.ext.clone(),
            ..Line::default()
        };
        for (condition, told) in before.remove(&gateway.goip_id).unwrap_or_default() {
            line.trackers[condition.index()] = Tracker::new(Some(told));
        }
        ctx.alerts.set(&gateway.goip_id, &line);
        lines.insert(gateway.goip_id.clone(), line);
        due.insert(
            gateway.goip_id.clone(),
            ctx.engine.channel(&gateway.goip_id),
        );
    }
}

/// One look at one line, as its channel reads now (`info`).
async fn look(
    ctx: &Arc<Context>,
    config: &AlertConfig,
    monitor: &mut Monitor,
    goip_id: &str,
    info: Option<&ChannelInfo>,
    results: &mpsc::Sender<CheckResult>,
) {
    let settings = &config.settings;
    let silent_is_offline = monitor.started.elapsed() >= ctx.policy.offline_after;
    let Some(line) = monitor.lines.get_mut(goip_id) else {
        return;
    };
    let now = Instant::now();
    let wall = Timestamp::now();
    let online = info.is_some_and(|i| i.online);
    // Offline as the engine decides it; a line not heard from since the
    // start counts as offline once the offline timeout has passed.
    let offline = info
        .map(|i| !i.online)
        .or(silent_is_offline.then_some(true));
    let gsm_lost = gsm_status(info).map(|status| !status.eq_ignore_ascii_case(REGISTERED));
    let weak = (settings.signal_below).and_then(|below| signal(info).map(|csq| csq < below));
    let readings = [
        (Condition::Offline, offline),
        (Condition::Gsm, gsm_lost),
        (Condition::Signal, weak),
    ];
    let mut changed = false;
    let mut wake: Option<Instant> = None;
    for (condition, active) in readings {
        // Offline is told at once, and a line never seen online is new, not
        // offline (`Tracker::observe`'s quiet baseline); a GSM loss or a weak
        // signal must hold first.
        let quiet_baseline = condition == Condition::Offline;
        let hold = if quiet_baseline {
            Duration::ZERO
        } else {
            settings.hold
        };
        let tracker = &mut line.trackers[condition.index()];
        if tracker.settled_with(active, quiet_baseline) {
            continue;
        }
        let seen = active.map(|active| Seen {
            active,
            detail: detail(condition, info),
        });
        if let Some(change) = tracker.observe(seen, hold, quiet_baseline, now, wall) {
            let saved = match ctx.directory.gateway_by_goip_id(goip_id) {
                Some(gateway) => save(ctx, config, &gateway, condition, &change).await,
                // Gone since the tick began: forgotten at the next one.
                None => false,
            };
            if saved {
                tracker.stored(&change);
                changed = true;
            } else {
                // Tried again at the next tick.
                wake = Some(now);
            }
        }
        if let Some(at) = tracker.due_at(hold) {
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
    }
    if changed {
        ctx.alerts.set(goip_id, line);
    }
    if let Some(check) = &settings.balance {
        let due = line.next_check.is_none_or(|at| now >= at);
        if online && due && !line.checking {
            line.checking = true;
            line.next_check = Some(now + check.every);
            let (ctx, check, goip_id, results) = (
                ctx.clone(),
                check.clone(),
                goip_id.to_owned(),
                results.clone(),
            );
            tokio::spawn(async move {
                let reading = balance::check(&ctx, &goip_id, &check).await;
                let _ = results.send((goip_id, reading, Timestamp::now())).await;
            });
        } else if online
            && !line.checking
            && let Some(at) = line.next_check
        {
            // An offline line is looked at when it comes back; a check
            // under way, when it reports.
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
    }
    if let Some(at) = wake {
        monitor.wakes.at(goip_id, at, &mut line.wake);
    }
}

/// The latest keepalive of an online line.
fn keepalive(info: Option<&ChannelInfo>) -> Option<&Keepalive> {
    info.filter(|i| i.online)?.keepalive.as_deref()
}

/// The latest keepalive's GSM status: registered unless it says otherwise.
fn gsm_status(info: Option<&ChannelInfo>) -> Option<&str> {
    Some(keepalive(info)?.gsm_status.as_deref()?.trim())
}

/// The latest keepalive's CSQ (99, unknown, counts as no reading). Weak
/// while it is below `ALERT_SIGNAL_BELOW`.
fn signal(info: Option<&ChannelInfo>) -> Option<u8> {
    let csq = keepalive(info)?.signal.as_deref()?.trim().parse().ok();
    csq.filter(|c| *c != CSQ_UNKNOWN)
}

/// The reading that goes with a change: when the line was last heard from,
/// its GSM status, its CSQ. Built only for a reading that changes something.
fn detail(condition: Condition, info: Option<&ChannelInfo>) -> String {
    match condition {
        Condition::Offline => info
            .and_then(|i| i.last_keepalive)
            .map(|t| Timestamp::from_system_time(t).to_string())
            .unwrap_or_default(),
        Condition::Gsm => gsm_status(info).unwrap_or_default().to_string(),
        Condition::Signal => signal(info).map(|c| c.to_string()).unwrap_or_default(),
        Condition::Balance => String::new(),
    }
}

/// A balance check came back.
async fn balance_read(
    ctx: &Arc<Context>,
    config: &AlertConfig,
    monitor: &mut Monitor,
    goip_id: &str,
    reading: Result<Amount, String>,
    at: Timestamp,
) {
    let Some(line) = monitor.lines.get_mut(goip_id) else {
        return;
    };
    line.checking = false;
    // The next check (at once if this one took longer than the period).
    if let Some(next) = line.next_check {
        monitor.wakes.at(goip_id, next, &mut line.wake);
    }
    let (Ok(amount), Some(check)) = (reading.clone(), &config.settings.balance) else {
        // At most one a line every BALANCE_EVERY: no flood to limit.
        if let Err(why) = reading {
            tracing::warn!(goip_id, "balance check failed: {why}");
        }
        return;
    };
    let low = amount < check.below;
    tracing::info!(goip_id, balance = %amount, low, "balance checked");
    line.balance = Some((amount.to_string(), at, low));
    if let Some(gateway) = ctx.directory.gateway_by_goip_id(goip_id) {
        let tracker = &mut line.trackers[Condition::Balance.index()];
        let seen = Seen {
            active: low,
            detail: amount.to_string(),
        };
        if let Some(change) = tracker.observe(Some(seen), Duration::ZERO, false, Instant::now(), at)
            && save(ctx, config, &gateway, Condition::Balance, &change).await
        {
            tracker.stored(&change);
        }
    }
    ctx.alerts.set(goip_id, line);
}

/// Stores a change with the alerts that tell it; false if it could not be
/// saved (it is tried again at the next look).
async fn save(
    ctx: &Context,
    config: &AlertConfig,
    gateway: &ActiveGateway,
    condition: Condition,
    change: &Change,
) -> bool {
    let told = &change.told;
    let tell = change.tell && config.settings.enabled;
    let notices = tell.then(|| alerts_for(ctx, gateway, condition, told));
    let notices = notices.unwrap_or_default();
    let told_users = notices.len();
    let record = AlertRecord {
        goip_id: gateway.goip_id.clone(),
        alert: condition.as_str().to_string(),
        active: told.active,
        since: told.since,
        detail: told.detail.clone(),
    };
    match ctx.store.save_alert(record, notices).await {
        Ok(_) => {
            if change.tell {
                tracing::info!(
                    goip_id = %gateway.goip_id,
                    ext = %gateway.owner_label(),
                    alert = condition.as_str(),
                    active = told.active,
                    told = told_users,
                    "line alert"
                );
            }
            if told_users > 0 {
                ctx.inbox.notify_one();
            }
            true
        }
        Err(e) => {
            // Tried again every tick while the store fails: logged at most
            // once a minute.
            if let Some(suppressed) = NOT_SAVED.allow() {
                tracing::warn!(
                    goip_id = %gateway.goip_id,
                    alert = condition.as_str(),
                    suppressed,
                    "line alert not saved (tried again): {e}"
                );
            }
            false
        }
    }
}

/// The alert for the line's user (from the line's own number, or the
/// gateway while the number is unknown) and for each admin (from the
/// gateway).
fn alerts_for(
    ctx: &Context,
    gateway: &ActiveGateway,
    condition: Condition,
    told: &Told,
) -> Vec<NoticeRecord> {
    // Every text names the line: an admin gets the same text for every line.
    let line = format!("Line {} ({})", gateway.owner_label(), gateway.goip_id);
    let text = text::message(&line, condition, told, &ctx.alerts.limits);
    let own_number = known_number(gateway).map(str::to_string);
    // Every user of the line (a shared line has several).
    let owners: Vec<BareJid> = (gateway.users.iter())
        .filter_map(|ext| ctx.addressing.user_jid(ext).ok())
        .collect();
    let admins = ctx.policy.admins.iter().filter(|a| !owners.contains(a));
    let to_owners = owners.iter().map(|owner| (owner, own_number.clone()));
    (to_owners.chain(admins.map(|admin| (admin, None))))
        .map(|(to, from)| notice::chat(&gateway.goip_id, to, from, text.clone()))
        .collect()
}
