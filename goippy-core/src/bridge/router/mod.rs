//! Every stanza Prosody hands goippy, decided and answered.
//!
//! 1. [`crate::xmpp::service::answer`] settles what needs no decision:
//!    disco, XEP-0100, pings, unsupported iqs, encrypted and group chat
//!    messages, unreadable stanzas — and keeps silent on errors, chat states,
//!    receipts and markers (never an SMS, never answered).
//! 2. A message to a contact is only taken from a user of XMPP_DOMAIN whose
//!    localpart is an enabled extension (anyone else: `forbidden`). That is
//!    all there is to who may send: the extension names the SIM that pays
//!    and the ACL that applies, and a user of another server has neither
//!    (mod_sms_alias turns such senders away before they get here, which is
//!    why its `sms_alias_allow_remote` is retired).
//! 3. Written to the extension's own number, it is a console command
//!    (`console.rs`, words in `bot.rs`): `help` is answered from text,
//!    `status` and `log` from the store (or, when it does not answer, from
//!    memory or with an error saying so), a USSD code goes to the outbox;
//!    anything else is refused with the list of commands.
//! 4. Otherwise the addressed localpart must be a number (a sender name gets
//!    "nobody can reply to it by SMS"), the extension's allow_regex must
//!    allow it, and the text must fit; then the SMS is committed to the
//!    outbox and the channel's runner poked. Nothing is answered now: the
//!    outcome comes later, as a receipt or an error for this message's id.
//!
//! # Who waits for whom
//!
//! The database can stall for minutes (a MariaDB restart, a backup holding
//! `FLUSH TABLES WITH READ LOCK`, an SQLite write lock held by a VACUUM or
//! an admin's shell). That must hold up the messages that need it, never
//! everyone. So the dispatcher ([`run`]) decides each stanza from memory —
//! the gateway directory, the engine's channel registry, the addressing —
//! and answers at once whatever needs no store: everything of step 1,
//! presence, the component's help, refusals, `help`. Only what touches the
//! store becomes a [`StoreJob`] in its sender's lane (`lanes.rs`): one lane per
//! sender (bare JID) for outbox writes, which therefore enter the outbox in
//! the order written, and one for console reads, which so never wait behind
//! an outbox write and are bounded in time themselves. Lanes of different
//! senders run at the same time.
//!
//! An outbox write is not given up after a while: once submitted it may
//! still commit, and telling the user "failed" for an SMS that is then sent
//! would invite a duplicate. Its lane waits; the lanes' bounds ([`LIMITS`])
//! keep that wait from growing without end, and a stanza beyond them is
//! answered `wait`/`resource-constraint` ("send it again later"), never
//! dropped in silence.
//!
//! XEP-0050 ad-hoc commands (`bridge/adhoc/`) run in a third lane per
//! sender, and the disco answers about them (which depend on the sender)
//! are given here before `service` sees the question.
//!
//! Refusals are logged at most once per sender and interval, with a count
//! of what was left out (`refusals.rs`).
//!
//! # Answers come from where the user wrote
//!
//! Everything sent in answer to a stanza — an error, a receipt, the
//! console's reply, the "Not sent yet" notice, a presence — comes from the
//! address the stanza was sent to, and with mod_sms_alias it carries the mark
//! that makes the module deliver it from the JID the user wrote
//! ([`Router::answer`]; see `crate::alias`). An outbox job keeps that JID
//! (`xmpp_to`), so its receipt and its errors, which come later, do the same
//! (`notice.rs`).

mod console;
mod lanes;
mod refusals;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;

use crate::goip::MAX_SMS_BYTES;
use crate::number::E164;
use crate::store::{ActiveGateway, OutboundKind, OutboundOptions, OutboundRecord, Saved};
use crate::xmpp::adhoc::CommandRequest;
use crate::xmpp::failure::Refusal;
use crate::xmpp::gateway;
use crate::xmpp::intent::ChatToContact;
use crate::xmpp::link::{Inbound, StanzaKind};
use crate::xmpp::node_escape::WITHHELD_NODE;
use crate::xmpp::reply::{self, refuse};
use crate::xmpp::service::{self, Handled};
use crate::xmpp::{Envelope, Intent, classify};

