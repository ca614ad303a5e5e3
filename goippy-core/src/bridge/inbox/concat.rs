//! Long SMS that the GoIP hands over in parts: which parts belong together,
//! and the waiting room where a part waits for the next one.
//!
//! Some GoIP firmware passes each segment of a concatenated SMS on as a
//! RECEIVE of its own, without the header that numbers the parts
//! (docs/goip-protocol.md#long-sms), so all goippy sees is consecutive SMS
//! from one sender. The one piece of evidence left is length: a part that
//! is not the last is as long as a segment can be — 153 GSM-7 septets or 67
//! UCS-2 units ([`crate::segments`]), or one unit less when the character that
//! would have filled it costs two (an escape like `€`, an emoji), which
//! phones never cut in two. Hence the rule:
//!
//! * an SMS of such a length ([`may_continue`]) waits up to SMS_JOIN_WAIT
//!   for its continuation; every other row is delivered at once;
//! * the next SMS from the same sender on the same channel continues it
//!   ([`continues`]) if it arrived within SMS_JOIN_WAIT of it, is in the
//!   same alphabet (a part of a GSM-7 message holds only GSM-7
//!   characters), is no longer than a segment, and its first character
//!   would not have fitted into the part before; if it is itself of full
//!   length, the message waits again for a third part, up to
//!   [`MAX_PARTS`];
//! * the parts become one chat message with the first part's stanza id
//!   and arrival time; a part whose continuation does not come in time is
//!   delivered alone.
//!
//! The alphabet a part was sent in is not always its own: a text with a
//! single emoji goes as UCS-2 as a whole, so its first part may be 67
//! plain ASCII characters. A part of only GSM-7 characters is therefore of
//! full length at 152–153 septets *or* at 66–67 UTF-16 units; the cost is
//! that a lone 66- or 67-character SMS waits too.
//!
//! Joining is done by the inbox pump at delivery, never at storage: each
//! part is stored and acked as it arrives, stays a row of its own, and is
//! marked delivered only once Prosody has confirmed the one message. What
//! the pump keeps in memory is bounded: for a waiting part only its id and
//! when the pump first saw it ([`MAX_WAITING`]), and within one round the
//! unfinished messages that straddle a page of the inbox ([`MAX_OPEN`]).
//! Past either bound a part is delivered at once rather than forgotten.
//!
//! Decisions, and what the evidence does not allow:
//!
//! * **Nothing else waits.** Only the parts of one sender on one channel
//!   wait; the user's other SMS, receipts and notices go out at once. An
//!   SMS from another sender is another conversation (another contact,
//!   another chat window), and carries its own XEP-0203 arrival time, so
//!   holding it back would only delay it; and a later SMS of the same
//!   sender on the same channel is either the continuation or, when it is
//!   not, releases the waiting part first, so one conversation stays in
//!   order. (The same number writing to two channels of one user is two
//!   keys: the second channel's SMS can overtake a waiting part by at most
//!   SMS_JOIN_WAIT.)
//! * **A restart loses nothing.** A waiting part is an undelivered inbox
//!   row like any other; after a restart it waits for what is left of its
//!   time (the wait counts from its stored arrival time, which is also
//!   what decides whether a later part is its continuation, so waiting
//!   longer could join nothing more), and a part whose continuation came
//!   while goippy was stopping is joined then. The pump's own monotonic
//!   clock caps every wait at SMS_JOIN_WAIT, so a step of the system clock
//!   cannot hold a part longer.
//! * **Parts out of order.** When the last (shorter) part arrives first it
//!   looks like any short SMS and is delivered at once; the first part
//!   then waits in vain and follows alone: two messages, as before this
//!   rule. Reordering them would need the header the firmware dropped — a
//!   short SMS followed by a full-length one is just as likely a reply and
//!   then a new long text. Parts of full length that swap places are
//!   joined in the order they arrived: there is nothing in them to tell.
//! * **Not modelled.** National shift tables (shorter segments), and
//!   phones that keep a whole grapheme cluster (an emoji with a skin tone,
//!   a family emoji) together and so leave a part more than one unit
//!   short: such parts are delivered as they come.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::segments::Alphabet;
use crate::store::{InboxItem, LogId, LogKind};

use super::super::notice::received_at;

