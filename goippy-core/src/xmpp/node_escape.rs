//! JID localparts for SMS senders that are names, not numbers (XEP-0106).
//!
//! Banks and services send SMS under alphanumeric sender IDs ("Swedbank",
//! "My Bank"). goippy delivers them from `<name>@XMPP_DATA_DOMAIN`, so the
//! name must become a valid JID localpart:
//!
//! * the ten characters a localpart cannot hold (space `" & ' / : < > @` and a
//!   backslash that would start an escape) are written as XEP-0106 escapes
//!   (`My Bank` → `my\20bank`);
//! * the `jid` crate (like Prosody) then applies *nodeprep*, which folds case:
//!   `Swedbank` becomes `swedbank`. The original spelling cannot be recovered
//!   from the JID, so the inbound message also carries the name as a
//!   XEP-0172 nickname (see [`super::reply`]); nobody can reply to such a
//!   sender anyway, so only the display suffers, not the routing;
//! * leading/trailing spaces are trimmed (XEP-0106 forbids `\20` at either
//!   end), the name is bounded to [`MAX_NAME_CHARS`], and characters nodeprep
//!   rejects (controls, U+FFFD left by lossy decoding, mixed-direction text)
//!   become `_`, so *every* input yields some valid localpart.

use std::borrow::Cow;

use tokio_xmpp::jid::NodePart;

/// Longest sender name kept (GSM allows 11 characters; this leaves room
/// for odd gateways while bounding what an unknown sender can make us store).
pub const MAX_NAME_CHARS: usize = 64;

/// The localpart used when nothing of the name survives.
pub const UNKNOWN_SENDER: &str = "unknown";

/// The localpart of a sender who withheld the number (clients show
/// `withheld-number@sms.example.org`, with the nickname "Withheld number").
/// No sender name maps to it: [`sender_node`] moves one that would aside.
pub const WITHHELD_NODE: &str = "withheld-number";

/// What a client shows as the name of a sender who withheld the number.
pub const WITHHELD_NAME: &str = "Withheld number";

/// The characters XEP-0106 escapes, with their escape codes.
const ESCAPES: [(char, &str); 10] = [
    (' ', "20"),
    ('"', "22"),
    ('&', "26"),
    ('\'', "27"),
    ('/', "2f"),
    (':', "3a"),
    ('<', "3c"),
    ('>', "3e"),
    ('@', "40"),
    ('\\', "5c"),
];

fn code_of(c: char) -> Option<&'static str> {
    ESCAPES
        .iter()
        .find(|(ch, _)| *ch == c)
        .map(|(_, code)| *code)
}

fn char_of(code: &str) -> Option<char> {
    ESCAPES
        .iter()
        .find(|(_, esc)| esc.eq_ignore_ascii_case(code))
        .map(|(ch, _)| *ch)
}

/// Whether `s` starts with a backslash followed by one of the ten codes.
fn starts_with_escape(s: &str) -> bool {
    s.strip_prefix('\\')
        .and_then(|rest| rest.get(..2))
        .is_some_and(|code| char_of(code).is_some())
}

