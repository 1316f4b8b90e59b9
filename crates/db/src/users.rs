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

/// What an authenticated request needs to know about its caller ([`Database::caller_standing`]).
#[derive(Debug, Clone)]
pub struct CallerStanding {
    /// The account.
    pub user: UserRecord,
    /// The consent types granted and not revoked, sorted.
    pub consents: Vec<String>,
    /// The refresh-token families (sessions) ended recently: their access tokens are refused.
    pub ended_sessions: Vec<Uuid>,
}

pub(crate) const USER_COLUMNS: &str = "id, email, password_hash, subscription_tier, subscription_expires_at, timezone, locale, deleted_at, session_epoch";

pub(crate) fn user(row: &super::DbRow) -> Result<UserRecord, DbError> {
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
    /// Creates a user at once, its address not proven (tools and tests; the API registers by
    /// mail, see [`super::registrations`]); a taken email is a conflict
    /// ([`DbError::is_conflict`]).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        display_name: Option<&str>,
    ) -> Result<UserRecord, DbError> {
        let (sql, params) = super::registrations::insert_user_statement(
            email,
            password_hash,
            display_name,
            false,
            Utc::now(),
        );
        let row = self
            .fetch_optional(&sql, &params)
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

    /// A live user, the consent types they have granted and not revoked, and their sessions
    /// ended since `sessions_ended_since`, in one round trip: every authenticated request
    /// needs all three.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn caller_standing(
        &self,
        id: Uuid,
        sessions_ended_since: DateTime<Utc>,
    ) -> Result<Option<CallerStanding>, DbError> {
        // Consents and ended sessions are both few (a handful of consent types; the sessions
        // ended within one access token's lifetime), so their product stays small.
        let rows = self
            .fetch_all(
                "SELECT u.id, u.email, u.password_hash, u.subscription_tier, u.subscription_expires_at, \
                 u.timezone, u.locale, u.deleted_at, u.session_epoch, c.consent_type, \
                 e.family_id AS ended_session \
                 FROM users u LEFT JOIN user_consents c \
                 ON c.user_id = u.id AND c.granted = $2 AND c.revoked_at IS NULL \
                 LEFT JOIN ended_sessions e ON e.user_id = u.id AND e.ended_at > $3 \
                 WHERE u.id = $1 AND u.deleted_at IS NULL ORDER BY c.consent_type",
                &[
                    Param::Uuid(id),
                    Param::Bool(true),
                    Param::Time(sessions_ended_since),
                ],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut consents = Vec::new();
        let mut ended_sessions = Vec::new();
        for row in &rows {
            if let Some(consent) = row.opt_text("consent_type")?
                && consents.last() != Some(&consent)
            {
                consents.push(consent);
            }
            if let Some(family) = row.opt_uuid("ended_session")?
                && !ended_sessions.contains(&family)
            {
                ended_sessions.push(family);
            }
        }
        Ok(Some(CallerStanding {
            user: user(first)?,
            consents,
            ended_sessions,
        }))
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
