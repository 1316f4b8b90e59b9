//! Identity: passwords and access tokens.
//!
//! Passwords are hashed with Argon2id (PHC strings). Access tokens are short-lived HS256 JWTs
//! carrying the user id, the tier and the signing key's id (`kid`) so keys can rotate: tokens
//! signed by a previous key stay valid until they expire.

pub mod passwords;
pub mod tokens;

pub use tokens::{AccessClaims, TokenError, TokenKeys};

/// Normalises an email for storage and lookup: trimmed and lowercased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether an email looks deliverable enough to accept (one `@`, a dotted domain, no spaces).
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 255
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_checks_emails() {
        assert_eq!(normalise_email("  Ada@Example.COM "), "ada@example.com");
        assert!(is_plausible_email("ada@example.com"));
        assert!(!is_plausible_email("ada@example"));
        assert!(!is_plausible_email("ada example@x.com"));
        assert!(!is_plausible_email("@x.com"));
        assert!(!is_plausible_email("a@b@c.com"));
    }
}
