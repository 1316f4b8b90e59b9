//! A global allocator for components that live for one request or call.
//!
//! MindFlow runs every request (and every pure call) in a fresh instance and throws the
//! instance away afterwards, so nothing a component allocates ever needs freeing: bumping a
//! pointer through memory that is already part of the instance's initial memory (a
//! zero-initialised static, which costs nothing until touched) is all an allocation has to
//! do. The default allocator instead grows linear memory on the first allocation of every
//! instance, and the host must undo that growth (an `mprotect`, with a TLB shootdown on every
//! core) before the memory slot can serve the next instance. An allocation that does not fit
//! in what is left of the arena falls back to the default allocator.
//!
//! Use it from a component crate, on `wasm32` only:
//!
//! ```ignore
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;
//! ```

#![warn(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The arena's size: room for what one request of a domain component or one crisis
/// assessment allocates; past it, allocations go to the default allocator.
pub const ARENA_BYTES: usize = 1 << 20;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the arena is handed out in disjoint pieces, each to one owner, by `Bump::alloc`.
#[allow(unsafe_code)]
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));
/// Bytes of the arena handed out so far.
static USED: AtomicUsize = AtomicUsize::new(0);

/// The bump allocator (see the crate documentation). There is one arena per instance, so
/// every `Bump` shares it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bump;

impl Bump {
    /// Whether `ptr` points into the arena.
    pub fn owns(ptr: *const u8) -> bool {
        let start = ARENA.0.get() as usize;
        (start..start + ARENA_BYTES).contains(&(ptr as usize))
    }

    /// Bytes of the arena handed out so far.
    pub fn used() -> usize {
        USED.load(Ordering::Relaxed)
    }
}

// SAFETY: every block is either a fresh, suitably aligned range of the arena that no other
// block overlaps, or comes from (and goes back to) `System` with the same layout.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let start = ARENA.0.get() as usize;
        let mut used = USED.load(Ordering::Relaxed);
        loop {
            let aligned = (start + used).next_multiple_of(layout.align());
            let Some(end) = aligned
                .checked_add(layout.size())
                .filter(|&end| end <= start + ARENA_BYTES)
            else {
                // SAFETY: forwarded with the caller's layout.
                return unsafe { System.alloc(layout) };
            };
            // A compare-exchange keeps blocks disjoint even if a host ever ran a component
            // on several threads; on one thread it always succeeds at once.
            match USED.compare_exchange_weak(
                used,
                end - start,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return aligned as *mut u8,
                Err(now) => used = now,
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Arena blocks go with the instance.
        if !Self::owns(ptr) {
            // SAFETY: not from the arena, so from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

// The test drives the allocator directly, which is `unsafe` by the trait's contract.
#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_disjoint_and_fall_back_when_the_arena_is_full() {
        let bump = Bump;
        let small = Layout::from_size_align(24, 8).expect("layout");
        let wide = Layout::from_size_align(64, 64).expect("layout");
        // SAFETY: layouts are non-zero; blocks are written within their size only.
        unsafe {
            let a = bump.alloc(small);
            let b = bump.alloc(wide);
            assert!(Bump::owns(a) && Bump::owns(b));
            assert_eq!(b as usize % 64, 0);
            assert!(b as usize >= a as usize + 24, "blocks overlap");
            a.write_bytes(0xAA, 24);
            b.write_bytes(0xBB, 64);
            assert_eq!(*a.add(23), 0xAA);
            bump.dealloc(a, small);
            bump.dealloc(b, wide);

            let huge = Layout::from_size_align(ARENA_BYTES, 16).expect("layout");
            let c = bump.alloc(huge);
            assert!(!c.is_null());
            assert!(
                !Bump::owns(c),
                "a block larger than what is left comes from System"
            );
            c.write_bytes(0xCC, ARENA_BYTES);
            bump.dealloc(c, huge);
        }
        assert!(Bump::used() >= 24 + 64);
    }
}
