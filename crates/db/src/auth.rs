//! Authentication state: refresh tokens, login attempts, password-reset tokens, OAuth
//! connections and account deletion.
//!
//! Tokens are stored only as SHA-256 hex (`token_hash`); the caller hashes them. Client
//! addresses are `INET` in PostgreSQL (hence the cast) and text in SQLite.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, Database, DbError, DbRow, Param, Transaction};

/// A stored refresh token, as rotation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Row id.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The family (one per login); rotation keeps it.
    pub family_id: Uuid,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for its replacement.
    pub rotated_at: Option<DateTime<Utc>>,
    /// When it (or its family) was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The owner's session epoch when it was issued.
    pub session_epoch: i64,
    /// When the owner last proved who they are in this session (`None`: before this was
    /// recorded).
    pub authenticated_at: Option<DateTime<Utc>>,
}

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken<'a> {
    /// Row id (known in advance so the rotated token can point at it).
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The family.
    pub family_id: Uuid,
    /// SHA-256 hex of the token.
    pub token_hash: &'a str,
    /// Issued at.
    pub issued_at: DateTime<Utc>,
    /// Expires at.
    pub expires_at: DateTime<Utc>,
    /// The client's `User-Agent`, shortened.
    pub user_agent: Option<&'a str>,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The owner's session epoch it is issued under.
    pub session_epoch: i64,
    /// When the owner last proved who they are in this session.
    pub authenticated_at: Option<DateTime<Utc>>,
}

fn transaction_backend(tx: &Transaction) -> Backend {
    match tx {
        Transaction::Sqlite(..) => Backend::Sqlite,
        Transaction::Postgres(_) => Backend::Postgres,
    }
}

/// The placeholder for a client address: `INET` wants a cast in PostgreSQL.
fn ip_placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("${n}"),
        Backend::Postgres => format!("CAST(${n} AS INET)"),
    }
}

fn insert_refresh_statement(backend: Backend, token: &NewRefreshToken<'_>) -> (String, Vec<Param>) {
    let sql = format!(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, issued_at, expires_at, user_agent, ip_address, session_epoch, authenticated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, {}, $9, $10)",
        ip_placeholder(backend, 8)
    );
    let params = vec![
        Param::Uuid(token.id),
        Param::Uuid(token.user_id),
        Param::Uuid(token.family_id),
        Param::Text(token.token_hash.to_owned()),
        Param::Time(token.issued_at),
        Param::Time(token.expires_at),
        Param::OptText(token.user_agent.map(str::to_owned)),
        Param::OptText(token.ip.map(|ip| ip.to_canonical().to_string())),
        Param::Int(token.session_epoch),
        Param::OptTime(token.authenticated_at),
    ];
    (sql, params)
}

fn refresh_record(row: &DbRow) -> Result<RefreshTokenRecord, DbError> {
    Ok(RefreshTokenRecord {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        family_id: row.uuid("family_id")?,
        expires_at: row.time("expires_at")?,
        rotated_at: row.opt_time("rotated_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        session_epoch: row.int("session_epoch")?,
        authenticated_at: row.opt_time("authenticated_at")?,
    })
}

impl Database {
    /// Stores a new refresh token (a login starts a family).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_refresh_token(&self, token: &NewRefreshToken<'_>) -> Result<(), DbError> {
        let (sql, params) = insert_refresh_statement(self.backend(), token);
        self.execute(&sql, &params).await?;
        Ok(())
    }

    /// Ends the session of the token with this hash (logout): revokes its whole family and
    /// records the session as ended, so its access tokens are refused at once. Answers the
    /// session's user, or `None` for an unknown token.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn end_session_of(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, DbError> {
        let mut tx = self.begin().await?;
        let Some(row) = tx
            .fetch_optional(
                "SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1",
                &[Param::Text(token_hash.into())],
            )
            .await?
        else {
            return Ok(None);
        };
        let (family, user) = (row.uuid("family_id")?, row.uuid("user_id")?);
        tx.revoke_refresh_family(family, now).await?;
        tx.record_ended_session(family, user, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }
}

