//! How a phone cuts a long SMS into segments (3GPP TS 23.038 and 23.040).
//!
//! A text goes out in one of two alphabets: the GSM 7-bit default alphabet
//! when every character is in its basic table or its extension table, UCS-2
//! (UTF-16) otherwise — one emoji or Cyrillic letter makes the whole
//! message UCS-2. One SMS holds 160 septets or 70 UTF-16 units; a longer
//! text becomes several, each carrying a 6-byte header (UDH) that leaves
//! room for 153 septets or 67 units. An extension character (`€`, `[`, `{`,
//! `|`, `~`, …) costs two septets (an escape and the character), a
//! character outside the Basic Multilingual Plane (most emoji) two UTF-16
//! units, and phones never cut one of them in two: a segment that ends
//! before such a character carries one unit less.
//!
//! Two sides use this: some GoIP firmware hands each segment of a long SMS
//! over as a RECEIVE of its own, without the header, and the inbox pump
//! joins them again by their length (`bridge/inbox/concat.rs`); goip-sim
//! cuts long texts the same way to play such firmware ([`split`]).
//! National language shift tables (Turkish, Portuguese, Indian languages)
//! make segments shorter still; they are not modelled.

/// The alphabet a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// The GSM 7-bit default alphabet; lengths are in septets.
    Gsm7,
    /// UCS-2 (UTF-16 on modern phones); lengths are in UTF-16 units.
    Ucs2,
}

impl Alphabet {
    /// The most units a message of one SMS may have.
    pub const fn single(self) -> usize {
        match self {
            Alphabet::Gsm7 => 160,
            Alphabet::Ucs2 => 70,
        }
    }

    /// The units of one segment of a long (concatenated) SMS.
    pub const fn segment(self) -> usize {
        match self {
            Alphabet::Gsm7 => 153,
            Alphabet::Ucs2 => 67,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Alphabet::Gsm7 => "GSM-7",
            Alphabet::Ucs2 => "UCS-2",
        }
    }

    /// What `c` costs in this alphabet: septets (2 for an extension
    /// character) or UTF-16 units (2 outside the BMP); `None` if a GSM-7
    /// text cannot hold it.
    pub fn units_of(self, c: char) -> Option<usize> {
        match self {
            Alphabet::Gsm7 => gsm7_septets(c),
            Alphabet::Ucs2 => Some(c.len_utf16()),
        }
    }

    /// What `text` costs in this alphabet; `None` if it is not all GSM-7.
    pub fn units(self, text: &str) -> Option<usize> {
        text.chars().map(|c| self.units_of(c)).sum()
    }
}

/// The alphabet a phone sends `text` in: GSM-7 when it can hold every
/// character, else UCS-2.
pub fn alphabet(text: &str) -> Alphabet {
    if text.chars().all(|c| gsm7_septets(c).is_some()) {
        Alphabet::Gsm7
    } else {
        Alphabet::Ucs2
    }
}

