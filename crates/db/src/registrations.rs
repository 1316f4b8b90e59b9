//! Registration by mail: a pending registration waits for the code mailed to its address,
//! and only then becomes an account (its address proven).
//!
//! Owns: `pending_registrations`, and the mails registration queues in the same transaction
//! (`verify_email` for a free address, `account_exists` for a taken one). Never gives: whether
//! an address has an account to anyone but the address's owner — both outcomes of
//! [`Database::request_registration`] look the same from outside (one mail, the same answer).

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::users::{USER_COLUMNS, UserRecord, user};
use super::{Database, DbError, Param, Transaction};

/// The mail kind that carries a registration's code.
pub const VERIFY_EMAIL: &str = "verify_email";
/// The mail kind that tells an address's owner someone tried to register it again.
pub const ACCOUNT_EXISTS: &str = "account_exists";

/// A registration request, its password already hashed.
#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    /// The normalised address.
    pub email: &'a str,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// The display name asked for.
    pub display_name: Option<&'a str>,
    /// SHA-256 hex of the code mailed.
    pub token_hash: &'a str,
    /// The code itself, for the mail only (the outbox drops it once delivered).
    pub token: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
    /// Mails of one kind to one address since this time count against `max_mails`.
    pub since: DateTime<Utc>,
    /// The most mails of one kind registration sends one address since `since`: a stranger
    /// cannot flood someone's inbox by registering their address over and over.
    pub max_mails: i64,
}

/// What [`Database::request_registration`] did. The caller answers the same for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationRequest {
    /// A free address: a pending registration is stored and its code queued.
    CodeQueued,
    /// A taken address: its owner is told by mail.
    OwnerTold,
    /// Enough mails went to this address lately: nothing was written.
    Throttled,
}

/// What [`Database::complete_registration`] found.
#[derive(Debug, Clone)]
pub enum RegistrationOutcome {
    /// The account now exists.
    Created(UserRecord),
    /// The code is unknown, used or expired: nothing changed.
    Invalid,
    /// The address got an account meanwhile (another code of it, or a provider sign-in); the
    /// code is spent.
    Taken,
}

impl Database {
    /// Stores a pending registration and queues its code, or tells the owner of a taken
    /// address, in one transaction; nothing at all once `max_mails` mails of that kind went
    /// to the address since `since`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn request_registration(
        &self,
        request: &NewRegistration<'_>,
    ) -> Result<RegistrationRequest, DbError> {
        let mut tx = self.begin().await?;
        let taken = tx.email_taken(request.email).await?;
        let kind = if taken { ACCOUNT_EXISTS } else { VERIFY_EMAIL };
        let sent = tx
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM outbox WHERE recipient = $1 AND kind = $2 AND created_at > $3",
                &[
                    Param::Text(request.email.into()),
                    Param::Text(kind.into()),
                    Param::Time(request.since),
                ],
            )
            .await?
            .map(|row| row.int("n"))
            .transpose()?
            .unwrap_or(0);
        if sent >= request.max_mails {
            return Ok(RegistrationRequest::Throttled);
        }
        if taken {
            tx.enqueue_outbox(ACCOUNT_EXISTS, request.email, json!({}), request.now)
                .await?;
            tx.commit().await?;
            return Ok(RegistrationRequest::OwnerTold);
        }
        tx.execute(
            "INSERT INTO pending_registrations \
             (id, email, password_hash, display_name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Param::Uuid(Uuid::new_v4()),
                Param::Text(request.email.into()),
                Param::Text(request.password_hash.into()),
                Param::OptText(request.display_name.map(str::to_owned)),
                Param::Text(request.token_hash.into()),
                Param::Time(request.now),
                Param::Time(request.expires_at),
            ],
        )
        .await?;
        tx.enqueue_outbox(
            VERIFY_EMAIL,
            request.email,
            json!({"token": request.token, "expires_at": request.expires_at}),
            request.now,
        )
        .await?;
        tx.commit().await?;
        Ok(RegistrationRequest::CodeQueued)
    }

    /// Spends a registration code and creates its account (address verified), in one
    /// transaction. Every other pending registration of the address is spent too.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn complete_registration(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<RegistrationOutcome, DbError> {
        let mut tx = self.begin().await?;
        let Some(row) = tx
            .fetch_optional(
                "UPDATE pending_registrations SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING email, password_hash, display_name",
                &[Param::Text(token_hash.into()), Param::Time(now)],
            )
            .await?
        else {
            return Ok(RegistrationOutcome::Invalid);
        };
        let email = row.text("email")?;
        tx.execute(
            "UPDATE pending_registrations SET used_at = $2 WHERE email = $1 AND used_at IS NULL",
            &[Param::Text(email.clone()), Param::Time(now)],
        )
        .await?;
        let taken = tx.email_taken(&email).await?;
        if taken {
            tx.commit().await?;
            return Ok(RegistrationOutcome::Taken);
        }
        let created = tx
            .insert_user(
                &email,
                &row.text("password_hash")?,
                row.opt_text("display_name")?.as_deref(),
                true,
                now,
            )
            .await;
        match created {
            Ok(user) => {
                tx.commit().await?;
                Ok(RegistrationOutcome::Created(user))
            }
            // Another transaction created the account between the check and the insert.
            Err(error) if error.is_conflict() => Ok(RegistrationOutcome::Taken),
            Err(error) => Err(error),
        }
    }
}

impl Transaction {
    /// Whether an account (live or deleted but not yet purged) holds `email`.
    async fn email_taken(&mut self, email: &str) -> Result<bool, DbError> {
        Ok(self
            .fetch_optional(
                "SELECT id FROM users WHERE email = $1",
                &[Param::Text(email.into())],
            )
            .await?
            .is_some())
    }

    /// Inserts a user (free tier, UTC, en-US) and returns it; a taken address is a conflict
    /// ([`DbError::is_conflict`]).
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn insert_user(
        &mut self,
        email: &str,
        password_hash: &str,
        display_name: Option<&str>,
        email_verified: bool,
        now: DateTime<Utc>,
    ) -> Result<UserRecord, DbError> {
        let (sql, params) =
            insert_user_statement(email, password_hash, display_name, email_verified, now);
        let row = self
            .fetch_optional(&sql, &params)
            .await?
            .ok_or_else(|| DbError::Config("insert returned no row".into()))?;
        user(&row)
    }
}

/// The statement that inserts a user.
pub(crate) fn insert_user_statement(
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
    email_verified: bool,
    now: DateTime<Utc>,
) -> (String, Vec<Param>) {
    let anonymous_id = hex::encode(Uuid::new_v4().as_bytes());
    let sql = format!(
        "INSERT INTO users (id, email, password_hash, display_name, anonymous_id, email_verified, \
         timezone, locale, subscription_tier, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'UTC', 'en-US', 'free', $7, $7) RETURNING {USER_COLUMNS}"
    );
    let params = vec![
        Param::Uuid(Uuid::new_v4()),
        Param::Text(email.into()),
        Param::Text(password_hash.into()),
        Param::OptText(display_name.map(str::to_owned)),
        Param::Text(anonymous_id),
        Param::Bool(email_verified),
        Param::Time(now),
    ];
    (sql, params)
}
