//! Nightly per-user jobs: a component whose grants name a `nightly` path (one of its own
//! routes) has that path called with `POST`, as each user in turn, once per user and local
//! day, from [`NightlySettings::local_hour`] in the user's own time zone. The insights
//! component recomputes a person's patterns this way while they sleep.
//!
//! - **Once across replicas.** A run is claimed by inserting its key (component, user, local
//!   day) into `nightly_runs`; the primary key lets exactly one replica's insert succeed
//!   ([`crate::db::Database::claim_nightly`]). A claim whose replica stopped before finishing
//!   is taken over after [`STALE_AFTER`].
//! - **As the user, through the front door.** A run is an ordinary request to the active
//!   version ([`crate::edge::dispatch::serve_as`]): a fresh instance, the component's own
//!   grants, deadline and memory cap, the caller's tier and zone as they are now. A failing
//!   run fails only itself and is recorded `failed`.
//! - **Gently.** At most [`NightlySettings::concurrency`] runs at a time per replica, so the
//!   rest of the machine keeps serving clients.
//!
//! Only counts are logged, never a user id.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use chrono::{DateTime, Days, Timelike, Utc};
use futures::StreamExt;

use crate::db::nightly::{NightlyOutcome, NightlyRun};
use crate::edge::AppState;
use crate::edge::caller::caller_of;

/// A claim not finished after this long is taken over by another tick or replica.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// Claims for days this far behind the oldest time zone's day are forgotten.
const KEPT_DAYS: u64 = 3;

/// When and how hard the scheduler works.
#[derive(Debug, Clone, Copy)]
pub struct NightlySettings {
    /// The local hour from which a user's run for their day is due.
    pub local_hour: u32,
    /// How often due users are looked for.
    pub tick: Duration,
    /// Runs at once on this replica.
    pub concurrency: usize,
}

/// What one pass did, for one component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Runs this replica claimed (new, or taken over).
    pub claimed: usize,
    /// Runs that answered 2xx.
    pub ok: usize,
    /// Runs that did not.
    pub failed: usize,
}

/// Runs [`run_due`] every tick in the background.
pub fn spawn(state: AppState, settings: NightlySettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(settings.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            run_due(&state, settings, Utc::now()).await;
        }
    })
}

/// One pass: for each component with a nightly path, claims the runs due at `now` and makes
/// them. Failures are logged and retried at a later pass (a claim that could not be made
/// is simply not made; a run that failed stays failed for that day).
pub async fn run_due(state: &AppState, settings: NightlySettings, now: DateTime<Utc>) {
    let jobs: Vec<(String, String)> = state
        .registry
        .manifest()
        .components
        .iter()
        .filter_map(|(name, decl)| decl.grants.nightly.clone().map(|path| (name.clone(), path)))
        .collect();
    if jobs.is_empty() {
        return;
    }
    let users = match state.db.nightly_users().await {
        Ok(users) => users,
        Err(error) => {
            tracing::warn!(%error, "nightly jobs: cannot list users; retrying at the next tick");
            return;
        }
    };
    let due: Vec<NightlyRun> = users
        .iter()
        .filter_map(|user| {
            let local = local_now(&user.timezone, now);
            (local.hour() >= settings.local_hour).then(|| NightlyRun {
                user_id: user.id,
                local_date: local.date_naive(),
            })
        })
        .collect();
    for (component, path) in jobs {
        let report = run_component(state, settings, &component, &path, &due, now).await;
        if report.claimed > 0 {
            tracing::info!(
                %component,
                claimed = report.claimed,
                ok = report.ok,
                failed = report.failed,
                "nightly runs made"
            );
        }
    }
    if let Some(before) = now.date_naive().checked_sub_days(Days::new(KEPT_DAYS))
        && let Err(error) = state.db.forget_nightly_before(before).await
    {
        tracing::warn!(%error, "nightly jobs: cannot forget old runs");
    }
}