use super::line_choice;
use super::line_pool::known_number;
use super::{Context, adhoc};
use lanes::{Full, Lanes, Limits, Weighed};
use refusals::{INTERVAL, RefusalLog, TRACKED};

/// How often expired ad-hoc sessions are looked for (at most: a shorter
/// session timeout is looked for as often as it is long).
const SESSION_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The bounds of the lanes. At most 32 of a sender's messages wait behind
/// the one being stored (a user does not write more while the database is
/// down for a minute), at most 256 lanes are open (two per sender: far more
/// users than one goippy serves writing during the same stall), and all of
/// it holds at most 8 MiB (an SMS is at most 3000 bytes of text).
const LIMITS: Limits = Limits {
    per_lane: 32,
    lanes: 256,
    bytes: 8 << 20,
};

/// Reads stanzas from the link until it closes, then lets the work already
/// taken finish (the shutdown bounds that).
pub(crate) async fn run(ctx: Arc<Context>, mut inbound: mpsc::Receiver<Inbound>) {
    let mut expiry = tokio::time::interval(SESSION_SWEEP.min(ctx.policy.command_timeout));
    let router = Arc::new(Router {
        sessions: adhoc::Sessions::new(ctx.policy.command_timeout),
        ctx,
        refusals: RefusalLog::new(INTERVAL, TRACKED),
    });
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let for_jobs = router.clone();
    let mut lanes = Lanes::new(LIMITS, move |job: StoreJob| {
        let router = for_jobs.clone();
        async move {
            let replies = job.work.run(&router, &job.env).await;
            router.answer(Some(&job.env), replies).await;
        }
    });
    loop {
        tokio::select! {
            item = inbound.recv() => {
                let Some(item) = item else { break };
                let intent = classify(item, &router.ctx.addressing);
                let env = intent.envelope().cloned();
                match router.decide(intent) {
                    Decision::Reply(stanzas) => router.answer(env.as_ref(), stanzas).await,
                    Decision::Queue { job, taken } => {
                        let env = job.env.clone();
                        match lanes.submit(job.lane(), *job) {
                            Ok(()) => router.answer(Some(&env), taken).await,
                            Err((job, full)) => {
                                let busy = router.busy(&job, full, lanes.open());
                                router.answer(Some(&env), busy).await;
                            }
                        }
                    }
                }
            }
            () = lanes.settle() => {}
            _ = expiry.tick() => adhoc::expire(&router.ctx, &router.sessions),
        }
    }
    lanes.drain().await;
    tracing::debug!("router stopped");
}

/// What the dispatcher does with a stanza.
enum Decision {
    /// Send these now (often none).
    Reply(Vec<Stanza>),
    /// Run this in its sender's lane, and once the lane has taken it send
    /// `taken` (a console command's receipt).
    Queue {
        job: Box<StoreJob>,
        taken: Vec<Stanza>,
    },
}

impl Decision {
    fn queue(work: Work, env: Envelope) -> Decision {
        Decision::Queue {
            job: Box::new(StoreJob { env, work }),
            taken: Vec::new(),
        }
    }
}

/// Work that waits on the store, and the stanza it answers.
#[derive(Debug)]
struct StoreJob {
    env: Envelope,
    work: Work,
}

#[derive(Debug)]
enum Work {
    /// An SMS or a USSD request to commit to the outbox.
    Enqueue {
        record: OutboundRecord,
        receipt_requested: bool,
        /// For a sender with several lines: the contact whose conversation
        /// decides the line (`line_choice.rs`); `record.goip_id` is then
        /// replaced by the chosen line's.
        choose_line: Option<String>,
    },
    /// `/line` typed to a contact, or the console's `line`: in the outbox
    /// lane, so that a message after it goes out on the line it chose.
    Line(console::LineJob),
    /// `status` or `log`.
    Read(console::Read),
    /// An ad-hoc command request.
    Command(CommandRequest),
}

/// A sender's lanes: outbox writes in order, and reads beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LaneKind {
    Outbox,
    Reads,
    /// Ad-hoc commands: a USSD waiting for the network holds up neither
    /// the sender's chat nor their reads.
    Commands,
}

