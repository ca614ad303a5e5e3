//! Line alerts: a line's users, and the admins (`ADMIN_JIDS`), are told
//! when the line goes offline and comes back, when GSM registration is lost
//! and back, when the signal stays weak and recovers, and when the balance
//! check finds the balance low and recovered — each change once.
//!
//! One task, the *monitor*, looks at every enabled line once a tick (1 s):
//! online/offline as the engine decides it (a channel without a keepalive
//! for `GOIP_OFFLINE_AFTER` is offline; see `engine/sweeper.rs`), and the
//! GSM status and signal of the line's latest keepalive. It pulls from the
//! engine's registry instead of following its events, because a keepalive
//! event may be dropped when the queue is full (`engine/events.rs`) and the
//! registry is always current. Each condition goes through the hysteresis of
//! `condition.rs`; the balance check (`balance.rs`) runs beside the
//! monitor, at most one per line at a time, and reports its reading back.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_xmpp::jid::BareJid;

use crate::config::AlertSettings;
use crate::engine::ChannelInfo;
use crate::store::{ActiveGateway, AlertRecord, NoticeRecord, Timestamp};
use crate::util::{SharedWarnLimiter, WarnLimiter, lock};

use super::Context;
use super::notice;
use balance::Reading;
use condition::{Change, Condition, Seen, Told, Tracker};
use text::{LineName, Thresholds};

/// The alert settings and the monitor's timers. Tests shorten them.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub settings: AlertSettings,
    /// How often every line is looked at.
    pub tick: Duration,
    /// The engine's offline timeout: a line not heard from since the start
    /// counts as offline once this has passed.
    pub offline_after: Duration,
}

static NOT_SAVED: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

/// A GSM status that means "registered".
const REGISTERED: &str = "LOGIN";
/// The CSQ a GoIP reports when it does not know the signal.
const CSQ_UNKNOWN: u8 = 99;

/// What the console's `status` shows of a line's alerts: kept by the
/// monitor, read by the console.
#[derive(Debug, Default)]
pub(crate) struct AlertBoard {
    lines: Mutex<HashMap<String, LineBoard>>,
    signal_below: Option<u8>,
    balance_below: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct LineBoard {
    told: Vec<(Condition, Told)>,
    /// The latest balance reading: the amount, when, and whether it is low.
    balance: Option<(String, Timestamp, bool)>,
}

impl AlertBoard {
    pub(crate) fn new(settings: &AlertSettings) -> AlertBoard {
        AlertBoard {
            lines: Mutex::default(),
            signal_below: settings.signal_below,
            balance_below: settings.balance.as_ref().map(|b| b.below.to_string()),
        }
    }

    fn limits(&self) -> Thresholds<'_> {
        Thresholds {
            signal_below: self.signal_below,
            balance_below: self.balance_below.as_deref(),
        }
    }

    /// The lines `status` adds for `goip_id` (none while all is well).
    pub(crate) fn status_lines(&self, goip_id: &str) -> Vec<String> {
        let line = lock(&self.lines).get(goip_id).cloned().unwrap_or_default();
        text::status_lines(&line.told, line.balance.as_ref(), self.limits())
    }

    fn set(&self, goip_id: &str, line: &Line) {
        let board = LineBoard {
            told: line
                .trackers
                .iter()
                .filter_map(|(c, t)| t.told().map(|t| (*c, t.clone())))
                .collect(),
            balance: line.balance.clone(),
        };
        lock(&self.lines).insert(goip_id.to_owned(), board);
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.lines).retain(|goip_id, _| keep(goip_id));
    }
}

/// The monitor's memory of one line.
#[derive(Debug, Default)]
struct Line {
    trackers: BTreeMap<Condition, Tracker>,
    /// When the next balance check is due (`None`: at once).
    next_check: Option<Instant>,
    checking: bool,
    balance: Option<(String, Timestamp, bool)>,
}

/// A balance check's result, back to the monitor.
type CheckResult = (String, Reading, Timestamp);

