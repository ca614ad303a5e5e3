//! The XMPP external component (XEP-0114) side of goippy (see the XMPP issue).
//!
//! Layers, from the wire up:
//! * [`link`] keeps the component stream to Prosody up (with [`connect`]
//!   and [`backoff`]): stanzas in, confirmed sends out, state changes;
//! * [`intent`] turns each inbound stanza into what it asks for, purely;
//! * [`service`] answers what needs no business decision (disco, XEP-0100,
//!   pings, refusals), using the builders [`disco`], [`gateway`];
//! * the builders [`reply`], [`presence`] and the error catalogue
//!   [`failure`] make every stanza goippy sends, through [`text`] (XML-safe
//!   text) and [`address`] / [`node_escape`] (which JID is what).
//!
//! Deciding who may send SMS, routing to the engine, the bot and USSD, and
//! the inbox/outbox are the bridge's; nothing here touches the store.

pub mod address;
pub mod backoff;
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
mod testing;

pub use address::{Addressing, Target};
pub use intent::{Envelope, Intent, classify};
pub use link::{Inbound, LinkConfig, LinkState, SendError, XmppHandle, XmppLink};
