//! What the host's `ml` and `crisis` capabilities say about a text a user wrote, as every
//! service stores and shows it: the sentiment score, and what a crisis assessment means for
//! the response (failing safe when no assessment could be made).

use serde_json::{Map, Value as Json, json};

use crate::host::CrisisOutcome;
use crate::platform::Platform;

/// Where crisis resources can be fetched when an assessment is unavailable.
pub const CRISIS_RESOURCES_URL: &str = "/api/v1/crisis/resources";

/// `ml.sentiment` of `text`, clamped to [-1, 1] and rounded to four decimals (f32 → f64
/// carries noise digits; four decimals is the model's own precision); `None` when the model
/// answered something that is not a number.
pub fn sentiment(p: &impl Platform, text: &str) -> Option<f64> {
    let raw = f64::from(p.sentiment(text));
    raw.is_finite()
        .then(|| (raw.clamp(-1.0, 1.0) * 10_000.0).round() / 10_000.0)
}

/// What the crisis assessment of a text means for the response.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum CrisisView {
    /// Nothing to show.
    #[default]
    Nothing,
    /// Triggered, or about someone else (help-a-friend): show the resources.
    Show(CrisisOutcome),
    /// The assessment failed: fail safe, point at the resources.
    Unavailable,
}

impl CrisisView {
    /// Assesses `text`, written in `source` (`crisis.assess`); a failed assessment fails
    /// safe ([`CrisisView::Unavailable`]).
    pub fn assess(p: &impl Platform, text: &str, source: &str) -> Self {
        match p.assess(text, source) {
            Ok(outcome) if outcome.triggered || outcome.about_someone_else => Self::Show(outcome),
            Ok(_) => Self::Nothing,
            Err(_) => Self::Unavailable,
        }
    }

    /// Whether the assessment reached the threshold (the host recorded a crisis event).
    pub fn triggered(&self) -> bool {
        matches!(self, Self::Show(outcome) if outcome.triggered)
    }

    /// `body` (a row as the client sees it) with its `crisis` member.
    pub fn added_to(&self, mut body: Map<String, Json>) -> Json {
        body.insert("crisis".into(), self.to_json());
        Json::Object(body)
    }

    /// The response's `crisis` member: `null`, the severity and resources, or where to find
    /// resources when the assessment is unavailable.
    pub fn to_json(&self) -> Json {
        match self {
            Self::Nothing => Json::Null,
            Self::Show(outcome) => json!({
                "severity": outcome.severity,
                "about_someone_else": outcome.about_someone_else,
                "resources": outcome.resources.iter().map(|r| json!({
                    "name": r.name,
                    "description": r.description,
                    "phone_number": r.phone_number,
                    "sms_number": r.sms_number,
                    "website_url": r.website_url,
                    "available_24_7": r.available_24_7,
                })).collect::<Vec<_>>(),
                "resources_url": CRISIS_RESOURCES_URL,
            }),
            Self::Unavailable => json!({
                "status": "unavailable",
                "resources_url": CRISIS_RESOURCES_URL,
            }),
        }
    }
}
