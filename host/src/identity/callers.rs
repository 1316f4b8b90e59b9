//! Who a caller is (account, tier, zone, locale, consents, sessions just ended), remembered
//! for a few seconds.
//!
//! Every authenticated request needs the caller as the database knows them *now*: a deleted
//! account's tokens stop working, a revoked consent stops what it allowed, a tier change
//! takes effect. Asking the database on every request costs a round trip, so on PostgreSQL
//! a replica keeps callers it has just looked up, and forgets one as soon as anything about
//! them changes:
//! - a write through this host forgets the caller before it answers ([`CallerCache::forget`]);
//! - a write by anything else (another replica, the CLI, an operator's SQL) reaches every
//!   replica at commit: triggers on `users`, `user_consents` and `ended_sessions` send a
//!   notification on [`CHANNEL`] with the user's id (migrations
//!   `0008_caller_notifications.sql`, `0014_ended_sessions.sql`).
//!
//! The cache serves only while its notification listener is connected: a replica that may
//! have missed a notification forgets everything and asks the database until it listens
//! again. A lookup that raced with a change is not remembered (a generation counter), and
//! nothing is remembered longer than [`TTL`]. On SQLite (one process, the database
//! in-process) there is nothing to save and the cache is off.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::db::users::CallerStanding;
use crate::db::{Database, DbError};

/// The PostgreSQL notification channel that carries the id of a user whose account or
/// consents changed.
pub const CHANNEL: &str = "mindflow_callers";

/// The longest a caller is remembered, notifications or not.
pub const TTL: Duration = Duration::from_secs(10);

/// The most callers remembered at once.
const CAPACITY: usize = 100_000;

/// What a request needs to know about its caller, as the database had it: no email and no
/// password hash (nothing the cache holds could sign anyone in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCaller {
    /// The user's id.
    pub id: Uuid,
    /// `free` or `premium`, as stored (the tier in force also depends on the expiry).
    pub subscription_tier: String,
    /// When premium ends.
    pub subscription_expires_at: Option<DateTime<Utc>>,
    /// IANA time zone.
    pub timezone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// The consent types granted and not revoked.
    pub consents: Vec<String>,
    /// The session epoch: access tokens of an earlier one are refused.
    pub session_epoch: i64,
    /// Sessions (refresh-token families) ended within an access token's lifetime: access
    /// tokens naming one are refused.
    pub ended_sessions: Vec<Uuid>,
}

impl KnownCaller {
    fn new(standing: CallerStanding) -> Self {
        let CallerStanding {
            user,
            consents,
            ended_sessions,
        } = standing;
        Self {
            id: user.id,
            subscription_tier: user.subscription_tier,
            subscription_expires_at: user.subscription_expires_at,
            timezone: user.timezone,
            locale: user.locale,
            consents,
            session_epoch: user.session_epoch,
            ended_sessions,
        }
    }
}

/// Since when an ended session still matters at `now`: an access token issued before it
/// ended has expired by then (its lifetime, plus the leeway verification allows and a
/// margin for clocks).
pub fn sessions_ended_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::seconds(super::tokens::ACCESS_TTL_SECONDS + 5 * 60)
}

/// Callers recently looked up, forgotten on change. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct CallerCache {
    /// `None` when caching is off (SQLite).
    shared: Option<Arc<Shared>>,
}

#[derive(Default)]
struct Shared {
    entries: Mutex<HashMap<Uuid, Entry>>,
    /// Bumped by every change heard of: a lookup that saw it move does not remember.
    generation: AtomicU64,
    /// Whether the notification listener is connected (and so no change can go unheard).
    listening: AtomicBool,
}

struct Entry {
    record: KnownCaller,
    fetched: Instant,
}

impl CallerCache {
    /// A cache that never remembers: every lookup asks the database.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// The cache for `db`: on PostgreSQL, with a task that listens for changes; off on
    /// SQLite.
    pub fn start(db: &Database) -> Self {
        let Database::Postgres(pool) = db else {
            return Self::disabled();
        };
        let shared = Arc::new(Shared::default());
        tokio::spawn(listen(pool.clone(), Arc::downgrade(&shared)));
        Self {
            shared: Some(shared),
        }
    }

