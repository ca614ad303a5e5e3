//! What an extension's `allow_regex` allows: the destination ACL.
//!
//! The original goippy documented `allow_regex` as "regex of allowed
//! destination numbers", with `.*` as its default, and its installations
//! hold rows such as `^\+372`: patterns written to be *searched* in the
//! number, the way grep and Python's `re.search` read them. So a pattern is
//! searched, and anchors are where the admin wrote them: `^\+3712` allows
//! `+37120000001`, `^\+372\d{7,8}$` allows exactly +372 and 7 or 8 digits.
//! A destination has its `+` only in front (`+37255512345`, or a short code
//! such as `1345` without one), so a pattern that starts with `\+` is
//! anchored at the front as well, and `.*` in front says "anywhere".
//!
//! COMPAT: goippy's first releases matched the pattern against the *whole*
//! number, and their README showed `\+372\d+`. Such rows keep their meaning
//! when searched as long as they are anchored at the front (above): at
//! most a bounded tail (`\+372\d{7,8}`) then also allows longer numbers of
//! the same prefix. A row that says nowhere where its match starts
//! (`1345|1346`) would become much looser — searched, it also allows
//! `+4913451234567` — and an ACL that silently opens is worse than one that
//! refuses: the user sees a refusal, the admin a warning. So such a pattern
//! keeps the whole-number reading ([`AclReading::Whole`]); writing `^…$`, `^…`
//! or `.*…` says which was meant. This can go once no database holds rows
//! from before the search reading.

use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// How a pattern is applied to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclReading {
    /// Searched in the number; anchored where the pattern says.
    Searched,
    /// COMPAT: the pattern says nowhere where it starts, so it must match
    /// the whole number, as goippy's first releases read every pattern.
    Whole,
}

/// The compiled ACL of a non-empty allow_regex.
#[derive(Debug, Clone)]
pub struct DestinationAcl {
    regex: Regex,
    reading: AclReading,
    /// Numbers the pattern's own prefix suggests (`^\+3712` → `+37120000001`).
    own_samples: Vec<String>,
}

/// How much compiled program one pattern may take; far more than any
/// sensible ACL, far less than what a hand-edited row could ask for.
const SIZE_LIMIT: usize = 1 << 20;

/// Numbers from a few countries and a short code, which `goippy --add`
/// checks a new pattern against so the admin sees what it means.
pub const SAMPLE_NUMBERS: &[&str] = &[
    "+37255512345",
    "+4915112345678",
    "+447700900123",
    "+12025550123",
    "1345",
];

/// How many digits a sample made from a pattern's prefix gets: a typical
/// international mobile number.
const SAMPLE_DIGITS: usize = 11;

impl DestinationAcl {
    /// Compiles `pattern`; `None` when it is empty (every destination is
    /// allowed).
    pub fn compile(pattern: &str) -> Result<Option<DestinationAcl>, regex::Error> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Ok(None);
        }
        let build = |p: &str| regex::RegexBuilder::new(p).size_limit(SIZE_LIMIT).build();
        // Compiling first reports a syntax error against the pattern as
        // written, not against the wrapped one.
        let searched = build(pattern)?;
        // The same syntax regex accepted; failing here is not expected, and
        // then the pattern is simply treated as saying nothing about its start.
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok();
        let reading = match &hir {
            Some(h) if starts_anchored(h) => AclReading::Searched,
            _ => AclReading::Whole,
        };
        let regex = match reading {
            AclReading::Searched => searched,
            AclReading::Whole => build(&format!("^(?:{pattern})$"))?,
        };
        let own_samples = hir
            .map(|h| samples_from_prefix(&h, reading))
            .unwrap_or_default();
        Ok(Some(DestinationAcl {
            regex,
            reading,
            own_samples,
        }))
    }

    /// Whether `destination` (`+37255512345`, or a short code) is allowed.
    pub fn allows(&self, destination: &str) -> bool {
        self.regex.is_match(destination)
    }

    pub fn reading(&self) -> AclReading {
        self.reading
    }

    /// The sample numbers to show for this pattern: first those made from
    /// its own prefix, then [`SAMPLE_NUMBERS`].
    pub fn samples(&self) -> Vec<String> {
        let mut all = self.own_samples.clone();
        for s in SAMPLE_NUMBERS {
            if !all.iter().any(|a| a == s) {
                all.push((*s).to_string());
            }
        }
        all
    }
}

/// Whether every match of `hir` must begin at the start of the number: it
/// starts with `^`, with a literal `+` (a number has its `+` only in
/// front), or with `.*` (which reaches back to the start from anywhere).
fn starts_anchored(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Look(look) => matches!(look, Look::Start | Look::StartLF | Look::StartCRLF),
        HirKind::Literal(lit) => lit.0.first() == Some(&b'+'),
        HirKind::Class(class) => class_is_only_plus(class),
        HirKind::Capture(capture) => starts_anchored(&capture.sub),
        HirKind::Concat(items) => items
            .first()
            .is_some_and(|first| starts_anchored(first) || reaches_anywhere(first)),
        HirKind::Alternation(branches) => branches.iter().all(starts_anchored),
        HirKind::Repetition(rep) => {
            (rep.min >= 1 && starts_anchored(&rep.sub)) || reaches_anywhere(hir)
        }
        HirKind::Empty => false,
    }
}

/// `.*`, `[0-9+]*` and the like: any run of number characters.
fn reaches_anywhere(hir: &Hir) -> bool {
    let HirKind::Repetition(rep) = hir.kind() else {
        return false;
    };
    if rep.min != 0 || rep.max.is_some() {
        return false;
    }
    let sub = match rep.sub.kind() {
        HirKind::Capture(c) => &c.sub,
        _ => &rep.sub,
    };
    match sub.kind() {
        HirKind::Class(class) => ('0'..='9').chain(['+']).all(|c| class_contains(class, c)),
        _ => false,
    }
}

