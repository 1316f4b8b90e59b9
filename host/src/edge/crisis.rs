//! `/api/v1/crisis` (seed-plan §3.6): resources, the structured self-check, and the safety
//! plan. Host-native: crisis support is part of the trust base and must keep working when a
//! domain component is being replaced or is broken.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::body::JsonObject;
use super::caller::{self, Authenticated};
use super::problem::{ApiError, FieldError};
use crate::crisis::service::{choose_resources, locale_parts};
use crate::crypto::{CryptoError, Sealed};
use crate::db::crisis::NewCrisisEvent;

/// The purpose safety plans are sealed under.
pub const SAFETY_PLAN_PURPOSE: &str = mindflow_contract::purpose::SAFETY_PLAN;

/// Query of `GET /resources`.
#[derive(Deserialize)]
pub struct ResourcesQuery {
    country: Option<String>,
    language: Option<String>,
}

/// `GET /resources?country=US&language=en`: the services for a country and language (by
/// default the caller's locale, when a token is given), ordered by priority.
///
/// # Errors
/// 422 for a malformed country or language; 503 when the database fails.
pub async fn resources(
    State(state): State<AppState>,
    parts: Parts,
    Query(query): Query<ResourcesQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller::resolve(&state, &parts).await.ok().flatten();
    let (locale_country, locale_language) =
        locale_parts(caller.as_ref().map_or("en", |c| c.locale.as_str()));
    let country = match query.country {
        Some(c) if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "country",
                "an ISO 3166-1 alpha-2 code, e.g. US",
            ));
        }
        None => locale_country,
    };
    let language = match query.language {
        Some(l) if (2..=3).contains(&l.len()) && l.chars().all(|ch| ch.is_ascii_alphabetic()) => {
            l.to_ascii_lowercase()
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "language",
                "an ISO 639-1 code, e.g. en",
            ));
        }
        None => locale_language,
    };
    let all = state.db.crisis_resources().await?;
    Ok(Json(json!({
        "country": country,
        "language": language,
        "items": choose_resources(&all, country.as_deref(), &language),
    })))
}

/// The self-check's answers, following the structure of the C-SSRS screener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheck {
    /// Q1: in the past month, wished you were dead or could go to sleep and not wake up.
    wish_to_be_dead: bool,
    /// Q2: in the past month, had actual thoughts of killing yourself.
    suicidal_thoughts: bool,
    /// Q3 (asked when Q2 is yes): thought about how you might do this.
    method: Option<bool>,
    /// Q4 (when Q2 is yes): had these thoughts and some intention of acting on them.
    intent: Option<bool>,
    /// Q5 (when Q2 is yes): started to work out or worked out the details, and intend to
    /// carry out the plan.
    plan: Option<bool>,
    /// Q6: ever done, started or prepared to do anything to end your life.
    behavior: bool,
    /// Q6 follow-up (when Q6 is yes): was it within the past three months.
    behavior_past_3_months: Option<bool>,
}

/// The severity a self-check maps to: a screen, never a diagnosis.
pub fn self_check_severity(answers: &SelfCheck) -> &'static str {
    let yes = |a: Option<bool>| a == Some(true);
    if yes(answers.intent) || yes(answers.plan) {
        "imminent"
    } else if yes(answers.method) || (answers.behavior && yes(answers.behavior_past_3_months)) {
        "high"
    } else if answers.wish_to_be_dead || answers.suicidal_thoughts || answers.behavior {
        "moderate"
    } else {
        "none"
    }
}

fn check_skip_logic(answers: &SelfCheck) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("method", answers.method),
        ("intent", answers.intent),
        ("plan", answers.plan),
    ] {
        match (answers.suicidal_thoughts, value) {
            (true, None) => errors.push(FieldError {
                field: field.into(),
                message: "is required when suicidal_thoughts is true".into(),
            }),
            (false, Some(_)) => errors.push(FieldError {
                field: field.into(),
                message: "is asked only when suicidal_thoughts is true".into(),
            }),
            _ => {}
        }
    }
    match (answers.behavior, answers.behavior_past_3_months) {
        (true, None) => errors.push(FieldError {
            field: "behavior_past_3_months".into(),
            message: "is required when behavior is true".into(),
        }),
        (false, Some(_)) => errors.push(FieldError {
            field: "behavior_past_3_months".into(),
            message: "is asked only when behavior is true".into(),
        }),
        _ => {}
    }
    errors
}

