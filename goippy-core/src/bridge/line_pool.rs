//! Line pools in the bridge: who gets what a shared line receives, how a
//! user with several lines tells them apart, and (for what users send) which
//! of their lines a conversation uses.
//!
//! The contact's JID is the same whatever line a message came to or goes
//! out on — one conversation per contact, as mod_sms_alias's one-contact
//! rule wants; a per-line JID would split the conversation. So the line is
//! named in the text instead: a user with more than one line sees
//! `[line 2 +37255500002] ` before what a contact wrote (the number is the
//! line's own, so the user knows which SIM the contact has; it is left out
//! while the line's number is unknown). A user with one line sees exactly
//! what they saw before line pools.

use std::collections::HashMap;
use std::sync::Arc;

use crate::number::Sender;
use crate::store::{ActiveGateway, InboundRecipient};

use super::Context;

/// Who a message received on `goip_id` goes to, one inbox row each. Empty
/// when the line is one extension's only line and nobody shares it: then it
/// is stored as before line pools, for the line's default owner (or
/// XMPP_FALLBACK_DEST for a line no one uses). `sender` is an SMS's
/// `srcnum`: each user's answer to that contact then goes out on this line
/// (unless the user chose another for it), when the user has several.
pub(crate) fn recipients(
    ctx: &Context,
    goip_id: &str,
    sender: Option<&str>,
) -> Vec<InboundRecipient> {
    let Some(line) = ctx.directory.gateway_by_goip_id(goip_id) else {
        return Vec::new();
    };
    let single = match (line.ext.as_deref(), line.users.as_slice()) {
        (Some(owner), [only]) => owner == only && ctx.directory.line_count(owner) <= 1,
        _ => false,
    };
    if single || line.users.is_empty() {
        return Vec::new();
    }
    let contact = sender.and_then(|s| contact_key(ctx, s));
    line.users
        .iter()
        .filter_map(|ext| {
            let jid = ctx.addressing.user_jid(ext).ok()?;
            let several = ctx.directory.line_count(ext) > 1;
            Some(InboundRecipient {
                ext: ext.clone(),
                xmpp_jid: jid.to_string(),
                contact: contact.clone().filter(|_| several),
            })
        })
        .collect()
}

/// A contact's number as conversations are keyed: international when the
/// number rules can make it so, a short code as its digits; a name or a
/// withheld number cannot be answered, so it has none.
pub(crate) fn contact_key(ctx: &Context, number: &str) -> Option<String> {
    match ctx.addressing.numbers().classify_sender(number) {
        Sender::International(n) => Some(n.as_str().to_string()),
        Sender::Local(digits) => Some(digits),
        Sender::Alphanumeric(_) | Sender::Withheld => None,
    }
}

/// The text before a message `ext` gets from line `goip_id`: `[line N
/// +number] ` when `ext` has more than one line, else nothing.
pub(crate) fn line_tag(ctx: &Context, ext: Option<&str>, goip_id: &str) -> Option<String> {
    let ext = ext?;
    // Every delivered message asks; most users have one line.
    if ctx.directory.line_count(ext) < 2 {
        return None;
    }
    let lines = ctx.directory.lines_of(ext);
    let n = lines.iter().position(|l| l.goip_id == goip_id)? + 1;
    Some(format!("[{}] ", line_name(n, &lines[n - 1])))
}

/// Whether the line is known to be offline, as failover sees it: heard
/// from and lost, or not heard from since goippy started `offline_after`
/// ago. Sooner it is neither online nor offline (its first keepalive may
/// still be due): not moved away from, and not moved to.
pub(crate) fn offline(ctx: &Context, goip_id: &str) -> bool {
    match ctx.engine.channel(goip_id) {
        Some(c) => !c.online,
        None => ctx.policy.started.elapsed() >= ctx.policy.offline_after,
    }
}

/// The daily limit `line` has reached by `today`'s counts (goip_id → SMS
/// sent), if it has one and has reached it.
pub(crate) fn at_limit(line: &ActiveGateway, today: &HashMap<String, i64>) -> Option<i64> {
    let sent = today.get(&line.goip_id).copied().unwrap_or(0);
    line.daily_limit.filter(|cap| sent >= *cap)
}

/// Where an SMS to `destination` can go now, for failover: the first of
/// `lines` from index `start` round the list that is not one of `tried`,
/// may send to the destination, is online and under its daily limit; with
/// its number among the lines (from 1).
pub(crate) fn next_line<'a>(
    ctx: &Context,
    lines: &'a [Arc<ActiveGateway>],
    start: usize,
    tried: &[String],
    destination: &str,
    today: &HashMap<String, i64>,
) -> Option<(usize, &'a Arc<ActiveGateway>)> {
    let n = lines.len();
    (start..start + n)
        .map(|i| (i % n + 1, &lines[i % n]))
        .find(|(_, line)| {
            !tried.contains(&line.goip_id)
                && line.allows_destination(destination)
                && ctx.engine.channel(&line.goip_id).is_some_and(|c| c.online)
                && at_limit(line, today).is_none()
        })
}

/// `line 2 +37255500002`, or `line 2` while the line's number is unknown.
pub(crate) fn line_name(n: usize, line: &ActiveGateway) -> String {
    match known_number(line) {
        Some(number) => format!("line {n} {number}"),
        None => format!("line {n}"),
    }
}

/// The line's own number, once the GoIP has told it (blank is unknown).
pub(crate) fn known_number(line: &ActiveGateway) -> Option<&str> {
    line.msisdn
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
}
