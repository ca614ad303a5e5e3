//! The gateway admin commands of the original goippy CLI: `--add`,
//! `--remove`, `--listExt`, plus `--enable` and `--disable`, and those of
//! line pools (`store/lines.rs`): `--add-line`, `--remove-line`,
//! `--daily-limit` and `--failover`.
//!
//! They work on the database the configuration names, while the daemon may
//! be running: it picks the change up within [`DEFAULT_REFRESH`]. Each
//! command returns the text to print — what `--add` stored and what its
//! allow_regex allows, the `--listExt` table — and any problem is an error
//! for the caller to print and exit non-zero with. What a definition must
//! look like is `config/gateway.rs`; it is checked here before the database
//! is even contacted.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::DbSettings;
use crate::config::gateway::{self, CHANNELS, InvalidGateway};
use crate::util::table;
use std::collections::HashMap;

use crate::store::{
    DEFAULT_REFRESH, Gateway, GatewayChange, GatewayDefinition, LineAdded, LineDefinition,
    LineRemoved, Store, StoreError, StoreOptions, Timestamp,
};

/// One admin command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `--add <ext> <pass> [channel|-] [allow_regex] [--goip-id <id>]`: the
    /// values as given; the channel is read by [`run_admin`].
    Add {
        ext: String,
        password: String,
        channel: Option<String>,
        goip_id: Option<String>,
        allow_regex: Option<String>,
    },
    /// `--remove <ext>`
    Remove { ext: String },
    /// `--listExt`
    List,
    /// `--enable <ext>`
    Enable { ext: String },
    /// `--disable <ext>`
    Disable { ext: String },
    /// `--add-line <ext> <goip_id> [<pass>|-] [channel|-] [allow_regex]`:
    /// `password` `None` when not given or `-` (read only if the line is new).
    AddLine {
        ext: String,
        goip_id: String,
        password: Option<String>,
        channel: Option<String>,
        allow_regex: Option<String>,
    },
    /// `--remove-line <ext> <goip_id>`
    RemoveLine { ext: String, goip_id: String },
    /// `--daily-limit <goip_id> <N|->`: `None` lifts the limit.
    DailyLimit { goip_id: String, limit: Option<i64> },
    /// `--failover <ext> on|off`
    Failover { ext: String, on: bool },
}

/// Opens the store, runs the command, closes the store.
pub async fn run_admin(db: &DbSettings, command: &AdminCommand) -> Result<String, StoreError> {
    let options = StoreOptions {
        close_timeout: std::time::Duration::from_secs(5),
        ..StoreOptions::default()
    };
    // Bad input is reported before the database is even contacted.
    let channel = match command {
        AdminCommand::Add {
            ext,
            password,
            channel,
            goip_id,
            allow_regex,
        } => {
            let channel = channel_arg(channel.as_deref())?;
            gateway::validate(
                ext,
                password,
                goip_id.as_deref(),
                channel,
                allow_regex.as_deref(),
            )?;
            channel
        }
        AdminCommand::AddLine {
            ext,
            goip_id,
            channel,
            ..
        } => {
            gateway::extension(ext)?;
            gateway::goip_id(goip_id)?;
            channel_arg(channel.as_deref())?
        }
        _ => None,
    };
    let store = Store::open_with(db, options).await?;
    let result = run(&store, command, channel).await;
    let closed = store.close().await;
    let out = result?;
    closed?;
    Ok(out)
}

