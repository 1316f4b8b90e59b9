//! The sync scheduler: durable (its state is on each connection row, so a restart loses
//! nothing), once across replicas (a connection is leased before it is synced), with
//! backfill on connect, incremental syncs, back-off with full jitter, a refresh on 401 and
//! `reauth_required` when the provider refuses the refresh.
//!
//! A sync fetches from the day after the last one fully fetched, less two days (late data:
//! a night scored the next morning), to today, in windows of [`WINDOW_DAYS`]; each window is
//! stored as soon as it arrives, so an interrupted backfill resumes where it stopped. No
//! window reaches past the person's retention ([`normalise::retained_from`]).
//!
//! Budgets ([`super::budget`]): each `fetch` is admitted under the connection's budget (the
//! adapter's declared `requests-per-minute`), and each of its requests under the provider's
//! (the operator's `MINDFLOW_WEARABLE_<ID>_REQUESTS_PER_MINUTE`), both shared through the
//! database. A spent budget, or the provider's own `429` (its `Retry-After` honoured), ends
//! the sync with a *deferral*: the connection is due again when there is room, keeps its
//! status and failure count, and resumes from the last window stored. A sync also defers
//! itself after [`SLICE`] so that it always ends well within its lease.
//!
//! A replica syncs up to [`SyncSettings::concurrency`] connections at once, each under its
//! own lease.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rand::Rng as _;

use super::budget::{self, Admission, ProviderGate};
use super::{Wearables, adapter, normalise, oauth, open_token, seal_tokens};
use crate::db::wearables::{Connection, SyncOutcome};
use crate::runtime::adapter::{AdapterCallError, AdapterComponent, AdapterFailure};
use crate::wearables::world::exports::mindflow::platform::adapter::ConnectionKind;

/// Days per `fetch` call.
pub const WINDOW_DAYS: u64 = 30;
/// Days re-read before the last synced one.
const OVERLAP_DAYS: u64 = 2;
/// How long a replica holds a connection it syncs.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// How long one sync fetches before it defers the rest (to be due again at once): half the
/// lease, so a sync (its last `fetch` bounded by the adapter's deadline) ends before its
/// lease does and no other replica can take the connection mid-sync.
pub const SLICE: Duration = Duration::from_secs(150);
/// At most this much jitter on a deferral to the next minute, so the connections deferred
/// together do not all start in the same instant.
const DEFER_JITTER_MS: i64 = 1_000;
/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// Scheduler settings.
#[derive(Debug, Clone, Copy)]
pub struct SyncSettings {
    /// How often a replica looks for due connections.
    pub tick: Duration,
    /// The time between two successful syncs of a connection.
    pub interval: Duration,
    /// The first back-off (doubled per failure, capped, with full jitter).
    pub backoff: Duration,
    /// How many leased connections one replica syncs at once.
    pub concurrency: usize,
}

/// Starts the scheduler on this replica: at each tick it leases due connections while
/// fewer than [`SyncSettings::concurrency`] of its syncs run, each on its own task.
pub fn spawn(wearables: Wearables) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(
            wearables.settings.concurrency.max(1),
        ));
        let mut interval = tokio::time::interval(wearables.settings.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut forgotten = 0;
        loop {
            interval.tick().await;
            let minute = budget::minute_of(Utc::now());
            if minute != forgotten {
                forgotten = minute;
                if let Err(error) = wearables.db.forget_wearable_budgets(minute - 1).await {
                    tracing::warn!(%error, "wearable sync: cannot forget past budgets");
                }
            }
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                match lease_next(&wearables, Utc::now()).await {
                    Ok(Some(connection)) => {
                        let wearables = wearables.clone();
                        tokio::spawn(async move {
                            sync_leased(&wearables, &connection, Utc::now()).await;
                            drop(slot);
                        });
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "wearable sync: cannot lease a connection; retrying at the next tick");
                        break;
                    }
                }
            }
        }
    })
}

