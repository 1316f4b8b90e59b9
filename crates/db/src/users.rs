//! Users, roles and what the `context` capability needs to know about a caller.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, Param};

/// A user account as the identity layer needs it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The user's id.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Argon2id PHC string; `None` for OAuth-only accounts.
    pub password_hash: Option<String>,
    /// `free` or `premium`.
    pub subscription_tier: String,
    /// When premium ends.
    pub subscription_expires_at: Option<DateTime<Utc>>,
    /// IANA time zone.
    pub timezone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// Set when the account was deleted.
    pub deleted_at: Option<DateTime<Utc>>,
    /// The session epoch: tokens issued under an earlier one are refused.
    pub session_epoch: i64,
}

const USER_COLUMNS: &str = "id, email, password_hash, subscription_tier, subscription_expires_at, timezone, locale, deleted_at, session_epoch";

fn user(row: &super::DbRow) -> Result<UserRecord, DbError> {
    Ok(UserRecord {
        id: row.uuid("id")?,
        email: row.text("email")?,
        password_hash: row.opt_text("password_hash")?,
        subscription_tier: row
            .opt_text("subscription_tier")?
            .unwrap_or_else(|| "free".into()),
        subscription_expires_at: row.opt_time("subscription_expires_at")?,
        timezone: row.opt_text("timezone")?.unwrap_or_else(|| "UTC".into()),
        locale: row.opt_text("locale")?.unwrap_or_else(|| "en-US".into()),
        deleted_at: row.opt_time("deleted_at")?,
        session_epoch: row.int("session_epoch")?,
    })
}

impl Database {
    /// Creates a user; a taken email is a conflict ([`DbError::is_conflict`]).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        display_name: Option<&str>,
    ) -> Result<UserRecord, DbError> {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let anonymous_id = hex::encode(Uuid::new_v4().as_bytes());
        let sql = format!(
            "INSERT INTO users (id, email, password_hash, display_name, anonymous_id, timezone, locale, subscription_tier, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'UTC', 'en-US', 'free', $6, $6) RETURNING {USER_COLUMNS}"
        );
        let row = self
            .fetch_optional(
                &sql,
                &[
                    Param::Uuid(id),
                    Param::Text(email.into()),
                    Param::Text(password_hash.into()),
                    Param::OptText(display_name.map(str::to_owned)),
                    Param::Text(anonymous_id),
                    Param::Time(now),
                ],
            )
            .await?
            .ok_or_else(|| DbError::Config("insert returned no row".into()))?;
        user(&row)
    }

    /// A live (not deleted) user by normalised email.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, DbError> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND deleted_at IS NULL");
        self.fetch_optional(&sql, &[Param::Text(email.into())])
            .await?
            .as_ref()
            .map(user)
            .transpose()
    }

    /// A live user by id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, DbError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
        self.fetch_optional(&sql, &[Param::Uuid(id)])
            .await?
            .as_ref()
            .map(user)
            .transpose()
    }

    /// A live user and the consent types they have granted and not revoked, in one round
    /// trip: every authenticated request needs both.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn user_with_consents(
        &self,
        id: Uuid,
    ) -> Result<Option<(UserRecord, Vec<String>)>, DbError> {
        let rows = self
            .fetch_all(
                "SELECT u.id, u.email, u.password_hash, u.subscription_tier, u.subscription_expires_at, \
                 u.timezone, u.locale, u.deleted_at, u.session_epoch, c.consent_type \
                 FROM users u LEFT JOIN user_consents c \
                 ON c.user_id = u.id AND c.granted = $2 AND c.revoked_at IS NULL \
                 WHERE u.id = $1 AND u.deleted_at IS NULL ORDER BY c.consent_type",
                &[Param::Uuid(id), Param::Bool(true)],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let consents = rows
            .iter()
            .filter_map(|row| row.opt_text("consent_type").transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((user(first)?, consents)))
    }

    /// Grants a role; granting it twice is not an error.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn grant_role(
        &self,
        user_id: Uuid,
        role: &str,
        granted_by: &str,
    ) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, role) DO NOTHING",
            &[Param::Uuid(user_id), Param::Text(role.into()), Param::Time(Utc::now()), Param::Text(granted_by.into())],
        )
        .await?;
        Ok(())
    }

    /// Whether a user holds a role.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn has_role(&self, user_id: Uuid, role: &str) -> Result<bool, DbError> {
        Ok(self
            .fetch_optional(
                "SELECT role FROM user_roles WHERE user_id = $1 AND role = $2",
                &[Param::Uuid(user_id), Param::Text(role.into())],
            )
            .await?
            .is_some())
    }
}
