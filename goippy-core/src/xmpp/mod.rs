//! The XMPP external component (XEP-0114) side of goippy (see the XMPP issue).
//!
//! Layers, from the wire up:
//! * [`link`] keeps the component stream to Prosody up (with [`connect`]
//!   and [`crate::util::Backoff`]): stanzas in, confirmed sends out, state changes;
//! * [`intent`] turns each inbound stanza into what it asks for, purely;
//! * [`service`] answers what needs no business decision (disco, XEP-0100,
//!   pings, refusals), using the builders [`disco`], [`gateway`];
//!   [`adhoc`] reads and writes XEP-0050 commands, which the bridge runs;
//! * the builders [`reply`], [`presence`] and the error catalogue
//!   [`failure`] make every stanza goippy sends, through [`text`] (XML-safe
//!   text) and [`address`] / [`node_escape`] (which JID is what).
//!
//! Deciding who may send SMS, routing to the engine, the bot and USSD, and
//! the inbox/outbox are the bridge's; nothing here touches the store.
//!
//! How the bridge is meant to drive it:
//!
//! ```no_run
//! # async fn bridge(settings: goippy_core::config::XmppSettings) {
//! use goippy_core::number::NumberRules;
//! use goippy_core::xmpp::service::{self, Handled};
//! use goippy_core::xmpp::{Addressing, Intent, LinkConfig, XmppLink, classify};
//!
//! let addressing = Addressing::from_settings(&settings, NumberRules::default()).unwrap();
//! let (link, mut inbound, mut state) = XmppLink::spawn(LinkConfig::from_settings(&settings));
//! // Elsewhere: on every `state.changed()` to Connected, re-send presence and
//! // flush undelivered inbox rows with `link.send_confirmed(...)`, marking a
//! // row delivered only on Ok.
//! while let Some(item) = inbound.recv().await {
//!     let intent = classify(item, &addressing);
//!     match service::answer(&intent, &addressing) {
//!         Some(Handled::Reply(stanzas)) => {
//!             for stanza in stanzas {
//!                 let _ = link.send(stanza).await;
//!             }
//!         }
//!         Some(Handled::Ignore(_why)) => {}
//!         None => match intent {
//!             Intent::ChatToContact(_chat) => { /* authorise, route: SMS, bot or USSD */ }
//!             Intent::ChatToComponent { .. } | Intent::Presence { .. } => { /* … */ }
//!             _ => {}
//!         },
//!     }
//! }
//! # }
//! ```

pub mod address;
pub mod adhoc;
pub mod connect;
pub mod disco;
pub mod failure;
pub mod gateway;
pub mod intent;
pub mod link;
pub mod node_escape;
pub mod presence;
pub mod reply;
pub mod service;
pub mod text;

#[cfg(test)]
pub(crate) mod testing;

pub use address::{Addressing, Target};
pub use intent::{Envelope, Intent, classify};
pub use link::{Inbound, LinkConfig, LinkState, SendError, XmppHandle, XmppLink};
