//! Assessing what a user wrote with the active crisis-rules component, recording crisis
//! events and choosing the resources to show.
//!
//! The host computes the signals the rules may combine with words (VADER sentiment, and the
//! nearest of the active version's exemplars by meaning: [`super::semantic`]), runs the active `crisis-rules` component
//! in a fresh instance, and, at or above the threshold, records a `crisis_events` row with a
//! keyed hash of the text (never the text) and the resources shown.

use thiserror::Error;
use uuid::Uuid;

use super::cases::{severity_name, severity_rank};
use super::judge;
use super::rules::{ActiveRules, Assessment, Subject};
use super::semantic::Semantic;
use crate::crypto::KeyService;
use crate::db::Database;
use crate::db::crisis::{CrisisResource, NewCrisisEvent};
use crate::identity::Caller;

/// The largest text assessed (the rules' input cap is 128 KiB).
pub const MAX_TEXT_BYTES: usize = 120 * 1024;

/// Why an assessment failed. Callers fail safe: treat the text as a possible crisis.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CrisisError {
    /// No crisis-rules component is active, or it failed.
    #[error("crisis assessment is unavailable")]
    Unavailable,
    /// The text is larger than an assessment accepts.
    #[error("the text is larger than {MAX_TEXT_BYTES} bytes")]
    TooLarge,
}

/// The outcome of an assessment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// `none` … `imminent`.
    pub severity: &'static str,
    /// In [0, 1].
    pub confidence: f32,
    /// At or above the threshold: an event was recorded and resources are shown.
    pub triggered: bool,
    /// The recorded event.
    pub event_id: Option<Uuid>,
    /// The writer seems to speak about someone else.
    pub about_someone_else: bool,
    /// Resources to show.
    pub resources: Vec<CrisisResource>,
}

/// The crisis service. Cheap to clone.
#[derive(Clone)]
pub struct CrisisService {
    rules: ActiveRules,
    db: Database,
    keys: KeyService,
    threshold: u8,
    semantic: Semantic,
}

/// The country (ISO 3166-1 alpha-2) and language (ISO 639-1) of a BCP 47 locale.
pub fn locale_parts(locale: &str) -> (Option<String>, String) {
    let mut parts = locale.split(['-', '_']);
    let language = parts.next().unwrap_or("en").to_ascii_lowercase();
    let country = parts
        .find(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    (
        country,
        if language.is_empty() {
            "en".into()
        } else {
            language
        },
    )
}

/// A country's emergency number (`countries` lists where it is the number to dial).
pub const EMERGENCY: &str = "emergency";
/// Where to find the emergency number of a country that has no [`EMERGENCY`] entry.
pub const EMERGENCY_DIRECTORY: &str = "emergency_directory";

/// The resources for a country and language: the country's emergency number first (or, for
/// a country without one on file or an unknown country, the directory of emergency
/// numbers), then the country's own services in that language (or in any language when none
/// speaks it), then the international ones, by priority.
pub fn choose_resources(
    all: &[CrisisResource],
    country: Option<&str>,
    language: &str,
) -> Vec<CrisisResource> {
    let covers = |list: &[String], value: &str| {
        list.iter()
            .any(|v| v == "*" || v.eq_ignore_ascii_case(value))
    };
    let in_country = |r: &&CrisisResource| {
        country.is_some_and(|c| r.countries.iter().any(|v| v.eq_ignore_ascii_case(c)))
    };
    // The emergency number is shown whatever the language; services by language.
    let emergency: Vec<&CrisisResource> = all
        .iter()
        .filter(in_country)
        .filter(|r| r.resource_type == EMERGENCY)
        .collect();
    let local: Vec<&CrisisResource> = all
        .iter()
        .filter(in_country)
        .filter(|r| r.resource_type != EMERGENCY)
        .collect();
    let local_in_language: Vec<&CrisisResource> = local
        .iter()
        .copied()
        .filter(|r| covers(&r.languages, language))
        .collect();
    let mut chosen_local = if local_in_language.is_empty() {
        local
    } else {
        local_in_language
    };
    let local_emergency = !emergency.is_empty();
    chosen_local.extend(emergency);
    let mut chosen: Vec<CrisisResource> = all
        .iter()
        .filter(|r| r.countries.iter().any(|v| v == "*"))
        .filter(|r| !(local_emergency && r.resource_type == EMERGENCY_DIRECTORY))
        .chain(chosen_local)
        .cloned()
        .collect();
    let emergency_first = |r: &CrisisResource| match r.resource_type.as_str() {
        EMERGENCY => 0,
        EMERGENCY_DIRECTORY => 1,
        _ => 2,
    };
    chosen.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| emergency_first(a).cmp(&emergency_first(b)))
            .then_with(|| a.name.cmp(&b.name))
    });
    chosen.dedup_by(|a, b| a.id == b.id);
    chosen
}

