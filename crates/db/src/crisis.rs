//! Crisis resources, crisis events and safety plans.

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::{Database, DbError, DbRow, Param};

/// A crisis service to show.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrisisResource {
    /// Row id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// What it offers.
    pub description: Option<String>,
    /// `hotline`, `text_line`, `emergency`, `directory`, ...
    pub resource_type: String,
    /// Phone number to call.
    pub phone_number: Option<String>,
    /// Number to text.
    pub sms_number: Option<String>,
    /// Website.
    pub website_url: Option<String>,
    /// Open around the clock.
    pub available_24_7: bool,
    /// ISO 3166-1 alpha-2 codes, or `*`.
    pub countries: Vec<String>,
    /// ISO 639-1 codes, or `*`.
    pub languages: Vec<String>,
    /// What it specialises in.
    pub specializations: Vec<String>,
    /// Lower first.
    pub priority: i64,
}

fn strings(value: Option<serde_json::Value>) -> Vec<String> {
    value
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn resource(row: &DbRow) -> Result<CrisisResource, DbError> {
    Ok(CrisisResource {
        id: row.uuid("id")?,
        name: row.text("name")?,
        description: row.opt_text("description")?,
        resource_type: row.text("resource_type")?,
        phone_number: row.opt_text("phone_number")?,
        sms_number: row.opt_text("sms_number")?,
        website_url: row.opt_text("website_url")?,
        available_24_7: row.bool("available_24_7")?,
        countries: strings(row.opt_json("countries")?),
        languages: strings(row.opt_json("languages")?),
        specializations: strings(row.opt_json("specializations")?),
        priority: row.int("priority")?,
    })
}

/// A crisis event to record (never the text: only its keyed hash).
pub struct NewCrisisEvent<'a> {
    /// The user.
    pub user_id: Uuid,
    /// `mood_log`, `journal`, `chat`, `self_check`.
    pub trigger_source: &'a str,
    /// Keyed hash of the text, if any.
    pub trigger_content_hash: Option<String>,
    /// Severity name.
    pub severity: &'a str,
    /// In [0, 1].
    pub detection_confidence: f64,
    /// Names of the resources shown.
    pub resources_shown: Vec<String>,
}

impl Database {
    /// Every active crisis resource, by priority then name.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn crisis_resources(&self) -> Result<Vec<CrisisResource>, DbError> {
        self.fetch_all(
            "SELECT id, name, description, resource_type, phone_number, sms_number, website_url, available_24_7, countries, languages, specializations, priority \
             FROM crisis_resources WHERE is_active = $1 ORDER BY priority, name",
            &[Param::Bool(true)],
        )
        .await?
        .iter()
        .map(resource)
        .collect()
    }

    /// Records a crisis event; returns its id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_crisis_event(&self, event: NewCrisisEvent<'_>) -> Result<Uuid, DbError> {
        let id = Uuid::new_v4();
        self.execute(
            "INSERT INTO crisis_events (id, user_id, trigger_source, trigger_content_hash, severity, detection_confidence, resources_shown, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                Param::Uuid(id),
                Param::Uuid(event.user_id),
                Param::Text(event.trigger_source.into()),
                Param::OptText(event.trigger_content_hash),
                Param::Text(event.severity.into()),
                Param::Float(event.detection_confidence),
                Param::Json(serde_json::json!(event.resources_shown)),
                Param::Time(Utc::now()),
            ],
        )
        .await?;
        Ok(id)
    }

    /// The user's sealed safety plan: (ciphertext, nonce).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn safety_plan(
        &self,
        user_id: Uuid,
    ) -> Result<Option<(Vec<u8>, Vec<u8>, chrono::DateTime<Utc>)>, DbError> {
        self.fetch_optional(
            "SELECT content_encrypted, content_iv, updated_at FROM safety_plans WHERE user_id = $1",
            &[Param::Uuid(user_id)],
        )
        .await?
        .map(|row| {
            Ok((
                row.bytes("content_encrypted")?,
                row.bytes("content_iv")?,
                row.time("updated_at")?,
            ))
        })
        .transpose()
    }

    /// Stores (inserts or replaces) the user's sealed safety plan.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn put_safety_plan(
        &self,
        user_id: Uuid,
        ciphertext: Vec<u8>,
        nonce: Vec<u8>,
    ) -> Result<chrono::DateTime<Utc>, DbError> {
        let now = Utc::now();
        self.execute(
            "INSERT INTO safety_plans (id, user_id, content_encrypted, content_iv, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (user_id) DO UPDATE SET content_encrypted = excluded.content_encrypted, content_iv = excluded.content_iv, updated_at = excluded.updated_at",
            &[Param::Uuid(Uuid::new_v4()), Param::Uuid(user_id), Param::Bytes(ciphertext), Param::Bytes(nonce), Param::Time(now)],
        )
        .await?;
        Ok(now)
    }
}
