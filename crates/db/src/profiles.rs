//! A user's own view of their account: profile, privacy settings, consents, subscription.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, Database, DbError, DbRow, Param};

/// The profile as `GET /api/v1/users/me` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The user's id.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Display name.
    pub display_name: Option<String>,
    /// Avatar URL (http or https).
    pub avatar_url: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// The stored tier (`free` or `premium`), expired or not.
    pub subscription_tier: String,
    /// When premium ends (`None`: it does not).
    pub subscription_expires_at: Option<DateTime<Utc>>,
    /// Days after which mood logs, journal entries, chats, insights, crisis events and
    /// wearable metrics are deleted (`None`: never).
    pub data_retention_days: Option<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Last seen.
    pub last_active_at: Option<DateTime<Utc>>,
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// New display name (`Some(None)` clears it).
    pub display_name: Option<Option<String>>,
    /// New avatar URL (`Some(None)` clears it).
    pub avatar_url: Option<Option<String>>,
    /// New time zone.
    pub timezone: Option<String>,
    /// New locale.
    pub locale: Option<String>,
    /// New retention period in days.
    pub data_retention_days: Option<i64>,
}

impl ProfileChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A consent as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The consent type, e.g. `ai_chat`.
    pub consent_type: String,
    /// Whether it is granted now.
    pub granted: bool,
    /// When it was (last) granted.
    pub granted_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it is revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client address of the last change.
    pub ip_address: Option<String>,
    /// The client's user agent at the last change.
    pub user_agent: Option<String>,
}

const PROFILE_COLUMNS: &str = "id, email, email_verified, display_name, avatar_url, timezone, locale, subscription_tier, subscription_expires_at, data_retention_days, created_at, updated_at, last_active_at";

fn profile(row: &DbRow) -> Result<Profile, DbError> {
    Ok(Profile {
        id: row.uuid("id")?,
        email: row.text("email")?,
        email_verified: opt_bool(row, "email_verified")?.unwrap_or(false),
        display_name: row.opt_text("display_name")?,
        avatar_url: row.opt_text("avatar_url")?,
        timezone: row.opt_text("timezone")?.unwrap_or_else(|| "UTC".into()),
        locale: row.opt_text("locale")?.unwrap_or_else(|| "en-US".into()),
        subscription_tier: row
            .opt_text("subscription_tier")?
            .unwrap_or_else(|| "free".into()),
        subscription_expires_at: row.opt_time("subscription_expires_at")?,
        data_retention_days: opt_int(row, "data_retention_days")?,
        created_at: row.time("created_at")?,
        updated_at: row.opt_time("updated_at")?,
        last_active_at: row.opt_time("last_active_at")?,
    })
}

fn opt_int(row: &DbRow, column: &str) -> Result<Option<i64>, DbError> {
    use sqlx::Row;
    match row {
        DbRow::Sqlite(r) => r.try_get::<Option<i64>, _>(column),
        DbRow::Postgres(r) => r
            .try_get::<Option<i32>, _>(column)
            .map(|v| v.map(i64::from))
            .or_else(|_| r.try_get::<Option<i64>, _>(column)),
    }
    .map_err(|e| DbError::Decode {
        column: column.to_owned(),
        message: e.to_string(),
    })
}

fn opt_bool(row: &DbRow, column: &str) -> Result<Option<bool>, DbError> {
    use sqlx::Row;
    match row {
        DbRow::Sqlite(r) => r.try_get::<Option<bool>, _>(column),
        DbRow::Postgres(r) => r.try_get::<Option<bool>, _>(column),
    }
    .map_err(|e| DbError::Decode {
        column: column.to_owned(),
        message: e.to_string(),
    })
}

fn consent_columns(backend: Backend) -> &'static str {
    match backend {
        // `host()` drops the prefix length of PostgreSQL's text form of INET.
        Backend::Postgres => {
            "consent_type, granted, granted_at, revoked_at, host(ip_address) AS ip_address, user_agent"
        }
        Backend::Sqlite => "consent_type, granted, granted_at, revoked_at, ip_address, user_agent",
    }
}

