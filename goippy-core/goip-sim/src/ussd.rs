//! The device side of USSD (docs/goip-protocol.md#ussd and
//! docs/goip-protocol.md#the-ussd-cache): answers from a table of codes
//! instead of a mobile network, and the GoIP's reply cache.
//!
//! The cache rule is the reason this module exists: a GoIP keeps the newest
//! USSD sendid and its reply, and a USSD whose sendid is **less than or
//! equal to** the cached one gets the cached reply without asking the
//! network. A server that does not increase its sendids therefore sees stale
//! answers — the simulator reproduces that, and counts real "network"
//! queries so a test can tell a cached answer from a fresh one.
//!
//! Also reproduced: the network takes a moment to answer (configurable), a
//! newer request supersedes one still waiting for the network (re-sending
//! too often breaks the reply on real devices), optional `@` padding (GSM
//! 7-bit 0x00 decodes as `@`), `USSD send failed!` for a failed request, and
//! `USSDEXIT` closing the session.

use std::fmt;

use goippy_core::goip::{Reply, USSD_SEND_FAILED, is_valid_ussd_code};

/// The reply for a code the table does not know.
pub const UNKNOWN_CODE_REPLY: &str = "Unknown service code";

/// Why a table entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UssdTableError {
    #[error("{0:?} is not CODE=TEXT (for example *100#=Your balance is 10.00 EUR)")]
    NotAnEntry(String),
    #[error("USSD code {0:?} may only contain digits, '*', '#' and '+'")]
    BadCode(String),
    #[error("the reply for {code} cannot be sent as a USSD reply: {why}")]
    BadReply { code: String, why: String },
}

/// Replies by USSD code, standing in for the mobile network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdTable {
    entries: Vec<(String, String)>,
    /// Codes whose reply is a menu that waits for a choice.
    menus: Vec<Menu>,
    unknown: String,
}

/// A USSD menu: the code's reply waits for one of the choices, which mean
/// something only while the menu is open (until a choice, `USSDEXIT`, or
/// another code).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Menu {
    code: String,
    prompt: String,
    choices: Vec<(String, String)>,
}

impl Default for UssdTable {
    /// `*100#` → `Your balance is 10.00 EUR`; anything else →
    /// [`UNKNOWN_CODE_REPLY`].
    fn default() -> Self {
        UssdTable {
            entries: vec![("*100#".to_owned(), "Your balance is 10.00 EUR".to_owned())],
            menus: Vec::new(),
            unknown: UNKNOWN_CODE_REPLY.to_owned(),
        }
    }
}

impl UssdTable {
    /// A table with no entries: every code gets [`UNKNOWN_CODE_REPLY`].
    pub fn empty() -> Self {
        UssdTable {
            entries: Vec::new(),
            menus: Vec::new(),
            unknown: UNKNOWN_CODE_REPLY.to_owned(),
        }
    }

    /// Makes `code` a menu: its reply is `prompt`, and while it is open
    /// each `(choice, reply)` answers that choice (and closes the menu).
    pub fn insert_menu(
        &mut self,
        code: &str,
        prompt: &str,
        choices: &[(&str, &str)],
    ) -> Result<(), UssdTableError> {
        let mut checked = UssdTable::empty();
        checked.insert(code, prompt)?;
        for (choice, reply) in choices {
            checked.insert(choice, reply)?;
        }
        self.menus.retain(|m| m.code != code);
        self.menus.push(Menu {
            code: code.to_owned(),
            prompt: prompt.to_owned(),
            choices: choices
                .iter()
                .map(|(c, r)| ((*c).to_owned(), (*r).to_owned()))
                .collect(),
        });
        Ok(())
    }

    fn menu(&self, code: &str) -> Option<(usize, &Menu)> {
        self.menus.iter().enumerate().find(|(_, m)| m.code == code)
    }

    /// Sets (or replaces) the reply for `code`. The code follows the rule a
    /// GoIP server must follow (`[0-9*#+]`; a menu choice such as `1` is a
    /// code too); the reply must survive the trip through a `USSD` reply.
    pub fn insert(&mut self, code: &str, reply: &str) -> Result<(), UssdTableError> {
        if !is_valid_ussd_code(code) {
            return Err(UssdTableError::BadCode(code.to_owned()));
        }
        Reply::Ussd {
            sendid: 1,
            text: reply.to_owned(),
        }
        .encode()
        .map_err(|e| UssdTableError::BadReply {
            code: code.to_owned(),
            why: e.to_string(),
        })?;
        match self.entries.iter_mut().find(|(c, _)| c == code) {
            Some(entry) => entry.1 = reply.to_owned(),
            None => self.entries.push((code.to_owned(), reply.to_owned())),
        }
        Ok(())
    }

    /// Reads `CODE=TEXT` (the command line's `--ussd-reply`).
    pub fn parse_entry(entry: &str) -> Result<(String, String), UssdTableError> {
        let (code, text) = entry
            .split_once('=')
            .ok_or_else(|| UssdTableError::NotAnEntry(entry.to_owned()))?;
        Ok((code.trim().to_owned(), text.to_owned()))
    }

