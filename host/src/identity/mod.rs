//! Identity: passwords, access and refresh tokens, login throttling and sign-in with Google
//! and Apple.
//!
//! Passwords are hashed with Argon2id (PHC strings). Access tokens are short-lived HS256 JWTs
//! carrying the user id, the tier and the signing key's id (`kid`) so keys can rotate: tokens
//! signed by a previous key stay valid until they expire. Refresh and password-reset tokens
//! are opaque random strings stored only as hashes ([`opaque`]); refresh tokens rotate within
//! a family with reuse detection ([`refresh`]). ID tokens of Google and Apple are verified
//! against the providers' published keys ([`oidc`]). Failed logins are throttled per account
//! and per client address ([`throttle`]).

pub mod callers;
pub mod housekeeping;
pub mod oidc;
pub mod opaque;
pub mod passwords;
pub mod refresh;
pub mod throttle;
pub mod tokens;

pub use tokens::{AccessClaims, Session, TokenError, TokenKeys};

use uuid::Uuid;

/// The authenticated caller of a request, as the `context` capability reveals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's id.
    pub user_id: Uuid,
    /// `free` or `premium`, as in force now.
    pub tier: String,
    /// IANA time zone.
    pub timezone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// Granted consent types.
    pub consents: Vec<String>,
}

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
        && !email.contains(|c: char| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_checks_emails() {
        assert_eq!(normalise_email("  Ada@Example.COM "), "ada@example.com");
        assert!(is_plausible_email("ada@example.com"));
        assert!(!is_plausible_email("ada\u{0}@example.com"));
        assert!(!is_plausible_email("ada@exa\u{7f}mple.com"));
        assert!(!is_plausible_email("ada@example"));
        assert!(!is_plausible_email("ada example@x.com"));
        assert!(!is_plausible_email("@x.com"));
        assert!(!is_plausible_email("a@b@c.com"));
    }
}