    /// The caller `id` (`None` for a missing or deleted account): remembered, or from the
    /// database.
    ///
    /// # Errors
    /// [`DbError`] when the database cannot be asked.
    pub async fn lookup(&self, db: &Database, id: Uuid) -> Result<Option<KnownCaller>, DbError> {
        let ask = || async {
            let found = db
                .caller_standing(id, sessions_ended_since(Utc::now()))
                .await?;
            Ok(found.map(KnownCaller::new))
        };
        let Some(shared) = self.shared.as_deref().filter(|s| s.serving()) else {
            return ask().await;
        };
        if let Some(record) = shared.get(id) {
            return Ok(Some(record));
        }
        let generation = shared.generation.load(Ordering::Acquire);
        let found = ask().await?;
        if let Some(record) = &found {
            shared.remember(id, record.clone(), generation);
        }
        Ok(found)
    }

    /// Forgets `id` now: called by this host's own writes to a user's account or consents,
    /// before they answer, so the user's next request sees the change whichever path it
    /// takes.
    pub fn forget(&self, id: Uuid) {
        if let Some(shared) = &self.shared {
            shared.forget(id);
        }
    }
}

impl Shared {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        // The map holds no invariant a panic could break half-way.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serving(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    fn get(&self, id: Uuid) -> Option<KnownCaller> {
        let entries = self.entries();
        entries
            .get(&id)
            .filter(|entry| entry.fetched.elapsed() < TTL)
            .map(|entry| entry.record.clone())
    }

    /// Remembers `record` unless a change was heard of since `generation` was read (the
    /// record may predate it) or the listener is down.
    fn remember(&self, id: Uuid, record: KnownCaller, generation: u64) {
        let mut entries = self.entries();
        if !self.serving() || self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.fetched.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            id,
            Entry {
                record,
                fetched: Instant::now(),
            },
        );
    }

    fn forget(&self, id: Uuid) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(&id);
    }

    fn forget_all(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Stops serving (a notification may be missed) and forgets everything.
    fn deafen(&self) {
        self.listening.store(false, Ordering::Release);
        self.forget_all();
    }
}