    /// What the "network" answers to `code`.
    pub fn reply(&self, code: &str) -> &str {
        self.entries
            .iter()
            .find(|(c, _)| c == code)
            .map_or(self.unknown.as_str(), |(_, r)| r.as_str())
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(c, r)| (c.as_str(), r.as_str()))
    }
}

/// The answer to a `USSD <sendid> <password> <code>` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UssdOutcome {
    /// The sendid is not above the cached one: answer at once with the
    /// cached reply, no network query.
    Cached { reply: String },
    /// A fresh network query, answered after the network delay by
    /// [`UssdSession::answer`]. `superseded` is an older request that was
    /// still waiting and will now never be answered.
    Query { superseded: Option<u32> },
    /// The same (or an older) request is already waiting for the network:
    /// nothing to send now.
    InProgress { waiting: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    sendid: u32,
    code: String,
    reply: String,
}

/// One channel's USSD state: the cache and the request waiting for the
/// network. Constant size.
#[derive(Debug, Clone, Default)]
pub struct UssdSession {
    cache: Option<(u32, String)>,
    waiting: Option<Waiting>,
    network_queries: u64,
    /// The menu (its index in the table) waiting for a choice.
    open_menu: Option<usize>,
}

/// A reply the channel is ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdAnswer {
    pub sendid: u32,
    pub code: String,
    pub reply: String,
}

impl UssdSession {
    /// Handles a request. `failing` is the `ussd-fail` failure: the network
    /// query fails and the GoIP says so in a normal reply.
    pub fn request(
        &mut self,
        sendid: u32,
        code: &str,
        table: &UssdTable,
        failing: bool,
    ) -> UssdOutcome {
        if let Some(outcome) = self.not_new(sendid) {
            return outcome;
        }
        let menu = self.open_menu.take();
        let reply = if failing {
            USSD_SEND_FAILED
        } else if let Some(choice) = menu
            .and_then(|m| table.menus.get(m))
            .and_then(|m| m.choices.iter().find(|(c, _)| c == code))
        {
            choice.1.as_str()
        } else if let Some((m, menu)) = table.menu(code) {
            self.open_menu = Some(m);
            menu.prompt.as_str()
        } else {
            table.reply(code)
        };
        self.query(sendid, code, reply)
    }

    /// [`UssdSession::request`] with the network's `reply` given, whatever
    /// the code (the `ussd-answer` failure mode): no menu opens, and an
    /// open one is left.
    pub fn request_answered(&mut self, sendid: u32, code: &str, reply: &str) -> UssdOutcome {
        if let Some(outcome) = self.not_new(sendid) {
            return outcome;
        }
        self.open_menu = None;
        self.query(sendid, code, reply)
    }

    /// The answer to a sendid that is not above the cached or the waiting
    /// one; `None` for a new request.
    fn not_new(&self, sendid: u32) -> Option<UssdOutcome> {
        if let Some((cached, reply)) = &self.cache
            && sendid <= *cached
        {
            return Some(UssdOutcome::Cached {
                reply: reply.clone(),
            });
        }
        if let Some(waiting) = &self.waiting
            && sendid <= waiting.sendid
        {
            return Some(UssdOutcome::InProgress {
                waiting: waiting.sendid,
            });
        }
        None
    }

    /// A new request goes to the "network", to be answered `reply`.
    fn query(&mut self, sendid: u32, code: &str, reply: &str) -> UssdOutcome {
        self.network_queries += 1;
        let superseded = self
            .waiting
            .replace(Waiting {
                sendid,
                code: code.to_owned(),
                reply: reply.to_owned(),
            })
            .map(|w| w.sendid);
        UssdOutcome::Query { superseded }
    }

    /// The network answered the request `sendid`: the reply to send, now
    /// cached. `None` if that request was superseded or closed meanwhile.
    pub fn answer(&mut self, sendid: u32) -> Option<UssdAnswer> {
        if self.waiting.as_ref().is_none_or(|w| w.sendid != sendid) {
            return None;
        }
        let waiting = self.waiting.take()?;
        self.cache = Some((waiting.sendid, waiting.reply.clone()));
        Some(UssdAnswer {
            sendid: waiting.sendid,
            code: waiting.code,
            reply: waiting.reply,
        })
    }

    /// Handles `USSDEXIT`: drops a request still waiting for the network.
    /// The cache stays (it is the device's, not the session's).
    pub fn exit(&mut self) -> Option<u32> {
        self.open_menu = None;
        self.waiting.take().map(|w| w.sendid)
    }

    /// Handles `USSDEXIT` under `ussd-late`: the menu ends, but a request
    /// still waiting for the network is answered when its time comes.
    pub fn close_menu(&mut self) {
        self.open_menu = None;
    }

    /// Whether a menu waits for a choice.
    pub fn menu_open(&self) -> bool {
        self.open_menu.is_some()
    }

    /// How many requests went to the "network" (not answered from cache).
    pub fn network_queries(&self) -> u64 {
        self.network_queries
    }

