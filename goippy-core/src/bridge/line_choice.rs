//! Which of a user's lines an SMS goes out on, and the `/line` command that
//! changes it.
//!
//! Each conversation (extension, contact) sends from one line: the one the
//! user pinned with `/line N` (typed to the contact, or `line <number> N` to
//! the console), else the one the contact last wrote to (learned with the
//! SMS, `store/received.rs`), else the extension's line 1 — as long as that
//! line is still one of the user's. A user with one line never reaches this
//! module: their SMS go out on it as before, and `/line` typed to a contact
//! is an SMS like any other text.
//!
//! The choice is read from the store in the sender's outbox lane (the
//! router decides from memory alone), so a `/line 2` followed by a message
//! applies to that message. When the store cannot be read, line 1 is used:
//! an SMS is not held up for a preference.
//!
//! [`place`] then applies the daily limits and failover, for every SMS
//! (also of a user with one line, whose line may have a limit): a line at
//! its limit sends nothing more that day; with failover on, an SMS whose
//! line is offline or at its limit goes out on the next of the user's lines
//! that is online, under its limit and allowed to send to the destination,
//! and the user is told which. The count is read when the SMS is taken, so
//! two senders sharing a line who write in the same instant may together
//! pass its limit by one.

use std::sync::Arc;

use std::collections::HashMap;

use crate::store::{ActiveGateway, LineChoice, StoreError, Timestamp};
use crate::xmpp::failure::Refusal;

use super::Context;
use super::line_pool::{at_limit, line_name, next_line, offline};

/// Why a conversation uses its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// The user chose it (`/line N`).
    Pinned,
    /// The contact last wrote to it.
    Learned,
    /// Nothing else applies: the extension's line 1.
    Default,
}

/// The line a conversation sends from, with its number among the user's.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub line: Arc<ActiveGateway>,
    /// From 1.
    pub number: usize,
    pub why: Why,
}

impl Chosen {
    /// Line `goip_id`, if it is one of `lines` (the user's, in order).
    fn among(lines: &[Arc<ActiveGateway>], goip_id: &str, why: Why) -> Option<Chosen> {
        let i = lines.iter().position(|l| l.goip_id == goip_id)?;
        Some(Chosen {
            line: Arc::clone(&lines[i]),
            number: i + 1,
            why,
        })
    }

    /// `line 2 +37255500002`
    pub fn name(&self) -> String {
        line_name(self.number, &self.line)
    }
}

/// The line the conversation of `ext` with `contact` sends from; `None` when
/// `ext` has no line.
pub(crate) async fn choose(ctx: &Context, ext: &str, contact: &str) -> Option<Chosen> {
    let lines = ctx.directory.lines_of(ext);
    let first = Chosen::among(&lines, &lines.first()?.goip_id, Why::Default)?;
    if lines.len() < 2 {
        return Some(first);
    }
    let stored = match ctx.store.line_choice(ext, contact).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(
                ext,
                "cannot read the line of a conversation (line 1 is used): {e}"
            );
            None
        }
    };
    let stored = stored.and_then(|LineChoice { goip_id, pinned }| {
        let why = if pinned { Why::Pinned } else { Why::Learned };
        Chosen::among(&lines, &goip_id, why)
    });
    Some(stored.unwrap_or(first))
}

/// What keeps a line from sending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Offline,
    AtLimit(i64),
}

