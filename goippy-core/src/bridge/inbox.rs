//! The inbox pump: everything waiting in the store's inbox goes to its
//! user, in order, and is marked delivered only once Prosody has it.
//!
//! It runs when poked (a new row), whenever the XMPP link (re)connects, and
//! every `retry` otherwise. Each round reads the inbox oldest first, a page
//! at a time, turns each row into its stanza (`notice.rs`), writes the page
//! to the stream and confirms the last one with a ping
//! ([`crate::xmpp::XmppHandle::send_confirmed`]: Prosody handles a
//! component's stanzas in order, so its answer confirms the whole page);
//! only then are the rows marked delivered. If the link drops on the way,
//! nothing of the page is marked and all of it is sent again after the
//! reconnect: a duplicate is possible, a loss is not.
//!
//! A row that cannot be sent yet (an SMS on a channel no user is mapped to
//! and no XMPP_FALLBACK_DEST) waits; the pump reads past it, so it holds up
//! nobody, and says so once. A row Prosody confirmed that the database
//! refuses to mark delivered is not sent again ([`unmarked`]).
//!
//! A row may become more than one stanza: a failure is an error and a note
//! (`notice.rs`); the note quotes the failed message, whose text the pump
//! reads from the outbox first.
//!
//! And several rows may become one stanza: the parts of a long SMS that the
//! GoIP handed over one by one ([`concat`]). A part of full segment length
//! waits (stays in the inbox, unsent) up to SMS_JOIN_WAIT for the next;
//! the parts go out as one message and are all marked delivered once
//! Prosody has confirmed it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::watch;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;

use crate::store::{InboxItem, LogId, LogKind, StoreError};
use crate::util::SharedWarnLimiter;
use crate::xmpp::{LinkState, SendError};

use super::Context;
use super::line_pool;
use super::notice::{RenderEnv, Rendered, render, reports_on};

mod concat;
mod unmarked;

use concat::{Joiner, Out};
use unmarked::Unmarked;

static INBOX_UNREADABLE: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

/// Rows read and sent per round trip.
const PAGE: u32 = 64;
/// Rows remembered as "already warned about" (then the memory starts over).
const WARNED_MAX: usize = 4096;
/// How long the last round at shutdown may take.
const FINAL_ROUND: Duration = Duration::from_secs(3);
/// How long one read of the last round may take: a database that does not
/// answer a page within it is away, and waiting longer only delays the stop
/// (the rows wait in the inbox for the next start).
const FINAL_READ: Duration = Duration::from_secs(1);
/// How often the mark of a row the database refused to mark is tried again.
const REMARK_AFTER: Duration = Duration::from_secs(300);

/// What the pump remembers between rounds.
struct Memory {
    /// Rows that wait, already warned about.
    warned: HashSet<LogId>,
    /// Rows delivered that the database would not mark delivered.
    unmarked: Unmarked,
    /// Parts of long SMS waiting for their continuation.
    joiner: Joiner,
}

/// How a round ended.
enum Round {
    /// Everything that can be delivered was.
    Done,
    /// The link went down (or did not confirm): wait for the next connection.
    LinkDown,
    /// The database failed: try again later.
    StoreFailed,
}

