//! Presence: subscriptions are accepted both ways, and a probe learns
//! whether the prober's GSM channel is online.
//!
//! * `subscribe` → `subscribed` and a `subscribe` back, so a roster entry
//!   for a number (or the gateway) ends up mutual instead of pending.
//! * `unsubscribe` → `unsubscribed`, and the contact goes offline.
//! * `probe` (Prosody sends them when a user logs in) → `available` from
//!   the probed JID while the user's channel is online, else `unavailable`
//!   with the reason as status; a user who may not use the gateway always
//!   sees it unavailable. With several lines: the probed number's line when
//!   it is one of the user's own numbers, else whether any line is online.
//! * Other presence (a user's own availability, `subscribed`, …) needs no
//!   answer. Channel changes are not broadcast: the next probe tells.

use std::sync::Arc;

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::presence::Presence;

use crate::xmpp::Envelope;
use crate::xmpp::Target;
use crate::xmpp::intent::PresenceKind;
use crate::xmpp::presence as build;

use super::Context;

pub(crate) fn answer(ctx: &Arc<Context>, env: &Envelope, kind: PresenceKind) -> Vec<Stanza> {
    let stanzas = |presences: [Presence; 2]| presences.map(Stanza::from).into();
    match kind {
        PresenceKind::Subscribe => stanzas(build::accept_subscription(env)),
        PresenceKind::Unsubscribe => stanzas(build::confirm_unsubscription(env)),
        PresenceKind::Probe => {
            let me = env.to.to_bare();
            let to = Jid::from(env.sender());
            // One of the user's own numbers tells its line's state; any
            // other JID whether any of the user's lines can send (with one
            // line: that line, as always).
            let lines = super::lines::of_user(ctx, &env.from);
            let up = |goip_id: &str| ctx.engine.channel(goip_id).is_some_and(|c| c.online);
            let own_line = match &env.target {
                Target::Contact { node } => ctx
                    .directory
                    .gateway_by_msisdn(node)
                    .filter(|line| lines.iter().any(|l| l.goip_id == line.goip_id)),
                _ => None,
            };
            let online = match own_line {
                Some(line) => up(&line.goip_id),
                None => lines.iter().any(|l| up(&l.goip_id)),
            };
            let presence = if online {
                build::available(&me, &to, Some("GSM channel online"))
            } else {
                build::unavailable(&me, &to, Some("GSM channel offline"))
            };
            vec![presence.into()]
        }
        PresenceKind::Available
        | PresenceKind::Unavailable
        | PresenceKind::Subscribed
        | PresenceKind::Unsubscribed => Vec::new(),
    }
}
