//! The sync scheduler: durable (its state is on each connection row, so a restart loses
//! nothing), once across replicas (a connection is leased before it is synced), with
//! backfill on connect, incremental syncs, back-off with full jitter, a refresh on 401 and
//! `reauth_required` when the provider refuses the refresh.
//!
//! A sync fetches from the day after the last one fully fetched, less two days (late data:
//! a night scored the next morning), to today, in windows of [`WINDOW_DAYS`]; each window is
//! stored as soon as it arrives, so an interrupted backfill resumes where it stopped.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rand::Rng as _;

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
}

/// Starts the scheduler on this replica.
pub fn spawn(wearables: Wearables) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(wearables.settings.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            // Every due connection this pass can lease, one at a time.
            loop {
                match sync_next(&wearables, Utc::now()).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(%error, "wearable sync: cannot lease a connection; retrying at the next tick");
                        break;
                    }
                }
            }
        }
    })
}

/// Leases and syncs the connection due longest ago, if any; `true` when one was synced.
///
/// # Errors
/// [`crate::db::DbError`] when no connection could be leased.
pub async fn sync_next(
    wearables: &Wearables,
    now: DateTime<Utc>,
) -> Result<bool, crate::db::DbError> {
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let Some(connection) = wearables.db.lease_due_wearable(now, lease).await? else {
        return Ok(false);
    };
    let outcome = sync_one(wearables, &connection, now).await;
    let label = outcome.status;
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
    Ok(true)
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
    }
}

fn reauth(error: &str) -> SyncOutcome {
    SyncOutcome {
        status: "reauth_required",
        error: Some(error.to_owned()),
        synced_at: None,
        synced_through: None,
        next_sync_at: None,
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
    let backfill = u64::from(adapter.info.backfill_days.max(1));
    let start = connection.synced_through.map_or_else(
        || today.checked_sub_days(Days::new(backfill)).unwrap_or(today),
        |through| {
            through
                .checked_sub_days(Days::new(OVERLAP_DAYS))
                .unwrap_or(through)
        },
    );
    let earliest = today
        .checked_sub_days(Days::new(backfill.max(3650)))
        .unwrap_or(today);
    let latest = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let mut window_start = start;
    let mut refreshed = false;
    let mut synced_through: Option<NaiveDate> = None;
    while window_start <= today {
        let window_end = window_start
            .checked_add_days(Days::new(WINDOW_DAYS - 1))
            .unwrap_or(today)
            .min(today);
        let fetched = adapter
            .fetch(
                access.expose(),
                &window_start.to_string(),
                &window_end.to_string(),
            )
            .await;
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
                    return failed(settings, connection, now, "storing the data failed".into());
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
                let wait = i64::from(seconds.clamp(1, 86_400));
                let jitter = rand::rng().random_range(0..=wait / 4 + 1);
                return with_progress(
                    SyncOutcome {
                        status: "error",
                        error: Some(format!("rate limited by the provider for {seconds} s")),
                        synced_at: None,
                        synced_through: None,
                        next_sync_at: Some(now + chrono::Duration::seconds(wait + jitter)),
                    },
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
