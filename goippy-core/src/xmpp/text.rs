//! Making text safe to put into an XML 1.0 stream.
//!
//! SMS and USSD text reaches goippy from a GSM modem through a UDP datagram
//! and a lossy UTF-8 decoding, so it can hold characters XML 1.0 forbids:
//! most C0 controls (a stray `\x00`, `\x1b` from a GSM escape, `\x07`…) and
//! the non-characters U+FFFE/U+FFFF. (Lone surrogates cannot reach a Rust
//! `str`: lossy decoding has already turned them into U+FFFD, which XML
//! allows.) Prosody closes a component stream that sends one of them
//! (`not-well-formed`), and tokio-xmpp's encoder refuses to write them at
//! all, so either way the message would never arrive. Every such character is
//! replaced with U+FFFD REPLACEMENT CHARACTER, so the reader sees that
//! something was there; TAB, LF and CR are kept.
//!
//! [`xml_safe`] is what the stanza builders call on every piece of outside
//! text; [`sanitize_element`] is the connection's last resort for a stanza
//! that was built without them.

use std::borrow::Cow;

use tokio_xmpp::minidom::{Element, Node};

/// What a forbidden character becomes.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether XML 1.0 allows `c` in character data and attribute values
/// (production `Char` of the XML 1.0 specification).
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// `text` with every character XML 1.0 forbids replaced by U+FFFD; borrowed
/// when nothing had to change (the usual case).
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { REPLACEMENT })
            .collect(),
    )
}

/// Replaces forbidden characters in every text node and attribute value of
/// `element` and its descendants. Returns how many strings had to change.
pub fn sanitize_element(element: &mut Element) -> usize {
    // 1 if `text` had to change.
    let fix = |text: &mut String| match xml_safe(text) {
        Cow::Owned(safe) => {
            *text = safe;
            1
        }
        Cow::Borrowed(_) => 0,
    };
    let mut changed: usize = element.attrs_mut().iter_mut().map(|(_, v)| fix(v)).sum();
    for node in element.nodes_mut() {
        changed += match node {
            Node::Text(text) => fix(text),
            Node::Element(child) => sanitize_element(child),
        };
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c0_control_but_tab_lf_cr_is_replaced() {
        for code in 0u32..0x20 {
            let c = char::from_u32(code).expect("C0 controls are chars");
            let text = format!("a{c}b");
            let safe = xml_safe(&text);
            if matches!(code, 0x9 | 0xA | 0xD) {
                assert_eq!(safe, text, "U+{code:04X} must be kept");
                assert!(matches!(safe, Cow::Borrowed(_)));
            } else {
                assert_eq!(safe, "a\u{FFFD}b", "U+{code:04X} must be replaced");
            }
        }
    }

    #[test]
    fn non_characters_are_replaced() {
        assert_eq!(xml_safe("x\u{FFFE}y\u{FFFF}z"), "x\u{FFFD}y\u{FFFD}z");
    }

    #[test]
    fn lossy_decoded_surrogates_stay_as_replacement_characters() {
        // CESU-8 of a lone high surrogate (U+D800): invalid UTF-8.
        let decoded = String::from_utf8_lossy(b"ok \xed\xa0\x80 done");
        assert!(decoded.contains('\u{FFFD}'));
        assert_eq!(xml_safe(&decoded), decoded);
        assert!(xml_safe(&decoded).chars().all(is_xml_char));
    }

    #[test]
    fn ordinary_text_is_borrowed_untouched() {
        let text = "Tere! Ümberlükatud €5, 日本語, emoji 📱, DEL \u{7f}, NEL \u{85}";
        assert!(matches!(xml_safe(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn elements_are_sanitised_deeply() {
        let mut element = Element::builder("message", "jabber:component:accept")
            .append(
                Element::builder("body", "jabber:component:accept")
                    .append("bell\u{7}")
                    .build(),
            )
            .build();
        assert_eq!(sanitize_element(&mut element), 1);
        let body = element
            .get_child("body", "jabber:component:accept")
            .expect("body");
        assert_eq!(body.text(), "bell\u{FFFD}");
        assert_eq!(sanitize_element(&mut element), 0);
    }

    proptest::proptest! {
        #[test]
        fn output_is_always_xml(text in ".*") {
            let safe = xml_safe(&text);
            proptest::prop_assert!(safe.chars().all(is_xml_char));
            proptest::prop_assert_eq!(safe.chars().count(), text.chars().count());
        }
    }
}