fn guidance(severity: &str) -> &'static str {
    match severity {
        "imminent" => {
            "Please reach out right now: call your local emergency number or a crisis line below. You do not have to go through this alone."
        }
        "high" => {
            "What you are going through sounds serious. Please talk to a crisis line or a professional today; the services below are free and confidential."
        }
        "moderate" => {
            "Thank you for answering honestly. Talking to someone can help; the services below are there any time, and a safety plan can help in hard moments."
        }
        _ => "Thank you for checking in. If things change, the services below are there any time.",
    }
}

/// `POST /check`: a structured self-check (C-SSRS screener structure); answers map to a
/// severity and resources; at or above the threshold, a crisis event is recorded.
///
/// # Errors
/// 401 without a token; 422 for missing, unknown or inconsistent answers.
pub async fn check(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonObject(body): JsonObject<SelfCheck>,
) -> Result<Json<Value>, ApiError> {
    let answers = body;
    let errors = check_skip_logic(&answers);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let severity = self_check_severity(&answers);
    let (country, language) = locale_parts(&caller.locale);
    let resources = choose_resources(
        &state.db.crisis_resources().await?,
        country.as_deref(),
        &language,
    );
    let triggered = crate::crisis::cases::severity_rank(severity)
        >= crate::crisis::cases::severity_rank("moderate");
    let event_id = if triggered {
        Some(
            state
                .db
                .insert_crisis_event(NewCrisisEvent {
                    user_id: caller.user_id,
                    trigger_source: "self_check",
                    trigger_content_hash: None,
                    severity,
                    detection_confidence: 1.0,
                    resources_shown: resources.iter().map(|r| r.name.clone()).collect(),
                })
                .await?,
        )
    } else {
        None
    };
    Ok(Json(json!({
        "severity": severity,
        "triggered": triggered,
        "crisis_event_id": event_id,
        "guidance": guidance(severity),
        "disclaimer": "This self-check is a screen based on the structure of the Columbia Suicide Severity Rating Scale screener. It is not a diagnosis.",
        "resources": resources,
    })))
}

/// A person or service in a safety plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Phone number, if any.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The Stanley–Brown safety plan's six sections plus reasons for living.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyPlan {
    /// 1. Warning signs that a crisis may be developing.
    #[serde(default)]
    pub warning_signs: Vec<String>,
    /// 2. Internal coping strategies.
    #[serde(default)]
    pub internal_coping_strategies: Vec<String>,
    /// 3. People and social settings that provide distraction.
    #[serde(default)]
    pub social_distractions: Vec<Contact>,
    /// 4. People to ask for help.
    #[serde(default)]
    pub people_to_ask_for_help: Vec<Contact>,
    /// 5. Professionals and agencies to contact in a crisis.
    #[serde(default)]
    pub professionals_and_agencies: Vec<Contact>,
    /// 6. Making the environment safe.
    #[serde(default)]
    pub making_environment_safe: Vec<String>,
    /// Reasons for living.
    #[serde(default)]
    pub reasons_for_living: Vec<String>,
}

const MAX_ITEMS: usize = 20;
const MAX_TEXT: usize = 500;

fn validate_plan(plan: &SafetyPlan) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut texts = |field: &str, items: &[String]| {
        if items.len() > MAX_ITEMS {
            errors.push(FieldError {
                field: field.into(),
                message: format!("at most {MAX_ITEMS} items"),
            });
        }
        for (i, item) in items.iter().enumerate() {
            if item.trim().is_empty() || item.chars().count() > MAX_TEXT {
                errors.push(FieldError {
                    field: format!("{field}[{i}]"),
                    message: format!("1 to {MAX_TEXT} characters"),
                });
            }
        }
    };
    texts("warning_signs", &plan.warning_signs);
    texts(
        "internal_coping_strategies",
        &plan.internal_coping_strategies,
    );
    texts("making_environment_safe", &plan.making_environment_safe);
    texts("reasons_for_living", &plan.reasons_for_living);
    for (field, contacts) in [
        ("social_distractions", &plan.social_distractions),
        ("people_to_ask_for_help", &plan.people_to_ask_for_help),
        (
            "professionals_and_agencies",
            &plan.professionals_and_agencies,
        ),
    ] {
        if contacts.len() > MAX_ITEMS {
            errors.push(FieldError {
                field: field.into(),
                message: format!("at most {MAX_ITEMS} items"),
            });
        }
        for (i, contact) in contacts.iter().enumerate() {
            if contact.name.trim().is_empty() || contact.name.chars().count() > 200 {
                errors.push(FieldError {
                    field: format!("{field}[{i}].name"),
                    message: "1 to 200 characters".into(),
                });
            }
            if contact
                .phone
                .as_ref()
                .is_some_and(|p| p.chars().count() > 40)
            {
                errors.push(FieldError {
                    field: format!("{field}[{i}].phone"),
                    message: "at most 40 characters".into(),
                });
            }
        }
    }
    errors
}

