//! The open ad-hoc command sessions: a command with more than one stage
//! (the call log's count, a USSD menu, the line to enable) is a session
//! between two requests.
//!
//! Bounded three ways, because a sender controls how many it opens: at most
//! [`PER_OWNER`] per bare JID, [`TOTAL`] in all and [`MAX_BYTES`] of memory;
//! a session not continued within its timeout is dropped. A session id is
//! 128 random bits, and only the full JID that opened a session may continue
//! it (another resource of the same account gets `bad-sessionid`, as if it
//! did not exist).
//!
//! A std mutex: every critical section is a map operation, never held
//! across an `.await`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
#[cfg(test)]
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::jid::Jid;

use crate::util::lock;
use crate::xmpp::failure::Refusal;

/// Open sessions one bare JID may hold.
pub(crate) const PER_OWNER: usize = 4;
/// Open sessions in all.
pub(crate) const TOTAL: usize = 256;
/// Memory the open sessions may hold (ids, JIDs and the stage's text).
pub(crate) const MAX_BYTES: usize = 256 * 1024;
/// A session not continued for this long is dropped (a USSD menu gets its
/// `USSDEXIT` then); tests shorten it (`BridgeConfig::command_timeout`).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What a session waits for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The call log's count (for this line).
    LogCount { goip_id: String },
    /// A USSD code (to send on the line the form names, or this one).
    UssdCode { goip_id: String },
    /// A USSD menu is open on this channel: the user's choice, or the end.
    UssdMenu { goip_id: String, ext: String },
    /// The line to enable or disable.
    LineChoice { enable: bool },
}

impl Stage {
    fn weight(&self) -> usize {
        match self {
            Stage::LogCount { goip_id } | Stage::UssdCode { goip_id } => goip_id.len(),
            Stage::UssdMenu { goip_id, ext } => goip_id.len() + ext.len(),
            Stage::LineChoice { .. } => 0,
        }
    }
}

/// One open session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub owner: Jid,
    pub node: &'static str,
    pub stage: Stage,
    expires: Instant,
}

impl Session {
    fn weight(&self) -> usize {
        std::mem::size_of::<Session>() + 32 + self.owner.as_str().len() + self.stage.weight()
    }
}

#[derive(Default)]
struct Table {
    open: HashMap<String, Session>,
    bytes: usize,
}

/// The open sessions. See the module docs.
pub(crate) struct Sessions {
    table: Mutex<Table>,
    timeout: Duration,
}

#[cfg(test)]
impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(TIMEOUT)
    }
}

impl Sessions {
    /// Sessions that expire `timeout` after their latest stage.
    pub(crate) fn new(timeout: Duration) -> Self {
        Sessions {
            table: Mutex::default(),
            timeout,
        }
    }

    /// Opens a session for `owner` and returns its id; refused while the
    /// owner holds [`PER_OWNER`] already (`yours`), or [`TOTAL`] or
    /// [`MAX_BYTES`] is reached.
    pub(crate) fn open(
        &self,
        owner: &Jid,
        node: &'static str,
        stage: Stage,
        now: Instant,
    ) -> Result<String, Refusal> {
        let id = format!("{:032x}", rand::random::<u128>());
        let session = Session {
            owner: owner.clone(),
            node,
            stage,
            expires: now + self.timeout,
        };
        let weight = session.weight();
        let mut t = lock(&self.table);
        let bare = owner.to_bare();
        let theirs = t
            .open
            .values()
            .filter(|s| s.expires > now && s.owner.to_bare() == bare)
            .count();
        if theirs >= PER_OWNER {
            return Err(Refusal::TooManySessions { yours: true });
        }
        if t.open.len() >= TOTAL || t.bytes + weight > MAX_BYTES {
            return Err(Refusal::TooManySessions { yours: false });
        }
        t.bytes += weight;
        t.open.insert(id.clone(), session);
        Ok(id)
    }

    /// Takes the session `id` out, if it is `requester`'s and not expired.
    /// The caller puts it back with [`Sessions::put_back`] when it goes on.
    pub(crate) fn take(&self, id: &str, requester: &Jid, now: Instant) -> Option<Session> {
        let mut t = lock(&self.table);
        let session = t.open.get(id)?;
        if session.owner != *requester || session.expires <= now {
            return None;
        }
        let session = t.open.remove(id)?;
        t.bytes = t.bytes.saturating_sub(session.weight());
        Some(session)
    }

