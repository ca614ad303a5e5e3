//! The GoIP UDP engine: the server a GoIP channel talks to
//! (docs/goip-protocol.md, #transport through #replies, and #timers).
//!
//! One UDP socket carries everything, in both directions: a GoIP sends its
//! keepalives and notifications to it, and every ack and every command
//! leaves from it, to the address the channel's latest packet came from —
//! the NAT pinhole the GoIP keeps open. On top of that socket:
//!
//! * **receiving** ([`receiver`]): parse, authenticate (constant-time
//!   password compare), ack, recognise retransmissions ([`dedup`]), keep the
//!   channel registry ([`registry`], with the [`sweeper`] marking silent
//!   channels offline), and hand events to the consumer ([`events`]). An
//!   inbound SMS, delivery report, USSN or call event (RECORD, HANGUP,
//!   EXPIRY) is acked only after the consumer confirms it stored it
//!   ([`DurableAck`]): a consumer that ignores one leaves it unacked, and
//!   the GoIP keeps resending it. Everything else is acked at once;
//! * **sending** (`queue`, [`worker`]): jobs — SMS ([`sms_session`], or
//!   the legacy [`sms_oneshot`]) and USSD (`ussd`) — run one at a time per
//!   channel, in parallel across channels, and only while the channel is
//!   online. Replies carry no
//!   channel id and no password: they are routed by sendid ([`pending`]; ids
//!   from [`sendid`], which a forger cannot guess) and checked against the
//!   channel's address and port;
//! * **shutdown** ([`Engine::shutdown`]): no new jobs, open exchanges
//!   closed with DONE, acks until the end, then the socket closes.
//!
//! What the engine promises — what is acked when, what is retried, and what
//! is never retried — is written down in the README ("What the GoIP engine
//! guarantees"); keep the two in step.
//!
//! # The files, bottom up
//!
//! Each file uses only files listed before it, so the engine reads from the
//! top of this list down without a loop:
//!
//! * **pieces that use no other file of the engine**: `request.rs` (the
//!   vocabulary: what a caller asks for and gets back, and why something was
//!   not sent), `config.rs`, `credentials.rs`, `dedup.rs`, `ledger.rs`,
//!   `registry.rs`, `sendid.rs`, `stats.rs`, `tracker.rs` (the shared
//!   helpers — locks, rate limits, backoff — are in [`crate::util`]);
//! * **built on them**: `events.rs` (what the engine tells its consumer),
//!   `pending.rs` (the reply table), `queue.rs` (the per-channel job queues);
//! * `shared.rs`: the state the engine's tasks share, behind methods and one
//!   lock;
//! * **the tasks**: `receiver.rs` and `sweeper.rs`; the jobs — `context.rs`
//!   (what a job may touch), `sms.rs`, `sms_session.rs`, `sms_oneshot.rs`,
//!   `ussd.rs` — run by `worker.rs`;
//! * `handle.rs`: [`Engine`], the cheap handle the rest of goippy holds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use goippy_core::engine::{ChannelCredentials, Engine, EngineConfig, EngineEvent, SmsRequest};
//!
//! let channel = ChannelCredentials::new("goip-1", "secret");
//! let credentials = HashMap::from([(channel.goip_id.clone(), channel)]);
//! let config = EngineConfig::new("0.0.0.0:44444".parse().unwrap());
//! let (engine, mut events) = Engine::start(config, Arc::new(credentials)).await?;
//! tokio::spawn(async move {
//!     while let Some(event) = events.recv().await {
//!         // Store each under its dedup key, then confirm; what carries a
//!         // DurableAck and is never confirmed is never acked.
//!         match event {
//!             EngineEvent::Sms(sms) => sms.durable.stored(),
//!             EngineEvent::Delivery(report) => report.durable.stored(),
//!             EngineEvent::Ussd(ussd) => ussd.durable.into_iter().for_each(|d| d.stored()),
//!             EngineEvent::Call(call) => call.durable.into_iter().for_each(|d| d.stored()),
//!             _ => {}
//!         }
//!     }
//! });
//! let request = SmsRequest::new("goip-1", vec!["+37255512345".into()], "hello", 1)
//!     .before_send(|_sendid| async { /* mark the outbox row "sending" */ Ok(()) });
//! let outcome = engine.send_sms(request).await;
//! # let _ = outcome;
//! engine.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod config;
mod context;
mod credentials;
mod dedup;
mod events;
mod handle;
mod ledger;
mod pending;
mod queue;
mod receiver;
pub mod registry;
mod request;
mod sendid;
mod shared;
mod sms;
mod sms_oneshot;
mod sms_session;
mod stats;
mod sweeper;
mod tracker;
mod ussd;
mod worker;

pub use config::EngineConfig;
pub use credentials::{ChannelCredentials, CredentialSource};
pub use dedup::DedupKey;
pub use events::{
    CallNotice, CallNoticeKind, DeliveryReport, DurableAck, EngineEvent, InboundSms, LateSmsResult,
    OtherNotice, UssdNotice, UssdSource,
};
pub use handle::Engine;
pub use ledger::SentSms;
pub use registry::{ChannelInfo, Presence};
pub use request::{
    BeforeSend, MessageRef, NotSent, RecipientOutcome, RecipientReport, SmsOutcome, SmsRequest,
    UssdOutcome,
};
pub use stats::{ChannelTraffic, EngineStats};
