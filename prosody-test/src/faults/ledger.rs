//! The counter of the fault run: every message of a scenario, what became
//! of it, and the figures of one table row.
//!
//! Each message has a unique text (and an outbound one a destination number
//! of its own), so whatever the users and the device see can be put down to
//! exactly one message: an inbound SMS by its text, an outbound SMS's error
//! and receipt by its XMPP id, its notes and "Not sent yet" notices by the
//! number they come from (every outbound SMS goes to a different number).
//!
//! The traffic tasks and the scenario share one [`Ledger`], a cheap handle
//! around a std mutex: every critical section is a few map operations and
//! none is held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// An SMS from the GSM side to user A.
#[derive(Debug)]
struct Inbound {
    injected_at: Instant,
    /// The device's id for it (its first `notify`).
    recvid: Option<String>,
    /// goippy acked it (stored or spooled) after the device sent it this
    /// many times (0: not acked).
    acked_after: u32,
    /// The device gave up on it: no ack after its last retransmission.
    gave_up: bool,
    /// How often A's client received it while online, and the stanza ids.
    live: u32,
    live_ids: Vec<String>,
    first_live_at: Option<Instant>,
    /// How often it is in A's archive (read once at the end).
    archived: u32,
}

/// An SMS a user sent to a number.
#[derive(Debug)]
struct Outbound {
    user: String,
    id: String,
    number: String,
    sent_at: Instant,
    first_sent_at: Option<Instant>,
    /// The GoIP answered its `SEND` with `WAIT` (it is being sent).
    queued: u32,
    /// The GoIP's "network" took it.
    sent: u32,
    /// The GoIP reported a failure (`ERROR … errorstatus`).
    failed_at_gateway: u32,
    /// Stanza errors on the user's message (their conditions).
    errors: Vec<String>,
    /// Failure notes (a chat message quoting the SMS), their texts.
    notes: Vec<String>,
    /// "Not sent yet" notices.
    not_yet: u32,
    receipts: u32,
}

impl Outbound {
    fn failure_reported(&self) -> bool {
        !self.errors.is_empty() || !self.notes.is_empty()
    }

    /// Nothing more is expected for it: its receipt came, or a failure was
    /// reported.
    fn settled(&self) -> bool {
        self.failure_reported() || (self.sent > 0 && self.receipts > 0)
    }
}

/// The longest a request of the unaffected user waited for its first
/// answer, per kind of request.
#[derive(Debug, Default, Clone)]
pub struct Stall {
    /// `help` to the own number (goippy's console: no database write).
    pub console: Duration,
    /// An SMS: until its receipt, "Not sent yet", error or note.
    pub sms: Duration,
    /// How many requests were answered.
    pub answered: u32,
    /// The longest waits, in words (which request, what answered it).
    pub console_worst: String,
    pub sms_worst: String,
}

/// One row of the table.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: usize,
    pub delivered: usize,
    pub duplicated: usize,
    pub lost: usize,
    /// Outbound SMS that were not sent and whose user was told so.
    pub failures_reported: usize,
    /// Outbound SMS whose user got "Not sent yet".
    pub not_yet: usize,
    pub stall: Stall,
    /// Inbound SMS the client got only from the archive.
    pub only_archived: usize,
    /// Inbound SMS goippy acked only after the GoIP had resent them, and
    /// the most sends one needed (the GoIP gives up after 4).
    pub resent: usize,
    pub most_sends: u32,
    /// The longest an inbound SMS took from the GoIP to A's client, and an
    /// outbound one from the user's client to the GoIP's "network".
    pub slowest_inbound: Duration,
    pub slowest_outbound: Duration,
    /// What did not look right, one line each, naming the message.
    pub problems: Vec<String>,
    /// Things worth knowing that are not problems.
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
struct Book {
    /// By text.
    inbound: BTreeMap<String, Inbound>,
    /// Inbound texts by recvid.
    recvids: HashMap<String, String>,
    /// Inbound texts injected but not yet seen by their first `notify`.
    unnumbered: std::collections::VecDeque<String>,
    /// By destination number.
    outbound: BTreeMap<String, Outbound>,
    /// Destination numbers by XMPP id.
    ids: HashMap<String, String>,
    stall: Stall,
    /// Things a traffic task saw that belong to no message.
    strays: Vec<String>,
    last_change: Option<Instant>,
}

