//! Stored component versions and the history of activations.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Database, DbError, DbRow, Param};

/// A stored component version (without its bytes).
#[derive(Debug, Clone, Serialize)]
pub struct VersionRecord {
    /// Row id.
    pub id: Uuid,
    /// Component name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Plugin kind.
    pub kind: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Size of the bytes.
    pub size_bytes: i64,
    /// `installed`, `active`, `inactive` or `rejected`.
    pub status: String,
    /// The gate's report.
    pub gate_report: Option<serde_json::Value>,
    /// Who installed it.
    pub installed_by: String,
    /// When.
    pub installed_at: DateTime<Utc>,
    /// When it was last activated.
    pub activated_at: Option<DateTime<Utc>>,
}

/// A version to store.
pub struct NewVersion<'a> {
    /// Component name.
    pub name: &'a str,
    /// Version label.
    pub version: &'a str,
    /// Plugin kind.
    pub kind: &'a str,
    /// SHA-256 hex.
    pub sha256: &'a str,
    /// The component's bytes.
    pub bytes: &'a [u8],
    /// `installed` or `rejected`.
    pub status: &'a str,
    /// Gate report.
    pub gate_report: Option<serde_json::Value>,
    /// OpenAPI fragment.
    pub openapi: Option<serde_json::Value>,
    /// Who installs it.
    pub installed_by: &'a str,
}

const COLUMNS: &str = "id, name, version, kind, sha256, size_bytes, status, gate_report, installed_by, installed_at, activated_at";

fn record(row: &DbRow) -> Result<VersionRecord, DbError> {
    Ok(VersionRecord {
        id: row.uuid("id")?,
        name: row.text("name")?,
        version: row.text("version")?,
        kind: row.text("kind")?,
        sha256: row.text("sha256")?,
        size_bytes: row.int("size_bytes")?,
        status: row.text("status")?,
        gate_report: row.opt_json("gate_report")?,
        installed_by: row.text("installed_by")?,
        installed_at: row.time("installed_at")?,
        activated_at: row.opt_time("activated_at")?,
    })
}

impl Database {
    /// Stores a new version.
    ///
    /// # Errors
    /// [`DbError`]; a conflict when the name and version exist already.
    pub async fn insert_component_version(
        &self,
        new: NewVersion<'_>,
    ) -> Result<VersionRecord, DbError> {
        let id = Uuid::new_v4();
        let size = i64::try_from(new.bytes.len()).unwrap_or(i64::MAX);
        let gate = Param::OptJson(new.gate_report);
        let openapi = Param::OptJson(new.openapi);
        let sql = format!(
            "INSERT INTO component_versions (id, name, version, kind, sha256, bytes, size_bytes, status, gate_report, openapi, installed_by, installed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
        );
        let row = self
            .fetch_optional(
                &sql,
                &[
                    Param::Uuid(id),
                    Param::Text(new.name.into()),
                    Param::Text(new.version.into()),
                    Param::Text(new.kind.into()),
                    Param::Text(new.sha256.into()),
                    Param::Bytes(new.bytes.to_vec()),
                    Param::Int(size),
                    Param::Text(new.status.into()),
                    gate,
                    openapi,
                    Param::Text(new.installed_by.into()),
                    Param::Time(Utc::now()),
                ],
            )
            .await?
            .ok_or_else(|| DbError::Config("insert returned no row".into()))?;
        record(&row)
    }

    /// All versions of all components, newest first.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn component_versions(&self) -> Result<Vec<VersionRecord>, DbError> {
        let sql =
            format!("SELECT {COLUMNS} FROM component_versions ORDER BY name, installed_at DESC");
        self.fetch_all(&sql, &[])
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// One version by name and label.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn component_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<VersionRecord>, DbError> {
        let sql =
            format!("SELECT {COLUMNS} FROM component_versions WHERE name = $1 AND version = $2");
        self.fetch_optional(
            &sql,
            &[Param::Text(name.into()), Param::Text(version.into())],
        )
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    /// A version of `name` with these bytes, if one was stored.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn component_version_by_sha(
        &self,
        name: &str,
        sha256: &str,
    ) -> Result<Option<VersionRecord>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM component_versions WHERE name = $1 AND sha256 = $2 ORDER BY installed_at DESC LIMIT 1"
        );
        self.fetch_optional(
            &sql,
            &[Param::Text(name.into()), Param::Text(sha256.into())],
        )
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    /// A version by id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn component_version_by_id(
        &self,
        id: Uuid,
    ) -> Result<Option<VersionRecord>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM component_versions WHERE id = $1");
        self.fetch_optional(&sql, &[Param::Uuid(id)])
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The bytes and OpenAPI fragment of a version.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn component_bytes(&self, id: Uuid) -> Result<Option<Vec<u8>>, DbError> {
        self.fetch_optional(
            "SELECT bytes FROM component_versions WHERE id = $1",
            &[Param::Uuid(id)],
        )
        .await?
        .map(|row| row.bytes("bytes"))
        .transpose()
    }

    /// The active version of every component.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn active_component_versions(&self) -> Result<Vec<VersionRecord>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM component_versions WHERE status = 'active'");
        self.fetch_all(&sql, &[])
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// Makes `version_id` the active version of `name`, atomically, and records the change.
    /// Returns the previously active version's id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn activate_component_version(
        &self,
        name: &str,
        version_id: Uuid,
        action: &str,
        actor: &str,
    ) -> Result<Option<Uuid>, DbError> {
        let mut tx = self.begin().await?;
        let previous = tx
            .fetch_optional(
                "SELECT id FROM component_versions WHERE name = $1 AND status = 'active'",
                &[Param::Text(name.into())],
            )
            .await?
            .map(|row| row.uuid("id"))
            .transpose()?;
        tx.execute(
            "UPDATE component_versions SET status = 'inactive' WHERE name = $1 AND status = 'active'",
            &[Param::Text(name.into())],
        )
        .await?;
        let changed = tx
            .execute(
                "UPDATE component_versions SET status = 'active', activated_at = $1 WHERE id = $2 AND name = $3 AND status <> 'rejected'",
                &[Param::Time(Utc::now()), Param::Uuid(version_id), Param::Text(name.into())],
            )
            .await?;
        if changed != 1 {
            return Err(DbError::Config(format!(
                "version {version_id} of `{name}` cannot be activated"
            )));
        }
        tx.execute(
            "INSERT INTO component_activations (id, name, version_id, previous_version_id, action, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Text(name.into()),
                Param::Uuid(version_id),
                Param::OptUuid(previous),
                Param::Text(action.into()),
                Param::Text(actor.into()),
                Param::Time(Utc::now()),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    /// The version that was active before the current one of `name` (the rollback target).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn rollback_target(&self, name: &str) -> Result<Option<Uuid>, DbError> {
        // Walk back through activations: the version active before the current activation.
        let row = self
            .fetch_optional(
                "SELECT previous_version_id FROM component_activations WHERE name = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
                &[Param::Text(name.into())],
            )
            .await?;
        match row {
            Some(row) => row.opt_uuid("previous_version_id"),
            None => Ok(None),
        }
    }
}