impl Transaction {
    /// Ends every session of a user: the session epoch moves on first (so a token a
    /// concurrent refresh mints under the old epoch is refused wherever it is shown), then
    /// every refresh token is revoked.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn end_all_sessions(
        &mut self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1",
            &[Param::Uuid(user_id)],
        )
        .await?;
        self.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            &[Param::Uuid(user_id), Param::Time(now)],
        )
        .await?;
        Ok(())
    }

    /// A user's session epoch as this transaction sees it (locked on PostgreSQL until the
    /// transaction ends, so an epoch move waits for a refresh under way, or it for the move).
    ///
    /// # Errors
    /// [`DbError`]; [`DbError::NotFound`]-like `None` for an unknown user.
    pub async fn session_epoch(&mut self, user_id: Uuid) -> Result<Option<i64>, DbError> {
        let lock = match transaction_backend(self) {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        };
        let sql = format!("SELECT session_epoch FROM users WHERE id = $1{lock}");
        self.fetch_optional(&sql, &[Param::Uuid(user_id)])
            .await?
            .map(|row| row.int("session_epoch"))
            .transpose()
    }

    /// The refresh token with this hash, locked for the rest of the transaction (SQLite's
    /// `BEGIN IMMEDIATE` already serialises writers).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn refresh_token_for_update(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, DbError> {
        let lock = match transaction_backend(self) {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!(
            "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at, session_epoch, authenticated_at FROM refresh_tokens WHERE token_hash = $1{lock}"
        );
        self.fetch_optional(&sql, &[Param::Text(token_hash.into())])
            .await?
            .as_ref()
            .map(refresh_record)
            .transpose()
    }

    /// Stores a refresh token in the transaction.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_refresh_token(
        &mut self,
        token: &NewRefreshToken<'_>,
    ) -> Result<(), DbError> {
        let (sql, params) = insert_refresh_statement(transaction_backend(self), token);
        self.execute(&sql, &params).await?;
        Ok(())
    }

    /// Marks a token rotated into `replaced_by`; false if it was rotated or revoked meanwhile.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn mark_refresh_rotated(
        &mut self,
        id: Uuid,
        replaced_by: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE refresh_tokens SET rotated_at = $3, replaced_by = $2 \
                 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
                &[Param::Uuid(id), Param::Uuid(replaced_by), Param::Time(now)],
            )
            .await?
            == 1)
    }

    /// Records that the session (refresh-token family) `family` of `user` ended at `now`:
    /// access tokens naming it are refused from the commit on (recording it twice keeps the
    /// first time).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn record_ended_session(
        &mut self,
        family: Uuid,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO ended_sessions (family_id, user_id, ended_at) VALUES ($1, $2, $3) \
             ON CONFLICT (family_id) DO NOTHING",
            &[Param::Uuid(family), Param::Uuid(user), Param::Time(now)],
        )
        .await?;
        Ok(())
    }

    /// Revokes every live token of a family; returns how many.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn revoke_refresh_family(
        &mut self,
        family_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        self.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            &[Param::Uuid(family_id), Param::Time(now)],
        )
        .await
    }
}

impl Database {
    /// Records one login attempt under each key.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn record_login_attempt(
        &self,
        keys: &[String],
        succeeded: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, DbError> {
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let id = Uuid::new_v4();
            self.execute(
                "INSERT INTO login_attempts (id, key, attempted_at, succeeded) VALUES ($1, $2, $3, $4)",
                &[
                    Param::Uuid(id),
                    Param::Text(key.clone()),
                    Param::Time(at),
                    Param::Bool(succeeded),
                ],
            )
            .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Marks attempts recorded as failures (before their password was checked) as
    /// successes, once it matched.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn mark_login_attempts_succeeded(&self, ids: &[Uuid]) -> Result<(), DbError> {
        for id in ids {
            self.execute(
                "UPDATE login_attempts SET succeeded = $2 WHERE id = $1",
                &[Param::Uuid(*id), Param::Bool(true)],
            )
            .await?;
        }
        Ok(())
    }

