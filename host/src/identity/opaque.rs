//! Opaque secrets handed to clients (refresh tokens, password-reset tokens): 32 random bytes,
//! base64url without padding. Only their SHA-256 (lowercase hex) is ever stored, so a copy of
//! the database does not let anyone use them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The number of random bytes in a token.
pub const TOKEN_BYTES: usize = 32;

/// A fresh token as handed to the client, and the hash that is stored.
#[derive(Clone)]
pub struct OpaqueToken {
    /// The token itself (never stored, never logged).
    pub token: String,
    /// Its SHA-256, lowercase hex.
    pub hash: String,
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueToken")
            .field("token", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Generates a token from the operating system's random source.
pub fn generate() -> OpaqueToken {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    OpaqueToken { token, hash }
}

/// The stored form of a token: SHA-256 of its text, lowercase hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of a token this module makes (43 base64url characters), so
/// obviously malformed input can be refused without a database round trip.
pub fn is_well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert!(is_well_formed(&a.token), "{}", a.token);
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(
            a.hash
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(
            !format!("{a:?}").contains(&a.token),
            "Debug never shows the token"
        );
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&format!("{}=", &a.token[..42])));
    }
}