fn class_contains(class: &Class, c: char) -> bool {
    match class {
        Class::Unicode(u) => u.ranges().iter().any(|r| r.start() <= c && c <= r.end()),
        Class::Bytes(b) => u8::try_from(c).is_ok_and(|byte| {
            b.ranges()
                .iter()
                .any(|r| r.start() <= byte && byte <= r.end())
        }),
    }
}

fn class_is_only_plus(class: &Class) -> bool {
    match class {
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .all(|r| r.start() == '+' && r.end() == '+'),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .all(|r| r.start() == b'+' && r.end() == b'+'),
    }
}

/// Up to two numbers the pattern's own literal prefix suggests. A prefix
/// that is a whole number (the pattern matches exactly that, read whole) is
/// taken as it is; a shorter one is filled up with zeros and a final 1.
fn samples_from_prefix(hir: &Hir, reading: AclReading) -> Vec<String> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let Some(literals) = seq.literals() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for lit in literals {
        let Ok(text) = std::str::from_utf8(lit.as_bytes()) else {
            continue;
        };
        let digits = text.strip_prefix('+').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let sample = if lit.is_exact() && reading == AclReading::Whole {
            text.to_string()
        } else if text.starts_with('+') && digits.len() < SAMPLE_DIGITS {
            let zeros = SAMPLE_DIGITS - digits.len() - 1;
            format!("+{digits}{}1", "0".repeat(zeros))
        } else {
            text.to_string()
        };
        if !out.contains(&sample) {
            out.push(sample);
        }
        if out.len() == 2 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(pattern: &str) -> DestinationAcl {
        DestinationAcl::compile(pattern)
            .expect("valid")
            .expect("not empty")
    }

    #[test]
    fn empty_allows_everything() {
        assert!(DestinationAcl::compile("").expect("valid").is_none());
        assert!(DestinationAcl::compile("  ").expect("valid").is_none());
    }

    #[test]
    fn patterns_of_the_original_are_searched() {
        let a = acl(r"^\+3712");
        assert_eq!(a.reading(), AclReading::Searched);
        assert!(a.allows("+37120000001"));
        assert!(!a.allows("+37255512345"));
        assert!(!a.allows("+4915112345678"));
        let a = acl(r"^\+372");
        assert!(a.allows("+37255512345"));
        assert!(!a.allows("+4937255512345"));
        let a = acl(".*");
        assert_eq!(a.reading(), AclReading::Searched);
        assert!(a.allows("+4915112345678") && a.allows("1345"));
        let a = acl(r"\+372");
        assert_eq!(a.reading(), AclReading::Searched);
        assert!(a.allows("+37255512345"));
    }

    #[test]
    fn anchors_are_where_they_are_written() {
        let a = acl(r"^\+372\d{7,8}$");
        assert!(a.allows("+37255512345"));
        assert!(!a.allows("+372555123456789"));
        let a = acl(r"^(\+372|\+371)");
        assert!(a.allows("+37120000001") && a.allows("+37255512345"));
        assert!(!a.allows("+4915112345678"));
        let a = acl("^(1345|1346)$");
        assert!(a.allows("1346") && !a.allows("13456"));
        let a = acl(".*1345");
        assert_eq!(a.reading(), AclReading::Searched);
        assert!(a.allows("+4913451234567"));
    }

    /// Rows goippy's first releases wrote, read whole: the documented form
    /// keeps its meaning, and nothing becomes looser at the front.
    #[test]
    fn rows_written_for_the_whole_number_rule_stay_safe() {
        let a = acl(r"\+372\d+");
        assert_eq!(a.reading(), AclReading::Searched);
        assert!(a.allows("+37255512345"));
        assert!(!a.allows("+4915112345678"));
        let a = acl("1345|1346");
        assert_eq!(a.reading(), AclReading::Whole);
        assert!(a.allows("1345") && a.allows("1346"));
        assert!(!a.allows("+4913451234567"));
        assert!(!a.allows("13456"));
        let a = acl(r"\+372\d{7,8}|1345");
        assert_eq!(a.reading(), AclReading::Whole);
        assert!(a.allows("+37255512345") && a.allows("1345"));
        assert!(!a.allows("+4913451234567"));
        let a = acl(r"372\d+");
        assert_eq!(a.reading(), AclReading::Whole);
        assert!(!a.allows("+4937255512345"));
    }

    #[test]
    fn a_syntax_error_is_reported_against_the_pattern_as_written() {
        let e = DestinationAcl::compile("(").expect_err("invalid");
        assert!(e.to_string().contains("regex parse error"), "{e}");
        assert!(!e.to_string().contains("^(?:"), "{e}");
    }

    #[test]
    fn samples_include_the_patterns_own_prefix() {
        assert_eq!(acl(r"^\+3712").samples()[0], "+37120000001");
        let s = acl(r"^(\+372|\+49)").samples();
        assert_eq!(&s[..2], ["+37200000001", "+49000000001"]);
        assert_eq!(&acl("1345|1346").samples()[..2], ["1345", "1346"]);
        let s = acl(".*").samples();
        assert_eq!(s, SAMPLE_NUMBERS);
        // No duplicates when the prefix makes one of the fixed samples.
        let s = acl(r"^\+37255512345$").samples();
        assert_eq!(s.iter().filter(|n| *n == "+37255512345").count(), 1);
    }
}