/// Follows [`CHANNEL`] for as long as the cache exists, reconnecting after a failure. The
/// cache serves only while a LISTEN is in effect.
async fn listen(pool: sqlx::PgPool, cache: std::sync::Weak<Shared>) {
    loop {
        match connect(&pool).await {
            Ok(mut listener) => {
                let Some(shared) = cache.upgrade() else {
                    return;
                };
                shared.forget_all();
                shared.listening.store(true, Ordering::Release);
                drop(shared);
                follow(&mut listener, &cache).await;
            }
            Err(error) => tracing::warn!(%error, "cannot listen for caller changes"),
        }
        match cache.upgrade() {
            Some(shared) => shared.deafen(),
            None => return,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Applies notifications until the connection is lost (or the cache is dropped).
async fn follow(listener: &mut PgListener, cache: &std::sync::Weak<Shared>) {
    loop {
        let next = listener.try_recv().await;
        let Some(shared) = cache.upgrade() else {
            return;
        };
        match next {
            Ok(Some(notification)) => match Uuid::parse_str(notification.payload()) {
                Ok(id) => shared.forget(id),
                Err(_) => shared.forget_all(),
            },
            // The connection dropped: whatever was sent meanwhile is lost.
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "caller-change listener failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: Uuid, timezone: &str) -> KnownCaller {
        KnownCaller {
            id,
            subscription_tier: "free".into(),
            subscription_expires_at: None,
            timezone: timezone.into(),
            locale: "en-US".into(),
            consents: vec![],
            session_epoch: 0,
            ended_sessions: vec![],
        }
    }

    /// Remembers `id` as of now (no change heard of since).
    fn remember_now(shared: &Shared, id: Uuid) {
        shared.remember(
            id,
            record(id, "UTC"),
            shared.generation.load(Ordering::Acquire),
        );
    }

    fn listening() -> Shared {
        let shared = Shared::default();
        shared.listening.store(true, Ordering::Release);
        shared
    }

    #[test]
    fn a_remembered_caller_is_served_until_forgotten() {
        let shared = listening();
        let id = Uuid::new_v4();
        remember_now(&shared, id);
        assert_eq!(shared.get(id).map(|r| r.timezone), Some("UTC".into()));
        shared.forget(id);
        assert!(shared.get(id).is_none());
    }

    #[test]
    fn a_lookup_that_raced_with_a_change_is_not_remembered() {
        let shared = listening();
        let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
        let before = shared.generation.load(Ordering::Acquire);
        // While the database was being asked, a change to some user was heard of: the
        // answer may predate it.
        shared.forget(other);
        shared.remember(id, record(id, "UTC"), before);
        assert!(shared.get(id).is_none());
    }

    #[test]
    fn nothing_is_remembered_or_served_while_changes_could_go_unheard() {
        let shared = listening();
        let id = Uuid::new_v4();
        remember_now(&shared, id);
        shared.deafen();
        assert!(!shared.serving());
        assert!(shared.get(id).is_none(), "deafening forgets everything");
        remember_now(&shared, id);
        assert!(shared.entries().is_empty());
    }

    #[tokio::test]
    async fn sqlite_asks_the_database_every_time() {
        let (db, _dir) = crate::db::testing::sqlite().await;
        let cache = CallerCache::start(&db);
        assert!(cache.shared.is_none());
        let user = db
            .create_user(
                "sqlite-cache@example.com",
                "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
                None,
            )
            .await
            .expect("user");
        let found = cache.lookup(&db, user.id).await.expect("lookup");
        assert_eq!(found.map(|r| r.id), Some(user.id));
    }

    /// On PostgreSQL (when `MINDFLOW_TEST_DATABASE_URL` names a server): a change made
    /// behind the host's back, as another replica or an operator would, reaches the cache
    /// through the triggers' notification well within [`TTL`].
    #[tokio::test]
    async fn a_change_by_anyone_else_reaches_the_cache_through_postgres() {
        let Some((db, url)) = crate::db::testing::postgres().await else {
            eprintln!("caller cache: PostgreSQL part skipped (no MINDFLOW_TEST_DATABASE_URL)");
            return;
        };
        let cache = CallerCache::start(&db);
        let user = db
            .create_user(
                "pg-cache@example.com",
                "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
                None,
            )
            .await
            .expect("user");
        let started = Instant::now();
        while !cache.shared.as_ref().is_some_and(|s| s.serving()) {
            assert!(started.elapsed() < Duration::from_secs(5), "never listened");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let timezone = |cache: CallerCache, db: Database| async move {
            cache
                .lookup(&db, user.id)
                .await
                .expect("lookup")
                .map(|caller| caller.timezone)
        };
        let before = timezone(cache.clone(), db.clone()).await;
        assert!(
            cache
                .shared
                .as_ref()
                .is_some_and(|s| s.get(user.id).is_some())
        );

        use sqlx::Connection;
        let mut other = sqlx::PgConnection::connect(&url).await.expect("other");
        sqlx::query("UPDATE users SET timezone = 'Pacific/Auckland' WHERE id = $1")
            .bind(user.id)
            .execute(&mut other)
            .await
            .expect("update");
        let changed = Instant::now();
        loop {
            let now = timezone(cache.clone(), db.clone()).await;
            if now.as_deref() == Some("Pacific/Auckland") {
                break;
            }
            assert_eq!(now, before);
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "the change was not heard of (the cache would serve it for {TTL:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A consent granted behind its back, too.
        sqlx::query(
            "INSERT INTO user_consents (id, user_id, consent_type, granted, granted_at) \
             VALUES ($1, $2, 'ai_chat', TRUE, now())",
        )
        .bind(Uuid::new_v4())
        .bind(user.id)
        .execute(&mut other)
        .await
        .expect("consent");
        let changed = Instant::now();
        loop {
            let consents = cache
                .lookup(&db, user.id)
                .await
                .expect("lookup")
                .map(|caller| caller.consents)
                .unwrap_or_default();
            if consents == ["ai_chat"] {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "consent not heard of"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // And a deleted account is gone at once.
        sqlx::query("UPDATE users SET deleted_at = now() WHERE id = $1")
            .bind(user.id)
            .execute(&mut other)
            .await
            .expect("delete");
        let changed = Instant::now();
        while cache.lookup(&db, user.id).await.expect("lookup").is_some() {
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "deletion not heard of"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