    /// The cached sendid, if any.
    pub fn cached_sendid(&self) -> Option<u32> {
        self.cache.as_ref().map(|(id, _)| *id)
    }
}

/// The reply text as the GoIP sends it: with `padding` trailing `@`.
pub fn padded(reply: &str, padding: usize) -> String {
    let mut text = String::with_capacity(reply.len() + padding);
    text.push_str(reply);
    text.extend(std::iter::repeat_n('@', padding));
    text
}

impl fmt::Display for UssdTable {
    /// One `CODE=TEXT` per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (code, reply) in &self.entries {
            writeln!(f, "{code}={reply}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(s: &mut UssdSession, sendid: u32, code: &str) -> UssdOutcome {
        s.request(sendid, code, &UssdTable::default(), false)
    }

    #[test]
    fn a_menu_waits_for_a_choice_until_ussdexit() {
        let mut table = UssdTable::default();
        table
            .insert_menu(
                "*123#",
                "1 Balance\n2 Bonus",
                &[("1", "Balance 5 EUR"), ("2", "No bonus")],
            )
            .unwrap();
        let mut s = UssdSession::default();
        let ask = |s: &mut UssdSession, sendid, code: &str| {
            s.request(sendid, code, &table, false);
            s.answer(sendid).unwrap().reply
        };
        assert_eq!(ask(&mut s, 10, "1"), UNKNOWN_CODE_REPLY, "no menu is open");
        assert_eq!(ask(&mut s, 20, "*123#"), "1 Balance\n2 Bonus");
        assert!(s.menu_open());
        assert_eq!(ask(&mut s, 30, "1"), "Balance 5 EUR");
        assert!(!s.menu_open(), "a choice closes the menu");
        assert_eq!(ask(&mut s, 40, "*123#"), "1 Balance\n2 Bonus");
        s.exit();
        assert!(!s.menu_open());
        assert_eq!(
            ask(&mut s, 50, "2"),
            UNKNOWN_CODE_REPLY,
            "USSDEXIT closed it"
        );
    }

    #[test]
    fn the_cache_rule() {
        let mut s = UssdSession::default();
        assert_eq!(
            query(&mut s, 5, "*100#"),
            UssdOutcome::Query { superseded: None }
        );
        let answer = s.answer(5).unwrap();
        assert_eq!(answer.reply, "Your balance is 10.00 EUR");
        assert_eq!(answer.code, "*100#");
        // Same and smaller sendids: the cached reply, even for another code.
        for sendid in [5, 4, 1] {
            assert_eq!(
                query(&mut s, sendid, "*101#"),
                UssdOutcome::Cached {
                    reply: "Your balance is 10.00 EUR".into()
                }
            );
        }
        assert_eq!(s.network_queries(), 1);
        // A larger one asks the network.
        assert_eq!(
            query(&mut s, 6, "*101#"),
            UssdOutcome::Query { superseded: None }
        );
        assert_eq!(s.answer(6).unwrap().reply, UNKNOWN_CODE_REPLY);
        assert_eq!(s.network_queries(), 2);
        assert_eq!(s.cached_sendid(), Some(6));
    }

    #[test]
    fn waiting_requests() {
        let mut s = UssdSession::default();
        query(&mut s, 5, "*100#");
        assert_eq!(
            query(&mut s, 5, "*100#"),
            UssdOutcome::InProgress { waiting: 5 }
        );
        assert_eq!(
            query(&mut s, 7, "*100#"),
            UssdOutcome::Query {
                superseded: Some(5)
            }
        );
        assert_eq!(s.answer(5), None);
        assert_eq!(s.exit(), Some(7));
        assert_eq!(s.answer(7), None);
        assert_eq!(s.exit(), None);
        assert_eq!(s.cached_sendid(), None);
    }

    #[test]
    fn failures_and_padding() {
        let mut s = UssdSession::default();
        s.request(3, "*100#", &UssdTable::default(), true);
        assert_eq!(s.answer(3).unwrap().reply, USSD_SEND_FAILED);
        assert_eq!(padded("Balance 1", 3), "Balance 1@@@");
        assert_eq!(padded("x", 0), "x");
    }

    #[test]
    fn table_entries() {
        let mut t = UssdTable::empty();
        assert_eq!(t.reply("*100#"), UNKNOWN_CODE_REPLY);
        let (code, text) = UssdTable::parse_entry("*101#=Bonus: 5 MB; valid=30 days").unwrap();
        assert_eq!(text, "Bonus: 5 MB; valid=30 days");
        t.insert(&code, &text).unwrap();
        t.insert("1", "Menu choice one").unwrap();
        t.insert("*101#", "Bonus: 6 MB").unwrap();
        assert_eq!(t.reply("*101#"), "Bonus: 6 MB");
        assert_eq!(t.to_string(), "*101#=Bonus: 6 MB\n1=Menu choice one\n");
        assert!(matches!(
            t.insert("*100# x", "y"),
            Err(UssdTableError::BadCode(_))
        ));
        assert!(matches!(
            UssdTable::parse_entry("*100#"),
            Err(UssdTableError::NotAnEntry(_))
        ));
    }
}