/// Where the SMS of `ext` to `destination` goes: the conversation's line
/// (`contact` given: the user has several lines) or else `goip_id` (the
/// line the router chose from memory), with the daily limits and failover
/// applied: the line, with a note telling the user why it is not the
/// conversation's usual one (failover); or why the SMS is refused (the
/// extension has no line any more, the line may not send to the
/// destination, the limits allow no line to send it).
pub(crate) async fn place(
    ctx: &Context,
    ext: &str,
    contact: Option<&str>,
    goip_id: &str,
    destination: &str,
) -> Result<(Arc<ActiveGateway>, Option<String>), Refusal> {
    let lines = ctx.directory.lines_of(ext);
    let chosen = match contact {
        Some(contact) => choose(ctx, ext, contact).await,
        None => Chosen::among(&lines, goip_id, Why::Default),
    };
    let Some(chosen) = chosen else {
        return Err(Refusal::SenderNotAllowed);
    };
    if !chosen.line.allows_destination(destination) {
        return Err(Refusal::DestinationBlocked {
            number: destination.to_string(),
        });
    }
    let several = lines.len() > 1;
    // Only a user with a limit on some line pays for counting.
    let today = if lines.iter().any(|l| l.daily_limit.is_some()) {
        match ctx.store.sent_today(Timestamp::now()).await {
            Ok(today) => today,
            Err(e) => {
                // The SMS is not held up for a count the store cannot give.
                tracing::warn!(ext, "cannot count today's SMS (no limit applied): {e}");
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    let trouble = match at_limit(&chosen.line, &today) {
        Some(limit) => Problem::AtLimit(limit),
        None if offline(ctx, &chosen.line.goip_id) => Problem::Offline,
        None => return Ok((chosen.line, None)),
    };
    let failover = several
        && match ctx.store.failover(ext).await {
            Ok(on) => on,
            Err(e) => {
                tracing::warn!(
                    ext,
                    "cannot read whether failover is on (taken as off): {e}"
                );
                false
            }
        };
    // The next of the user's lines after the chosen one, round the list.
    let tried = std::slice::from_ref(&chosen.line.goip_id);
    if failover
        && let Some((number, other)) =
            next_line(ctx, &lines, chosen.number, tried, destination, &today)
    {
        let why = match trouble {
            Problem::Offline => "is offline".to_string(),
            Problem::AtLimit(limit) => format!("has sent its {limit} SMS for today"),
        };
        tracing::info!(
            ext,
            from_goip_id = %chosen.line.goip_id,
            to_goip_id = %other.goip_id,
            "failover: the SMS goes out on another line"
        );
        let note = format!(
            "Sent from {} (failover): {} {why}.",
            line_name(number, other),
            chosen.name()
        );
        return Ok((Arc::clone(other), Some(note)));
    }
    match trouble {
        // It waits for its line, as an SMS always has.
        Problem::Offline => Ok((chosen.line, None)),
        Problem::AtLimit(limit) => {
            let all = several && lines.iter().all(|l| at_limit(l, &today).is_some());
            let detail = if all {
                "All your lines have reached their daily limit of SMS; they may send again after \
                 00:00 UTC."
                    .to_string()
            } else if several {
                format!(
                    "Your {} has sent its {limit} SMS for today; it may send again after 00:00 \
                     UTC. /line N sends this conversation from another of your lines{}.",
                    chosen.name(),
                    if failover {
                        ""
                    } else {
                        ", and failover on (to your own number) lets goippy do that by itself"
                    }
                )
            } else {
                format!(
                    "Your line{} has sent its {limit} SMS for today; it may send again after \
                     00:00 UTC.",
                    chosen
                        .line
                        .msisdn
                        .as_deref()
                        .map(|m| format!(" {m}"))
                        .unwrap_or_default()
                )
            };
            Err(Refusal::DailyLimit { detail })
        }
    }
}

/// What `/line` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineRequest {
    /// `/line`: the lines and the one in use.
    Show,
    /// `/line N`
    Pin(usize),
    /// `/line auto`
    Auto,
    /// Anything else after `/line`.
    Invalid(String),
}

/// `text` as a `/line` command, if it is one (`/line`, `/line 2`, `/line
/// auto`; case-insensitive). `/lines` and `/linen` are not.
pub(crate) fn parse_slash(text: &str) -> Option<LineRequest> {
    let text = text.trim();
    let rest = text
        .get(..5)
        .filter(|head| head.eq_ignore_ascii_case("/line"))
        .map(|_| &text[5..])?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(parse_arg(rest))
}

/// The argument of `/line` or the console's `line <number>`.
pub(crate) fn parse_arg(arg: &str) -> LineRequest {
    let arg = arg.trim();
    if arg.is_empty() {
        return LineRequest::Show;
    }
    if arg.eq_ignore_ascii_case("auto") {
        return LineRequest::Auto;
    }
    match arg.parse::<usize>() {
        Ok(n) if n >= 1 => LineRequest::Pin(n),
        _ => LineRequest::Invalid(arg.to_string()),
    }
}

/// Carries out `request` for the conversation of `ext` with `contact`;
/// the answer's text.
pub(crate) async fn run(
    ctx: &Context,
    ext: &str,
    contact: &str,
    request: &LineRequest,
) -> Result<String, StoreError> {
    let lines = ctx.directory.lines_of(ext);
    match request {
        LineRequest::Show => Ok(show(ctx, ext, contact, &lines).await),
        LineRequest::Pin(n) => match lines.get(n - 1) {
            Some(line) => {
                ctx.store
                    .pin_line(ext, contact, Some(&line.goip_id))
                    .await?;
                Ok(format!(
                    "Your SMS to {contact} now go out on {}. /line auto goes back to the line \
                     {contact} last wrote to.",
                    line_name(*n, line)
                ))
            }
            None => Ok(format!(
                "You have no line {n}: you have {} lines.\n{}",
                lines.len(),
                list(&lines, None)
            )),
        },
        LineRequest::Auto => {
            ctx.store.pin_line(ext, contact, None).await?;
            let now = choose(ctx, ext, contact).await;
            Ok(format!(
                "Your SMS to {contact} go out on the line {contact} last writes to (until then {}).",
                now.map_or_else(|| "line 1".to_string(), |c| c.name())
            ))
        }
        LineRequest::Invalid(arg) => Ok(format!(
            "\"/line {arg}\" is not a line command. /line shows your lines, /line N sends your \
             SMS to {contact} from line N, /line auto from the line {contact} last wrote to."
        )),
    }
}

async fn show(ctx: &Context, ext: &str, contact: &str, lines: &[Arc<ActiveGateway>]) -> String {
    let Some(chosen) = choose(ctx, ext, contact).await else {
        return "You have no line.".to_string();
    };
    let why = match chosen.why {
        Why::Pinned => "you chose it".to_string(),
        Why::Learned => format!("{contact} last wrote to it"),
        Why::Default => "your default line".to_string(),
    };
    format!(
        "Your SMS to {contact} go out on {} ({why}).\n{}\n/line N switches to line N, /line auto \
         follows the line {contact} writes to.",
        chosen.name(),
        list(lines, Some(chosen.number))
    )
}

/// One line per line: `2 +37255500002`, the current one marked.
pub(crate) fn list(lines: &[Arc<ActiveGateway>], current: Option<usize>) -> String {
    let mut out = String::from("Your lines:");
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let number = line.msisdn.as_deref().unwrap_or("(number not known yet)");
        let mark = if current == Some(n) {
            "  <- this one"
        } else {
            ""
        };
        out.push_str(&format!("\n{n}: {number}{mark}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_line_is_read_only_when_it_is_one() {
        assert_eq!(parse_slash("/line"), Some(LineRequest::Show));
        assert_eq!(parse_slash("  /LINE  "), Some(LineRequest::Show));
        assert_eq!(parse_slash("/line 2"), Some(LineRequest::Pin(2)));
        assert_eq!(parse_slash("/line\tauto"), Some(LineRequest::Auto));
        assert_eq!(parse_slash("/Line AUTO"), Some(LineRequest::Auto));
        assert_eq!(
            parse_slash("/line 0"),
            Some(LineRequest::Invalid("0".into()))
        );
        assert_eq!(
            parse_slash("/line two"),
            Some(LineRequest::Invalid("two".into()))
        );
        assert_eq!(parse_slash("/lines"), None);
        assert_eq!(parse_slash("/lin"), None);
        assert_eq!(parse_slash("see /line 2"), None);
        assert_eq!(parse_slash("/lineé"), None);
        assert_eq!(parse_slash("/linü"), None);
    }
}
