//! The content library's rows as content providers supply them (`content_library` rows
//! with a `provider` and `external_id`): read a provider's rows, insert, change and
//! deactivate them, inside one transaction the caller holds.
//!
//! What to write is decided by the host's catalogue sync (`host/src/content/sync.rs`); this
//! module only runs its statements. Rows are never deleted here: recommendations and journal
//! entries point at them, so an item that left its catalogue is only deactivated.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, DbError, DbRow, Param, Transaction};

/// An item's values as the library stores them (everything a provider decides).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentValues {
    /// `breathing`, `grounding`, `journaling_prompt`, ...
    pub content_type: String,
    /// Title.
    pub title: String,
    /// A one-line summary.
    pub description: Option<String>,
    /// The whole text of the item.
    pub content_body: Option<String>,
    /// How long it takes.
    pub duration_minutes: Option<i16>,
    /// `beginner`, `intermediate` or `advanced`.
    pub difficulty: Option<String>,
    /// Moods it suits (stored as a JSON array).
    pub target_moods: Vec<String>,
    /// Mood factors it suits, `category:name` (stored as a JSON array).
    pub target_factors: Vec<String>,
    /// An audio version.
    pub audio_url: Option<String>,
    /// An illustration.
    pub image_url: Option<String>,
    /// Only for the premium tier.
    pub is_premium: bool,
}

/// A provider's row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContent {
    /// The host's id of the row (stable for the life of the item).
    pub id: Uuid,
    /// The provider's id of the item.
    pub external_id: String,
    /// Its values.
    pub values: ContentValues,
    /// Whether it is listed.
    pub is_active: bool,
}

const COLUMNS: &str = "id, external_id, content_type, title, description, content_body, \
    duration_minutes, difficulty, target_moods, target_factors, audio_url, image_url, \
    is_premium, is_active";

/// The strings of a stored JSON array (anything else reads as empty: the next sync then
/// sees a difference and writes the array again).
fn strings(value: Option<serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn stored(row: &DbRow) -> Result<StoredContent, DbError> {
    let duration = row
        .opt_int("duration_minutes")?
        .map(|d| {
            i16::try_from(d).map_err(|_| DbError::Decode {
                column: "duration_minutes".into(),
                message: format!("{d} is not a SMALLINT"),
            })
        })
        .transpose()?;
    Ok(StoredContent {
        id: row.uuid("id")?,
        external_id: row.text("external_id")?,
        values: ContentValues {
            content_type: row.text("content_type")?,
            title: row.text("title")?,
            description: row.opt_text("description")?,
            content_body: row.opt_text("content_body")?,
            duration_minutes: duration,
            difficulty: row.opt_text("difficulty")?,
            target_moods: strings(row.opt_json("target_moods")?),
            target_factors: strings(row.opt_json("target_factors")?),
            audio_url: row.opt_text("audio_url")?,
            image_url: row.opt_text("image_url")?,
            is_premium: row.opt_bool("is_premium")?.unwrap_or(false),
        },
        // A row whose flag is unset is not listed: the sync sets it again.
        is_active: row.opt_bool("is_active")?.unwrap_or(false),
    })
}

/// The values' parameters, `$1`..`$11` in [`COLUMNS`]' order from `content_type`.
fn value_params(values: &ContentValues) -> Vec<Param> {
    let list = |items: &[String]| Param::Json(serde_json::json!(items));
    vec![
        Param::Text(values.content_type.clone()),
        Param::Text(values.title.clone()),
        Param::OptText(values.description.clone()),
        Param::OptText(values.content_body.clone()),
        Param::OptInt(values.duration_minutes.map(i64::from)),
        Param::OptText(values.difficulty.clone()),
        list(&values.target_moods),
        list(&values.target_factors),
        Param::OptText(values.audio_url.clone()),
        Param::OptText(values.image_url.clone()),
        Param::Bool(values.is_premium),
    ]
}

impl Transaction {
    /// Takes the provider's sync lock until the transaction ends (PostgreSQL: a
    /// transaction-scoped advisory lock keyed by the provider's name, so two replicas syncing
    /// the same catalogue take turns instead of racing to insert the same item; SQLite's
    /// write transaction already excludes every other writer).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn lock_content_provider(&mut self, provider: &str) -> Result<(), DbError> {
        if self.backend() == Backend::Postgres {
            self.fetch_optional(
                "SELECT pg_advisory_xact_lock(hashtext('mindflow.content:' || $1)) IS NULL AS locked",
                &[Param::Text(provider.to_owned())],
            )
            .await?;
        }
        Ok(())
    }

    /// Every row of `provider`, active or not, by external id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn provider_content(
        &mut self,
        provider: &str,
    ) -> Result<Vec<StoredContent>, DbError> {
        let rows = self
            .fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM content_library WHERE provider = $1 ORDER BY external_id"
                ),
                &[Param::Text(provider.to_owned())],
            )
            .await?;
        rows.iter().map(stored).collect()
    }

    /// Inserts a new item of `provider` under a fresh id, active; returns the id.
    ///
    /// # Errors
    /// [`DbError`]; a conflict when the provider already has `external_id`.
    pub async fn insert_content(
        &mut self,
        provider: &str,
        external_id: &str,
        values: &ContentValues,
    ) -> Result<Uuid, DbError> {
        let id = Uuid::new_v4();
        let mut params = value_params(values);
        params.extend([
            Param::Uuid(id),
            Param::Text(provider.to_owned()),
            Param::Text(external_id.to_owned()),
        ]);
        self.execute(
            "INSERT INTO content_library (content_type, title, description, content_body, \
             duration_minutes, difficulty, target_moods, target_factors, audio_url, image_url, \
             is_premium, id, provider, external_id, is_active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, TRUE)",
            &params,
        )
        .await?;
        Ok(id)
    }

    /// Replaces the values of row `id`, makes it active and stamps `updated_at`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn update_content(
        &mut self,
        id: Uuid,
        values: &ContentValues,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let mut params = value_params(values);
        params.extend([Param::Time(now), Param::Uuid(id)]);
        self.execute(
            "UPDATE content_library SET content_type = $1, title = $2, description = $3, \
             content_body = $4, duration_minutes = $5, difficulty = $6, target_moods = $7, \
             target_factors = $8, audio_url = $9, image_url = $10, is_premium = $11, \
             is_active = TRUE, updated_at = $12 WHERE id = $13",
            &params,
        )
        .await?;
        Ok(())
    }

    /// Stops listing row `id` (it stays: other rows point at it) and stamps `updated_at`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn deactivate_content(
        &mut self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE content_library SET is_active = FALSE, updated_at = $1 WHERE id = $2",
            &[Param::Time(now), Param::Uuid(id)],
        )
        .await?;
        Ok(())
    }
}
