//! Wearables (issue 15): connections with their sealed tokens and sync state, OAuth states in
//! flight, daily metrics and sleep sessions as adapters report them, webhook receipts and
//! each user's primary source per metric.
//!
//! Owns: every statement on these tables the host makes (components read metrics and
//! connections through the storage capability, never the tokens: the catalog leaves the
//! token columns out). Never holds: a token in plaintext (the host's wearables module seals
//! them before they reach here).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Database, DbError, DbRow, Param};

/// A connection as the host's wearables module uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// The provider key (`oura`).
    pub provider: String,
    /// The provider's id for the user (webhooks name it).
    pub provider_user_id: Option<String>,
    /// The sealed access token (nonce ‖ ciphertext).
    pub access_token: Option<Vec<u8>>,
    /// The sealed refresh token.
    pub refresh_token: Option<Vec<u8>>,
    /// When the access token expires.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The scopes granted.
    pub scopes: Option<serde_json::Value>,
    /// The last successful sync.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// `active`, `syncing`, `error`, `reauth_required`.
    pub sync_status: String,
    /// Why the last sync failed (a class and a short text, never a body or a token).
    pub sync_error: Option<String>,
    /// When the next sync is due.
    pub next_sync_at: Option<DateTime<Utc>>,
    /// The last day fully fetched.
    pub synced_through: Option<NaiveDate>,
    /// Failures since the last success.
    pub sync_attempts: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

const CONNECTION_COLUMNS: &str = "id, user_id, provider, provider_user_id, access_token_encrypted, \
     refresh_token_encrypted, token_expires_at, scopes, last_sync_at, sync_status, sync_error, \
     next_sync_at, synced_through, sync_attempts, created_at";

fn connection_of(row: &DbRow) -> Result<Connection, DbError> {
    Ok(Connection {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        provider: row.text("provider")?,
        provider_user_id: row.opt_text("provider_user_id")?,
        access_token: row.opt_bytes("access_token_encrypted")?,
        refresh_token: row.opt_bytes("refresh_token_encrypted")?,
        token_expires_at: row.opt_time("token_expires_at")?,
        scopes: row.opt_json("scopes")?,
        last_sync_at: row.opt_time("last_sync_at")?,
        sync_status: row
            .opt_text("sync_status")?
            .unwrap_or_else(|| "active".into()),
        sync_error: row.opt_text("sync_error")?,
        next_sync_at: row.opt_time("next_sync_at")?,
        synced_through: row.opt_date("synced_through")?,
        sync_attempts: row.opt_int("sync_attempts")?.unwrap_or(0),
        created_at: row.time("created_at")?,
    })
}

/// An OAuth authorization in flight, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthState {
    /// Whose flow it is.
    pub user_id: Uuid,
    /// The PKCE verifier, when the provider uses PKCE.
    pub code_verifier: Option<String>,
    /// The redirect URI the authorization used (the token exchange repeats it).
    pub redirect_uri: String,
}

/// New tokens for a connection (sealed).
#[derive(Debug, Clone, PartialEq)]
pub struct SealedTokens {
    /// nonce ‖ ciphertext of the access token.
    pub access: Vec<u8>,
    /// nonce ‖ ciphertext of the refresh token, when one was issued.
    pub refresh: Option<Vec<u8>>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

/// Which of a connection's sealed tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The access token.
    Access,
    /// The refresh token.
    Refresh,
}

/// One day's metrics from one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayMetrics {
    /// The user's calendar day.
    pub metric_date: NaiveDate,
    /// Minutes asleep.
    pub sleep_duration_minutes: Option<i64>,
    /// Sleep score.
    pub sleep_quality_score: Option<i64>,
    /// Deep sleep minutes.
    pub deep_sleep_minutes: Option<i64>,
    /// REM minutes.
    pub rem_sleep_minutes: Option<i64>,
    /// Steps.
    pub steps: Option<i64>,
    /// Active minutes.
    pub active_minutes: Option<i64>,
    /// Calories.
    pub calories_burned: Option<i64>,
    /// Mean heart rate.
    pub avg_heart_rate: Option<i64>,
    /// Mean HRV (ms, of the provider's kind).
    pub hrv_avg: Option<f64>,
    /// Stress score.
    pub stress_score: Option<i64>,
    /// Readiness score.
    pub readiness_score: Option<i64>,
}

