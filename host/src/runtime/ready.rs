//! Fresh instances made ahead of their request.
//!
//! Creating a store, instantiating the component into it and, after the answer, tearing the
//! store down (resetting its memory slot) are a third of what serving a request with a fresh
//! instance costs, and none of it depends on the request. So it happens between requests:
//! a request takes an instance made for it, and once the request is over its store is
//! dropped and a replacement is made on a task of its own, while the response travels.
//!
//! Invariants:
//! - An instance serves at most one request, and a store is never reused: a waiting
//!   instance has run nothing but its instantiation.
//! - A waiting instance holds only what every request of its component gets alike (the
//!   environment, variables, grants and the capabilities prepared at install). The caller and the request id are
//!   set when a request takes it.
//! - At most [`WAITING_PER_COMPONENT`] instances wait per component version, each holding
//!   one slot of the instance pool; they are dropped with the version.

use std::sync::Mutex;

/// How many instances wait per component version. One covers a client that sends a request
/// at a time; under concurrent load requests that find none instantiate inline, as before.
pub(crate) const WAITING_PER_COMPONENT: usize = 2;

/// The instances waiting for requests of one component version (the HTTP runtime's
/// `ReadyInstance`s; generic so that the bookkeeping knows nothing of stores and can be
/// tested without a component).
pub(crate) struct ReadyInstances<I> {
    waiting: Mutex<Vec<I>>,
}

impl<I> Default for ReadyInstances<I> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Vec::with_capacity(WAITING_PER_COMPONENT)),
        }
    }
}

impl<I> ReadyInstances<I> {
    /// Takes a waiting instance, if any.
    pub(crate) fn take(&self) -> Option<I> {
        self.lock().pop()
    }

    /// Adds an instance to wait for a request; dropped instead when enough already wait.
    pub(crate) fn put(&self, instance: I) {
        let mut waiting = self.lock();
        if waiting.len() < WAITING_PER_COMPONENT {
            waiting.push(instance);
        }
    }

    /// Whether a new instance would be kept.
    pub(crate) fn wants_more(&self) -> bool {
        self.lock().len() < WAITING_PER_COMPONENT
    }

    /// How many instances wait now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<I>> {
        // A panic while holding the lock leaves a plain vector: still consistent.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn instances_wait_up_to_the_limit_and_each_is_taken_once() {
        let ready = ReadyInstances::<Arc<u32>>::default();
        assert!(ready.take().is_none());
        assert!(ready.wants_more());
        let limit = u32::try_from(WAITING_PER_COMPONENT).expect("a small limit");
        let instances: Vec<Arc<u32>> = (0..=limit).map(Arc::new).collect();
        for instance in &instances {
            ready.put(instance.clone());
        }
        assert_eq!(ready.waiting(), WAITING_PER_COMPONENT);
        assert!(!ready.wants_more());
        // The one that found no room was dropped, not kept.
        assert_eq!(Arc::strong_count(instances.last().expect("one")), 1);
        let mut taken = Vec::new();
        while let Some(instance) = ready.take() {
            taken.push(*instance);
        }
        taken.sort_unstable();
        let expected: Vec<u32> = (0..limit).collect();
        assert_eq!(taken, expected);
        assert!(ready.wants_more());
    }
}
