//! Nightly per-user runs (`nightly_runs`): who is due, and claims that make a run happen once
//! per component, user and local day across every replica.
//!
//! Owns: the claim rows. A claim is taken by inserting its key; the primary key makes exactly
//! one replica's insert succeed, so the others skip the run without talking to each other.
//! Never holds: what a run did (only whether it ended `ok` or `failed`).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Database, DbError, DbRow, Param};

/// The most claims inserted by one statement (four parameters each, far under SQLite's
/// limit of 32,766).
const CLAIMS_PER_STATEMENT: usize = 200;

/// A user who may be due: their id and IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightlyUser {
    /// The user.
    pub id: Uuid,
    /// Their time zone, as stored (the scheduler falls back to UTC on a name it cannot read).
    pub timezone: String,
}

/// One run: a user and the local day it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NightlyRun {
    /// The user.
    pub user_id: Uuid,
    /// The user's local calendar day.
    pub local_date: NaiveDate,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightlyOutcome {
    /// The component answered 2xx.
    Ok,
    /// Anything else (a problem document, a trap, a deadline).
    Failed,
}

impl NightlyOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }
}

/// A run from a row holding `user_id` and `local_date`.
fn run_of(row: &DbRow) -> Result<NightlyRun, DbError> {
    Ok(NightlyRun {
        user_id: row.uuid("user_id")?,
        local_date: row.opt_date("local_date")?.ok_or_else(|| DbError::Decode {
            column: "local_date".into(),
            message: "unexpected NULL".into(),
        })?,
    })
}

impl Database {
    /// Every user whose account is not being deleted, with their time zone.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn nightly_users(&self) -> Result<Vec<NightlyUser>, DbError> {
        let rows = self
            .fetch_all(
                "SELECT id, timezone FROM users WHERE deleted_at IS NULL ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(NightlyUser {
                    id: row.uuid("id")?,
                    timezone: row.opt_text("timezone")?.unwrap_or_else(|| "UTC".into()),
                })
            })
            .collect()
    }

    /// The runs of `component` already claimed (by any replica) for days from `since` on.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn nightly_claimed_since(
        &self,
        component: &str,
        since: NaiveDate,
    ) -> Result<HashSet<NightlyRun>, DbError> {
        let rows = self
            .fetch_all(
                "SELECT user_id, local_date FROM nightly_runs WHERE component = $1 AND local_date >= $2",
                &[Param::Text(component.to_owned()), Param::OptDate(Some(since))],
            )
            .await?;
        rows.iter().map(run_of).collect()
    }

    /// Claims `runs` of `component` for this replica: the ones it got (every other replica
    /// that tries the same key gets nothing). A user deleted meanwhile is skipped.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn claim_nightly(
        &self,
        component: &str,
        runs: &[NightlyRun],
        now: DateTime<Utc>,
    ) -> Result<Vec<NightlyRun>, DbError> {
        let mut claimed = Vec::new();
        for chunk in runs.chunks(CLAIMS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO nightly_runs (component, user_id, local_date, claimed_at) \
                 SELECT v.component, v.user_id, v.local_date, v.claimed_at FROM (",
            );
            let mut params = Vec::with_capacity(chunk.len() * 4);
            for (i, run) in chunk.iter().enumerate() {
                let n = i * 4;
                if i > 0 {
                    sql.push_str(" UNION ALL ");
                }
                sql.push_str(&self.claim_values_sql(n));
                params.push(Param::Text(component.to_owned()));
                params.push(Param::Uuid(run.user_id));
                params.push(Param::OptDate(Some(run.local_date)));
                params.push(Param::Time(now));
            }
            sql.push_str(
                ") v JOIN users u ON u.id = v.user_id WHERE TRUE \
                 ON CONFLICT (component, user_id, local_date) DO NOTHING \
                 RETURNING user_id, local_date",
            );
            for row in self.fetch_all(&sql, &params).await? {
                claimed.push(run_of(&row)?);
            }
        }
        Ok(claimed)
    }

    /// One row of a claim's `VALUES`, typed for each backend (PostgreSQL cannot infer the
    /// types of parameters inside a `UNION`).
    fn claim_values_sql(&self, n: usize) -> String {
        let (a, b, c, d) = (n + 1, n + 2, n + 3, n + 4);
        match self.backend() {
            super::Backend::Postgres => format!(
                "SELECT ${a}::varchar AS component, ${b}::uuid AS user_id, ${c}::date AS local_date, ${d}::timestamptz AS claimed_at"
            ),
            super::Backend::Sqlite => format!(
                "SELECT ${a} AS component, ${b} AS user_id, ${c} AS local_date, ${d} AS claimed_at"
            ),
        }
    }

    /// Takes over runs of `component` claimed before `stale_before` and never finished (the
    /// replica that claimed them stopped): they are claimed again, now, by this replica.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn take_over_stale_nightly(
        &self,
        component: &str,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<NightlyRun>, DbError> {
        let rows = self
            .fetch_all(
                "UPDATE nightly_runs SET claimed_at = $3 \
                 WHERE component = $1 AND finished_at IS NULL AND claimed_at < $2 \
                 RETURNING user_id, local_date",
                &[
                    Param::Text(component.to_owned()),
                    Param::Time(stale_before),
                    Param::Time(now),
                ],
            )
            .await?;
        rows.iter().map(run_of).collect()
    }

    /// Records how a claimed run ended.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn finish_nightly(
        &self,
        component: &str,
        run: NightlyRun,
        outcome: NightlyOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE nightly_runs SET finished_at = $4, outcome = $5 \
             WHERE component = $1 AND user_id = $2 AND local_date = $3",
            &[
                Param::Text(component.to_owned()),
                Param::Uuid(run.user_id),
                Param::OptDate(Some(run.local_date)),
                Param::Time(now),
                Param::Text(outcome.as_str().to_owned()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Forgets runs for days before `before` (every component): they can no longer be due.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn forget_nightly_before(&self, before: NaiveDate) -> Result<u64, DbError> {
        self.execute(
            "DELETE FROM nightly_runs WHERE local_date < $1",
            &[Param::OptDate(Some(before))],
        )
        .await
    }

    /// How `component`'s runs for `local_date` ended: `(claimed, ok, failed)`.
    ///
    /// # Errors
    /// [`DbError`].
    pub async fn nightly_counts(
        &self,
        component: &str,
        local_date: NaiveDate,
    ) -> Result<(u64, u64, u64), DbError> {
        let row = self
            .fetch_optional(
                "SELECT CAST(COUNT(*) AS BIGINT) AS claimed, \
                 CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT) AS ok, \
                 CAST(COALESCE(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed \
                 FROM nightly_runs WHERE component = $1 AND local_date = $2",
                &[Param::Text(component.to_owned()), Param::OptDate(Some(local_date))],
            )
            .await?;
        let Some(row) = row else {
            return Ok((0, 0, 0));
        };
        let count =
            |name: &str| -> Result<u64, DbError> { Ok(u64::try_from(row.int(name)?).unwrap_or(0)) };
        Ok((count("claimed")?, count("ok")?, count("failed")?))
    }
}