/// The most parts joined into one message; a message is delivered when it
/// has this many, whatever the length of the last.
pub(super) const MAX_PARTS: usize = 16;
/// The most parts waiting for their continuation at once; beyond it a new
/// part is delivered at once.
pub(super) const MAX_WAITING: usize = 1024;
/// The most unfinished messages carried from one page of the inbox to the
/// next within a round; beyond it the oldest is delivered as it is.
pub(super) const MAX_OPEN: usize = 64;

/// The alphabet in which `text` would be a part of full length — a part
/// that may have a continuation — if any.
pub(crate) fn may_continue(text: &str) -> Option<Alphabet> {
    [Alphabet::Gsm7, Alphabet::Ucs2].into_iter().find(|a| {
        a.units(text)
            .is_some_and(|units| units + 1 >= a.segment() && units <= a.segment())
    })
}

/// Whether `next` can be the part that follows `prev` in a message sent in
/// `alphabet`: `next` fits a segment in that alphabet, and its first
/// character would not have fitted into `prev`.
pub(crate) fn continues(prev: &str, alphabet: Alphabet, next: &str) -> bool {
    let (Some(filled), Some(length), Some(first)) = (
        alphabet.units(prev),
        alphabet.units(next),
        next.chars().next().and_then(|c| alphabet.units_of(c)),
    ) else {
        return false;
    };
    filled <= alphabet.segment()
        && length <= alphabet.segment()
        && filled + first > alphabet.segment()
}

/// Rows of one conversation: same channel, same sender, same addressee.
fn same_sender(a: &InboxItem, b: &InboxItem) -> bool {
    a.goip_id == b.goip_id && a.peer == b.peer && a.xmpp_jid == b.xmpp_jid && a.ext == b.ext
}

/// What the pump does with the rows of a page, in this order.
#[derive(Debug)]
pub(super) enum Out<'p> {
    /// Delivered as it is.
    Row(&'p InboxItem),
    /// One or more parts of one SMS, delivered as one `message`: the first
    /// part with the whole text.
    Parts {
        message: Box<InboxItem>,
        parts: Vec<InboxItem>,
    },
}

impl Out<'_> {
    /// The row to render.
    pub(super) fn message(&self) -> &InboxItem {
        match self {
            Out::Row(item) => item,
            Out::Parts { message, .. } => message,
        }
    }

    /// The rows it delivers (marked delivered once it is confirmed).
    pub(super) fn parts(&self) -> &[InboxItem] {
        match self {
            Out::Row(item) => std::slice::from_ref(*item),
            Out::Parts { parts, .. } => parts,
        }
    }
}

/// A message of one or more parts that may go on.
#[derive(Debug)]
struct Group {
    alphabet: Alphabet,
    first: InboxItem,
    more: Vec<InboxItem>,
}

impl Group {
    fn last(&self) -> &InboxItem {
        self.more.last().unwrap_or(&self.first)
    }

    /// Whether `row` is the next part (see the module docs).
    fn takes(&self, row: &InboxItem, wait: Duration) -> bool {
        let last = self.last();
        let gap = row
            .received_at
            .unix()
            .saturating_sub(last.received_at.unix());
        (0..=whole_seconds(wait)).contains(&gap) && continues(&last.body, self.alphabet, &row.body)
    }

    /// Whether a further part may follow.
    fn may_go_on(&self) -> bool {
        1 + self.more.len() < MAX_PARTS
            && self
                .alphabet
                .units(&self.last().body)
                .is_some_and(|units| units + 1 >= self.alphabet.segment())
    }

    fn into_out<'p>(self) -> Out<'p> {
        let mut message = self.first.clone();
        for part in &self.more {
            message.body.push_str(&part.body);
        }
        let parts = std::iter::once(self.first).chain(self.more).collect();
        Out::Parts {
            message: Box::new(message),
            parts,
        }
    }
}

/// `wait` in whole seconds, rounded up (arrival times are whole seconds).
fn whole_seconds(wait: Duration) -> i64 {
    i64::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).unwrap_or(i64::MAX)
}

/// The pump's memory for long SMS, across rounds, and the unfinished
/// messages of the current round.
#[derive(Debug)]
pub(super) struct Joiner {
    /// SMS_JOIN_WAIT; zero: every row is delivered as it is.
    wait: Duration,
    /// Each waiting part, with when this pump first saw it.
    waiting: BTreeMap<LogId, Instant>,
    /// This round's messages that may go on, oldest first.
    open: Vec<Group>,
    /// The parts this round left waiting.
    held: Vec<LogId>,
    /// When the first of them is due.
    next_release: Option<Instant>,
}

