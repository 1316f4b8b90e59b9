//! Argon2id password hashing and the password policy.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// The longest password accepted (hashing cost is bounded).
pub const MAX_LENGTH: usize = 256;

/// Checks the password policy; returns why a password is refused.
pub fn policy_violation(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Some(format!("must be at least {MIN_LENGTH} characters"));
    }
    if password.len() > MAX_LENGTH {
        return Some(format!("must be at most {MAX_LENGTH} bytes"));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(c))
    {
        return Some("must not be one repeated character".into());
    }
    None
}

/// Hashes a password (Argon2id, random salt) into a PHC string.
///
/// # Errors
/// When hashing fails (it does not for valid inputs).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC string `phc`.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// How long a hash or verification waits for its turn before the request is answered 503.
pub const QUEUE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

/// Password hashing is bounded: each Argon2id run holds ~19 MiB and a core for tens of
/// milliseconds, so a flood of registrations or parallel logins would otherwise fill the
/// blocking pool (512 threads) and stall every endpoint, crisis support included. At most
/// half the cores hash at once (at least one), the rest keep serving; a run waits its turn in
/// a fair queue for at most [`QUEUE_DEADLINE`].
fn turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Why a bounded run did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// No turn within [`QUEUE_DEADLINE`]: the caller should answer 503 with `Retry-After`.
    #[error("password hashing is saturated")]
    Saturated,
    /// The hashing task failed.
    #[error("the hashing task failed")]
    Failed,
}

/// A turn to hash: held while one hash or verification runs.
pub struct Turn {
    _permit: tokio::sync::SemaphorePermit<'static>,
}

/// Waits for a turn to hash (a caller may check, once it has one, that the work is still
/// worth doing: a login re-checks its throttle).
///
/// # Errors
/// [`Busy::Saturated`] when no turn came within [`QUEUE_DEADLINE`].
pub async fn turn() -> Result<Turn, Busy> {
    tokio::time::timeout(QUEUE_DEADLINE, turns().acquire())
        .await
        .map_err(|_| Busy::Saturated)?
        .map(|permit| Turn { _permit: permit })
        .map_err(|_| Busy::Failed)
}

/// Runs `work` (a hash or a verification) on the blocking pool during `turn`.
///
/// # Errors
/// [`Busy::Failed`] when the task panicked.
pub async fn run<T: Send + 'static>(
    turn: Turn,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    let result = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Busy::Failed);
    drop(turn);
    result
}

/// Waits for a turn, then runs `work` in it.
///
/// # Errors
/// [`Busy`].
pub async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    run(turn().await?, work).await
}

/// A hash to verify against when the account does not exist, so an unknown email costs as
/// much time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password, never matches").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong horse battery", &phc));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn enforces_the_policy() {
        assert!(policy_violation("short").is_some());
        assert!(policy_violation("aaaaaaaaaaaa").is_some());
        assert!(policy_violation("a fine passphrase").is_none());
    }
}