/// Leases the connection due longest ago at `now`, if any.
async fn lease_next(
    wearables: &Wearables,
    now: DateTime<Utc>,
) -> Result<Option<Connection>, crate::db::DbError> {
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    wearables.db.lease_due_wearable(now, lease).await
}

/// Syncs a connection this replica leased, records the outcome and releases the lease.
async fn sync_leased(wearables: &Wearables, connection: &Connection, now: DateTime<Utc>) {
    let outcome = sync_one(wearables, connection, now).await;
    let label = if outcome.deferred {
        "deferred"
    } else {
        outcome.status
    };
    crate::metrics::global()
        .wearable_syncs
        .inc(&[&connection.provider, label]);
    if let Err(error) = wearables
        .db
        .finish_wearable_sync(connection.id, &outcome)
        .await
    {
        tracing::warn!(%error, "wearable sync: cannot record the outcome");
    }
}

fn backoff(settings: &SyncSettings, attempts: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let ceiling = settings
        .backoff
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let wait = rand::rng().random_range(millis / 2..=millis);
    now + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX))
}

fn failed(
    settings: &SyncSettings,
    connection: &Connection,
    now: DateTime<Utc>,
    error: String,
) -> SyncOutcome {
    SyncOutcome {
        status: "error",
        error: Some(error),
        synced_at: None,
        synced_through: None,
        next_sync_at: Some(backoff(settings, connection.sync_attempts, now)),
        deferred: false,
    }
}

/// A sync stopped for a budget or its slice: due again at `until`, not a failure.
fn deferred(until: DateTime<Utc>) -> SyncOutcome {
    SyncOutcome {
        status: "active",
        error: None,
        synced_at: None,
        synced_through: None,
        next_sync_at: Some(until),
        deferred: true,
    }
}

/// `until` with up to [`DEFER_JITTER_MS`] added.
fn jittered(until: DateTime<Utc>) -> DateTime<Utc> {
    until + chrono::Duration::milliseconds(rand::rng().random_range(0..=DEFER_JITTER_MS))
}

fn reauth(error: &str) -> SyncOutcome {
    SyncOutcome {
        status: "reauth_required",
        error: Some(error.to_owned()),
        synced_at: None,
        synced_through: None,
        next_sync_at: None,
        deferred: false,
    }
}

/// Refreshes `connection`'s tokens and stores them (sealed) before they are used: a
/// provider with single-use refresh tokens has already spent the old one. The new access
/// token, or the outcome to record.
async fn refresh(
    wearables: &Wearables,
    adapter: &AdapterComponent,
    connection: &Connection,
) -> Result<crate::secrets::Secret, SyncOutcome> {
    let ConnectionKind::Oauth(flow) = &adapter.info.connection else {
        return Err(reauth("the provider takes no tokens"));
    };
    let Some(client) = oauth::client(&connection.provider) else {
        return Err(reauth("the provider's client is not configured"));
    };
    let Some(sealed) = &connection.refresh_token else {
        return Err(reauth("no refresh token"));
    };
    let Ok(refresh_token) = open_token(&wearables.keys, connection.user_id, sealed).await else {
        return Err(reauth("the refresh token cannot be opened"));
    };
    match oauth::refresh(
        &wearables.http,
        &wearables.origins,
        flow,
        &client,
        refresh_token.expose(),
    )
    .await
    {
        Ok(tokens) => {
            let sealed = seal_tokens(&wearables.keys, connection.user_id, &tokens)
                .await
                .ok();
            let Some(sealed) = sealed else {
                return Err(reauth("the new tokens cannot be sealed"));
            };
            if let Err(error) = wearables
                .db
                .update_wearable_tokens(connection.id, &sealed)
                .await
            {
                tracing::warn!(%error, "wearable sync: cannot store refreshed tokens");
                return Err(SyncOutcome {
                    status: "error",
                    error: Some("the refreshed tokens could not be stored".into()),
                    synced_at: None,
                    synced_through: None,
                    next_sync_at: Some(Utc::now() + chrono::Duration::minutes(5)),
                    deferred: false,
                });
            }
            Ok(tokens.access)
        }
        Err(oauth::OauthError::Refused(code)) => Err(reauth(&format!(
            "the provider refused the refresh ({code}): connect again"
        ))),
        Err(oauth::OauthError::Unavailable(message)) => Err(SyncOutcome {
            status: "error",
            error: Some(format!("refresh failed: {message}")),
            synced_at: None,
            synced_through: None,
            next_sync_at: Some(Utc::now() + chrono::Duration::minutes(5)),
            deferred: false,
        }),
    }
}