    /// The newest `limit` failures under `key` after `since` (and, with
    /// `after_last_success`, after the key's last success), oldest first.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn recent_login_failures(
        &self,
        key: &str,
        since: DateTime<Utc>,
        after_last_success: bool,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>, DbError> {
        let mut since = since;
        if after_last_success {
            let last = self
                .fetch_optional(
                    "SELECT attempted_at FROM login_attempts WHERE key = $1 AND succeeded = $2 AND attempted_at > $3 \
                     ORDER BY attempted_at DESC LIMIT 1",
                    &[Param::Text(key.into()), Param::Bool(true), Param::Time(since)],
                )
                .await?;
            if let Some(row) = last {
                since = since.max(row.time("attempted_at")?);
            }
        }
        let mut failures = self
            .fetch_all(
                "SELECT attempted_at FROM login_attempts WHERE key = $1 AND succeeded = $2 AND attempted_at > $3 \
                 ORDER BY attempted_at DESC LIMIT $4",
                &[
                    Param::Text(key.into()),
                    Param::Bool(false),
                    Param::Time(since),
                    Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
                ],
            )
            .await?
            .iter()
            .map(|row| row.time("attempted_at"))
            .collect::<Result<Vec<_>, _>>()?;
        failures.reverse();
        Ok(failures)
    }
}

/// Why a password reset could not be requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequest {
    /// Token stored and message queued.
    Queued,
    /// The user already has enough outstanding tokens; nothing was written.
    Throttled,
}

impl Database {
    /// Stores a password-reset token and queues its message, in one transaction, unless the
    /// user already holds `max_outstanding` unused tokens issued since `since`.
    ///
    /// # Errors
    /// [`DbError`].
    #[allow(clippy::too_many_arguments)]
    pub async fn request_password_reset(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        max_outstanding: i64,
        recipient: &str,
        payload: serde_json::Value,
    ) -> Result<ResetRequest, DbError> {
        let mut tx = self.begin().await?;
        let outstanding = tx
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM password_reset_tokens WHERE user_id = $1 AND used_at IS NULL AND created_at > $2",
                &[Param::Uuid(user_id), Param::Time(since)],
            )
            .await?
            .map(|row| row.int("n"))
            .transpose()?
            .unwrap_or(0);
        if outstanding >= max_outstanding {
            return Ok(ResetRequest::Throttled);
        }
        tx.execute(
            "INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Uuid(user_id),
                Param::Text(token_hash.into()),
                Param::Time(expires_at),
                Param::Time(now),
            ],
        )
        .await?;
        tx.enqueue_outbox("password_reset", recipient, payload, now)
            .await?;
        tx.commit().await?;
        Ok(ResetRequest::Queued)
    }

    /// Whether a reset token is usable now (unused, unexpired, its user alive).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn password_reset_is_usable(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        Ok(self
            .fetch_optional(
                "SELECT t.user_id FROM password_reset_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.deleted_at IS NULL",
                &[Param::Text(token_hash.into()), Param::Time(now)],
            )
            .await?
            .is_some())
    }

    /// Uses a reset token: sets the new password hash, marks the email verified (the reset
    /// code reached the address), spends every outstanding reset token of the user and
    /// revokes all their refresh tokens, in one transaction. Returns the user,
    /// or `None` when the token is unknown, used or expired (nothing changes then).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn complete_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, DbError> {
        let mut tx = self.begin().await?;
        let Some(row) = tx
            .fetch_optional(
                "UPDATE password_reset_tokens SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
                &[Param::Text(token_hash.into()), Param::Time(now)],
            )
            .await?
        else {
            return Ok(None);
        };
        let user_id = row.uuid("user_id")?;
        let updated = tx
            .execute(
                "UPDATE users SET password_hash = $2, email_verified = $4, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL",
                &[
                    Param::Uuid(user_id),
                    Param::Text(password_hash.into()),
                    Param::Time(now),
                    Param::Bool(true),
                ],
            )
            .await?;
        if updated != 1 {
            return Ok(None);
        }
        tx.execute(
            "UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            &[Param::Uuid(user_id), Param::Time(now)],
        )
        .await?;
        tx.end_all_sessions(user_id, now).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
}