impl CrisisService {
    /// A service; `threshold` is the lowest severity that triggers (e.g. `moderate`).
    ///
    /// # Errors
    /// A message when the threshold is not a severity name.
    pub fn new(
        rules: ActiveRules,
        db: Database,
        keys: KeyService,
        threshold: &str,
        semantic: Semantic,
    ) -> Result<Self, String> {
        let threshold = severity_rank(threshold)
            .filter(|rank| *rank >= 1)
            .ok_or_else(|| {
                format!("crisis threshold `{threshold}` must be low, moderate, high or imminent")
            })?;
        Ok(Self {
            rules,
            db,
            keys,
            threshold,
            semantic,
        })
    }

    /// The semantic signal (the sentence encoder), which crisis-rules versions embed their
    /// exemplars with when they are prepared.
    pub fn semantic(&self) -> &Semantic {
        &self.semantic
    }

    /// Where the registry publishes the active crisis-rules version.
    pub fn active_rules(&self) -> &ActiveRules {
        &self.rules
    }

    /// The resources for a locale.
    ///
    /// # Errors
    /// [`crate::db::DbError`].
    pub async fn resources_for(
        &self,
        country: Option<&str>,
        language: &str,
    ) -> Result<Vec<CrisisResource>, crate::db::DbError> {
        Ok(choose_resources(
            &self.db.crisis_resources().await?,
            country,
            language,
        ))
    }