/// A stored day, with where it came from (for de-duplication across providers).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDay {
    /// The provider (`None` only for rows older than provider tracking).
    pub provider: Option<String>,
    /// The values.
    pub metrics: DayMetrics,
}

/// One sleep session.
#[derive(Debug, Clone, PartialEq)]
pub struct SleepRow {
    /// The provider's id for it.
    pub external_id: String,
    /// Start.
    pub start_at: DateTime<Utc>,
    /// End.
    pub end_at: DateTime<Utc>,
    /// The day the night belongs to.
    pub metric_date: NaiveDate,
    /// Minutes asleep.
    pub asleep_minutes: i64,
    /// Deep minutes.
    pub deep_minutes: Option<i64>,
    /// REM minutes.
    pub rem_minutes: Option<i64>,
    /// Awake minutes.
    pub awake_minutes: Option<i64>,
}

/// A sync's outcome, for [`Database::finish_wearable_sync`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// The new status (`active`, `error`, `reauth_required`).
    pub status: &'static str,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When it succeeded (sets `last_sync_at` and clears the attempts), if it did.
    pub synced_at: Option<DateTime<Utc>>,
    /// The last day now fully fetched, if it moved.
    pub synced_through: Option<NaiveDate>,
    /// When the next sync is due (`None`: never, until something reconnects it).
    pub next_sync_at: Option<DateTime<Utc>>,
    /// The sync stopped for a budget (the adapter's, the operator's, the provider's 429) or
    /// its time slice, not for a failure: the failure count is left as it was.
    pub deferred: bool,
}

fn opt_int(value: Option<i64>) -> Param {
    Param::OptInt(value)
}