impl StoreJob {
    /// The kind of stanza it answers.
    fn kind(&self) -> StanzaKind {
        match self.work {
            Work::Command(_) => StanzaKind::Iq,
            Work::Enqueue { .. } | Work::Read(_) | Work::Line(_) => StanzaKind::Message,
        }
    }

    fn lane(&self) -> (BareJid, LaneKind) {
        let kind = match self.work {
            Work::Enqueue { .. } | Work::Line(_) => LaneKind::Outbox,
            Work::Read(_) => LaneKind::Reads,
            Work::Command(_) => LaneKind::Commands,
        };
        (self.env.sender(), kind)
    }
}

impl Work {
    /// Does it; the answers to the stanza of `env`.
    async fn run(self, router: &Router, env: &Envelope) -> Vec<Stanza> {
        match self {
            Work::Enqueue {
                mut record,
                receipt_requested,
                choose_line,
            } => {
                let mut note = None;
                if record.kind == OutboundKind::Sms {
                    let placed = line_choice::place(
                        &router.ctx,
                        &record.ext,
                        choose_line.as_deref(),
                        &record.goip_id,
                        &record.destination,
                    )
                    .await;
                    match placed {
                        Ok((line, why)) => {
                            record.goip_id = line.goip_id.clone();
                            note = why;
                        }
                        Err(refusal) => {
                            return vec![router.refused(env, StanzaKind::Message, refusal)];
                        }
                    }
                }
                let mut out = router.enqueue(env, record, receipt_requested).await;
                // Told once the SMS is taken, from the contact's JID.
                if let Some(note) = note
                    && out.is_empty()
                {
                    out.push(reply::chat(&env.to, &env.from, &note).into());
                }
                out
            }
            Work::Line(job) => console::line(&router.ctx, env, job).await,
            Work::Read(read) => console::read(&router.ctx, env, read).await,
            Work::Command(request) => {
                let replies = adhoc::run(&router.ctx, &router.sessions, env, &request).await;
                // Logged like every refusal: at most once per sender and interval.
                router.log_settled_refusals(&replies);
                replies
            }
        }
    }
}

impl Weighed for StoreJob {
    fn weight(&self) -> usize {
        let env = &self.env;
        let own = match &self.work {
            Work::Line(job) => job.weight(),
            Work::Enqueue { record, .. } => {
                record.ext.len()
                    + record.goip_id.len()
                    + record.xmpp_from.len()
                    + record.xmpp_id.as_ref().map_or(0, String::len)
                    + record.destination.len()
                    + record.body.len()
            }
            Work::Read(_) => 0,
            Work::Command(request) => adhoc::weight(request),
        };
        std::mem::size_of::<StoreJob>()
            + env.from.as_str().len()
            + env.to.as_str().len()
            + env.id.as_ref().map_or(0, String::len)
            + own
    }
}

/// What the dispatcher and its jobs share.
struct Router {
    ctx: Arc<Context>,
    refusals: RefusalLog,
    /// The open ad-hoc command sessions.
    sessions: adhoc::Sessions,
}

impl Router {
    /// Decides from memory alone: never waits on the store.
    fn decide(&self, intent: Intent) -> Decision {
        // Disco about ad-hoc commands depends on who asks.
        if let Some(stanzas) = adhoc::disco(&self.ctx, &intent) {
            return Decision::Reply(stanzas);
        }
        match service::answer(&intent, &self.ctx.addressing) {
            Some(Handled::Reply(stanzas)) => {
                self.log_settled_refusals(&stanzas);
                return Decision::Reply(stanzas);
            }
            Some(Handled::Ignore(why)) => {
                tracing::debug!(why, "stanza needs no answer");
                return Decision::Reply(Vec::new());
            }
            None => {}
        }
        let ctx = &self.ctx;
        match intent {
            Intent::ChatToContact(chat) => self.chat_to_contact(chat),
            Intent::ChatToComponent { env, .. } => {
                Decision::Reply(match ctx.sender_line(&env.from) {
                    Some((ext, _)) => {
                        let help = component_help(ctx, &ctx.directory.lines_of(&ext));
                        vec![reply::chat(&env.to, &env.from, &help).into()]
                    }
                    None => {
                        vec![self.refused(&env, StanzaKind::Message, Refusal::SenderNotAllowed)]
                    }
                })
            }
            Intent::Presence { env, kind } => {
                Decision::Reply(super::presence::answer(ctx, &env, kind))
            }
            Intent::Command {
                env,
                request: Ok(request),
            } => Decision::queue(Work::Command(request), env),
            _ => Decision::Reply(Vec::new()),
        }
    }