impl Joiner {
    pub(super) fn new(wait: Duration) -> Joiner {
        Joiner {
            wait,
            waiting: BTreeMap::new(),
            open: Vec::new(),
            held: Vec::new(),
            next_release: None,
        }
    }

    /// A round begins: it reads the inbox from its start.
    pub(super) fn start_round(&mut self) {
        self.open.clear();
        self.held.clear();
        self.next_release = None;
    }

    /// The round went through the whole inbox: what no longer waits is
    /// forgotten.
    pub(super) fn finish_round(&mut self) {
        let held = &self.held;
        self.waiting.retain(|id, _| held.contains(id));
    }

    /// When a part the last complete round left waiting is due.
    pub(super) fn next_release(&self) -> Option<Instant> {
        self.next_release
    }

    /// The next page of the round's rows (oldest first, without rows
    /// delivered already): what to deliver now, in order. Parts that may
    /// go on are kept for the next page; on the `last_page` they wait or,
    /// when their time is up, are delivered.
    pub(super) fn page<'p>(
        &mut self,
        rows: &[&'p InboxItem],
        last_page: bool,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Out<'p>> {
        let mut out = Vec::with_capacity(rows.len());
        for &row in rows {
            if row.kind != LogKind::Sms || self.wait.is_zero() {
                out.push(Out::Row(row));
                continue;
            }
            if let Some(i) = self.open.iter().position(|g| same_sender(&g.first, row)) {
                let group = self.open.remove(i);
                if group.takes(row, self.wait) {
                    let mut group = group;
                    group.more.push(row.clone());
                    if group.may_go_on() {
                        self.open.push(group);
                    } else {
                        out.push(group.into_out());
                    }
                    continue;
                }
                // The sender wrote something else: that message is over,
                // and goes before this one.
                out.push(group.into_out());
            }
            match may_continue(&row.body) {
                Some(alphabet) => {
                    if self.open.len() >= MAX_OPEN {
                        out.push(self.open.remove(0).into_out());
                    }
                    self.open.push(Group {
                        alphabet,
                        first: row.clone(),
                        more: Vec::new(),
                    });
                }
                None => out.push(Out::Row(row)),
            }
        }
        if last_page {
            for group in std::mem::take(&mut self.open) {
                if let Some(group) = self.hold(group, now, wall) {
                    out.push(group.into_out());
                }
            }
        }
        out
    }