/// Septets of `c` in the GSM 7-bit default alphabet: 1 in the basic table,
/// 2 in the extension table (escape + character), `None` outside both.
pub fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' => Some(1),
        // The rest of the basic table, in table order (0x00–0x7F; 0x1B is
        // the escape to the extension table).
        '@' | '£' | '$' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | '\n' | 'Ø' | 'ø' | '\r'
        | 'Å' | 'å' | 'Δ' | '_' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ'
        | 'æ' | 'ß' | 'É' | ' ' | '!' | '"' | '#' | '¤' | '%' | '&' | '\'' | '(' | ')' | '*'
        | '+' | ',' | '-' | '.' | '/' | ':' | ';' | '<' | '=' | '>' | '?' | '¡' | 'Ä' | 'Ö'
        | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        // The extension table.
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// `text` cut into the segments a phone sends it as: the whole text when
/// it fits one SMS, else pieces of at most [`Alphabet::segment`] units,
/// never cutting a character in two. Each piece is a slice of `text`.
pub fn split(text: &str) -> Vec<&str> {
    let alphabet = alphabet(text);
    let total = alphabet.units(text).unwrap_or(usize::MAX);
    if total <= alphabet.single() {
        return vec![text];
    }
    let limit = alphabet.segment();
    let mut parts = Vec::with_capacity(total / limit + 1);
    let mut start = 0;
    let mut used = 0;
    for (at, c) in text.char_indices() {
        // Every character fits the alphabet chosen for the whole text.
        let units = alphabet.units_of(c).unwrap_or(2);
        if used + units > limit {
            parts.push(&text[start..at]);
            start = at;
            used = 0;
        }
        used += units;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_and_extension_tables() {
        // 128 basic positions, minus the escape: 127 characters.
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        assert_eq!(basic.chars().count(), 127);
        assert!(basic.chars().all(|c| gsm7_septets(c) == Some(1)), "{basic}");
        let extension = "\u{0C}^{}\\[~]|€";
        assert!(extension.chars().all(|c| gsm7_septets(c) == Some(2)));
        assert_eq!(Alphabet::Gsm7.units(extension), Some(20));
        // Common characters that are in neither: the text goes as UCS-2.
        for c in ['`', 'ç', 'õ', 'š', 'ž', 'д', '✓', '😀', '\t', '\u{1B}'] {
            assert_eq!(gsm7_septets(c), None, "{c:?}");
        }
        assert_eq!(alphabet("Tere! Kas tuled? {ok} 5€"), Alphabet::Gsm7);
        assert_eq!(alphabet("Tere, kõik hästi"), Alphabet::Ucs2);
        assert_eq!(
            Alphabet::Ucs2.units("a😀д"),
            Some(4),
            "an emoji is two units"
        );
        assert_eq!(Alphabet::Gsm7.units("a😀"), None);
    }

    #[test]
    fn a_text_that_fits_one_sms_is_not_split() {
        let gsm = "x".repeat(160);
        assert_eq!(split(&gsm), [gsm.as_str()]);
        let ucs = "д".repeat(70);
        assert_eq!(split(&ucs), [ucs.as_str()]);
        // 80 euro signs are 160 septets: still one SMS.
        let euros = "€".repeat(80);
        assert_eq!(split(&euros).len(), 1);
        assert_eq!(split("").len(), 1);
    }

    #[test]
    fn gsm7_splits_at_153_septets_and_never_inside_an_escape() {
        let text = "a".repeat(161);
        let parts = split(&text);
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [153, 8]);
        // An escape that would straddle the boundary moves to the next part.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let parts = split(&text);
        assert_eq!(parts, [&text[..152], &text[152..]]);
        assert!(parts[1].starts_with('€'));
        // Escapes count two: 76 of them and one more character fill a part.
        let text = format!("{}x{}", "[".repeat(76), "y".repeat(10));
        let parts = split(&text);
        assert_eq!(Alphabet::Gsm7.units(parts[0]), Some(153));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn ucs2_splits_at_67_units_and_never_inside_an_emoji() {
        let text = "д".repeat(150);
        let parts = split(&text);
        let lengths: Vec<usize> = parts.iter().map(|p| p.chars().count()).collect();
        assert_eq!(lengths, [67, 67, 16]);
        // One emoji makes the whole text UCS-2, its ASCII part too.
        let text = format!("{} 😀", "a".repeat(100));
        let parts = split(&text);
        assert_eq!(parts[0], "a".repeat(67));
        // An emoji at the boundary: 66 units, the emoji opens the next part.
        let text = format!("{}😀{}", "a".repeat(66), "b".repeat(10));
        let parts = split(&text);
        assert_eq!(Alphabet::Ucs2.units(parts[0]), Some(66));
        assert!(parts[1].starts_with('😀'));
        assert_eq!(parts.concat(), text);
    }
}