    /// Puts a taken session back (with its stage changed or not) and a
    /// fresh timeout. Always fits: it was in before, and only its stage
    /// changed (whose text is bounded by the request it came from).
    pub(crate) fn put_back(&self, id: String, mut session: Session, now: Instant) {
        session.expires = now + self.timeout;
        let mut t = lock(&self.table);
        t.bytes += session.weight();
        t.open.insert(id, session);
    }

    /// Removes the sessions that expired by `now` and returns them (a USSD
    /// menu among them needs its `USSDEXIT`).
    pub(crate) fn expire(&self, now: Instant) -> Vec<Session> {
        let mut t = lock(&self.table);
        let gone: Vec<Session> = (t.open.extract_if(|_, s| s.expires <= now))
            .map(|(_, s)| s)
            .collect();
        let weight: usize = gone.iter().map(Session::weight).sum();
        t.bytes = t.bytes.saturating_sub(weight);
        gone
    }

    /// How many sessions `owner` holds (for tests and logs).
    #[cfg(test)]
    fn count(&self, owner: &BareJid) -> usize {
        lock(&self.table)
            .open
            .values()
            .filter(|s| s.owner.to_bare() == *owner)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).expect("jid")
    }

    #[test]
    fn only_the_full_jid_that_opened_a_session_continues_it() {
        let s = Sessions::default();
        let now = Instant::now();
        let phone = jid("2001@example.org/phone");
        let id = s
            .open(
                &phone,
                "ussd",
                Stage::UssdCode {
                    goip_id: String::new(),
                },
                now,
            )
            .expect("open");
        assert_eq!(id.len(), 32);
        assert!(s.take(&id, &jid("2001@example.org/laptop"), now).is_none());
        assert!(s.take(&id, &jid("2002@example.org/phone"), now).is_none());
        assert!(s.take("nope", &phone, now).is_none());
        let taken = s.take(&id, &phone, now).expect("the owner's");
        assert!(s.take(&id, &phone, now).is_none(), "taken out");
        let taken = Session {
            stage: Stage::LineChoice { enable: true },
            ..taken
        };
        s.put_back(id.clone(), taken, now);
        let again = s.take(&id, &phone, now).expect("back");
        assert_eq!(again.stage, Stage::LineChoice { enable: true });
    }

    #[test]
    fn sessions_are_bounded_per_owner_and_in_all() {
        let s = Sessions::default();
        let now = Instant::now();
        let a = jid("2001@example.org/a");
        for _ in 0..PER_OWNER {
            s.open(
                &a,
                "log",
                Stage::UssdCode {
                    goip_id: String::new(),
                },
                now,
            )
            .expect("fits");
        }
        assert_eq!(
            s.open(
                &jid("2001@example.org/b"),
                "log",
                Stage::UssdCode {
                    goip_id: String::new()
                },
                now
            ),
            Err(Refusal::TooManySessions { yours: true }),
            "per bare JID, whatever the resource"
        );
        let mut opened = PER_OWNER;
        let mut n = 0;
        let full = loop {
            n += 1;
            match s.open(
                &jid(&format!("u{n}@example.org/r")),
                "log",
                Stage::UssdCode {
                    goip_id: String::new(),
                },
                now,
            ) {
                Ok(_) => opened += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(full, Refusal::TooManySessions { yours: false });
        assert_eq!(opened, TOTAL);
        assert!(lock(&s.table).bytes <= MAX_BYTES);
    }

    #[test]
    fn sessions_expire() {
        let s = Sessions::default();
        let now = Instant::now();
        let a = jid("2001@example.org/a");
        let id = s
            .open(
                &a,
                "ussd",
                Stage::UssdMenu {
                    goip_id: "goip1".into(),
                    ext: "2001".into(),
                },
                now,
            )
            .expect("open");
        let later = now + TIMEOUT;
        assert!(s.take(&id, &a, later).is_none(), "expired");
        let gone = s.expire(later);
        assert_eq!(gone.len(), 1);
        assert!(matches!(gone[0].stage, Stage::UssdMenu { .. }));
        assert_eq!(s.count(&a.to_bare()), 0);
        assert_eq!(lock(&s.table).bytes, 0);
    }
}