pub(crate) async fn run(
    ctx: Arc<Context>,
    mut state: watch::Receiver<LinkState>,
    mut stop: watch::Receiver<bool>,
    retry: Duration,
    join_wait: Duration,
) {
    let mut memory = Memory {
        warned: HashSet::new(),
        unmarked: Unmarked::new(REMARK_AFTER),
        joiner: Joiner::new(join_wait),
    };
    loop {
        let round = if state.borrow_and_update().is_connected() {
            deliver(&ctx, &mut memory, &stop, None).await
        } else {
            Round::LinkDown
        };
        let pause = match round {
            // A part of a long SMS waiting for its continuation is
            // delivered alone when its time is up.
            Round::Done => memory.joiner.next_release().map_or(retry, |at| {
                retry.min(at.saturating_duration_since(tokio::time::Instant::now()))
            }),
            Round::LinkDown => retry,
            Round::StoreFailed => retry.min(Duration::from_secs(5)),
        };
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            () = ctx.inbox.notified() => {}
            changed = state.changed() => if changed.is_err() { return },
            _ = stop.wait_for(|s| *s) => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    // Stopping: what the last jobs produced (their outcomes) goes out now if
    // the link is up; whatever does not make it waits for the next start.
    if state.borrow().is_connected() {
        let deadline = tokio::time::Instant::now() + FINAL_ROUND;
        let (_, never) = watch::channel(false);
        deliver(&ctx, &mut memory, &never, Some(deadline)).await;
    }
    tracing::debug!("inbox pump stopped");
}

/// One round: everything deliverable, page by page. A started page is
/// always finished (confirmed and marked), so that stopping never leaves
/// stanzas sent but unmarked; between pages the round ends early when
/// `stop` is set or `deadline` has passed. Parts of a long SMS that waits
/// for its next part are not sent (see [`concat`]).
async fn deliver(
    ctx: &Context,
    memory: &mut Memory,
    stop: &watch::Receiver<bool>,
    deadline: Option<tokio::time::Instant>,
) -> Round {
    let mut after: Option<LogId> = None;
    let mut stop = stop.clone();
    memory.joiner.start_round();
    loop {
        if *stop.borrow() || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Round::Done;
        }
        // A read changes nothing, so it is abandoned when the pump is told
        // to stop or its deadline passes: a database that does not answer
        // must not hold up the shutdown for the store's whole timeout. In
        // the last round (with a deadline) a read may take [`FINAL_READ`].
        let read = ctx.store.undelivered_inbox(after, PAGE);
        let bound = deadline.map(|d| d.min(tokio::time::Instant::now() + FINAL_READ));
        let page = tokio::select! {
            page = read => page,
            Ok(_) = stop.wait_for(|s| *s) => return Round::Done,
            () = tokio::time::sleep_until(bound.unwrap_or_else(tokio::time::Instant::now)),
                if bound.is_some() => return Round::Done,
        };
        let page = match page {
            Ok(page) => page,
            Err(StoreError::Closed) => return Round::Done,
            Err(e) => return unreadable("cannot read the inbox (tried again in 5 s)", e),
        };
        if let Some(last) = page.last() {
            after = Some(last.id);
        }
        let last_page = page.len() < PAGE as usize;
        let now = tokio::time::Instant::now();
        // Delivered already, only their mark is missing: not sent again.
        let (remark, fresh): (Vec<&InboxItem>, Vec<&InboxItem>) = page
            .iter()
            .partition(|item| memory.unmarked.contains(item.id));
        let remark: Vec<&InboxItem> = remark
            .into_iter()
            .filter(|item| memory.unmarked.due(item.id, now))
            .collect();
        // Long SMS: a part that may go on waits (it is not in `outs`), the
        // parts of one message come as one.
        let outs = memory
            .joiner
            .page(&fresh, last_page, now, std::time::SystemTime::now());
        let texts = join_all(outs.iter().map(|out| reported_text(ctx, out.message()))).await;
        let texts: Vec<Option<String>> = match texts.into_iter().collect() {
            Ok(texts) => texts,
            Err(e) => return unreadable("cannot read the messages the inbox reports on", e),
        };
        let mut ready: Vec<Ready<'_>> = Vec::with_capacity(outs.len());
        for (out, text) in outs.iter().zip(&texts) {
            let item = out.message();
            let recipient = recipient(ctx, item);
            let tag = line_pool::line_tag(ctx, item.ext.as_deref(), &item.goip_id);
            let env = RenderEnv {
                addressing: &ctx.addressing,
                receipts: ctx.policy.receipts,
                recipient: recipient.as_ref(),
                reported_text: text.as_deref(),
                line_tag: tag.as_deref(),
            };
            match render(item, &env) {
                Rendered::Send(stanzas) => ready.push(Ready::new(out, stanzas)),
                Rendered::Nothing(why) => {
                    tracing::debug!(log_id = item.id.0, why, "inbox row needs no stanza");
                    ready.push(Ready::new(out, Vec::new()));
                }
                Rendered::Wait(why) => {
                    let warned = &mut memory.warned;
                    if warned.len() >= WARNED_MAX {
                        warned.clear();
                    }
                    if warned.insert(item.id) {
                        tracing::warn!(
                            log_id = item.id.0,
                            goip_id = %item.goip_id,
                            "inbound message waits: {why} (map the channel to an extension or set XMPP_FALLBACK_DEST)"
                        );
                    }
                }
            }
        }
        if let Err(e) = send_page(ctx, &mut ready).await {
            tracing::info!("inbox delivery paused until the XMPP link is back: {e}");
            return Round::LinkDown;
        }
        mark(ctx, memory, &ready, &remark, now).await;
        if last_page {
            memory.joiner.finish_round();
            return Round::Done;
        }
    }
}

/// A read of the round failed: logged (every few seconds while the
/// database is away, so once a minute), tried again later.
fn unreadable(what: &str, e: StoreError) -> Round {
    if let Some(suppressed) = INBOX_UNREADABLE.allow() {
        tracing::warn!(suppressed, "{what}: {e}");
    }
    Round::StoreFailed
}