    /// Assesses `text` written by `caller` in `source`; records an event when triggered.
    /// `sentiment` is the text's score when the caller already has it (it is computed
    /// otherwise).
    ///
    /// # Errors
    /// [`CrisisError`]; the caller must fail safe.
    pub async fn assess(
        &self,
        caller: &Caller,
        text: &str,
        source: &str,
        sentiment: Option<f32>,
    ) -> Result<Outcome, CrisisError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(CrisisError::TooLarge);
        }
        let rules = self.rules.current().ok_or(CrisisError::Unavailable)?;
        let (_, language) = locale_parts(&caller.locale);
        let assessment = judge::text(&self.semantic, &rules, text, source, &language, sentiment)
            .await
            .map_err(|error| {
                tracing::error!(%error, "the crisis assessment failed");
                CrisisError::Unavailable
            })?;
        self.conclude(caller, text, source, &assessment).await
    }

    /// Assesses the recent messages of a conversation by `caller` (oldest first, the newest
    /// last) as one window ([`judge::conversation`]); records one event when triggered.
    ///
    /// # Errors
    /// [`CrisisError`]; the caller must fail safe.
    pub async fn assess_conversation(
        &self,
        caller: &Caller,
        messages: &[String],
        source: &str,
    ) -> Result<Outcome, CrisisError> {
        if messages.iter().any(|m| m.len() > MAX_TEXT_BYTES) {
            return Err(CrisisError::TooLarge);
        }
        let rules = self.rules.current().ok_or(CrisisError::Unavailable)?;
        let (_, language) = locale_parts(&caller.locale);
        let (assessment, judged) = judge::conversation(
            &self.semantic,
            &rules,
            messages,
            source,
            &language,
            MAX_TEXT_BYTES,
        )
        .await
        .map_err(|error| {
            tracing::error!(%error, "the crisis assessment failed");
            CrisisError::Unavailable
        })?;
        self.conclude(caller, &judged, source, &assessment).await
    }

    /// The outcome of an assessment of `text`: resources when triggered or about someone
    /// else, and a crisis event (the text's keyed hash, never the text) when triggered.
    async fn conclude(
        &self,
        caller: &Caller,
        text: &str,
        source: &str,
        assessment: &Assessment,
    ) -> Result<Outcome, CrisisError> {
        let (country, language) = locale_parts(&caller.locale);
        let severity = severity_name(assessment.severity);
        crate::metrics::global().crisis_assessments.inc(&[severity]);
        let rank = severity_rank(severity).unwrap_or(0);
        let about_someone_else = assessment.subject == Subject::OtherPerson;
        let triggered = rank >= self.threshold;
        if !triggered && !about_someone_else {
            return Ok(Outcome {
                severity,
                confidence: assessment.confidence,
                triggered: false,
                event_id: None,
                about_someone_else,
                resources: Vec::new(),
            });
        }
        let resources = self
            .resources_for(country.as_deref(), &language)
            .await
            .map_err(|_| CrisisError::Unavailable)?;
        let event_id = if triggered {
            let hash = self
                .keys
                .keyed_hash(
                    caller.user_id,
                    mindflow_contract::purpose::CRISIS_EVENT,
                    text.as_bytes(),
                )
                .await
                .ok();
            let event = NewCrisisEvent {
                user_id: caller.user_id,
                trigger_source: source,
                trigger_content_hash: hash,
                severity,
                detection_confidence: f64::from(assessment.confidence),
                resources_shown: resources.iter().map(|r| r.name.clone()).collect(),
            };
            match self.db.insert_crisis_event(event).await {
                Ok(id) => Some(id),
                Err(error) => {
                    // The person still sees help; the failure to record is loud in the logs.
                    tracing::error!(%error, "cannot record a crisis event");
                    None
                }
            }
        } else {
            None
        };
        Ok(Outcome {
            severity,
            confidence: assessment.confidence,
            triggered,
            event_id,
            about_someone_else,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(
        name: &str,
        countries: &[&str],
        languages: &[&str],
        priority: i64,
    ) -> CrisisResource {
        let resource_type = if name.starts_with("Emergency numbers") {
            EMERGENCY_DIRECTORY
        } else if name.starts_with("Emergency") {
            EMERGENCY
        } else {
            "hotline"
        };
        CrisisResource {
            id: Uuid::new_v4(),
            name: name.into(),
            description: None,
            resource_type: resource_type.into(),
            phone_number: None,
            sms_number: None,
            website_url: None,
            available_24_7: true,
            countries: countries.iter().map(|s| (*s).to_owned()).collect(),
            languages: languages.iter().map(|s| (*s).to_owned()).collect(),
            specializations: Vec::new(),
            priority,
        }
    }

    #[test]
    fn splits_locales() {
        assert_eq!(locale_parts("en-US"), (Some("US".into()), "en".into()));
        assert_eq!(locale_parts("fr_CA"), (Some("CA".into()), "fr".into()));
        assert_eq!(locale_parts("de"), (None, "de".into()));
    }

    #[test]
    fn chooses_the_emergency_number_then_local_in_language_then_international() {
        let all = vec![
            resource("Emergency numbers by country", &["*"], &["*"], 0),
            resource("Emergency services (911)", &["US", "CA"], &["*"], 0),
            resource("US line", &["US"], &["en", "es"], 1),
            resource("CA line", &["CA"], &["en", "fr"], 1),
            resource("Directory", &["*"], &["*"], 9),
        ];
        let names = |v: Vec<CrisisResource>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(choose_resources(&all, Some("US"), "es")),
            ["Emergency services (911)", "US line", "Directory"]
        );
        assert_eq!(
            names(choose_resources(&all, Some("CA"), "de")),
            ["Emergency services (911)", "CA line", "Directory"],
            "falls back to any language"
        );
        assert_eq!(
            names(choose_resources(&all, Some("US"), "fr")),
            ["Emergency services (911)", "US line", "Directory"],
            "the emergency number does not hide the services in other languages"
        );
        assert_eq!(
            names(choose_resources(&all, Some("JP"), "ja")),
            ["Emergency numbers by country", "Directory"],
            "a country without a number on file gets the directory of numbers"
        );
        assert_eq!(
            names(choose_resources(&all, None, "en")),
            ["Emergency numbers by country", "Directory"]
        );
    }
}