fn consent(row: &DbRow) -> Result<Consent, DbError> {
    Ok(Consent {
        consent_type: row.text("consent_type")?,
        granted: opt_bool(row, "granted")?.unwrap_or(false),
        granted_at: row.opt_time("granted_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        ip_address: row.opt_text("ip_address")?,
        user_agent: row.opt_text("user_agent")?,
    })
}

impl Database {
    /// A live user's profile.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn profile(&self, user_id: Uuid) -> Result<Option<Profile>, DbError> {
        let sql =
            format!("SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
        self.fetch_optional(&sql, &[Param::Uuid(user_id)])
            .await?
            .as_ref()
            .map(profile)
            .transpose()
    }

    /// Applies `changes` to a live user's profile and bumps `updated_at`; returns the new
    /// profile (`None`: no such live user).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn update_profile(
        &self,
        user_id: Uuid,
        changes: &ProfileChanges,
    ) -> Result<Option<Profile>, DbError> {
        if let Some(zone) = &changes.timezone {
            // So the zone change rebuilds the user's rollups in the new zone right away
            // (see `rollups`), rather than at their next aggregate.
            self.load_time_zone(zone).await?;
        }
        let mut sets = Vec::new();
        let mut params = Vec::new();
        let mut set = |column: &str, param: Param| {
            params.push(param);
            sets.push(format!("{column} = ${}", params.len()));
        };
        if let Some(value) = &changes.display_name {
            set("display_name", Param::OptText(value.clone()));
        }
        if let Some(value) = &changes.avatar_url {
            set("avatar_url", Param::OptText(value.clone()));
        }
        if let Some(value) = &changes.timezone {
            set("timezone", Param::Text(value.clone()));
        }
        if let Some(value) = &changes.locale {
            set("locale", Param::Text(value.clone()));
        }
        if let Some(value) = changes.data_retention_days {
            set("data_retention_days", Param::Int(value));
        }
        set("updated_at", Param::Time(Utc::now()));
        params.push(Param::Uuid(user_id));
        // Column names are this function's constants; every value is a parameter.
        let sql = format!(
            "UPDATE users SET {} WHERE id = ${} AND deleted_at IS NULL RETURNING {PROFILE_COLUMNS}",
            sets.join(", "),
            params.len()
        );
        self.fetch_optional(&sql, &params)
            .await?
            .as_ref()
            .map(profile)
            .transpose()
    }

    /// The user's recorded consents, by type.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn consents(&self, user_id: Uuid) -> Result<Vec<Consent>, DbError> {
        let sql = format!(
            "SELECT {} FROM user_consents WHERE user_id = $1 ORDER BY consent_type",
            consent_columns(self.backend())
        );
        self.fetch_all(&sql, &[Param::Uuid(user_id)])
            .await?
            .iter()
            .map(consent)
            .collect()
    }

    /// Grants or revokes a consent, recording when, the client address and user agent.
    /// Granting sets `granted_at` and clears `revoked_at`; revoking sets `revoked_at` and
    /// keeps `granted_at`. Repeating the current state changes nothing (the first record of
    /// that state, with its address and user agent, is kept). Returns the consent as stored.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn set_consent(
        &self,
        user_id: Uuid,
        consent_type: &str,
        granted: bool,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Consent, DbError> {
        let now = Utc::now();
        let ip = match self.backend() {
            Backend::Postgres => "CAST($7 AS INET)",
            Backend::Sqlite => "$7",
        };
        let sql = format!(
            "INSERT INTO user_consents (id, user_id, consent_type, granted, granted_at, revoked_at, ip_address, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, {ip}, $8) \
             ON CONFLICT (user_id, consent_type) DO UPDATE SET \
               granted = excluded.granted, \
               granted_at = COALESCE(excluded.granted_at, user_consents.granted_at), \
               revoked_at = excluded.revoked_at, \
               ip_address = excluded.ip_address, \
               user_agent = excluded.user_agent \
             WHERE user_consents.granted IS NULL OR user_consents.granted <> excluded.granted"
        );
        self.execute(
            &sql,
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Uuid(user_id),
                Param::Text(consent_type.into()),
                Param::Bool(granted),
                Param::OptTime(granted.then_some(now)),
                Param::OptTime((!granted).then_some(now)),
                Param::OptText(ip_address.map(str::to_owned)),
                Param::OptText(user_agent.map(str::to_owned)),
            ],
        )
        .await?;
        let sql = format!(
            "SELECT {} FROM user_consents WHERE user_id = $1 AND consent_type = $2",
            consent_columns(self.backend())
        );
        self.fetch_optional(
            &sql,
            &[Param::Uuid(user_id), Param::Text(consent_type.into())],
        )
        .await?
        .as_ref()
        .map(consent)
        .transpose()?
        .ok_or_else(|| DbError::Config("the consent was not stored".into()))
    }

    /// Sets a live user's subscription tier and its end (`None`: no end); returns whether the
    /// user exists.
    ///
    /// # Errors
    /// [`DbError`]; an unknown tier is a conflict (foreign key on `subscription_tiers`).
    pub async fn set_subscription(
        &self,
        user_id: Uuid,
        tier: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE users SET subscription_tier = $1, subscription_expires_at = $2, updated_at = $3 \
                 WHERE id = $4 AND deleted_at IS NULL",
                &[
                    Param::Text(tier.into()),
                    Param::OptTime(expires_at),
                    Param::Time(Utc::now()),
                    Param::Uuid(user_id),
                ],
            )
            .await?
            > 0)
    }
}