/// Syncs one connection; what to record.
pub async fn sync_one(
    wearables: &Wearables,
    connection: &Connection,
    now: DateTime<Utc>,
) -> SyncOutcome {
    let settings = &wearables.settings;
    let Some(adapter) = adapter(&wearables.registry, &connection.provider) else {
        return failed(
            settings,
            connection,
            now,
            "the provider's adapter is not installed".into(),
        );
    };
    if !matches!(adapter.info.connection, ConnectionKind::Oauth(_)) {
        // Uploads only: nothing to fetch.
        return SyncOutcome {
            status: "active",
            error: None,
            synced_at: None,
            synced_through: None,
            next_sync_at: None,
            deferred: false,
        };
    }
    let Some(sealed_access) = &connection.access_token else {
        return reauth("no access token");
    };
    let mut access = match open_token(&wearables.keys, connection.user_id, sealed_access).await {
        Ok(token) => token,
        Err(_) => return reauth("the access token cannot be opened"),
    };
    if connection
        .token_expires_at
        .is_some_and(|at| at <= now + chrono::Duration::seconds(60))
    {
        access = match refresh(wearables, &adapter, connection).await {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
    }
    let today = now.date_naive();
    let kept_from = match wearables.db.profile(connection.user_id).await {
        Ok(profile) => normalise::retained_from(today, profile.and_then(|p| p.data_retention_days))
            .unwrap_or(NaiveDate::MIN),
        Err(error) => {
            tracing::warn!(%error, "wearable sync: cannot read the person's retention");
            return failed(
                settings,
                connection,
                now,
                "the retention setting is unreadable".into(),
            );
        }
    };
    let backfill =
        u64::from(budget::backfill_days(&connection.provider, adapter.info.backfill_days).max(1));
    let start = connection
        .synced_through
        .map_or_else(
            || today.checked_sub_days(Days::new(backfill)).unwrap_or(today),
            |through| {
                through
                    .checked_sub_days(Days::new(OVERLAP_DAYS))
                    .unwrap_or(through)
            },
        )
        .max(kept_from);
    // Nothing older than the person's retention is stored, whatever the adapter returns.
    let earliest = today
        .checked_sub_days(Days::new(backfill.max(3650)))
        .unwrap_or(today)
        .max(kept_from);
    let latest = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let mut window_start = start;
    let mut refreshed = false;
    let mut synced_through: Option<NaiveDate> = None;
    let started = std::time::Instant::now();
    let connection_key = budget::connection_key(connection.id);
    let gate = budget::provider_limit(&connection.provider).map(|limit| {
        Arc::new(ProviderGate::new(
            wearables.db.clone(),
            &connection.provider,
            limit,
        ))
    });
    while window_start <= today {
        if started.elapsed() >= SLICE {
            return with_progress(deferred(Utc::now()), synced_through);
        }
        let clock = Utc::now();
        match budget::admit(
            &wearables.db,
            &connection_key,
            adapter.info.requests_per_minute,
            clock,
        )
        .await
        {
            Ok(Admission::Admitted) => {}
            Ok(Admission::Until(at)) => {
                return with_progress(deferred(jittered(at)), synced_through);
            }
            Err(error) => {
                tracing::warn!(%error, "wearable sync: cannot read the connection's budget");
                return with_progress(
                    failed(
                        settings,
                        connection,
                        now,
                        "the request budget is unreadable".into(),
                    ),
                    synced_through,
                );
            }
        }
        let window_end = window_start
            .checked_add_days(Days::new(WINDOW_DAYS - 1))
            .unwrap_or(today)
            .min(today);
        let fetched = adapter
            .fetch(
                access.expose(),
                &window_start.to_string(),
                &window_end.to_string(),
                gate.clone()
                    .map(|g| g as Arc<dyn crate::runtime::adapter::RequestGate>),
            )
            .await;
        if fetched.is_err()
            && let Some(until) = gate.as_ref().and_then(|g| g.refused_until())
        {
            // The operator's budget for the provider refused a request of this window,
            // whatever the adapter made of the 429: room again at `until`.
            return with_progress(deferred(jittered(until)), synced_through);
        }
        match fetched {
            Ok((batch, requests)) => {
                crate::metrics::global()
                    .wearable_requests
                    .add(&[&connection.provider], requests);
                let checked = normalise::check(&batch, earliest, latest);
                if checked.dropped > 0 {
                    tracing::info!(provider = %connection.provider, dropped = checked.dropped, "wearable sync: implausible values dropped");
                }
                if let Err(error) = wearables
                    .db
                    .store_wearable_batch(
                        connection.user_id,
                        connection.id,
                        &connection.provider,
                        &checked.days,
                        &checked.sleep,
                    )
                    .await
                {
                    tracing::warn!(%error, "wearable sync: cannot store a batch");
                    return with_progress(
                        failed(settings, connection, now, "storing the data failed".into()),
                        synced_through,
                    );
                }
                synced_through = Some(window_end);
                window_start = window_end.checked_add_days(Days::new(1)).unwrap_or(latest);
            }
            Err(AdapterCallError::Adapter(AdapterFailure::Unauthorized)) if !refreshed => {
                refreshed = true;
                access = match refresh(wearables, &adapter, connection).await {
                    Ok(token) => token,
                    Err(outcome) => return with_progress(outcome, synced_through),
                };
            }
            Err(AdapterCallError::Adapter(AdapterFailure::Unauthorized)) => {
                return with_progress(
                    reauth("the provider refuses the refreshed token: connect again"),
                    synced_through,
                );
            }
            Err(AdapterCallError::Adapter(AdapterFailure::RateLimited(seconds))) => {
                // The provider's 429: deferred by its Retry-After (at least a second, at
                // most a day) and a quarter of it in jitter, not a failure.
                let wait = i64::from(seconds.clamp(1, 86_400));
                let jitter = rand::rng().random_range(0..=wait * 250);
                tracing::info!(provider = %connection.provider, seconds, "wearable sync: rate limited by the provider; deferred");
                return with_progress(
                    deferred(
                        Utc::now()
                            + chrono::Duration::seconds(wait)
                            + chrono::Duration::milliseconds(jitter),
                    ),
                    synced_through,
                );
            }
            Err(error) => {
                // The adapter's own failure (a trap, a deadline, memory, a refused
                // destination, a provider error): only this sync fails.
                return with_progress(
                    failed(settings, connection, now, error.to_string()),
                    synced_through,
                );
            }
        }
    }
    SyncOutcome {
        status: "active",
        error: None,
        synced_at: Some(now),
        synced_through,
        next_sync_at: Some(now + chrono::Duration::from_std(settings.interval).unwrap_or_default()),
        deferred: false,
    }
}

/// `outcome`, keeping the days already stored by this sync.
fn with_progress(mut outcome: SyncOutcome, synced_through: Option<NaiveDate>) -> SyncOutcome {
    outcome.synced_through = synced_through;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_with_jitter_and_is_capped() {
        let settings = SyncSettings {
            tick: Duration::from_secs(1),
            interval: Duration::from_secs(3600),
            backoff: Duration::from_secs(60),
            concurrency: 1,
        };
        let now = Utc::now();
        for attempts in 0..20 {
            let at = backoff(&settings, attempts, now);
            let wait = (at - now).num_seconds();
            let ceiling = (60_i64 << attempts.min(16)).min(6 * 3600);
            assert!(
                wait >= ceiling / 2 - 1 && wait <= ceiling,
                "{attempts}: {wait}"
            );
        }
    }
}