/// Watches every enabled line until `stop`.
pub(crate) async fn run(ctx: Arc<Context>, config: AlertConfig, mut stop: watch::Receiver<bool>) {
    let started = Instant::now();
    let mut told: Option<HashMap<String, Vec<(Condition, Told)>>> = None;
    let mut lines: HashMap<String, Line> = HashMap::new();
    let (results_tx, mut results) = mpsc::channel::<CheckResult>(64);
    let mut ticks = tokio::time::interval(config.tick.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warn = WarnLimiter::new(Duration::from_secs(60));
    loop {
        tokio::select! {
            // The guard `wait_for` returns must not live in the select.
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
            Some((goip_id, reading, at)) = results.recv() => {
                balance_read(&ctx, &config, &mut lines, &goip_id, reading, at).await;
            }
            _ = ticks.tick() => {
                // What was told before the start comes first: without it, a
                // change cannot be told from a state told already.
                if told.is_none() {
                    match load_told(&ctx).await {
                        Ok(t) => told = Some(t),
                        Err(e) => {
                            if let Some(missed) = warn.allow(Instant::now()) {
                                tracing::warn!(not_logged = missed, "alerts wait for the database: {e}");
                            }
                            continue;
                        }
                    }
                }
                let Some(before) = told.as_mut() else { continue };
                look(&ctx, &config, started, before, &mut lines, &results_tx).await;
            }
        }
    }
    tracing::debug!("alert monitor stopped");
}

async fn load_told(
    ctx: &Context,
) -> Result<HashMap<String, Vec<(Condition, Told)>>, crate::store::StoreError> {
    let mut by_line: HashMap<String, Vec<(Condition, Told)>> = HashMap::new();
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

/// One look at every enabled line.
async fn look(
    ctx: &Arc<Context>,
    config: &AlertConfig,
    started: Instant,
    before: &mut HashMap<String, Vec<(Condition, Told)>>,
    lines: &mut HashMap<String, Line>,
    results: &mpsc::Sender<CheckResult>,
) {
    let gateways = ctx.directory.gateways();
    // A set, not a search of the list per line: with a thousand lines, a
    // look every second would otherwise compare a million strings.
    let enabled: HashSet<&str> = gateways.iter().map(|g| g.goip_id.as_str()).collect();
    lines.retain(|goip_id, _| enabled.contains(goip_id.as_str()));
    ctx.alerts.retain(|goip_id| enabled.contains(goip_id));
    let settings = &config.settings;
    for gateway in gateways {
        let now = Instant::now();
        let wall = Timestamp::now();
        let line = lines.entry(gateway.goip_id.clone()).or_insert_with(|| {
            let mut line = Line::default();
            let stored = before.remove(&gateway.goip_id).unwrap_or_default();
            for condition in Condition::ALL {
                let told = stored
                    .iter()
                    .find(|(c, _)| *c == condition)
                    .map(|(_, t)| t.clone());
                line.trackers.insert(condition, Tracker::new(told));
            }
            ctx.alerts.set(&gateway.goip_id, &line);
            line
        });
        let info = ctx.engine.channel(&gateway.goip_id);
        let online = info.as_ref().is_some_and(|i| i.online);
        let readings = [
            (
                Condition::Offline,
                offline(info.as_ref(), started, config.offline_after),
                Duration::ZERO,
                true,
            ),
            (Condition::Gsm, gsm(info.as_ref()), settings.hold, false),
            (
                Condition::Signal,
                settings
                    .signal_below
                    .and_then(|below| signal(info.as_ref(), below)),
                settings.hold,
                false,
            ),
        ];
        let mut changed = false;
        for (condition, seen, hold, quiet_baseline) in readings {
            let Some(tracker) = line.trackers.get_mut(&condition) else {
                continue;
            };
            if let Some(change) = tracker.observe(seen, hold, quiet_baseline, now, wall)
                && save(ctx, config, &gateway, condition, &change).await
            {
                tracker.stored(&change);
                changed = true;
            }
        }
        if changed {
            ctx.alerts.set(&gateway.goip_id, line);
        }
        if let Some(check) = &settings.balance {
            let due = line.next_check.is_none_or(|at| now >= at);
            if online && due && !line.checking {
                line.checking = true;
                line.next_check = Some(now + check.every);
                let (ctx, check, goip_id, results) = (
                    ctx.clone(),
                    check.clone(),
                    gateway.goip_id.clone(),
                    results.clone(),
                );
                tokio::spawn(async move {
                    let reading = balance::check(&ctx, &goip_id, &check).await;
                    let _ = results.send((goip_id, reading, Timestamp::now())).await;
                });
            }
        }
    }
}

/// Offline as the engine decides it; a line not heard from since the
/// start counts as offline once the offline timeout has passed.
fn offline(info: Option<&ChannelInfo>, started: Instant, offline_after: Duration) -> Option<Seen> {
    match info {
        Some(i) => Some(Seen {
            active: !i.online,
            detail: i
                .last_keepalive
                .map(|t| Timestamp::from_system_time(t).to_string())
                .unwrap_or_default(),
        }),
        None if started.elapsed() >= offline_after => Some(Seen {
            active: true,
            detail: String::new(),
        }),
        None => None,
    }
}

/// Registered unless the latest keepalive of an online line says otherwise.
fn gsm(info: Option<&ChannelInfo>) -> Option<Seen> {
    let status = info
        .filter(|i| i.online)?
        .keepalive
        .as_ref()?
        .gsm_status
        .as_deref()?
        .trim()
        .to_string();
    Some(Seen {
        active: !status.eq_ignore_ascii_case(REGISTERED),
        detail: status,
    })
}

/// Weak while the latest keepalive's CSQ is below `below` (99, unknown,
/// counts as no reading).
fn signal(info: Option<&ChannelInfo>, below: u8) -> Option<Seen> {
    let csq: u8 = info
        .filter(|i| i.online)?
        .keepalive
        .as_ref()?
        .signal
        .as_deref()?
        .trim()
        .parse()
        .ok()
        .filter(|c| *c != CSQ_UNKNOWN)?;
    Some(Seen {
        active: csq < below,
        detail: csq.to_string(),
    })
}

/// A balance check came back.
async fn balance_read(
    ctx: &Arc<Context>,
    config: &AlertConfig,
    lines: &mut HashMap<String, Line>,
    goip_id: &str,
    reading: Reading,
    at: Timestamp,
) {
    let Some(line) = lines.get_mut(goip_id) else {
        return;
    };
    line.checking = false;
    let (Reading::Amount(amount), Some(check)) = (reading.clone(), &config.settings.balance) else {
        // At most one a line every BALANCE_EVERY: no flood to limit.
        if let Reading::Failed(why) = reading {
            tracing::warn!(goip_id, "balance check failed: {why}");
        }
        return;
    };
    let low = amount < check.below;
    tracing::info!(goip_id, balance = %amount, low, "balance checked");
    line.balance = Some((amount.to_string(), at, low));
    if let Some(gateway) = ctx.directory.gateway_by_goip_id(goip_id)
        && let Some(tracker) = line.trackers.get_mut(&Condition::Balance)
    {
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
    let told = Told {
        active: change.active,
        since: change.since,
        detail: change.detail.clone(),
    };
    let notices = if change.tell && config.settings.enabled {
        alerts_for(ctx, gateway, condition, &told)
    } else {
        Vec::new()
    };
    let told_users = notices.len();
    let record = AlertRecord {
        goip_id: gateway.goip_id.clone(),
        alert: condition.as_str().to_string(),
        active: change.active,
        since: change.since,
        detail: change.detail.clone(),
    };
    match ctx.store.save_alert(record, notices).await {
        Ok(_) => {
            if change.tell {
                tracing::info!(
                    goip_id = %gateway.goip_id,
                    ext = %gateway.owner_label(),
                    alert = condition.as_str(),
                    active = change.active,
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
    let label = gateway.owner_label();
    let line = LineName {
        ext: &label,
        goip_id: &gateway.goip_id,
    };
    let text = text::message(line, condition, told, ctx.alerts.limits());
    let own_number = gateway
        .msisdn
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let mut out = Vec::new();
    // Every user of the line (a shared line has several).
    let owners: Vec<BareJid> = (gateway.users.iter())
        .filter_map(|ext| ctx.addressing.user_jid(ext).ok())
        .collect();
    for owner in &owners {
        out.push(notice::chat(
            &gateway.goip_id,
            owner,
            own_number.clone(),
            text.clone(),
        ));
    }
    for admin in ctx.policy.admins.iter().filter(|a| !owners.contains(a)) {
        out.push(notice::chat(&gateway.goip_id, admin, None, text.clone()));
    }
    out
}
