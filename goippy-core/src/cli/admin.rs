//! The gateway admin commands of the original goippy CLI: `--add`,
//! `--remove`, `--listExt`, plus `--enable` and `--disable`.
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
use crate::store::{
    DEFAULT_REFRESH, Gateway, GatewayChange, GatewayDefinition, Store, StoreError, StoreOptions,
    Timestamp,
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
            let line = match g.channel {
                Some(n) => format!("channel {n} (CH{n})"),
                None => "this channel".to_string(),
            };
            let mut out = format!(
                "{verb} extension {}: goip_id {}, channel {}, destinations {}, enabled\n",
                g.ext,
                g.goip_id,
                g.channel.map_or_else(|| "-".to_string(), |n| n.to_string()),
                describe_acl(g.allow_regex.as_deref()),
            );
            out.push_str(&acl_samples(g.allow_regex.as_deref().unwrap_or_default()));
            out.push_str(&format!(
                "On the GoIP, give {line} SMS Client ID {} and the password you gave here.\n\
                 A running goippy uses it within {refresh} s.\n",
                g.goip_id,
            ));
            Ok(out)
        }
        AdminCommand::Remove { ext } => {
            let g = store.remove_gateway(ext).await?;
            Ok(format!(
                "removed extension {} (goip_id {}); its call and message history is kept.\n\
                 A running goippy refuses its channel within {refresh} s.\n",
                g.ext, g.goip_id
            ))
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
            Ok(list_table(&gateways, Timestamp::now()))
        }
    }
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
    let Ok(Some(acl)) = gateway::destination_acl(allow_regex) else {
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

/// The `--listExt` table: aligned columns, `-` for what is unknown.
pub(crate) fn list_table(gateways: &[Gateway], now: Timestamp) -> String {
    if gateways.is_empty() {
        return "no gateways defined; add one with: goippy --add <ext> <password> [channel|-] [allow_regex] [--goip-id <id>]\n"
            .to_string();
    }
    let header = [
        "EXT",
        "GOIP_ID",
        "CHANNEL",
        "MSISDN",
        "ENABLED",
        "ALLOW_REGEX",
        "LAST SEEN",
    ];
    let rows: Vec<[String; 7]> = gateways
        .iter()
        .map(|g| {
            [
                dash(&g.ext),
                dash(&g.goip_id),
                g.channel.map_or_else(|| "-".to_string(), |n| n.to_string()),
                dash(g.msisdn.as_deref().unwrap_or_default()),
                if g.enabled { "yes" } else { "no" }.to_string(),
                dash(g.allow_regex.as_deref().unwrap_or_default()),
                match g.last_seen {
                    Some(t) => format!("{t} ({} ago)", short_age(t.age_at(now))),
                    None => "never".to_string(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
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

    fn gw(
        ext: &str,
        channel: Option<i64>,
        msisdn: Option<&str>,
        enabled: bool,
        seen: Option<i64>,
    ) -> Gateway {
        Gateway {
            ext: ext.into(),
            goip_id: format!("goippy_{ext}"),
            password: Secret::new("pw"),
            channel,
            msisdn: msisdn.map(Into::into),
            allow_regex: None,
            enabled,
            created_at: None,
            last_seen: seen.map(Timestamp::from_unix),
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
        let text = list_table(
            &[
                gw("2001", Some(12), Some("+37255512345"), true, Some(999_970)),
                gw("10", None, None, false, None),
            ],
            now,
        );
        let expected = "\
EXT   GOIP_ID      CHANNEL  MSISDN        ENABLED  ALLOW_REGEX  LAST SEEN
2001  goippy_2001  12       +37255512345  yes      -            1970-01-12 13:46:10 UTC (30s ago)
10    goippy_10    -        -             no       -            never
";
        assert_eq!(text, expected);
        assert!(!text.contains("pw"));
        assert!(list_table(&[], now).starts_with("no gateways defined"));
    }
}