    fn chat_to_contact(&self, chat: ChatToContact) -> Decision {
        let ctx = &self.ctx;
        let env = &chat.env;
        let refuse =
            |refusal| Decision::Reply(vec![self.refused(env, StanzaKind::Message, refusal)]);
        let Some((ext, gateway)) = ctx.sender_line(&env.from) else {
            return refuse(Refusal::SenderNotAllowed);
        };
        // The number of any of the sender's lines is its console.
        if let Some(line) = ctx.directory.gateway_by_msisdn(&chat.node)
            && line.users.contains(&ext)
        {
            return console::decide(ctx, &ext, line, chat);
        }
        if chat.node == WITHHELD_NODE {
            return refuse(Refusal::Withheld);
        }
        let destination = match &chat.destination {
            Ok(d) => d.clone(),
            Err(reason) => {
                let looks_numeric = chat
                    .node
                    .chars()
                    .next()
                    .is_some_and(|c| c == '+' || c.is_ascii_digit());
                return refuse(if looks_numeric {
                    Refusal::NotANumber {
                        node: chat.node.clone(),
                        reason: reason.clone(),
                    }
                } else {
                    Refusal::SenderName {
                        node: chat.node.clone(),
                    }
                });
            }
        };
        // With several lines the conversation's line is read from the
        // store, so its allow_regex is checked there; `/line` is a command.
        let several = ctx.directory.line_count(&ext) > 1;
        if several {
            if let Some(request) = line_choice::parse_slash(&chat.body) {
                let job = console::LineJob {
                    ext,
                    what: console::LineWhat::Conversation {
                        contact: destination.to_string(),
                        request,
                    },
                    receipt_requested: chat.receipt_requested,
                };
                return Decision::queue(Work::Line(job), chat.env);
            }
        } else if !gateway.allows_destination(destination.as_str()) {
            return refuse(Refusal::DestinationBlocked {
                number: destination.to_string(),
            });
        }
        if chat.body.len() > MAX_SMS_BYTES {
            return refuse(Refusal::TooLong {
                chars: chat.body.chars().count(),
                max: chars_within(&chat.body, MAX_SMS_BYTES),
            });
        }
        let record = OutboundRecord {
            ext,
            goip_id: gateway.goip_id.clone(),
            xmpp_from: env.from.to_string(),
            xmpp_id: env.id.clone(),
            destination: destination.to_string(),
            body: chat.body,
            kind: OutboundKind::Sms,
        };
        let work = Work::Enqueue {
            choose_line: several.then(|| destination.to_string()),
            record,
            receipt_requested: chat.receipt_requested,
        };
        Decision::queue(work, chat.env)
    }

    /// Commits a job to the outbox and wakes its channel's runner.
    async fn enqueue(
        &self,
        env: &Envelope,
        record: OutboundRecord,
        receipt_requested: bool,
    ) -> Vec<Stanza> {
        let ctx = &self.ctx;
        let goip_id = record.goip_id.clone();
        let options = OutboundOptions {
            receipt_requested,
            // What the user wrote to: the receipt and the errors, which
            // come later, come from there.
            xmpp_to: Some(env.written.to_string()),
        };
        let kind = record.kind;
        let enqueue = ctx.store.enqueue_outbound(record, options);
        tokio::pin!(enqueue);
        let saved = tokio::select! {
            saved = &mut enqueue => saved,
            () = tokio::time::sleep(UNSAVED_NOTICE_AFTER) => {
                // Neither the database nor the spool took it (the spool
                // answers within a second unless its own disk fails). It
                // is not given up — it may still be committed, and "failed"
                // would invite a second copy — but the user hears of it.
                tracing::error!(
                    from = %env.from,
                    xmpp_id = env.id.as_deref().unwrap_or(""),
                    goip_id,
                    "an outbound job is neither in the database nor in the spool yet; still trying"
                );
                self.answer(Some(env), vec![reply::chat(&env.to, &env.from, UNSAVED_TEXT).into()])
                    .await;
                enqueue.await
            }
        };
        match saved {
            Ok(Saved::Committed(id)) => {
                tracing::debug!(log_id = id.0, goip_id, "outbound job committed");
                ctx.outbox.poke(ctx, &goip_id);
                Vec::new()
            }
            Ok(Saved::Spooled) => {
                // Accepted and safe on disk, but not in the outbox yet: the
                // user must not take the silence for "sent" (the outbox
                // runner is poked when the spool drains).
                tracing::info!(
                    from = %env.from,
                    xmpp_id = env.id.as_deref().unwrap_or(""),
                    goip_id,
                    "outbound job kept in the spool (the database is unavailable)"
                );
                vec![reply::chat(&env.to, &env.from, spooled_text(kind)).into()]
            }
            Err(e) => {
                tracing::error!(from = %env.from, "cannot store an outbound job: {e}");
                vec![self.refused(
                    env,
                    StanzaKind::Message,
                    Refusal::Internal {
                        detail: "its database is unavailable".into(),
                    },
                )]
            }
        }
    }