impl Database {
    /// The user linked to a provider's subject.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn user_id_by_oauth(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Uuid>, DbError> {
        self.fetch_optional(
            "SELECT c.user_id FROM oauth_connections c JOIN users u ON u.id = c.user_id \
             WHERE c.provider = $1 AND c.provider_user_id = $2 AND u.deleted_at IS NULL",
            &[Param::Text(provider.into()), Param::Text(subject.into())],
        )
        .await?
        .map(|row| row.uuid("user_id"))
        .transpose()
    }

    /// Links a provider's subject to an existing user and marks the email verified (the
    /// provider verified it), in one transaction. A subject linked meanwhile is a conflict.
    ///
    /// If the account's email was *not* verified before, whoever set its password never
    /// proved they own the address: it may have been registered in advance by someone else
    /// to hijack the account once its owner signs in with the provider. So the password is
    /// cleared and every refresh token revoked (the owner can set a password again through a
    /// password reset, which proves the address). Returns whether that happened.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn link_oauth(
        &self,
        user_id: Uuid,
        provider: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO oauth_connections (id, user_id, provider, provider_user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Uuid(user_id),
                Param::Text(provider.into()),
                Param::Text(subject.into()),
                Param::Time(now),
            ],
        )
        .await?;
        let cleared = tx
            .execute(
                "UPDATE users SET password_hash = NULL, updated_at = $3 \
                 WHERE id = $1 AND password_hash IS NOT NULL AND (email_verified IS NULL OR email_verified = $2)",
                &[Param::Uuid(user_id), Param::Bool(false), Param::Time(now)],
            )
            .await?
            == 1;
        if cleared {
            tx.end_all_sessions(user_id, now).await?;
        }
        tx.execute(
            "UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1",
            &[Param::Uuid(user_id), Param::Bool(true), Param::Time(now)],
        )
        .await?;
        tx.commit().await?;
        Ok(cleared)
    }

    /// Creates an account without a password (verified email) linked to a provider's
    /// subject, in one transaction. A taken email or subject is a conflict.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn create_oauth_user(
        &self,
        email: &str,
        provider: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, DbError> {
        let id = Uuid::new_v4();
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO users (id, email, email_verified, password_hash, anonymous_id, timezone, locale, subscription_tier, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, 'UTC', 'en-US', 'free', $5, $5)",
            &[
                Param::Uuid(id),
                Param::Text(email.into()),
                Param::Bool(true),
                Param::Text(hex::encode(Uuid::new_v4().as_bytes())),
                Param::Time(now),
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO oauth_connections (id, user_id, provider, provider_user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Uuid(id),
                Param::Text(provider.into()),
                Param::Text(subject.into()),
                Param::Time(now),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes an account and everything it owns: the `users` row (every user-owned table,
    /// refresh tokens and the wrapped data key included, cascades), the messages queued for
    /// its address and its login attempts. Returns whether the account existed.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn delete_account(
        &self,
        user_id: Uuid,
        email: &str,
        attempts_key: &str,
    ) -> Result<bool, DbError> {
        let mut tx = self.begin().await?;
        tx.execute(
            "DELETE FROM outbox WHERE recipient = $1",
            &[Param::Text(email.into())],
        )
        .await?;
        // The account's key and every key scoped under it (`<key>:…`).
        tx.execute(
            "DELETE FROM login_attempts WHERE key = $1 OR key LIKE $2",
            &[
                Param::Text(attempts_key.into()),
                Param::Text(format!("{attempts_key}:%")),
            ],
        )
        .await?;
        // The wrapped data key, with the account or not at all (the foreign key would cascade;
        // saying it here keeps the shredding visible).
        tx.execute(
            "DELETE FROM user_data_keys WHERE user_id = $1",
            &[Param::Uuid(user_id)],
        )
        .await?;
        let deleted = tx
            .execute("DELETE FROM users WHERE id = $1", &[Param::Uuid(user_id)])
            .await?;
        tx.commit().await?;
        self.reclaim_deleted_pages("user_data_keys").await;
        Ok(deleted == 1)
    }

    /// After deleting or overwriting what must not be recovered (a shredded data key, a
    /// plaintext note once sealed), makes the old bytes hard to read back: on SQLite,
    /// `secure_delete` (set on every connection) has already overwritten them in the
    /// database file, and a `TRUNCATE` checkpoint empties the WAL that still held the old
    /// pages; on PostgreSQL, a `VACUUM` of `table` removes the dead row versions so their
    /// space is reused (the bytes stay in the data files until it is, and in WAL archives and
    /// backups: see ARCHITECTURE.md, "What stays where"). Best effort: a failure is logged
    /// and never undoes the change. `table` is one of this crate's table names.
    pub async fn reclaim_deleted_pages(&self, table: &'static str) {
        let vacuum;
        let sql = match self.backend() {
            super::Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            super::Backend::Postgres => {
                vacuum = format!("VACUUM {table}");
                vacuum.as_str()
            }
        };
        if let Err(error) = self.execute(sql, &[]).await {
            tracing::warn!(%error, "cannot reclaim the pages of a deleted account");
        }
    }
}

/// What [`Database::prune_auth_records`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Login attempts.
    pub login_attempts: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Password-reset tokens.
    pub password_resets: u64,
    /// Outbox messages.
    pub outbox: u64,
    /// Expired sign-in nonces.
    pub oauth_nonces: u64,
    /// Ended sessions no access token can name any more.
    pub ended_sessions: u64,
    /// Pending registrations whose code expired.
    pub pending_registrations: u64,
}

impl Database {
    /// Removes login attempts before `attempts_before`, refresh and reset tokens that
    /// expired before `tokens_before`, outbox messages created before `outbox_before`,
    /// sessions ended before `sessions_before`, and pending registrations whose code expired
    /// before `registrations_before`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn prune_auth_records(
        &self,
        attempts_before: DateTime<Utc>,
        tokens_before: DateTime<Utc>,
        outbox_before: DateTime<Utc>,
        sessions_before: DateTime<Utc>,
        registrations_before: DateTime<Utc>,
    ) -> Result<Pruned, DbError> {
        Ok(Pruned {
            login_attempts: self
                .execute(
                    "DELETE FROM login_attempts WHERE attempted_at < $1",
                    &[Param::Time(attempts_before)],
                )
                .await?,
            refresh_tokens: self
                .execute(
                    "DELETE FROM refresh_tokens WHERE expires_at < $1",
                    &[Param::Time(tokens_before)],
                )
                .await?,
            password_resets: self
                .execute(
                    "DELETE FROM password_reset_tokens WHERE expires_at < $1",
                    &[Param::Time(tokens_before)],
                )
                .await?,
            outbox: self
                .execute(
                    "DELETE FROM outbox WHERE created_at < $1",
                    &[Param::Time(outbox_before)],
                )
                .await?,
            oauth_nonces: self
                .execute(
                    "DELETE FROM oauth_nonces WHERE expires_at < $1",
                    &[Param::Time(tokens_before)],
                )
                .await?,
            ended_sessions: self
                .execute(
                    "DELETE FROM ended_sessions WHERE ended_at < $1",
                    &[Param::Time(sessions_before)],
                )
                .await?,
            pending_registrations: self
                .execute(
                    "DELETE FROM pending_registrations WHERE expires_at < $1",
                    &[Param::Time(registrations_before)],
                )
                .await?,
        })
    }

    /// Stores a nonce issued for provider sign-in (its SHA-256 hex), valid until
    /// `expires_at`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_oauth_nonce(
        &self,
        nonce_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO oauth_nonces (nonce_hash, expires_at) VALUES ($1, $2)",
            &[Param::Text(nonce_hash.into()), Param::Time(expires_at)],
        )
        .await?;
        Ok(())
    }

    /// Uses up an issued nonce: `true` once for a nonce issued here, unexpired and unused;
    /// `false` for anything else (never issued, expired, or used before).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn consume_oauth_nonce(
        &self,
        nonce_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        Ok(self
            .execute(
                "UPDATE oauth_nonces SET used_at = $2 \
                 WHERE nonce_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[Param::Text(nonce_hash.into()), Param::Time(now)],
            )
            .await?
            == 1)
    }
}

impl Database {
    /// The refresh token with this hash, read without a transaction or a lock: a refresh looks
    /// its token up first, so an unknown, expired or revoked token (a flood of garbage ones)
    /// never takes SQLite's write lock.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, DbError> {
        self.fetch_optional(
            "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at, session_epoch, authenticated_at FROM refresh_tokens WHERE token_hash = $1",
            &[Param::Text(token_hash.into())],
        )
        .await?
        .as_ref()
        .map(refresh_record)
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_are_cast_only_in_postgres() {
        assert_eq!(ip_placeholder(Backend::Sqlite, 8), "$8");
        assert_eq!(ip_placeholder(Backend::Postgres, 8), "CAST($8 AS INET)");
    }
}
