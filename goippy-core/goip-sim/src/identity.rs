//! What a simulated channel says about itself in keepalives: IMEI, IMSI,
//! ICCID, carrier, signal and serving cell.
//!
//! The values are made up but shaped like real ones (15-digit IMEI and
//! 19-digit ICCID with valid Luhn check digits, a 15-digit IMSI, hex cell
//! ids), and they differ per channel, so a server that shows or checks them
//! sees something plausible. They use the test ranges nobody owns: the IMSI
//! uses MCC 001 (the ITU test network) and the ICCID the matching prefix.

/// A channel's radio identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub imei: String,
    pub imsi: String,
    pub iccid: String,
    /// The carrier name (`pro:`); may contain spaces.
    pub carrier: String,
    /// GSM CSQ, 0–31 (99 = unknown).
    pub signal: u8,
    /// Location area code, hex.
    pub lac: String,
    /// Serving cell id, hex.
    pub cell_id: String,
    /// Neighbour cells (ARFCNs), for `CELLS:`.
    pub neighbours: Vec<String>,
}

/// The Luhn check digit for a string of digits.
fn luhn_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

fn with_luhn(digits: String) -> String {
    let check = luhn_digit(&digits);
    format!("{digits}{check}")
}

impl Identity {
    /// The identity of channel `channel` (from 1).
    pub fn for_channel(channel: usize) -> Identity {
        let n = channel % 1_000_000;
        Identity {
            imei: with_luhn(format!("86000000{n:06}")),
            imsi: format!("00101{n:010}"),
            iccid: with_luhn(format!("890010100000{n:06}")),
            carrier: "Sim Mobile".to_owned(),
            signal: 20 + (channel % 10) as u8,
            lac: "7E5".to_owned(),
            cell_id: format!("{:04X}", 0x5E5B_usize.wrapping_add(channel) % 0x10000),
            neighbours: vec!["689".into(), "638".into(), "783".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_known_numbers() {
        // A well-known example IMEI and a Visa test card number.
        assert_eq!(luhn_digit("49015420323751"), 8);
        assert_eq!(luhn_digit("411111111111111"), 1);
    }

    #[test]
    fn shapes() {
        let a = Identity::for_channel(1);
        let b = Identity::for_channel(2);
        assert_eq!(a.imei.len(), 15);
        assert_eq!(a.imsi.len(), 15);
        assert_eq!(a.iccid.len(), 19);
        assert_ne!(a.imei, b.imei);
        assert_ne!(a.cell_id, b.cell_id);
        assert!(a.imei.bytes().all(|c| c.is_ascii_digit()));
        assert!(a.signal <= 31);
    }
}