fn crypto_failure(error: CryptoError) -> ApiError {
    match error {
        CryptoError::KeyDestroyed | CryptoError::Tampered => {
            tracing::error!(%error, "cannot open a safety plan");
            ApiError::internal()
        }
        CryptoError::Unavailable => ApiError::unavailable("the key store is unavailable"),
    }
}

/// `GET /safety-plan`: the caller's plan, decrypted.
///
/// # Errors
/// 401; 404 when the caller has none.
pub async fn get_safety_plan(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let (ciphertext, nonce, updated_at) = state
        .db
        .safety_plan(caller.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no safety plan yet"))?;
    let plaintext = state
        .services
        .keys
        .open(
            caller.user_id,
            SAFETY_PLAN_PURPOSE,
            &Sealed { ciphertext, nonce },
        )
        .await
        .map_err(crypto_failure)?;
    let plan: SafetyPlan = serde_json::from_slice(&plaintext).map_err(|_| ApiError::internal())?;
    Ok(Json(json!({"plan": plan, "updated_at": updated_at})))
}

/// `PUT /safety-plan`: replaces the caller's plan; stored sealed under their data key.
///
/// # Errors
/// 401; 422 for invalid sections.
pub async fn put_safety_plan(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonObject(body): JsonObject<SafetyPlan>,
) -> Result<Json<Value>, ApiError> {
    let plan = body;
    let errors = validate_plan(&plan);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let plaintext = serde_json::to_vec(&plan).map_err(|_| ApiError::internal())?;
    let sealed = state
        .services
        .keys
        .seal(caller.user_id, SAFETY_PLAN_PURPOSE, &plaintext)
        .await
        .map_err(crypto_failure)?;
    let updated_at = state
        .db
        .put_safety_plan(caller.user_id, sealed.ciphertext, sealed.nonce)
        .await?;
    Ok(Json(json!({"plan": plan, "updated_at": updated_at})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(
        q1: bool,
        q2: bool,
        q3: Option<bool>,
        q4: Option<bool>,
        q5: Option<bool>,
        q6: bool,
        q6b: Option<bool>,
    ) -> SelfCheck {
        SelfCheck {
            wish_to_be_dead: q1,
            suicidal_thoughts: q2,
            method: q3,
            intent: q4,
            plan: q5,
            behavior: q6,
            behavior_past_3_months: q6b,
        }
    }

    #[test]
    fn maps_screener_answers_to_severity() {
        assert_eq!(
            self_check_severity(&answers(false, false, None, None, None, false, None)),
            "none"
        );
        assert_eq!(
            self_check_severity(&answers(true, false, None, None, None, false, None)),
            "moderate"
        );
        assert_eq!(
            self_check_severity(&answers(
                true,
                true,
                Some(false),
                Some(false),
                Some(false),
                false,
                None
            )),
            "moderate"
        );
        assert_eq!(
            self_check_severity(&answers(
                true,
                true,
                Some(true),
                Some(false),
                Some(false),
                false,
                None
            )),
            "high"
        );
        assert_eq!(
            self_check_severity(&answers(false, false, None, None, None, true, Some(true))),
            "high"
        );
        assert_eq!(
            self_check_severity(&answers(false, false, None, None, None, true, Some(false))),
            "moderate"
        );
        assert_eq!(
            self_check_severity(&answers(
                true,
                true,
                Some(true),
                Some(true),
                Some(false),
                false,
                None
            )),
            "imminent"
        );
        assert_eq!(
            self_check_severity(&answers(
                true,
                true,
                Some(false),
                Some(false),
                Some(true),
                false,
                None
            )),
            "imminent"
        );
    }

    #[test]
    fn enforces_the_screener_skip_logic() {
        assert_eq!(
            check_skip_logic(&answers(true, false, Some(true), None, None, false, None)).len(),
            1
        );
        assert_eq!(
            check_skip_logic(&answers(true, true, None, None, None, false, None)).len(),
            3
        );
        assert_eq!(
            check_skip_logic(&answers(false, false, None, None, None, true, None)).len(),
            1
        );
        assert!(
            check_skip_logic(&answers(
                true,
                true,
                Some(false),
                Some(false),
                Some(false),
                true,
                Some(false)
            ))
            .is_empty()
        );
    }
}
