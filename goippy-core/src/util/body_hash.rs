//! The hash of a message body in a dedup key.
//!
//! The engine's in-memory dedup cache and the store's `goippy_dedup` table
//! recognise a retransmitted notification by the same key, and the store
//! persists the hash: it must be the same in every run, build and Rust
//! version (which rules out `std`'s `DefaultHasher`), so it is written once,
//! here, for both.

use sha2::{Digest, Sha256};

/// A stable 64-bit hash of a message body: the first 8 bytes of its SHA-256.
pub(crate) fn body_hash(body: &[u8]) -> u64 {
    let digest = Sha256::digest(body);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// [`body_hash`] of a text, with its bits kept as the signed integer SQL
/// columns hold.
pub(crate) fn body_hash_column(text: &str) -> i64 {
    i64::from_be_bytes(body_hash(text.as_bytes()).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_is_stable() {
        // Persisted by the store: it must not change between runs or builds.
        // SHA-256("hello") = 2cf24dba5fb0a30e…
        assert_eq!(body_hash(b"hello"), 0x2cf2_4dba_5fb0_a30e);
        assert_ne!(body_hash(b"hello"), body_hash(b"hellO"));
    }

    #[test]
    fn body_hash_column_is_stable_and_discriminates() {
        assert_eq!(body_hash_column("hello"), body_hash_column("hello"));
        assert_ne!(body_hash_column("hello"), body_hash_column("hello "));
        // SHA-256("") starts with e3b0c44298fc1c14.
        assert_eq!(
            body_hash_column(""),
            i64::from_be_bytes([0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14])
        );
    }
}