/// `channel`: the `--add` command's channel, as [`run_admin`] read it.
async fn run(
    store: &Store,
    command: &AdminCommand,
    channel: Option<i64>,
) -> Result<String, StoreError> {
    let refresh = DEFAULT_REFRESH.as_secs();
    match command {
        AdminCommand::Add {
            ext,
            password,
            channel: _,
            goip_id,
            allow_regex,
        } => {
            let (change, g) = store
                .save_gateway(&GatewayDefinition {
                    ext,
                    password,
                    goip_id: goip_id.as_deref(),
                    channel,
                    allow_regex: allow_regex.as_deref(),
                })
                .await?;
            let verb = match change {
                GatewayChange::Created => "added",
                GatewayChange::Updated => "updated",
            };
            Ok(format!(
                "{verb} extension {}: goip_id {}, channel {}, destinations {}, enabled\n{}\
                 A running goippy uses it within {refresh} s.\n",
                ext,
                g.goip_id,
                or_dash(g.channel),
                describe_acl(g.allow_regex.as_deref()),
                setup_hint(&g),
            ))
        }
        AdminCommand::Remove { ext } => {
            let g = store.remove_gateway(ext).await?;
            let mut out = format!(
                "removed extension {} (goip_id {}); its call and message history is kept.\n",
                ext, g.goip_id
            );
            if !g.shared_with.is_empty() {
                let others: Vec<&str> = g.shared_with.iter().map(|s| s.ext.as_str()).collect();
                out.push_str(&format!(
                    "Extensions {} shared this line and no longer have it.\n",
                    others.join(", ")
                ));
            }
            out.push_str(&format!(
                "A running goippy refuses its channel within {refresh} s.\n"
            ));
            Ok(out)
        }
        AdminCommand::Enable { ext } => {
            store.set_gateway_enabled(ext, true).await?;
            Ok(format!(
                "enabled extension {ext}; a running goippy accepts its channel within {refresh} s.\n"
            ))
        }
        AdminCommand::Disable { ext } => {
            store.set_gateway_enabled(ext, false).await?;
            Ok(format!(
                "disabled extension {ext}; a running goippy refuses its channel within {refresh} s.\n"
            ))
        }
        AdminCommand::List => {
            let gateways = store.list_gateways().await?;
            let now = Timestamp::now();
            let today = store.sent_today(now).await?;
            Ok(list_table(&gateways, &today, now))
        }
        AdminCommand::AddLine {
            ext,
            goip_id,
            password,
            channel: _,
            allow_regex,
        } => {
            add_line(
                store,
                ext,
                goip_id,
                password.as_deref(),
                channel,
                allow_regex.as_deref(),
            )
            .await
        }
        AdminCommand::RemoveLine { ext, goip_id } => {
            let what = match store.remove_line(ext, goip_id).await? {
                LineRemoved::Unshared => format!("extension {ext} no longer uses line {goip_id}"),
                LineRemoved::Deleted => format!(
                    "extension {ext} no longer uses line {goip_id}; it was its last user, so \
                     the line is removed (its history is kept)"
                ),
            };
            Ok(format!(
                "{what}.\nA running goippy uses the change within {refresh} s.\n"
            ))
        }
        AdminCommand::DailyLimit { goip_id, limit } => {
            store.set_daily_limit(goip_id, *limit).await?;
            Ok(match limit {
                Some(n) => format!(
                    "line {goip_id} may send {n} SMS per day (UTC); a running goippy applies \
                     it within {refresh} s.\n"
                ),
                None => format!("line {goip_id} has no daily limit now.\n"),
            })
        }
        AdminCommand::Failover { ext, on } => {
            store.set_failover(ext, *on).await?;
            Ok(if *on {
                format!(
                    "extension {ext}: an SMS its chosen line cannot send (offline, at its daily \
                     limit, refused by the GoIP) goes out on another of its lines.\n"
                )
            } else {
                format!("extension {ext}: an SMS goes out only on the line chosen for it.\n")
            })
        }
    }
}

/// `--add-line`: shares an existing line, or makes a new one (reading its
/// password when it was not given).
async fn add_line(
    store: &Store,
    ext: &str,
    goip_id: &str,
    password: Option<&str>,
    channel: Option<i64>,
    allow_regex: Option<&str>,
) -> Result<String, StoreError> {
    let refresh = DEFAULT_REFRESH.as_secs();
    let exists = store.gateway_by_goip_id(goip_id.trim()).await?.is_some();
    let defined = password.is_some() || channel.is_some() || allow_regex.is_some();
    let read;
    let password = match password {
        Some(p) => Some(p),
        // A new line needs its password; sharing one needs none.
        None if !exists => {
            read = super::password::read_password(ext).map_err(|e| StoreError::InvalidInput {
                field: "password",
                reason: e.to_string(),
            })?;
            Some(read.as_str())
        }
        None if defined => {
            return Err(StoreError::InvalidInput {
                field: "password",
                reason: format!(
                    "line {goip_id} exists already; to share it give only the extension and the \
                     goip_id (a channel or allow_regex would be ignored)"
                ),
            });
        }
        None => None,
    };
    let definition = password.map(|password| LineDefinition {
        password,
        channel,
        allow_regex,
    });
    let (added, line) = store.add_line(ext, goip_id, definition).await?;
    let lines = store.list_gateways().await?;
    let number = line_numbers(&lines)
        .get(&(ext.trim().to_string(), line.goip_id.clone()))
        .copied();
    let place = number.map_or_else(String::new, |n| format!(" as its line {n}"));
    let (verb, whose) = match added {
        LineAdded::Created => ("added", " for"),
        _ => ("updated", ", used by"),
    };
    let said = match added {
        LineAdded::Created | LineAdded::Updated => format!(
            "{verb} line {} (channel {}, destinations {}){whose} extension {}{place}\n{}",
            line.goip_id,
            or_dash(line.channel),
            describe_acl(line.allow_regex.as_deref()),
            ext.trim(),
            setup_hint(&line),
        ),
        LineAdded::Shared => format!(
            "extension {} now shares line {}{place}; its users: {}\n",
            ext.trim(),
            line.goip_id,
            line.users().collect::<Vec<_>>().join(", ")
        ),
        LineAdded::AlreadyHad => format!(
            "extension {} has line {}{place} already; nothing changed\n",
            ext.trim(),
            line.goip_id
        ),
    };
    Ok(format!(
        "{said}A running goippy uses it within {refresh} s.\n"
    ))
}

