//! Coarse deadlines for requests, checked by the runtime's ticker thread.
//!
//! The epoch deadline stops guest code, but not a guest blocked in a host call (an outbound
//! request that never answers, a long sleep). Each request therefore also has an outer
//! deadline. A tokio timer per request would do, but arming one on an otherwise idle
//! runtime wakes the thread that drives timers, on every request: a cross-thread wake-up
//! that measurably added to each request's latency. Here a request only records its deadline
//! in a shared table (a lock, an insert, a remove when it ends); the ticker thread looks at
//! the table every [`CHECK_EVERY`] and signals the requests that are overdue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How often overdue requests are looked for: the precision of an outer deadline.
pub const CHECK_EVERY: Duration = Duration::from_millis(25);

type Entries = HashMap<u64, (Instant, oneshot::Sender<()>)>;

/// The table of outer deadlines of the requests in flight.
#[derive(Clone, Default)]
pub struct Watchdog {
    entries: Arc<Mutex<Entries>>,
    next_id: Arc<AtomicU64>,
}

/// A registered deadline; dropping it (the request ended) removes it.
pub struct Deadline {
    watchdog: Watchdog,
    id: u64,
    /// Resolves when the deadline has passed.
    pub expired: oneshot::Receiver<()>,
}

impl Watchdog {
    /// Registers a deadline `after` from now.
    pub fn arm(&self, after: Duration) -> Deadline {
        let (sender, expired) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (Instant::now() + after, sender));
        Deadline {
            watchdog: self.clone(),
            id,
            expired,
        }
    }

    /// Signals every request whose deadline has passed (called by the ticker thread).
    pub fn expire_overdue(&self) {
        let now = Instant::now();
        let mut entries = self.lock();
        let overdue: Vec<u64> = entries
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some((_, sender)) = entries.remove(&id) {
                // The request may have ended in the meantime; nothing to do then.
                let _ = sender.send(());
            }
        }
    }

    /// Requests in flight with a deadline.
    #[cfg(test)]
    pub fn armed(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The table stays consistent whatever a panicking holder did: plain inserts/removes.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.watchdog.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_overdue_deadlines_fire_and_ended_requests_leave_the_table() {
        let watchdog = Watchdog::default();
        let mut soon = watchdog.arm(Duration::ZERO);
        let mut later = watchdog.arm(Duration::from_secs(3600));
        assert_eq!(watchdog.armed(), 2);
        watchdog.expire_overdue();
        assert!(
            soon.expired.try_recv().is_ok(),
            "the overdue deadline fired"
        );
        assert!(later.expired.try_recv().is_err(), "the later one did not");
        assert_eq!(watchdog.armed(), 1);
        drop(later);
        drop(soon);
        assert_eq!(watchdog.armed(), 0);
    }
}