/// The shared counter (see the module docs).
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<Book>>);

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.last_change = Some(Instant::now());
        book
    }

    // --- inbound -------------------------------------------------------

    /// The device was told to receive an SMS with `text` (on A's channel).
    pub fn inbound_injected(&self, text: &str) {
        let mut book = self.book();
        book.inbound.insert(
            text.to_string(),
            Inbound {
                injected_at: Instant::now(),
                recvid: None,
                acked_after: 0,
                gave_up: false,
                live: 0,
                live_ids: Vec::new(),
                first_live_at: None,
                archived: 0,
            },
        );
        book.unnumbered.push_back(text.to_string());
    }

    /// The device sent the first RECEIVE of the oldest injected SMS that
    /// had none yet: that SMS has this recvid.
    pub fn inbound_numbered(&self, recvid: &str) {
        let mut book = self.book();
        let Some(text) = book.unnumbered.pop_front() else {
            book.strays
                .push(format!("a RECEIVE {recvid} nobody injected"));
            return;
        };
        if let Some(sms) = book.inbound.get_mut(&text) {
            sms.recvid = Some(recvid.to_string());
        }
        book.recvids.insert(recvid.to_string(), text);
    }

    /// goippy acked the RECEIVE `recvid`, which the device had sent
    /// `attempts` times.
    pub fn inbound_acked(&self, recvid: &str, attempts: u32) {
        self.with_inbound(recvid, |sms| sms.acked_after = attempts.max(1));
    }

    /// The device gave up on the RECEIVE `recvid`.
    pub fn inbound_given_up(&self, recvid: &str) {
        self.with_inbound(recvid, |sms| sms.gave_up = true);
    }

    fn with_inbound(&self, recvid: &str, change: impl FnOnce(&mut Inbound)) {
        let mut book = self.book();
        let book = &mut *book;
        match book
            .recvids
            .get(recvid)
            .and_then(|text| book.inbound.get_mut(text))
        {
            Some(sms) => change(sms),
            None => book
                .strays
                .push(format!("an event about unknown RECEIVE {recvid}")),
        }
    }

    /// A's client received an SMS with `text` (stanza id `id`).
    pub fn inbound_received(&self, text: &str, id: &str) {
        let mut book = self.book();
        match book.inbound.get_mut(text) {
            Some(sms) => {
                sms.live += 1;
                sms.live_ids.push(id.to_string());
                sms.first_live_at.get_or_insert_with(Instant::now);
            }
            None => book.strays.push(format!("an SMS nobody sent: {text:?}")),
        }
    }

    /// A's archive holds an SMS with `text`.
    pub fn inbound_archived(&self, text: &str) {
        let mut book = self.book();
        match book.inbound.get_mut(text) {
            Some(sms) => sms.archived += 1,
            None => book
                .strays
                .push(format!("an archived SMS nobody sent: {text:?}")),
        }
    }

    // --- outbound ------------------------------------------------------

    /// `user`'s client wrote an SMS to `number` (XMPP id `id`) to its stream.
    pub fn outbound_sent(&self, user: &str, number: &str, id: &str) {
        let mut book = self.book();
        book.ids.insert(id.to_string(), number.to_string());
        book.outbound.insert(
            number.to_string(),
            Outbound {
                user: user.to_string(),
                id: id.to_string(),
                number: number.to_string(),
                sent_at: Instant::now(),
                first_sent_at: None,
                queued: 0,
                sent: 0,
                failed_at_gateway: 0,
                errors: Vec::new(),
                notes: Vec::new(),
                not_yet: 0,
                receipts: 0,
            },
        );
    }

    /// The device's report about an SMS to `number`: `send_queued`,
    /// `sms_sent` or `sms_failed`.
    pub fn gateway_event(&self, event: &str, number: &str) {
        self.with_number(number, &format!("{event} to {number}"), |sms| match event {
            "send_queued" => sms.queued += 1,
            "sms_sent" => {
                sms.sent += 1;
                sms.first_sent_at.get_or_insert_with(Instant::now);
            }
            _ => sms.failed_at_gateway += 1,
        });
    }

    /// Whether the SMS with XMPP id `id` is being sent by the GoIP right
    /// now (its SEND was taken, its result is not in).
    pub fn in_flight(&self, id: &str) -> bool {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.ids
            .get(id)
            .and_then(|n| book.outbound.get(n))
            .is_some_and(|sms| sms.queued > 0 && sms.sent == 0 && sms.failed_at_gateway == 0)
    }

    /// Whether any SMS is being sent by the GoIP right now.
    pub fn any_in_flight(&self) -> bool {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.outbound
            .values()
            .any(|sms| sms.queued > 0 && sms.sent == 0 && sms.failed_at_gateway == 0)
    }

    /// A stanza error on the message with id `id`.
    pub fn outbound_error(&self, id: &str, condition: &str) {
        self.with_id(id, &format!("an error ({condition})"), |sms| {
            sms.errors.push(condition.to_string());
        });
    }

    /// A delivery receipt for the message with id `id`.
    pub fn outbound_receipt(&self, id: &str) {
        self.with_id(id, "a receipt", |sms| sms.receipts += 1);
    }

    /// A chat message from `number` quoting the SMS: a failure note.
    pub fn outbound_note(&self, number: &str, text: &str) {
        self.with_number(number, &format!("a note {text:?}"), |sms| {
            sms.notes.push(text.to_string());
        });
    }

    /// "Not sent yet" from `number`.
    pub fn outbound_not_yet(&self, number: &str) {
        self.with_number(number, "\"Not sent yet\"", |sms| sms.not_yet += 1);
    }

    fn with_id(&self, id: &str, what: &str, change: impl FnOnce(&mut Outbound)) {
        let number = {
            let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
            book.ids.get(id).cloned()
        };
        match number {
            Some(number) => self.with_number(&number, what, change),
            None => self
                .book()
                .strays
                .push(format!("{what} for unknown message id {id}")),
        }
    }

    fn with_number(&self, number: &str, what: &str, change: impl FnOnce(&mut Outbound)) {
        let mut book = self.book();
        match book.outbound.get_mut(number) {
            Some(sms) => change(sms),
            None => book.strays.push(format!("{what} for no message of ours")),
        }
    }

    // --- the unaffected user and the rest ------------------------------

    /// A console request (`id`, the last of those B waited with) waited
    /// `waited` for its answer.
    pub fn console_answered(&self, id: &str, waited: Duration) {
        let mut book = self.book();
        book.stall.answered += 1;
        if waited > book.stall.console {
            book.stall.console = waited;
            book.stall.console_worst = format!("help {id} answered after {waited:.2?}");
        }
    }

    /// An SMS of the unaffected user (`id`) waited `waited` for its first
    /// answer, `how`.
    pub fn sms_answered(&self, id: &str, waited: Duration, how: &str) {
        let mut book = self.book();
        book.stall.answered += 1;
        if waited > book.stall.sms {
            book.stall.sms = waited;
            book.stall.sms_worst = format!("SMS {id}: {how} after {waited:.2?}");
        }
    }

    /// Something a traffic task saw that belongs to no message, or went
    /// wrong in the harness; listed with the scenario's figures.
    pub fn stray(&self, what: String) {
        self.book().strays.push(what);
    }

    /// When anything last changed.
    pub fn last_change(&self) -> Option<Instant> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).last_change
    }

    /// Whether every message has its end: an inbound one reached A or the
    /// device gave up on it; an outbound one has its receipt or its
    /// failure was reported.
    pub fn settled(&self) -> bool {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.inbound.values().all(|s| s.live > 0 || s.gave_up)
            && book.outbound.values().all(Outbound::settled)
    }

    /// How many messages are not settled yet, for progress lines.
    pub fn unsettled(&self) -> (usize, usize) {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (
            book.inbound
                .values()
                .filter(|s| s.live == 0 && !s.gave_up)
                .count(),
            book.outbound.values().filter(|s| !s.settled()).count(),
        )
    }

    /// The figures (see the README's table for what each one means).
    pub fn tally(&self) -> Tally {
        let book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut t = Tally {
            stall: book.stall.clone(),
            ..Tally::default()
        };
        for (text, sms) in &book.inbound {
            t.sent += 1;
            let delivered = sms.live > 0 || sms.archived > 0;
            if delivered {
                t.delivered += 1;
            } else {
                t.lost += 1;
                t.problems.push(format!(
                    "lost: inbound {text:?} (recvid {}): {}",
                    sms.recvid.as_deref().unwrap_or("?"),
                    if sms.gave_up {
                        "the GoIP gave up, never acked"
                    } else if sms.acked_after > 0 {
                        "acked, never reached the user"
                    } else {
                        "never acked"
                    }
                ));
            }
            if sms.live > 1 || sms.archived > 1 {
                t.duplicated += 1;
                t.problems.push(format!(
                    "duplicated: inbound {text:?} received {} times (stanza ids {:?}), {} in the archive",
                    sms.live, sms.live_ids, sms.archived
                ));
            }
            if sms.live == 0 && sms.archived > 0 {
                t.only_archived += 1;
            }
            if sms.acked_after > 1 {
                t.resent += 1;
            }
            t.most_sends = t.most_sends.max(sms.acked_after);
            if let Some(at) = sms.first_live_at {
                t.slowest_inbound = t.slowest_inbound.max(at - sms.injected_at);
            }
            if sms.gave_up && delivered {
                t.notes.push(format!(
                    "inbound {text:?}: the GoIP gave up on it, yet it arrived"
                ));
            }
        }
        for sms in book.outbound.values() {
            t.sent += 1;
            let who = format!("outbound {} of {} to {}", sms.id, sms.user, sms.number);
            if sms.not_yet > 0 {
                t.not_yet += 1;
            }
            if let Some(at) = sms.first_sent_at {
                t.slowest_outbound = t.slowest_outbound.max(at - sms.sent_at);
            }
            if sms.sent > 0 {
                t.delivered += 1;
                if sms.failure_reported() {
                    // "It may or may not have been sent": true, and the
                    // user knows not to expect a receipt.
                    t.notes.push(format!(
                        "{who}: sent ({} receipts), and the user was told: errors {:?}, notes {:?}",
                        sms.receipts, sms.errors, sms.notes
                    ));
                } else if sms.receipts == 0 {
                    t.problems
                        .push(format!("{who}: sent, but no receipt reached the user"));
                }
            } else if sms.failure_reported() {
                t.failures_reported += 1;
                t.notes.push(format!(
                    "{who}: not sent; the user was told: errors {:?}, notes {:?}",
                    sms.errors,
                    sms.notes
                        .iter()
                        .map(|n| n.lines().last().unwrap_or_default())
                        .collect::<Vec<_>>()
                ));
            } else {
                t.lost += 1;
                t.problems.push(format!(
                    "lost: {who}: not sent and nothing reported (SEND taken {}×, \"Not sent yet\" {}×)",
                    sms.queued, sms.not_yet
                ));
            }
            if sms.sent > 1 {
                t.duplicated += 1;
                t.problems.push(format!(
                    "duplicated: {who} left the GoIP {} times",
                    sms.sent
                ));
            }
            if sms.receipts > 1 {
                t.notes.push(format!("{who}: {} receipts", sms.receipts));
            }
            if sms.notes.len() > 1 {
                t.problems.push(format!(
                    "{who}: {} failure notes: {:?}",
                    sms.notes.len(),
                    sms.notes
                ));
            }
        }
        for stray in &book.strays {
            t.problems.push(format!("unexpected: {stray}"));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One inbound SMS through the device's events, with its recvid.
    fn inbound(ledger: &Ledger, text: &str, recvid: &str) {
        ledger.inbound_injected(text);
        ledger.inbound_numbered(recvid);
    }

    #[test]
    fn counts_each_inbound_sms_by_what_became_of_it() {
        let ledger = Ledger::new();
        inbound(&ledger, "in-1", "r1");
        ledger.inbound_acked("r1", 1);
        ledger.inbound_received("in-1", "goippy-in-1");
        inbound(&ledger, "in-2", "r2");
        ledger.inbound_given_up("r2");
        inbound(&ledger, "in-3", "r3");
        ledger.inbound_acked("r3", 3);
        ledger.inbound_received("in-3", "goippy-in-3");
        ledger.inbound_received("in-3", "goippy-in-3");
        inbound(&ledger, "in-4", "r4");
        ledger.inbound_acked("r4", 1);
        ledger.inbound_archived("in-4");
        assert!(!ledger.settled(), "in-4 was not received live yet");

        let t = ledger.tally();
        assert_eq!((t.sent, t.delivered, t.duplicated, t.lost), (4, 3, 1, 1));
        assert_eq!((t.only_archived, t.resent, t.most_sends), (1, 1, 3));
        assert!(
            t.problems
                .iter()
                .any(|p| p.contains("in-2") && p.contains("gave up")),
            "{:?}",
            t.problems
        );
        assert!(
            t.problems
                .iter()
                .any(|p| p.contains("in-3") && p.contains("2 times")),
            "{:?}",
            t.problems
        );
    }

    #[test]
    fn an_outbound_failure_counts_only_when_the_user_was_told() {
        let ledger = Ledger::new();
        // Sent, receipt: delivered.
        ledger.outbound_sent("A", "+1", "a-1");
        ledger.gateway_event("send_queued", "+1");
        assert!(ledger.in_flight("a-1") && ledger.any_in_flight());
        ledger.gateway_event("sms_sent", "+1");
        ledger.outbound_receipt("a-1");
        // Refused by the GoIP, error and note: a reported failure.
        ledger.outbound_sent("A", "+2", "a-2");
        ledger.gateway_event("sms_failed", "+2");
        ledger.outbound_error("a-2", "service-unavailable");
        ledger.outbound_note("+2", "> SMS a-2\nThe SMS was not sent");
        // "Not sent yet", then nothing: lost.
        ledger.outbound_sent("A", "+3", "a-3");
        ledger.outbound_not_yet("+3");
        // Sent twice, no receipt.
        ledger.outbound_sent("B", "+4", "b-4");
        ledger.gateway_event("sms_sent", "+4");
        ledger.gateway_event("sms_sent", "+4");
        assert!(!ledger.settled());

        let t = ledger.tally();
        assert_eq!((t.sent, t.delivered, t.duplicated, t.lost), (4, 2, 1, 1));
        assert_eq!((t.failures_reported, t.not_yet), (1, 1));
        assert!(t.problems.iter().any(|p| p.contains("a-3")));
        assert!(
            t.problems
                .iter()
                .any(|p| p.contains("b-4") && p.contains("no receipt"))
        );
        assert!(
            !t.problems
                .iter()
                .any(|p| p.contains("a-1") || p.contains("a-2"))
        );
    }

    #[test]
    fn what_belongs_to_no_message_is_a_problem() {
        let ledger = Ledger::new();
        ledger.inbound_received("nobody sent this", "x");
        ledger.outbound_receipt("no-such-id");
        ledger.gateway_event("sms_sent", "+999");
        assert_eq!(ledger.tally().problems.len(), 3);
    }

    #[test]
    fn keeps_the_longest_waits() {
        let ledger = Ledger::new();
        ledger.console_answered("h-1", Duration::from_millis(40));
        ledger.console_answered("h-2", Duration::from_millis(900));
        ledger.console_answered("h-3", Duration::from_millis(50));
        ledger.sms_answered("b-1", Duration::from_secs(1), "its receipt");
        let stall = ledger.tally().stall;
        assert_eq!(stall.console, Duration::from_millis(900));
        assert!(stall.console_worst.contains("h-2"));
        assert_eq!(stall.sms, Duration::from_secs(1));
        assert_eq!(stall.answered, 4);
    }
}
