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
//! COMPAT: goippy's first releases matched the pattern against the
//! *whole* number, and their README showed `\+372\d+`. Read as a search,
//! such a row keeps its meaning at the front (a number has its `+` only
//! there); a bounded tail (`\+372\d{7,8}`) then also allows longer numbers
//! of the same prefix, and a row anchored nowhere (`1345|1346`) also allows
//! numbers that merely contain it. `goippy --add` shows on a few sample
//! numbers what a pattern allows, and `^(…)$` says "exactly this".

use regex::Regex;
use regex_syntax::hir::Hir;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// The compiled ACL of a non-empty allow_regex.
#[derive(Debug, Clone)]
pub struct DestinationAcl {
    regex: Regex,
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
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .build()?;
        // The same syntax regex accepted; should it fail here, the pattern
        // simply suggests no samples of its own.
        let own_samples = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .map(|h| samples_from_prefix(&h))
            .unwrap_or_default();
        Ok(Some(DestinationAcl { regex, own_samples }))
    }

    /// Whether `destination` (`+37255512345`, or a short code) is allowed.
    pub fn allows(&self, destination: &str) -> bool {
        self.regex.is_match(destination)
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

/// Up to two numbers the pattern's own literal prefix suggests: a
/// `+`-number shorter than a mobile number is filled up with zeros and a
/// final 1 (`^\+3712` → `+37120000001`); anything else is taken as it is.
fn samples_from_prefix(hir: &Hir) -> Vec<String> {
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
        let sample = if text.starts_with('+') && digits.len() < SAMPLE_DIGITS {
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
    fn patterns_are_searched_as_written() {
        let a = acl(r"^\+3712");
        assert!(a.allows("+37120000001"));
        assert!(!a.allows("+37255512345"));
        assert!(!a.allows("+4915112345678"));
        let a = acl(r"^\+372");
        assert!(a.allows("+37255512345"));
        assert!(!a.allows("+4937255512345"));
        let a = acl(".*");
        assert!(a.allows("+4915112345678") && a.allows("1345"));
        // Unanchored: found anywhere in the number, as grep finds it.
        let a = acl("372");
        assert!(a.allows("+37255512345") && a.allows("+4937255512345"));
        assert!(!a.allows("+4915112345678"));
        let a = acl("1345|1346");
        assert!(a.allows("1345") && a.allows("+4913451234567"));
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
    }

    /// The form goippy's first releases documented keeps its meaning at the
    /// front.
    #[test]
    fn rows_written_for_the_whole_number_rule_keep_their_front() {
        let a = acl(r"\+372\d+");
        assert!(a.allows("+37255512345"));
        assert!(!a.allows("+4915112345678"));
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