    /// The answer to a job that did not fit in the lanes.
    fn busy(&self, job: &StoreJob, full: Full, open_lanes: usize) -> Vec<Stanza> {
        let env = &job.env;
        tracing::debug!(
            from = %env.from,
            ?full,
            open_lanes,
            "too much waits for the database; a stanza is turned away"
        );
        let yours = full == Full::Lane;
        vec![self.refused(env, job.kind(), Refusal::Busy { yours })]
    }

    /// Sends `stanzas` in answer to the stanza of `env`: those from the
    /// address it was sent to get the mark that makes mod_sms_alias deliver
    /// them from the JID the user wrote (see the module docs).
    async fn answer(&self, env: Option<&Envelope>, mut stanzas: Vec<Stanza>) {
        if let Some(env) = env
            && let Some(written) = self.ctx.addressing.mark_for(&env.written)
        {
            reply::mark_answers(&mut stanzas, &env.to, written);
        }
        for stanza in stanzas {
            if let Err(e) = self.ctx.link.send(stanza).await {
                tracing::debug!("reply not sent: {e}");
            }
        }
    }

    /// The error answering `env`, logged (rate-limited per sender).
    fn refused(&self, env: &Envelope, kind: StanzaKind, refusal: Refusal) -> Stanza {
        // The refusal's name only: some carry what the user wrote.
        self.log_refusal(
            &env.sender().to_string(),
            env.to.as_str(),
            env.id.as_deref(),
            refusal_name(&refusal),
        );
        refuse(env, kind, &refusal)
    }

    /// Logs the errors among the answers [`service::answer`] gave.
    fn log_settled_refusals(&self, stanzas: &[Stanza]) {
        let answers = stanzas.iter().map(Element::from);
        for e in answers.filter(|e| e.attr("type") == Some("error")) {
            let condition = e
                .children()
                .find(|c| c.name() == "error")
                .and_then(|error| {
                    error
                        .children()
                        .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
                })
                .map(|c| c.name().to_string())
                .unwrap_or_default();
            let sender = e.attr("to").unwrap_or("-");
            let sender = sender.split('/').next().unwrap_or(sender);
            self.log_refusal(
                sender,
                e.attr("from").unwrap_or("-"),
                e.attr("id"),
                &condition,
            );
        }
    }

    fn log_refusal(&self, sender: &str, to: &str, xmpp_id: Option<&str>, refusal: &str) {
        let (verdict, forgotten) = self.refusals.check(sender, Instant::now());
        for f in forgotten {
            tracing::info!(
                from = %f.sender,
                not_logged = f.not_logged,
                "refused stanzas not logged one by one"
            );
        }
        let xmpp_id = xmpp_id.unwrap_or("");
        match verdict {
            Some(0) => {
                tracing::info!(from = %sender, to, xmpp_id, refusal, "refused");
            }
            Some(not_logged) => tracing::info!(
                from = %sender,
                to,
                xmpp_id,
                refusal,
                not_logged,
                "refused (and {not_logged} more from this sender since the last line)"
            ),
            None => {}
        }
    }
}