async fn run_component(
    state: &AppState,
    settings: NightlySettings,
    component: &str,
    path: &str,
    due: &[NightlyRun],
    now: DateTime<Utc>,
) -> PassReport {
    let Some(since) = due.iter().map(|run| run.local_date).min() else {
        return PassReport::default();
    };
    let claims = async {
        let taken = state.db.nightly_claimed_since(component, since).await?;
        let fresh = unclaimed(due, &taken);
        let mut claimed = state.db.claim_nightly(component, &fresh, now).await?;
        let stale_before = now - chrono::Duration::from_std(STALE_AFTER).unwrap_or_default();
        claimed.extend(
            state
                .db
                .take_over_stale_nightly(component, stale_before, now)
                .await?,
        );
        Ok::<_, crate::db::DbError>(claimed)
    };
    let claimed = match claims.await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%component, %error, "nightly jobs: cannot claim runs");
            return PassReport::default();
        }
    };
    let mut report = PassReport {
        claimed: claimed.len(),
        ..PassReport::default()
    };
    let outcomes: Vec<NightlyOutcome> = futures::stream::iter(claimed)
        .map(|run| async move {
            let outcome = run_one(state, path, run).await;
            if let Err(error) = state
                .db
                .finish_nightly(component, run, outcome, Utc::now())
                .await
            {
                tracing::warn!(%error, "nightly jobs: cannot record a run's end");
            }
            outcome
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    for outcome in outcomes {
        crate::metrics::global().nightly_runs.inc(&[
            component,
            match outcome {
                NightlyOutcome::Ok => "ok",
                NightlyOutcome::Failed => "failed",
            },
        ]);
        match outcome {
            NightlyOutcome::Ok => report.ok += 1,
            NightlyOutcome::Failed => report.failed += 1,
        }
    }
    report
}

/// The due runs not yet claimed by anyone.
fn unclaimed(due: &[NightlyRun], taken: &HashSet<NightlyRun>) -> Vec<NightlyRun> {
    due.iter()
        .filter(|run| !taken.contains(run))
        .copied()
        .collect()
}

/// Calls `path` as the run's user: `ok` when the component answered 2xx.
async fn run_one(state: &AppState, path: &str, run: NightlyRun) -> NightlyOutcome {
    let known = match state.callers.lookup(&state.db, run.user_id).await {
        Ok(Some(known)) => known,
        // Deleted since the claim: nothing to do for them.
        Ok(None) => return NightlyOutcome::Ok,
        Err(error) => {
            tracing::warn!(%error, "nightly jobs: cannot read a user");
            return NightlyOutcome::Failed;
        }
    };
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("x-mindflow-nightly", run.local_date.to_string())
        .body(Body::from("{}"));
    let Ok(request) = request else {
        return NightlyOutcome::Failed;
    };
    let response = crate::edge::dispatch::serve_as(state.clone(), request, caller_of(known)).await;
    if response.status().is_success() {
        NightlyOutcome::Ok
    } else {
        NightlyOutcome::Failed
    }
}

/// `now` on the wall clock of `zone` (UTC when the zone is unknown).
fn local_now(zone: &str, now: DateTime<Utc>) -> DateTime<chrono_tz::Tz> {
    let zone = zone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
    now.with_timezone(&zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use uuid::Uuid;

    #[test]
    fn claimed_runs_are_not_due_again() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).expect("date");
        let a = NightlyRun {
            user_id: Uuid::new_v4(),
            local_date: day,
        };
        let b = NightlyRun {
            user_id: Uuid::new_v4(),
            local_date: day,
        };
        let taken = HashSet::from([a]);
        assert_eq!(unclaimed(&[a, b], &taken), vec![b]);
    }

    #[test]
    fn a_local_day_follows_the_zone() {
        let now = "2026-12-05T02:30:00Z"
            .parse::<DateTime<Utc>>()
            .expect("instant");
        let day = |zone| local_now(zone, now).date_naive().to_string();
        assert_eq!(day("Asia/Tokyo"), "2026-12-05");
        assert_eq!(day("America/New_York"), "2026-12-04");
        assert_eq!(day("Not/AZone"), "2026-12-05");
    }
}