/// `--daily-limit`'s value: a number of SMS, or `-` for none.
pub(super) fn limit_arg(value: &str) -> Result<Option<i64>, StoreError> {
    match value.trim() {
        "-" | "" => Ok(None),
        v => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(StoreError::InvalidInput {
                field: "daily limit",
                reason: format!("expected a number of SMS per day (0 or more) or \"-\", got {v:?}"),
            }),
        },
    }
}

/// `--failover`'s value.
pub(super) fn on_off_arg(value: &str) -> Result<bool, StoreError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        v => Err(StoreError::InvalidInput {
            field: "failover",
            reason: format!("expected on or off, got {v:?}"),
        }),
    }
}

/// Each (extension, goip_id)'s line number among the extension's enabled
/// lines — the numbers users see (`/line N`). The default line first, then
/// the lines given, in the order they were given.
pub(crate) fn line_numbers(gateways: &[Gateway]) -> HashMap<(String, String), usize> {
    let mut places: Vec<(&str, i64, &str)> = Vec::new();
    for g in gateways.iter().filter(|g| g.enabled) {
        if let Some(ext) = &g.ext {
            places.push((ext, i64::MIN, &g.goip_id));
        }
        for share in &g.shared_with {
            places.push((&share.ext, share.order, &g.goip_id));
        }
    }
    places.sort();
    let mut numbers = HashMap::new();
    let mut last: Option<&str> = None;
    let mut n = 0;
    for (ext, _, goip_id) in places {
        if last != Some(ext) {
            n = 0;
            last = Some(ext);
        }
        n += 1;
        numbers.insert((ext.to_string(), goip_id.to_string()), n);
    }
    numbers
}

/// Reads the channel argument of `goippy --add` (`-`, empty or absent: none).
pub(crate) fn channel_arg(value: Option<&str>) -> Result<Option<i64>, InvalidGateway> {
    let value = match value.map(str::trim) {
        None | Some("") | Some("-") => return Ok(None),
        Some(v) => v,
    };
    let expected = format!(
        "expected a GoIP line number {}\u{2013}{} or \"-\", got {value:?}",
        CHANNELS.start(),
        CHANNELS.end()
    );
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidGateway::Field {
            field: "channel",
            reason: format!("{expected} (a custom SMS Client ID is given with --goip-id {value})"),
        });
    }
    match value.parse::<i64>() {
        Ok(n) if CHANNELS.contains(&n) => Ok(Some(n)),
        _ => Err(InvalidGateway::Field {
            field: "channel",
            reason: expected,
        }),
    }
}

/// What `--add` and `--add-line` say about a line they defined: what its
/// allow_regex allows, and how to set the GoIP up for it.
fn setup_hint(line: &Gateway) -> String {
    let on = match line.channel {
        Some(n) => format!("channel {n} (CH{n})"),
        None => "this channel".to_string(),
    };
    format!(
        "{}On the GoIP, give {on} SMS Client ID {} and the password you gave here.\n",
        acl_samples(line.allow_regex.as_deref().unwrap_or_default()),
        line.goip_id
    )
}