/// Marks the rows of a sent page delivered, and tries again the marks of
/// `remark`, rows delivered before that the database refused to mark.
async fn mark(
    ctx: &Context,
    memory: &mut Memory,
    ready: &[Ready<'_>],
    remark: &[&InboxItem],
    now: tokio::time::Instant,
) {
    // Every row a stanza delivered: one, or the parts of a long SMS.
    let rows: Vec<(&Ready<'_>, &InboxItem)> = (ready.iter())
        .flat_map(|r| r.parts.iter().map(move |part| (r, part)))
        .collect();
    let marks = join_all(
        rows.iter()
            .map(|(_, part)| ctx.store.mark_delivered(part.id)),
    )
    .await;
    for ((r, part), result) in rows.into_iter().zip(marks) {
        match result {
            Ok(()) if r.sent => tracing::info!(
                log_id = part.id.0,
                goip_id = %part.goip_id,
                kind = part.kind.as_str(),
                to = %r.to,
                xmpp_id = %r.xmpp_id,
                "inbound delivered to XMPP"
            ),
            Ok(()) | Err(StoreError::UnknownMessage(_)) => {}
            // Stopping: the next start sends it again.
            Err(e @ (StoreError::Closed | StoreError::Abandoned)) => tracing::warn!(
                log_id = part.id.0,
                "delivered, but not marked so (it is sent again after a restart): {e}"
            ),
            Err(e) => memory.unmarked.refused(part, &e, now),
        }
    }
    for r in ready.iter().filter(|r| r.sent && r.parts.len() > 1) {
        let log_ids: Vec<String> = r.parts.iter().map(|p| p.id.0.to_string()).collect();
        tracing::info!(
            log_id = r.item.id.0,
            log_ids = %log_ids.join(","),
            parts = r.parts.len(),
            xmpp_id = %r.xmpp_id,
            "the parts of a long SMS were delivered as one message"
        );
    }
    let remarks = remark.iter().map(|item| ctx.store.mark_delivered(item.id));
    for (item, result) in remark.iter().zip(join_all(remarks).await) {
        match result {
            Ok(()) => memory.unmarked.marked(item.id),
            Err(StoreError::UnknownMessage(_)) => memory.unmarked.forget(item.id),
            Err(StoreError::Closed | StoreError::Abandoned) => {}
            Err(e) => memory.unmarked.refused(item, &e, now),
        }
    }
}

/// The text of the outbound message `item` reports a failure of, if any
/// (the note about the failure quotes it).
async fn reported_text(ctx: &Context, item: &InboxItem) -> Result<Option<String>, StoreError> {
    let Some(id) = reports_on(item) else {
        return Ok(None);
    };
    Ok(ctx.store.outbound(id).await?.map(|job| job.body))
}

/// Writes the page; the last stanza is confirmed, which confirms all.
/// A stanza that cannot be written at all (a bug) is dropped from the page
/// with an error rather than blocking the inbox forever.
async fn send_page(ctx: &Context, ready: &mut [Ready<'_>]) -> Result<(), SendError> {
    let total: usize = ready.iter().map(|r| r.stanzas.len()).sum();
    let mut written = 0;
    for r in ready.iter_mut() {
        for stanza in std::mem::take(&mut r.stanzas) {
            written += 1;
            let result = if written == total {
                ctx.link.send_confirmed(stanza).await
            } else {
                ctx.link.send(stanza).await
            };
            match result {
                Ok(()) => r.sent = true,
                Err(SendError::Unencodable(e)) => {
                    tracing::error!(
                        log_id = r.item.id.0,
                        "inbox row cannot be written as XML, dropped: {e}"
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// An inbox row on its way: its stanzas (none if there is nothing to
/// send) and what the log line says about it (the first stanza's
/// addressee and id); `parts`, the rows it delivers (the row itself, or
/// the parts of a long SMS that `item` joins).
struct Ready<'a> {
    item: &'a InboxItem,
    parts: &'a [InboxItem],
    stanzas: Vec<Stanza>,
    to: String,
    xmpp_id: String,
    sent: bool,
}

impl<'a> Ready<'a> {
    fn new(out: &'a Out<'_>, stanzas: Vec<Stanza>) -> Self {
        let (to, xmpp_id) = match stanzas.first() {
            Some(Stanza::Message(m)) => (
                m.to.as_ref().map(|j| j.to_string()).unwrap_or_default(),
                m.id.as_ref().map(|i| i.0.clone()).unwrap_or_default(),
            ),
            _ => (String::new(), String::new()),
        };
        Ready {
            item: out.message(),
            parts: out.parts(),
            stanzas,
            to,
            xmpp_id,
            sent: false,
        }
    }
}

/// Who an SMS or USSD row goes to: the JID stored with it, else its
/// channel's user, else XMPP_FALLBACK_DEST.
fn recipient(ctx: &Context, item: &InboxItem) -> Option<Jid> {
    if !matches!(
        item.kind,
        LogKind::Sms | LogKind::Ussd | LogKind::NetworkUssd
    ) {
        return None;
    }
    if let Some(jid) = item.xmpp_jid.as_deref().and_then(|j| Jid::new(j).ok()) {
        return Some(jid);
    }
    item.ext
        .as_deref()
        .and_then(|ext| ctx.addressing.user_jid(ext).ok())
        .or_else(|| ctx.user_of_channel(&item.goip_id))
        .map(Jid::from)
}