    /// Keeps `group` waiting for its next part, or gives it back when its
    /// time is up (or too many parts wait already).
    fn hold(&mut self, group: Group, now: Instant, wall: SystemTime) -> Option<Group> {
        let last = group.last();
        let first_seen = match self.waiting.get(&last.id) {
            Some(at) => *at,
            None if self.waiting.len() < MAX_WAITING => {
                self.waiting.insert(last.id, now);
                tracing::debug!(
                    log_id = last.id.0,
                    goip_id = %last.goip_id,
                    parts = 1 + group.more.len(),
                    alphabet = group.alphabet.name(),
                    "an SMS of full segment length waits up to {} s for its next part",
                    whole_seconds(self.wait)
                );
                now
            }
            None => {
                tracing::warn!(
                    log_id = last.id.0,
                    waiting = self.waiting.len(),
                    "too many SMS parts wait for their continuation: this one is delivered at once"
                );
                return Some(group);
            }
        };
        // From its arrival (whole seconds, so up to one more), and never
        // longer than the wait from when this pump first saw it.
        let by_arrival = (received_at(last) + self.wait + Duration::from_secs(1))
            .duration_since(wall)
            .unwrap_or_default();
        let due = (first_seen + self.wait).min(now + by_arrival);
        if due <= now {
            return Some(group);
        }
        self.held.push(last.id);
        self.next_release = Some(self.next_release.map_or(due, |d| d.min(due)));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Timestamp;
    use std::time::UNIX_EPOCH;

    const WAIT: Duration = Duration::from_secs(10);
    const T0: i64 = 1_700_000_000;

    fn sms(id: i64, from: &str, at: i64, body: &str) -> InboxItem {
        InboxItem {
            id: LogId(id),
            kind: LogKind::Sms,
            goip_id: "goip1".into(),
            ext: Some("2001".into()),
            xmpp_jid: None,
            peer: Some(from.into()),
            body: body.into(),
            recvid: Some(id),
            received_at: Timestamp::from_unix(at),
            report: None,
            notice: None,
        }
    }

    fn wall(at: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(at as u64)
    }

    /// What a page gives: each output as the ids it delivers.
    fn ids(out: &[Out<'_>]) -> Vec<Vec<i64>> {
        out.iter()
            .map(|o| o.parts().iter().map(|p| p.id.0).collect())
            .collect()
    }

    fn one_page<'p>(j: &mut Joiner, rows: &[&'p InboxItem], at: Instant, now: i64) -> Vec<Out<'p>> {
        j.start_round();
        let out = j.page(rows, true, at, wall(now));
        j.finish_round();
        out
    }

    #[test]
    fn full_length_in_gsm7_counts_escapes_as_two() {
        let a = |n: usize| "a".repeat(n);
        assert_eq!(may_continue(&a(153)), Some(Alphabet::Gsm7));
        assert_eq!(may_continue(&a(152)), Some(Alphabet::Gsm7));
        assert_eq!(may_continue(&a(151)), None);
        assert_eq!(may_continue(&a(154)), None);
        assert_eq!(may_continue(&a(160)), None);
        // 76 escapes (152 septets) and one character: 77 characters, full.
        let escapes = format!("{}x", "{".repeat(76));
        assert_eq!(may_continue(&escapes), Some(Alphabet::Gsm7));
        let euros = format!("{}€", a(151));
        assert_eq!(may_continue(&euros), Some(Alphabet::Gsm7), "153 septets");
        assert_eq!(may_continue(&format!("{}€", a(152))), None, "154 septets");
    }

    #[test]
    fn full_length_in_ucs2_counts_emoji_as_two() {
        let d = |n: usize| "д".repeat(n);
        assert_eq!(may_continue(&d(67)), Some(Alphabet::Ucs2));
        assert_eq!(may_continue(&d(66)), Some(Alphabet::Ucs2));
        assert_eq!(may_continue(&d(65)), None);
        assert_eq!(may_continue(&d(68)), None);
        // 33 emoji and a letter: 34 characters, 67 units.
        let emoji = format!("{}д", "😀".repeat(33));
        assert_eq!(emoji.chars().count(), 34);
        assert_eq!(may_continue(&emoji), Some(Alphabet::Ucs2));
        assert_eq!(may_continue(&"😀".repeat(34)), None, "68 units");
        // Plain text of 67 characters: the first part of a UCS-2 message
        // whose emoji comes later.
        assert_eq!(may_continue(&"a".repeat(67)), Some(Alphabet::Ucs2));
        assert_eq!(may_continue("hello"), None);
        assert_eq!(may_continue(""), None);
    }

    #[test]
    fn what_can_follow_a_part() {
        let gsm = "a".repeat(153);
        assert!(continues(&gsm, Alphabet::Gsm7, "and the rest"));
        assert!(continues(&gsm, Alphabet::Gsm7, &"b".repeat(153)));
        assert!(
            !continues(&gsm, Alphabet::Gsm7, &"b".repeat(154)),
            "longer than a segment"
        );
        assert!(!continues(&gsm, Alphabet::Gsm7, "и дальше"), "not GSM-7");
        assert!(!continues(&gsm, Alphabet::Gsm7, ""));
        // One septet short: only an escape could not have fitted.
        let short = "a".repeat(152);
        assert!(continues(&short, Alphabet::Gsm7, "€5 more"));
        assert!(!continues(&short, Alphabet::Gsm7, "5€ more"));
        // UCS-2: anything after 67 units, an emoji after 66.
        let ucs = "д".repeat(67);
        assert!(continues(&ucs, Alphabet::Ucs2, "plain ASCII"));
        assert!(!continues(&ucs, Alphabet::Ucs2, &"д".repeat(68)));
        let short = "д".repeat(66);
        assert!(continues(&short, Alphabet::Ucs2, "😀 end"));
        assert!(!continues(&short, Alphabet::Ucs2, "д end"));
    }

    #[test]
    fn two_parts_in_order_become_one_message() {
        let mut j = Joiner::new(WAIT);
        let first = sms(1, "+1", T0, &"a".repeat(153));
        let second = sms(2, "+1", T0 + 2, "the end");
        let now = Instant::now();
        // The first part alone waits.
        assert!(one_page(&mut j, &[&first], now, T0).is_empty());
        assert_eq!(j.next_release(), Some(now + WAIT));
        // With its continuation: one message, the first part's id.
        let out = one_page(&mut j, &[&first, &second], now, T0 + 2);
        assert_eq!(ids(&out), [vec![1, 2]]);
        assert_eq!(out[0].message().id, LogId(1));
        assert_eq!(out[0].message().received_at, first.received_at);
        assert_eq!(out[0].message().body, format!("{}the end", "a".repeat(153)));
        assert!(j.waiting.is_empty(), "nothing waits any more");
        assert_eq!(j.next_release(), None);
    }

    #[test]
    fn a_lone_part_goes_after_the_wait_and_other_rows_never_wait() {
        let mut j = Joiner::new(WAIT);
        let part = sms(1, "+1", T0, &"д".repeat(67));
        let other = sms(2, "+2", T0, "from someone else");
        let mut notice = sms(3, "+1", T0, "a receipt");
        notice.kind = LogKind::Notice;
        let t = Instant::now();
        let out = one_page(&mut j, &[&part, &other, &notice], t, T0);
        assert_eq!(ids(&out), [vec![2], vec![3]]);
        assert!(matches!(out[0], Out::Row(_)));
        // Still waiting just before the time is up.
        let out = one_page(
            &mut j,
            &[&part],
            t + WAIT - Duration::from_millis(1),
            T0 + 9,
        );
        assert!(out.is_empty());
        let out = one_page(&mut j, &[&part], t + WAIT, T0 + 10);
        assert_eq!(ids(&out), [vec![1]]);
        assert_eq!(out[0].message().body, part.body);
        assert!(j.waiting.is_empty());
    }

    #[test]
    fn three_parts_and_a_cap() {
        let mut j = Joiner::new(WAIT);
        let rows = [
            sms(1, "+1", T0, &"a".repeat(153)),
            sms(2, "+1", T0 + 1, &"b".repeat(153)),
            sms(3, "+1", T0 + 2, "c"),
        ];
        let t = Instant::now();
        let all: Vec<&InboxItem> = rows.iter().collect();
        assert!(
            one_page(&mut j, &all[..2], t, T0 + 1).is_empty(),
            "two full parts wait"
        );
        assert_eq!(ids(&one_page(&mut j, &all, t, T0 + 2)), [vec![1, 2, 3]]);
        // A sender who sends full-length texts without end: MAX_PARTS at most.
        let many: Vec<InboxItem> = (0..MAX_PARTS as i64 + 1)
            .map(|i| sms(10 + i, "+1", T0, &"x".repeat(153)))
            .collect();
        let refs: Vec<&InboxItem> = many.iter().collect();
        let out = one_page(&mut j, &refs, t, T0);
        assert_eq!(ids(&out).len(), 1);
        assert_eq!(out[0].parts().len(), MAX_PARTS);
    }

    #[test]
    fn what_is_not_a_continuation_releases_the_part_first() {
        let t = Instant::now();
        let first = sms(1, "+1", T0, &"a".repeat(153));
        // Too late (an XMPP outage kept both in the inbox).
        let late = sms(2, "+1", T0 + 11, "late");
        let mut j = Joiner::new(WAIT);
        assert_eq!(
            ids(&one_page(&mut j, &[&first, &late], t, T0 + 99)),
            [vec![1], vec![2]]
        );
        // In another alphabet than the part it would follow.
        let cyrillic = sms(2, "+1", T0 + 1, "привет");
        let out = one_page(&mut j, &[&first, &cyrillic], t, T0 + 1);
        assert_eq!(ids(&out), [vec![1], vec![2]]);
        // Another channel, or another sender in between: not joined, and
        // the other sender's SMS does not wait.
        let mut elsewhere = sms(2, "+1", T0 + 1, "rest");
        elsewhere.goip_id = "goip2".into();
        let other = sms(3, "+2", T0 + 1, "hi");
        let rest = sms(4, "+1", T0 + 2, "rest");
        let out = one_page(&mut j, &[&first, &elsewhere, &other, &rest], t, T0 + 2);
        assert_eq!(ids(&out), [vec![2], vec![3], vec![1, 4]]);
    }

    #[test]
    fn a_short_last_part_that_comes_first_cannot_be_told() {
        let t = Instant::now();
        let mut j = Joiner::new(WAIT);
        let tail = sms(2, "+1", T0, "the end");
        let head = sms(1, "+1", T0 + 1, &"a".repeat(153));
        assert_eq!(ids(&one_page(&mut j, &[&tail], t, T0)), [vec![2]]);
        assert!(
            one_page(&mut j, &[&head], t, T0 + 1).is_empty(),
            "the head waits in vain"
        );
        // Full-length parts that swap places are joined as they came.
        let p2 = sms(5, "+1", T0, &"b".repeat(153));
        let p1 = sms(6, "+1", T0 + 1, &"a".repeat(153));
        let p3 = sms(7, "+1", T0 + 2, "c");
        let out = one_page(&mut j, &[&p2, &p1, &p3], t, T0 + 2);
        assert_eq!(ids(&out), [vec![5, 6, 7]]);
    }

    #[test]
    fn a_message_straddling_two_pages_is_joined() {
        let t = Instant::now();
        let mut j = Joiner::new(WAIT);
        let first = sms(1, "+1", T0, &"a".repeat(153));
        let other = sms(2, "+2", T0, "hi");
        let second = sms(3, "+1", T0 + 1, "end");
        j.start_round();
        let out = j.page(&[&first, &other], false, t, wall(T0 + 1));
        assert_eq!(ids(&out), [vec![2]]);
        let out = j.page(&[&second], true, t, wall(T0 + 1));
        assert_eq!(ids(&out), [vec![1, 3]]);
        j.finish_round();
        // An empty last page still settles what the previous page left.
        j.start_round();
        assert!(j.page(&[&first], false, t, wall(T0)).is_empty());
        let out = j.page(&[], true, t + WAIT, wall(T0 + 11));
        assert_eq!(ids(&out), [vec![1]]);
    }

    #[test]
    fn the_wait_counts_from_arrival_and_is_capped_by_the_pump_clock() {
        let first = sms(1, "+1", T0, &"a".repeat(153));
        let t = Instant::now();
        // A new pump (a restart) 4 s after the part arrived: 7 s are left
        // (whole seconds: up to one more than the wait).
        let mut j = Joiner::new(WAIT);
        assert!(one_page(&mut j, &[&first], t, T0 + 4).is_empty());
        assert_eq!(j.next_release(), Some(t + Duration::from_secs(7)));
        // Long after its arrival (an XMPP outage): no wait at all.
        let mut j = Joiner::new(WAIT);
        assert_eq!(ids(&one_page(&mut j, &[&first], t, T0 + 60)), [vec![1]]);
        // A clock that jumped back an hour: still no more than the wait.
        let mut j = Joiner::new(WAIT);
        assert!(one_page(&mut j, &[&first], t, T0 - 3600).is_empty());
        assert_eq!(j.next_release(), Some(t + WAIT));
        assert_eq!(
            ids(&one_page(&mut j, &[&first], t + WAIT, T0 - 3590)),
            [vec![1]]
        );
    }

    #[test]
    fn memory_is_bounded() {
        let t = Instant::now();
        let mut j = Joiner::new(WAIT);
        let parts: Vec<InboxItem> = (0..MAX_OPEN as i64 + 1)
            .map(|i| sms(i, &format!("+{i}"), T0, &"a".repeat(153)))
            .collect();
        let refs: Vec<&InboxItem> = parts.iter().collect();
        // Carried to the next page: at most MAX_OPEN; the oldest goes as it is.
        j.start_round();
        assert_eq!(ids(&j.page(&refs, false, t, wall(T0))), [vec![0]]);
        assert_eq!(j.open.len(), MAX_OPEN);
        assert!(j.page(&[], true, t, wall(T0)).is_empty());
        j.finish_round();
        assert_eq!(j.waiting.len(), MAX_OPEN);
        // A full waiting room: a new part goes at once.
        for i in 0..MAX_WAITING as i64 {
            j.waiting.insert(LogId(1000 + i), t);
        }
        let new = sms(5000, "+x", T0, &"a".repeat(153));
        j.start_round();
        assert_eq!(ids(&j.page(&[&new], true, t, wall(T0))), [vec![5000]]);
        // Zero turns joining off.
        let mut off = Joiner::new(Duration::ZERO);
        assert_eq!(ids(&one_page(&mut off, &[&parts[0]], t, T0)), [vec![0]]);
    }
}