/// XEP-0106 escaping of `name` (no nodeprep, no trimming). A backslash is
/// escaped only where it would otherwise start an escape sequence.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.char_indices() {
        match code_of(c) {
            Some(code) if c != '\\' || starts_with_escape(&name[i..]) => {
                out.push('\\');
                out.push_str(code);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`]: `my\20bank` → `my bank`. Sequences that are not one
/// of the ten escapes are left as they are.
pub fn unescape(node: &str) -> Cow<'_, str> {
    if !node.contains('\\') {
        return Cow::Borrowed(node);
    }
    let mut out = String::with_capacity(node.len());
    let mut rest = node;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match tail.get(1..3).and_then(char_of) {
            Some(c) => {
                out.push(c);
                rest = &tail[3..];
            }
            None => {
                out.push('\\');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The JID localpart for an SMS sender name. Never fails: see the module
/// documentation for what is folded, escaped, replaced or cut. Never
/// [`WITHHELD_NODE`] either: a name that would become it gets a `_`
/// appended, so that a reply to it is not taken for one to a withheld number.
pub fn sender_node(name: &str) -> NodePart {
    let node = any_sender_node(name);
    if node.as_str() == WITHHELD_NODE {
        return prepped(&format!("{WITHHELD_NODE}_")).unwrap_or_else(unknown);
    }
    node
}

fn any_sender_node(name: &str) -> NodePart {
    let bounded: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    let trimmed = bounded.trim();
    if trimmed.is_empty() {
        return unknown();
    }
    // Most names pass as they are.
    if let Some(node) = prepped(&escape(trimmed)) {
        return node;
    }
    // `_` for every character that fails `keep`, escaped and prepped.
    let kept = |keep: fn(char) -> bool| {
        let kept: String = trimmed
            .chars()
            .map(|c| if keep(c) { c } else { '_' })
            .collect();
        prepped(&escape(&kept))
    };
    // Drop what nodeprep rejects character by character…
    kept(|c| code_of(c).is_some() || NodePart::new(c.encode_utf8(&mut [0; 4])).is_ok())
        // …and if the mix still fails (bidirectional rules), keep printable ASCII.
        .or_else(|| kept(|c| c.is_ascii_graphic() || c == ' '))
        .unwrap_or_else(unknown)
}

fn prepped(escaped: &str) -> Option<NodePart> {
    NodePart::new(escaped).ok().map(Cow::into_owned)
}

fn unknown() -> NodePart {
    #[allow(clippy::expect_used)]
    NodePart::new(UNKNOWN_SENDER)
        .map(Cow::into_owned)
        .expect("\"unknown\" is a valid JID localpart")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> String {
        sender_node(name).to_string()
    }

    #[test]
    fn names_become_localparts() {
        assert_eq!(node("Swedbank"), "swedbank");
        assert_eq!(node("My Bank"), "my\\20bank");
        assert_eq!(node("  Padded  "), "padded");
        assert_eq!(node("AT&T"), "at\\26t");
        assert_eq!(node("a@b/c:d"), "a\\40b\\2fc\\3ad");
        assert_eq!(node("\"Q\" <x>"), "\\22q\\22\\20\\3cx\\3e");
        assert_eq!(node("it's"), "it\\27s");
        assert_eq!(node("Сбербанк"), "сбербанк");
    }

    #[test]
    fn no_sender_name_becomes_the_withheld_number() {
        assert_eq!(node("Withheld-Number"), "withheld-number_");
        assert_eq!(node("withheld number"), "withheld\\20number");
    }

    #[test]
    fn backslashes_are_escaped_only_before_escape_codes() {
        assert_eq!(escape("a\\b"), "a\\b");
        assert_eq!(escape("a\\20b"), "a\\5c20b");
        assert_eq!(unescape("a\\5c20b"), "a\\20b");
        assert_eq!(node("a\\b"), "a\\b");
    }

    #[test]
    fn unescaping_reverses_escaping() {
        for name in [
            "my bank",
            "at&t",
            "a@b/c:d",
            "\"q\" <x>",
            "it's",
            "a\\20b",
            "x\\y",
        ] {
            assert_eq!(unescape(&escape(name)), name, "{name:?}");
        }
        assert_eq!(unescape("my\\20bank"), "my bank");
        assert_eq!(unescape("my\\2Fbank"), "my/bank");
        assert_eq!(unescape("odd\\zzend\\"), "odd\\zzend\\");
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn case_folding_is_the_only_loss() {
        // Nodeprep lowercases, so the display name travels separately.
        assert_eq!(unescape(&node("My Bank")), "my bank");
    }

    #[test]
    fn hopeless_names_still_give_a_valid_localpart() {
        assert_eq!(node(""), UNKNOWN_SENDER);
        assert_eq!(node("   "), UNKNOWN_SENDER);
        assert_eq!(node("bad\u{FFFD}bytes"), "bad_bytes");
        assert_eq!(node("ctl\u{1}x"), "ctl_x");
        // Right-to-left mixed with left-to-right fails nodeprep's bidi rule.
        let mixed = node("abc\u{05D0}1");
        assert!(NodePart::new(&mixed).is_ok(), "{mixed:?}");
        assert_eq!(mixed, "abc_1");
        let long = "x".repeat(500);
        assert_eq!(node(&long).len(), MAX_NAME_CHARS);
    }

    proptest::proptest! {
        #[test]
        fn every_name_gives_a_valid_localpart(name in ".*") {
            let n = sender_node(&name);
            proptest::prop_assert!(NodePart::new(&n).is_ok());
            proptest::prop_assert!(!n.is_empty());
        }
    }
}