/// The number, or `-` when there is none.
fn or_dash(n: Option<impl ToString>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

fn describe_acl(allow_regex: Option<&str>) -> String {
    match allow_regex.map(str::trim) {
        None | Some("") => "any".to_string(),
        Some(re) => format!("matching {re}"),
    }
}

/// What an allow_regex means, shown on a few numbers: how it is read, and
/// which of [`gateway::acl::SAMPLE_NUMBERS`] (and numbers made from its own
/// prefix) it allows. Empty for no allow_regex.
fn acl_samples(allow_regex: &str) -> String {
    // Validated before it was stored.
    let Ok(Some(acl)) = gateway::DestinationAcl::compile(allow_regex) else {
        return String::new();
    };
    let pattern = allow_regex.trim();
    let mut out = format!(
        "The allow_regex {pattern} is searched in each number, as grep does: anchor it where\n\
         it must match (^ at the start, $ at the end; ^(…)$ for exactly these numbers).\n"
    );
    out.push_str("Sample numbers:\n");
    let samples = acl.samples();
    let width = samples.iter().map(|s| s.len()).max().unwrap_or(0);
    for number in samples {
        let verdict = if acl.allows(&number) {
            "allowed"
        } else {
            "refused"
        };
        let _ = writeln!(out, "  {number:<width$}  {verdict}");
    }
    out
}

/// The `--listExt` table: one row per extension and line (a shared line
/// once per user), aligned columns, `-` for what is unknown. LINE is the
/// number the user sees (`/line N`); TODAY the SMS given to the line since
/// 00:00 UTC.
pub(crate) fn list_table(
    gateways: &[Gateway],
    today: &HashMap<String, i64>,
    now: Timestamp,
) -> String {
    if gateways.is_empty() {
        return "no gateways defined; add one with: goippy --add <ext> <password> [channel|-] [allow_regex] [--goip-id <id>]\n"
            .to_string();
    }
    let header = [
        "EXT",
        "LINE",
        "GOIP_ID",
        "CHANNEL",
        "MSISDN",
        "ENABLED",
        "ALLOW_REGEX",
        "DAILY_LIMIT",
        "TODAY",
        "LAST SEEN",
    ];
    let numbers = line_numbers(gateways);
    // Sorted by (no user, extension, line number, goip_id).
    type Key = (bool, String, usize, String);
    let mut keyed: Vec<(Key, [String; 10])> = Vec::new();
    for g in gateways {
        let users: Vec<&str> = g.users().collect();
        let users = if users.is_empty() { vec![""] } else { users };
        for ext in users {
            let number = numbers.get(&(ext.to_string(), g.goip_id.clone())).copied();
            let row = [
                dash(ext),
                or_dash(number),
                dash(&g.goip_id),
                or_dash(g.channel),
                dash(g.msisdn.as_deref().unwrap_or_default()),
                if g.enabled { "yes" } else { "no" }.to_string(),
                dash(g.allow_regex.as_deref().unwrap_or_default()),
                or_dash(g.daily_limit),
                today.get(&g.goip_id).copied().unwrap_or(0).to_string(),
                match g.last_seen {
                    Some(t) => format!("{t} ({} ago)", short_age(t.age_at(now))),
                    None => "never".to_string(),
                },
            ];
            let key = (
                ext.is_empty(),
                ext.to_string(),
                number.unwrap_or(usize::MAX),
                g.goip_id.clone(),
            );
            keyed.push((key, row));
        }
    }
    // Each extension's lines together, by number; disabled ones after.
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<[String; 10]> = keyed.into_iter().map(|(_, row)| row).collect();
    table(header, &rows)
}

/// A short "how long ago" for operators: `12s`, `5m`, `3h`, `2d`.
fn short_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn dash(s: &str) -> String {
    if s.trim().is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::store::LineShare;

    fn gw(
        ext: &str,
        channel: Option<i64>,
        msisdn: Option<&str>,
        enabled: bool,
        seen: Option<i64>,
    ) -> Gateway {
        Gateway {
            ext: Some(ext.into()),
            goip_id: format!("goippy_{ext}"),
            password: Secret::new("pw"),
            channel,
            msisdn: msisdn.map(Into::into),
            allow_regex: None,
            enabled,
            created_at: None,
            last_seen: seen.map(Timestamp::from_unix),
            daily_limit: None,
            shared_with: Vec::new(),
        }
    }

    #[test]
    fn channel_argument() {
        assert_eq!(channel_arg(None).expect("none"), None);
        assert_eq!(channel_arg(Some("-")).expect("dash"), None);
        assert_eq!(channel_arg(Some("")).expect("empty"), None);
        assert_eq!(channel_arg(Some("1")).expect("1"), Some(1));
        assert_eq!(channel_arg(Some(" 32 ")).expect("32"), Some(32));
        assert_eq!(channel_arg(Some("999")).expect("999"), Some(999));
        let e = channel_arg(Some("gw1")).expect_err("a goip_id");
        assert_eq!(
            e.to_string(),
            "invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got \"gw1\" \
             (a custom SMS Client ID is given with --goip-id gw1)"
        );
        for bad in ["0", "1000", "-3", "99999999999999999999999"] {
            let e = channel_arg(Some(bad)).expect_err("out of range");
            let msg = e.to_string();
            assert_eq!(
                msg,
                format!(
                    "invalid channel: expected a GoIP line number 1\u{2013}999 or \"-\", got {bad:?}"
                )
            );
        }
        let e = channel_arg(Some("1a")).expect_err("not a number");
        assert!(e.to_string().contains("--goip-id 1a"), "{e}");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(short_age(Duration::from_secs(59)), "59s");
        assert_eq!(short_age(Duration::from_secs(61)), "1m");
        assert_eq!(short_age(Duration::from_secs(7200)), "2h");
        assert_eq!(short_age(Duration::from_secs(200_000)), "2d");
    }

    #[test]
    fn add_shows_what_the_allow_regex_allows() {
        assert_eq!(acl_samples(""), "");
        let text = acl_samples(r"^\+3712");
        assert!(text.contains("is searched in each number"), "{text}");
        assert!(text.contains("\n  +37120000001    allowed\n"), "{text}");
        assert!(text.contains("\n  +4915112345678  refused\n"), "{text}");
        let text = acl_samples("1345|1346");
        assert!(text.contains("^(…)$ for exactly these numbers"), "{text}");
        assert!(text.contains("\n  1345            allowed\n"), "{text}");
    }

    #[test]
    fn table_is_aligned() {
        let now = Timestamp::from_unix(1_000_000);
        let today = HashMap::new();
        let text = list_table(
            &[
                gw("2001", Some(12), Some("+37255512345"), true, Some(999_970)),
                gw("10", None, None, false, None),
            ],
            &today,
            now,
        );
        let expected = "\
EXT   LINE  GOIP_ID      CHANNEL  MSISDN        ENABLED  ALLOW_REGEX  DAILY_LIMIT  TODAY  LAST SEEN
10    -     goippy_10    -        -             no       -            -            0      never
2001  1     goippy_2001  12       +37255512345  yes      -            -            0      1970-01-12 13:46:10 UTC (30s ago)
";
        assert_eq!(text, expected);
        assert!(!text.contains("pw"));
        assert!(list_table(&[], &today, now).starts_with("no gateways defined"));
    }

    #[test]
    fn table_shows_each_user_of_a_shared_line_with_its_number() {
        let now = Timestamp::from_unix(1_000_000);
        let mut pool = gw("x", Some(3), Some("+37255500003"), true, None);
        pool.ext = None;
        pool.goip_id = "pool3".into();
        pool.daily_limit = Some(100);
        pool.shared_with = vec![
            LineShare {
                ext: "2002".into(),
                order: 7,
            },
            LineShare {
                ext: "2001".into(),
                order: 9,
            },
        ];
        let mut second = gw("2001b", None, None, true, None);
        second.ext = None;
        second.goip_id = "gw2".into();
        second.shared_with = vec![LineShare {
            ext: "2001".into(),
            order: 8,
        }];
        let gateways = [gw("2001", Some(1), None, true, None), pool, second];
        let today = HashMap::from([("pool3".to_string(), 42)]);
        let text = list_table(&gateways, &today, now);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().take(9).collect())
            .collect();
        assert_eq!(
            rows,
            vec![
                vec!["2001", "1", "goippy_2001", "1", "-", "yes", "-", "-", "0"],
                vec!["2001", "2", "gw2", "-", "-", "yes", "-", "-", "0"],
                vec![
                    "2001",
                    "3",
                    "pool3",
                    "3",
                    "+37255500003",
                    "yes",
                    "-",
                    "100",
                    "42"
                ],
                vec![
                    "2002",
                    "1",
                    "pool3",
                    "3",
                    "+37255500003",
                    "yes",
                    "-",
                    "100",
                    "42"
                ],
            ],
            "{text}"
        );
    }
}
