//! HTTP answers: [`Reply`] and [`Problem`] come from `mindflow-component-kit`; what is the
//! mood service's own is here (its 500, how storage failures map to problems, the premium problem).

use serde_json::json;

pub use mindflow_component_kit::reply::{PROBLEM_BASE, Problem, Reply};

use crate::platform::StorageError;

/// 500: our fault; the detail stays generic.
pub fn internal() -> Problem {
    Problem::internal("the mood service failed to handle the request")
}

/// 403: the endpoint needs the premium tier.
pub fn premium_required() -> Problem {
    let mut p = Problem::new(
        403,
        "premium-required",
        "factor correlations are part of the premium tier",
    );
    p.extra.insert("required_tier".into(), json!("premium"));
    p
}

impl From<StorageError> for Problem {
    /// not-found → 404, invalid → 422 naming the field, conflict → 409, unavailable → 503,
    /// not-granted → 500 (the manifest and this component disagree: our bug).
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self::not_found("no such mood log"),
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
            (StorageError::NotGranted("mood_logs".into()), 500),
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

    #[test]
    fn premium_problem_names_the_tier() {
        let reply = premium_required().into_reply();
        let body = reply.json_body();
        assert_eq!(reply.status, 403);
        assert_eq!(body["type"], "urn:mindflow:problem:premium-required");
        assert_eq!(body["required_tier"], "premium");
        assert_eq!(body["title"], "Forbidden");
        assert_eq!(body["status"], 403);
    }
}