fn refusal_name(r: &Refusal) -> &'static str {
    match r {
        Refusal::SenderNotAllowed => "sender not allowed",
        Refusal::NotANumber { .. } => "not a number",
        Refusal::SenderName { .. } => "reply to a sender name",
        Refusal::DestinationBlocked { .. } => "destination not allowed (ACL)",
        Refusal::Withheld => "reply to a withheld number",
        Refusal::Encrypted => "encrypted",
        Refusal::TooLong { .. } => "too long",
        Refusal::GroupChat => "group chat",
        Refusal::Unroutable { .. } => "unroutable",
        Refusal::UnknownNode { .. } => "unknown disco node",
        Refusal::BadRequest { .. } => "bad request",
        Refusal::UnsupportedIq => "unsupported iq",
        Refusal::BadPrompt { .. } => "bad XEP-0100 prompt",
        Refusal::Internal { .. } => "internal error",
        Refusal::DatabaseSilent { .. } => "database does not answer",
        Refusal::Busy { yours: true } => "busy: too many of the sender's messages wait",
        Refusal::Busy { yours: false } => "busy: too many messages wait",
        Refusal::CommandForbidden { .. } => "ad-hoc command forbidden",
        Refusal::UnknownCommand { .. } => "ad-hoc: unknown command",
        Refusal::BadSession => "ad-hoc: bad session",
        Refusal::BadAction => "ad-hoc: bad action",
        Refusal::BadPayload { .. } => "ad-hoc: bad payload",
        Refusal::TooManySessions { .. } => "ad-hoc: too many sessions",
        Refusal::DailyLimit { .. } => "daily limit reached",
    }
}

/// How many characters of `text` fit in `max_bytes`.
fn chars_within(text: &str, max_bytes: usize) -> usize {
    text.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= max_bytes)
        .count()
}

/// What writing to the gateway itself answers. The contact form it shows
/// is the deployment's canonical one (the alias with mod_sms_alias), the
/// one SMS from that number come from. The console is each line's own
/// number, so a user with several lines is shown all of them: the gateway
/// does not guess which line a command is for.
fn component_help(ctx: &Context, lines: &[Arc<ActiveGateway>]) -> String {
    let example = E164::parse_canonical(gateway::EXAMPLE_NUMBER)
        .map(|n| ctx.addressing.roster_jid(&n).to_string())
        .unwrap_or_default();
    let mut text = format!(
        "This is the SMS gateway. To send an SMS, write to the number as a contact: \
         {example} (international form)."
    );
    let numbers: Vec<&str> = lines.iter().filter_map(|l| known_number(l)).collect();
    match numbers.as_slice() {
        [] => {}
        [n] => text.push_str(&format!(
            " Your own number {n} answers \"help\", \"status\" and \"log\", and sends USSD codes such as *100#."
        )),
        several => text.push_str(&format!(
            " Your own numbers {} each answer \"help\", \"status\" and \"log\" for their line, and send USSD codes such as *100# from it.",
            several.join(", ")
        )),
    }
    text
}

/// After this long without the store's answer, the user is told that their
/// message is not even saved yet (the spool answers within a second).
const UNSAVED_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// What the user is told then.
const UNSAVED_TEXT: &str = "Not sent yet: the gateway can save it neither in its database nor in \
     its local spool right now. It keeps trying; the message goes out once it is saved, and if it \
     cannot be sent, you will be told here.";

/// What a user is told when their SMS or USSD code waits in the spool.
fn spooled_text(kind: OutboundKind) -> &'static str {
    match kind {
        OutboundKind::Sms => {
            "Not sent yet: the gateway's database is not answering. Your SMS is saved and goes \
             out as soon as the database is back; if it cannot be sent, you will be told here."
        }
        OutboundKind::Ussd => {
            "Not sent yet: the gateway's database is not answering. The USSD code is saved and \
             goes to the network as soon as the database is back; the answer comes here."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_that_fit() {
        assert_eq!(chars_within("abc", 2), 2);
        assert_eq!(chars_within("ääb", 3), 1);
        assert_eq!(chars_within("ääb", 4), 2);
        assert_eq!(chars_within("", 4), 0);
    }
}