impl Database {
    /// Stores an authorization in flight.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_wearable_oauth_state(
        &self,
        state_hash: &str,
        user: Uuid,
        provider: &str,
        state: &OauthState,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO wearable_oauth_states (state_hash, user_id, provider, code_verifier, redirect_uri, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Param::Text(state_hash.to_owned()),
                Param::Uuid(user),
                Param::Text(provider.to_owned()),
                Param::OptText(state.code_verifier.clone()),
                Param::Text(state.redirect_uri.clone()),
                Param::Time(expires_at),
            ],
        )
        .await?;
        // Each user keeps at most a handful of flows in flight; expired ones go.
        self.execute(
            "DELETE FROM wearable_oauth_states WHERE user_id = $1 AND expires_at < $2",
            &[Param::Uuid(user), Param::Time(Utc::now())],
        )
        .await?;
        Ok(())
    }

    /// Takes (and deletes: single use) the authorization `state_hash` names for `provider`,
    /// if it has not expired at `now`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn take_wearable_oauth_state(
        &self,
        state_hash: &str,
        provider: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OauthState>, DbError> {
        let row = self
            .fetch_optional(
                "DELETE FROM wearable_oauth_states WHERE state_hash = $1 AND provider = $2 \
                 RETURNING user_id, code_verifier, redirect_uri, expires_at",
                &[
                    Param::Text(state_hash.to_owned()),
                    Param::Text(provider.to_owned()),
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.time("expires_at")? < now {
            return Ok(None);
        }
        Ok(Some(OauthState {
            user_id: row.uuid("user_id")?,
            code_verifier: row.opt_text("code_verifier")?,
            redirect_uri: row.text("redirect_uri")?,
        }))
    }

    /// Makes or renews `user`'s connection to `provider` with fresh tokens, due for a sync
    /// at `now`; its id.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn connect_wearable(
        &self,
        user: Uuid,
        provider: &str,
        provider_user_id: Option<&str>,
        tokens: Option<&SealedTokens>,
        now: DateTime<Utc>,
    ) -> Result<Uuid, DbError> {
        let scopes = tokens.map(|t| serde_json::json!(t.scopes));
        let row = self
            .fetch_optional(
                "INSERT INTO wearable_connections (id, user_id, provider, provider_user_id, access_token_encrypted, \
                 refresh_token_encrypted, token_expires_at, scopes, sync_status, sync_error, next_sync_at, sync_attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', NULL, $9, 0, $9) \
                 ON CONFLICT (user_id, provider) DO UPDATE SET provider_user_id = excluded.provider_user_id, \
                 access_token_encrypted = excluded.access_token_encrypted, refresh_token_encrypted = excluded.refresh_token_encrypted, \
                 token_expires_at = excluded.token_expires_at, scopes = excluded.scopes, sync_status = 'active', \
                 sync_error = NULL, next_sync_at = excluded.next_sync_at, sync_attempts = 0 \
                 RETURNING id",
                &[
                    Param::Uuid(Uuid::new_v4()),
                    Param::Uuid(user),
                    Param::Text(provider.to_owned()),
                    Param::OptText(provider_user_id.map(str::to_owned)),
                    Param::OptBytes(tokens.map(|t| t.access.clone())),
                    Param::OptBytes(tokens.and_then(|t| t.refresh.clone())),
                    Param::OptTime(tokens.and_then(|t| t.expires_at)),
                    Param::OptJson(scopes),
                    Param::Time(now),
                ],
            )
            .await?
            .ok_or_else(|| DbError::Config("the connection was not stored".into()))?;
        row.uuid("id")
    }

    /// Replaces one sealed token of a connection by the same token sealed again (a data-key
    /// rotation), only if it is still `old`: a refresh that stored new tokens meanwhile wins.
    /// Whether it was replaced.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn reseal_wearable_token(
        &self,
        connection: Uuid,
        which: TokenKind,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, DbError> {
        let sql = match which {
            TokenKind::Access => {
                "UPDATE wearable_connections SET access_token_encrypted = $3 \
                 WHERE id = $1 AND access_token_encrypted = $2"
            }
            TokenKind::Refresh => {
                "UPDATE wearable_connections SET refresh_token_encrypted = $3 \
                 WHERE id = $1 AND refresh_token_encrypted = $2"
            }
        };
        let changed = self
            .execute(
                sql,
                &[
                    Param::Uuid(connection),
                    Param::Bytes(old.to_vec()),
                    Param::Bytes(new.to_vec()),
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Replaces a connection's tokens (after a refresh).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn update_wearable_tokens(
        &self,
        connection: Uuid,
        tokens: &SealedTokens,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE wearable_connections SET access_token_encrypted = $2, \
             refresh_token_encrypted = COALESCE($3, refresh_token_encrypted), token_expires_at = $4 WHERE id = $1",
            &[
                Param::Uuid(connection),
                Param::Bytes(tokens.access.clone()),
                Param::OptBytes(tokens.refresh.clone()),
                Param::OptTime(tokens.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    /// `user`'s connections, oldest first.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_connections(&self, user: Uuid) -> Result<Vec<Connection>, DbError> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM wearable_connections WHERE user_id = $1 ORDER BY created_at, id"
        );
        self.fetch_all(&sql, &[Param::Uuid(user)])
            .await?
            .iter()
            .map(connection_of)
            .collect()
    }

    /// A connection by id (any user's: the scheduler's and webhooks' view).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_connection(&self, id: Uuid) -> Result<Option<Connection>, DbError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM wearable_connections WHERE id = $1");
        self.fetch_optional(&sql, &[Param::Uuid(id)])
            .await?
            .as_ref()
            .map(connection_of)
            .transpose()
    }

    /// The connection of `provider` whose provider user id is `provider_user_id`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_connection_of_provider_user(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<Connection>, DbError> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM wearable_connections WHERE provider = $1 AND provider_user_id = $2 \
             ORDER BY created_at DESC LIMIT 1"
        );
        self.fetch_optional(
            &sql,
            &[
                Param::Text(provider.to_owned()),
                Param::Text(provider_user_id.to_owned()),
            ],
        )
        .await?
        .as_ref()
        .map(connection_of)
        .transpose()
    }

    /// Leases the connection due longest ago (at `now`) until `lease_until`, marking it
    /// `syncing`: one replica syncs it; a lease whose replica died expires.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn lease_due_wearable(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Connection>, DbError> {
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE wearable_connections SET lease_until = $2 WHERE id = (\
             SELECT id FROM wearable_connections WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_sync_at LIMIT 1{lock}) \
             RETURNING {CONNECTION_COLUMNS}"
        );
        self.fetch_optional(&sql, &[Param::Time(now), Param::Time(lease_until)])
            .await?
            .as_ref()
            .map(connection_of)
            .transpose()
    }

    /// Records a sync's outcome and releases the lease.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn finish_wearable_sync(
        &self,
        connection: Uuid,
        outcome: &SyncOutcome,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE wearable_connections SET sync_status = $2, sync_error = $3, \
             last_sync_at = COALESCE($4, last_sync_at), synced_through = COALESCE($5, synced_through), \
             next_sync_at = $6, lease_until = NULL, \
             sync_attempts = CASE WHEN $4 IS NOT NULL THEN 0 WHEN $7 THEN sync_attempts ELSE sync_attempts + 1 END \
             WHERE id = $1",
            &[
                Param::Uuid(connection),
                Param::Text(outcome.status.to_owned()),
                Param::OptText(outcome.error.clone()),
                Param::OptTime(outcome.synced_at),
                Param::OptDate(outcome.synced_through),
                Param::OptTime(outcome.next_sync_at),
                Param::Bool(outcome.deferred),
            ],
        )
        .await?;
        Ok(())
    }

    /// Admits one unit (a `fetch` call, an outbound request) under the budget `key` in the
    /// UTC minute `minute` (minutes since 1970-01-01) when fewer than `limit` were admitted
    /// in it; `false` when the minute's budget is spent. One statement, atomic on both
    /// backends, so replicas share the budget.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn admit_wearable_budget(
        &self,
        key: &str,
        minute: i64,
        limit: i64,
    ) -> Result<bool, DbError> {
        if limit <= 0 {
            return Ok(false);
        }
        let row = self
            .fetch_optional(
                "INSERT INTO wearable_request_budgets (budget_key, minute, used) VALUES ($1, $2, 1) \
                 ON CONFLICT (budget_key, minute) DO UPDATE SET used = wearable_request_budgets.used + 1 \
                 WHERE wearable_request_budgets.used < $3 RETURNING used",
                &[
                    Param::Text(key.to_owned()),
                    Param::Int(minute),
                    Param::Int(limit),
                ],
            )
            .await?;
        Ok(row.is_some())
    }

    /// How much of the budget `key` was admitted in `minute` (0 when nothing was).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_budget_used(&self, key: &str, minute: i64) -> Result<i64, DbError> {
        let row = self
            .fetch_optional(
                "SELECT used FROM wearable_request_budgets WHERE budget_key = $1 AND minute = $2",
                &[Param::Text(key.to_owned()), Param::Int(minute)],
            )
            .await?;
        match row {
            Some(row) => Ok(row.opt_int("used")?.unwrap_or(0)),
            None => Ok(0),
        }
    }

    /// Removes the budgets of minutes before `minute`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn forget_wearable_budgets(&self, minute: i64) -> Result<(), DbError> {
        self.execute(
            "DELETE FROM wearable_request_budgets WHERE minute < $1",
            &[Param::Int(minute)],
        )
        .await?;
        Ok(())
    }

    /// Makes a connection due now (a webhook asked for data, or the user asked to sync).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_due_now(
        &self,
        connection: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE wearable_connections SET next_sync_at = $2 \
             WHERE id = $1 AND sync_status <> 'reauth_required' AND (next_sync_at IS NULL OR next_sync_at > $2)",
            &[Param::Uuid(connection), Param::Time(now)],
        )
        .await?;
        Ok(())
    }

    /// Deletes `user`'s connection `id` (its tokens with it); its metrics and sleep
    /// sessions are deleted too unless `keep_data`, in which case they stay, marked with
    /// their provider. `false` when there is no such connection of `user`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn delete_wearable_connection(
        &self,
        user: Uuid,
        id: Uuid,
        keep_data: bool,
    ) -> Result<bool, DbError> {
        let mut tx = self.begin().await?;
        let params = [Param::Uuid(id), Param::Uuid(user)];
        for table in ["wearable_metrics", "wearable_sleep_sessions"] {
            let sql = if keep_data {
                format!(
                    "UPDATE {table} SET connection_id = NULL WHERE connection_id = $1 AND user_id = $2"
                )
            } else {
                format!("DELETE FROM {table} WHERE connection_id = $1 AND user_id = $2")
            };
            tx.execute(&sql, &params).await?;
        }
        let deleted = tx
            .execute(
                "DELETE FROM wearable_connections WHERE id = $1 AND user_id = $2",
                &params,
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Stores days and sleep sessions from `connection` (a day or session already stored
    /// from it is replaced), in one transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn store_wearable_batch(
        &self,
        user: Uuid,
        connection: Uuid,
        provider: &str,
        days: &[DayMetrics],
        sleep: &[SleepRow],
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        for day in days {
            tx.execute(
                "INSERT INTO wearable_metrics (id, user_id, connection_id, provider, metric_date, sleep_duration_minutes, \
                 sleep_quality_score, deep_sleep_minutes, rem_sleep_minutes, steps, active_minutes, calories_burned, \
                 avg_heart_rate, hrv_avg, stress_score, readiness_score) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (user_id, metric_date, connection_id) DO UPDATE SET \
                 sleep_duration_minutes = COALESCE(excluded.sleep_duration_minutes, wearable_metrics.sleep_duration_minutes), \
                 sleep_quality_score = COALESCE(excluded.sleep_quality_score, wearable_metrics.sleep_quality_score), \
                 deep_sleep_minutes = COALESCE(excluded.deep_sleep_minutes, wearable_metrics.deep_sleep_minutes), \
                 rem_sleep_minutes = COALESCE(excluded.rem_sleep_minutes, wearable_metrics.rem_sleep_minutes), \
                 steps = COALESCE(excluded.steps, wearable_metrics.steps), \
                 active_minutes = COALESCE(excluded.active_minutes, wearable_metrics.active_minutes), \
                 calories_burned = COALESCE(excluded.calories_burned, wearable_metrics.calories_burned), \
                 avg_heart_rate = COALESCE(excluded.avg_heart_rate, wearable_metrics.avg_heart_rate), \
                 hrv_avg = COALESCE(excluded.hrv_avg, wearable_metrics.hrv_avg), \
                 stress_score = COALESCE(excluded.stress_score, wearable_metrics.stress_score), \
                 readiness_score = COALESCE(excluded.readiness_score, wearable_metrics.readiness_score)",
                &[
                    Param::Uuid(Uuid::new_v4()),
                    Param::Uuid(user),
                    Param::Uuid(connection),
                    Param::Text(provider.to_owned()),
                    Param::OptDate(Some(day.metric_date)),
                    opt_int(day.sleep_duration_minutes),
                    opt_int(day.sleep_quality_score),
                    opt_int(day.deep_sleep_minutes),
                    opt_int(day.rem_sleep_minutes),
                    opt_int(day.steps),
                    opt_int(day.active_minutes),
                    opt_int(day.calories_burned),
                    opt_int(day.avg_heart_rate),
                    Param::OptFloat(day.hrv_avg),
                    opt_int(day.stress_score),
                    opt_int(day.readiness_score),
                ],
            )
            .await?;
        }
        for session in sleep {
            tx.execute(
                "INSERT INTO wearable_sleep_sessions (id, user_id, connection_id, provider, external_id, start_at, end_at, \
                 metric_date, asleep_minutes, deep_minutes, rem_minutes, awake_minutes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (user_id, provider, external_id) DO UPDATE SET connection_id = excluded.connection_id, \
                 start_at = excluded.start_at, end_at = excluded.end_at, metric_date = excluded.metric_date, \
                 asleep_minutes = excluded.asleep_minutes, deep_minutes = excluded.deep_minutes, \
                 rem_minutes = excluded.rem_minutes, awake_minutes = excluded.awake_minutes",
                &[
                    Param::Uuid(Uuid::new_v4()),
                    Param::Uuid(user),
                    Param::Uuid(connection),
                    Param::Text(provider.to_owned()),
                    Param::Text(session.external_id.clone()),
                    Param::Time(session.start_at),
                    Param::Time(session.end_at),
                    Param::OptDate(Some(session.metric_date)),
                    Param::Int(session.asleep_minutes),
                    opt_int(session.deep_minutes),
                    opt_int(session.rem_minutes),
                    opt_int(session.awake_minutes),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `user`'s stored days from `from` to `to` (inclusive), every provider's, by date.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_days(
        &self,
        user: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredDay>, DbError> {
        let rows = self
            .fetch_all(
                "SELECT provider, metric_date, sleep_duration_minutes, sleep_quality_score, deep_sleep_minutes, \
                 rem_sleep_minutes, steps, active_minutes, calories_burned, avg_heart_rate, hrv_avg, stress_score, \
                 readiness_score FROM wearable_metrics WHERE user_id = $1 AND metric_date >= $2 AND metric_date <= $3 \
                 ORDER BY metric_date, provider",
                &[
                    Param::Uuid(user),
                    Param::OptDate(Some(from)),
                    Param::OptDate(Some(to)),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredDay {
                    provider: row.opt_text("provider")?,
                    metrics: DayMetrics {
                        metric_date: row.opt_date("metric_date")?.ok_or_else(|| {
                            DbError::Decode {
                                column: "metric_date".into(),
                                message: "unexpected NULL".into(),
                            }
                        })?,
                        sleep_duration_minutes: row.opt_int("sleep_duration_minutes")?,
                        sleep_quality_score: row.opt_int("sleep_quality_score")?,
                        deep_sleep_minutes: row.opt_int("deep_sleep_minutes")?,
                        rem_sleep_minutes: row.opt_int("rem_sleep_minutes")?,
                        steps: row.opt_int("steps")?,
                        active_minutes: row.opt_int("active_minutes")?,
                        calories_burned: row.opt_int("calories_burned")?,
                        avg_heart_rate: row.opt_int("avg_heart_rate")?,
                        hrv_avg: row.opt_float("hrv_avg")?,
                        stress_score: row.opt_int("stress_score")?,
                        readiness_score: row.opt_int("readiness_score")?,
                    },
                })
            })
            .collect()
    }

    /// Records a webhook delivery's digest at `now`; `false` when it was seen before (a
    /// replay). Digests older than `forget_before` are removed.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn record_wearable_webhook(
        &self,
        provider: &str,
        digest: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        self.execute(
            "DELETE FROM wearable_webhook_receipts WHERE received_at < $1",
            &[Param::Time(forget_before)],
        )
        .await?;
        let inserted = self
            .execute(
                "INSERT INTO wearable_webhook_receipts (digest, provider, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (digest) DO NOTHING",
                &[
                    Param::Text(digest.to_owned()),
                    Param::Text(provider.to_owned()),
                    Param::Time(now),
                ],
            )
            .await?;
        Ok(inserted > 0)
    }

    /// Forgets a delivery [`Self::record_wearable_webhook`] recorded, when acting on it
    /// failed: the provider's retry of the same body is then accepted, not refused as a
    /// replay (which would lose it).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn forget_wearable_webhook(
        &self,
        provider: &str,
        digest: &str,
    ) -> Result<(), DbError> {
        self.execute(
            "DELETE FROM wearable_webhook_receipts WHERE digest = $1 AND provider = $2",
            &[
                Param::Text(digest.to_owned()),
                Param::Text(provider.to_owned()),
            ],
        )
        .await?;
        Ok(())
    }

    /// `user`'s primary source per metric (`(metric, provider)`).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn wearable_preferences(&self, user: Uuid) -> Result<Vec<(String, String)>, DbError> {
        self.fetch_all(
            "SELECT metric, provider FROM wearable_preferences WHERE user_id = $1 ORDER BY metric",
            &[Param::Uuid(user)],
        )
        .await?
        .iter()
        .map(|row| Ok((row.text("metric")?, row.text("provider")?)))
        .collect()
    }

    /// Sets `user`'s primary source for `metric` (`None`: back to the default priority).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn set_wearable_preference(
        &self,
        user: Uuid,
        metric: &str,
        provider: Option<&str>,
    ) -> Result<(), DbError> {
        match provider {
            Some(provider) => {
                self.execute(
                    "INSERT INTO wearable_preferences (user_id, metric, provider) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, metric) DO UPDATE SET provider = excluded.provider",
                    &[
                        Param::Uuid(user),
                        Param::Text(metric.to_owned()),
                        Param::Text(provider.to_owned()),
                    ],
                )
                .await?;
            }
            None => {
                self.execute(
                    "DELETE FROM wearable_preferences WHERE user_id = $1 AND metric = $2",
                    &[Param::Uuid(user), Param::Text(metric.to_owned())],
                )
                .await?;
            }
        }
        Ok(())
    }
}
