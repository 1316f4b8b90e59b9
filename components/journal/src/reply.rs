//! HTTP answers: [`Reply`] and [`Problem`] come from `mindflow-component-kit`; what is the
//! journal service's own is here (its 500, how storage and crypto failures map to problems).

pub use mindflow_component_kit::reply::{PROBLEM_BASE, Problem, Reply};

use crate::platform::{CryptoError, StorageError};

/// 500: our fault; the detail stays generic.
pub fn internal() -> Problem {
    Problem::internal("the journal service failed to handle the request")
}

impl From<StorageError> for Problem {
    /// not-found → 404, invalid → 422 naming the field, conflict → 409, unavailable → 503,
    /// not-granted → 500 (the manifest and this component disagree: our bug).
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self::not_found("no such journal entry"),
            StorageError::Invalid { field, message } => Self::invalid(&field, message),
            StorageError::Conflict(_) => {
                Self::new(409, "conflict", "the change conflicts with existing data")
            }
            StorageError::Unavailable => {
                let mut p = Self::new(503, "unavailable", "the database is unavailable");
                p.headers.push(("retry-after", "1".into()));
                p
            }
            StorageError::NotGranted(_) => internal(),
        }
    }
}

impl From<CryptoError> for Problem {
    /// no-user → 401; unavailable → 503; a destroyed key or a tampered ciphertext → 500
    /// (the entry cannot be read; the detail stays generic).
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::NoUser => Self::unauthorized(),
            CryptoError::Unavailable => {
                let mut p = Self::new(503, "unavailable", "the key store is unavailable");
                p.headers.push(("retry-after", "1".into()));
                p
            }
            CryptoError::KeyDestroyed | CryptoError::Tampered => internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_statuses() {
        let cases = [
            (StorageError::NotFound, 404),
            (
                StorageError::Invalid {
                    field: "note".into(),
                    message: "too long".into(),
                },
                422,
            ),
            (StorageError::Conflict("x".into()), 409),
            (StorageError::Unavailable, 503),
            (StorageError::NotGranted("journal_entries".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(Problem::from(error).status, status);
        }
        let reply = Problem::from(StorageError::Invalid {
            field: "note".into(),
            message: "too long".into(),
        })
        .into_reply();
        let body = reply.json_body();
        assert_eq!(body["errors"][0]["field"], "note");
        assert_eq!(body["type"], "urn:mindflow:problem:validation");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let unavailable = Problem::from(StorageError::Unavailable).into_reply();
        assert_eq!(unavailable.header("retry-after"), Some("1"));
    }
}
