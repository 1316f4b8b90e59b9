//! Action cards: what the person can do next, shown under an answer.
//!
//! - After a crisis assessment: call or text the first helpline of the resources the host
//!   chose for the user's country and language (or their local emergency number when it had
//!   none), and open their safety plan.
//! - Otherwise: up to two items of the content library that suit how the message sounds
//!   (breathing and grounding for fear and anger, behavioural activation and journaling for
//!   sadness, a journaling prompt otherwise), and logging their mood.
//!
//! Library cards name the item (`content_id`), so the client opens it from the library and the
//! same item backs a chat card and a recommendation.

use mindflow_component_kit::Platform;
use mindflow_component_kit::host::{CrisisOutcome, CrisisResource};
use mindflow_component_kit::storage::{Comparison, Filter, PageRequest, Value, column, text_of};
use serde_json::{Value as Json, json};

use crate::api::CONTENT;

/// The most library cards under one answer.
pub const MAX_CONTENT_CARDS: usize = 2;

/// A crisis resource as JSON.
pub fn resource_json(resource: &CrisisResource) -> Json {
    json!({
        "name": resource.name,
        "description": resource.description,
        "phone_number": resource.phone_number,
        "sms_number": resource.sms_number,
        "website_url": resource.website_url,
        "available_24_7": resource.available_24_7,
    })
}

/// The cards of a crisis answer: call and text a helpline, open the safety plan.
pub fn crisis(outcome: Option<&CrisisOutcome>) -> Vec<Json> {
    let resources = outcome.map(|o| o.resources.as_slice()).unwrap_or_default();
    let mut cards = Vec::new();
    if let Some(line) = resources.iter().find(|r| r.phone_number.is_some()) {
        cards.push(json!({
            "type": "call_helpline",
            "title": format!("Call {}", line.name),
            "phone_number": line.phone_number,
        }));
    }
    if let Some(line) = resources.iter().find(|r| r.sms_number.is_some()) {
        cards.push(json!({
            "type": "text_helpline",
            "title": format!("Text {}", line.name),
            "sms_number": line.sms_number,
        }));
    }
    if cards.is_empty() {
        cards.push(json!({
            "type": "call_emergency",
            "title": "Call your local emergency number",
        }));
    }
    cards.push(json!({
        "type": "safety_plan",
        "title": "Open your safety plan",
        "path": "/api/v1/crisis/safety-plan",
    }));
    cards
}

/// The library's content types that suit a message of this emotion, best first.
fn suited(emotion: &str) -> &'static [&'static str] {
    match emotion {
        "fear" | "anger" => &["breathing", "grounding", "relaxation"],
        "sadness" => &[
            "behavioural_activation",
            "journaling_prompt",
            "psychoeducation",
        ],
        _ => &["journaling_prompt", "breathing"],
    }
}

/// The cards of an ordinary answer: library items that suit the message, and mood logging.
pub fn supportive(p: &impl Platform, message: &str) -> Vec<Json> {
    let premium = p.current_user().is_some_and(|u| u.premium);
    let mut cards = Vec::new();
    for content_type in suited(&p.emotion(message)) {
        if cards.len() == MAX_CONTENT_CARDS {
            break;
        }
        let Ok(page) = p.query(
            CONTENT,
            PageRequest {
                filters: vec![
                    Filter::new(
                        "content_type",
                        Comparison::Eq,
                        Value::Text((*content_type).into()),
                    ),
                    Filter::new("is_active", Comparison::Eq, Value::Bool(true)),
                ],
                order_by: "id".into(),
                descending: false,
                limit: 5,
                cursor: None,
            },
        ) else {
            continue;
        };
        let item = page
            .rows
            .iter()
            .find(|row| premium || !matches!(column(row, "is_premium"), Some(Value::Bool(true))));
        if let Some(item) = item {
            cards.push(json!({
                "type": "content",
                "content_id": text_of(item, "id"),
                "content_type": content_type,
                "title": text_of(item, "title"),
                "duration_minutes": column(item, "duration_minutes").map_or(Json::Null, Value::to_json),
            }));
        }
    }
    cards.push(json!({
        "type": "log_mood",
        "title": "Log how you feel",
        "path": "/api/v1/mood/logs",
    }));
    cards
}
