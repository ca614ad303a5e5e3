//! Presence: subscriptions are accepted both ways, and a probe learns
//! whether the prober's GSM channel is online.
//!
//! * `subscribe` → `subscribed` and a `subscribe` back, so a roster entry
//!   for a number (or the gateway) ends up mutual instead of pending.
//! * `unsubscribe` → `unsubscribed`, and the contact goes offline.
//! * `probe` (Prosody sends them when a user logs in) → `available` from
//!   the probed JID while the user's channel is online, else `unavailable`
//!   with the reason as status; a user who may not use the gateway always
//!   sees it unavailable.
//! * Other presence (a user's own availability, `subscribed`, …) needs no
//!   answer. Channel changes are not broadcast: the next probe tells.

use std::sync::Arc;

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use crate::xmpp::Envelope;
use crate::xmpp::intent::PresenceKind;
use crate::xmpp::presence as build;

use super::Context;

pub(crate) fn answer(ctx: &Arc<Context>, env: &Envelope, kind: PresenceKind) -> Vec<Stanza> {
    match kind {
        PresenceKind::Subscribe => build::accept_subscription(env)
            .into_iter()
            .map(Stanza::from)
            .collect(),
        PresenceKind::Unsubscribe => build::confirm_unsubscription(env)
            .into_iter()
            .map(Stanza::from)
            .collect(),
        PresenceKind::Probe => {
            let me = env.to.to_bare();
            let to = Jid::from(env.sender());
            let online = ctx
                .sender_gateway(&env.from)
                .and_then(|g| ctx.engine.channel(&g.goip_id))
                .is_some_and(|c| c.online);
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
