//! Per-store memory cap that remembers being hit, so a failure can be reported as what it
//! was (the component outgrew its memory limit) rather than as a generic trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::ResourceLimiter;

/// Caps linear memory and table growth of one store. The cap is on the sum of every linear
/// memory in the store: a component may define several (the component model allows one per
/// core module instance, and multi-memory several per module), and a cap per memory would
/// multiply the budget by their number.
pub(crate) struct MemoryCap {
    max_bytes: usize,
    /// Bytes of linear memory granted so far, over all memories of the store.
    granted: usize,
    exceeded: Arc<AtomicBool>,
}

/// Table elements any one table may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryCap {
    pub(crate) fn new(max_bytes: usize) -> (Self, Arc<AtomicBool>) {
        let exceeded = Arc::new(AtomicBool::new(false));
        (
            Self {
                max_bytes,
                granted: 0,
                exceeded: exceeded.clone(),
            },
            exceeded,
        )
    }
}

impl ResourceLimiter for MemoryCap {
    /// Called for each memory's creation (`current` 0) and each growth: the store's total
    /// after it must stay within the cap. A growth that later fails still counts, which errs
    /// on the side of the cap.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.granted.saturating_add(desired.saturating_sub(current));
        if total > self.max_bytes {
            self.exceeded.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        self.granted = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_cap_is_on_all_memories_of_a_store_together() {
        let (mut cap, exceeded) = MemoryCap::new(10 * MIB);
        // Two memories of 4 MiB each fit; growing either past the store's total does not.
        assert!(cap.memory_growing(0, 4 * MIB, None).expect("first"));
        assert!(cap.memory_growing(0, 4 * MIB, None).expect("second"));
        assert!(!exceeded.load(Ordering::Relaxed));
        assert!(!cap.memory_growing(4 * MIB, 7 * MIB, None).expect("growth"));
        assert!(exceeded.load(Ordering::Relaxed));
        // Growing within what is left still works.
        assert!(cap.memory_growing(4 * MIB, 6 * MIB, None).expect("growth"));
        assert!(!cap.memory_growing(0, MIB, None).expect("a third memory"));
    }

    #[test]
    fn one_memory_is_held_to_the_whole_cap() {
        let (mut cap, exceeded) = MemoryCap::new(10 * MIB);
        assert!(cap.memory_growing(0, MIB, None).expect("initial"));
        assert!(
            cap.memory_growing(MIB, 10 * MIB, None)
                .expect("up to the cap")
        );
        assert!(
            !cap.memory_growing(10 * MIB, 10 * MIB + 65_536, None)
                .expect("past it")
        );
        assert!(exceeded.load(Ordering::Relaxed));
    }
}
