//! An allocator wrapper counting per thread the bytes it holds, so the schema cache can weigh
//! what it keeps (`measure`) and bound itself by memory rather than by a count of entries
//! whose sizes differ a hundredfold. The count is a plain thread-local integer (no atomic, no
//! lock): one add per allocation. Binaries install it (`main.rs`: around mimalloc); where it
//! is not installed, `measure` reports 0 and the cache counts nothing.
//!
//! The workspace denies `unsafe`; this module is its one exception: `GlobalAlloc` is an unsafe
//! trait, and every method here forwards to the wrapped allocator unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

/// `A`, counted.
pub struct Counting<A>(pub A);

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (negative when it frees what another
    /// thread allocated).
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    // `try_with`: allocations during the thread's teardown find no counter and go uncounted.
    let _ = NET.try_with(|n| n.set(n.get().wrapping_add(bytes)));
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded to `A` unchanged; the counting touches no memory the
// caller owns.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `A::alloc`'s.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(signed(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(signed(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `A`, with `layout`.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-signed(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`, and `new_size` is the caller's to vouch for.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(signed(new_size) - signed(layout.size()));
        }
        p
    }
}

/// Runs `f` and returns what it returned with the bytes that stayed allocated when it
/// finished: the heap size of a value it built. `f` must not await or move work to other
/// threads (their allocations are not counted here).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = NET.try_with(Cell::get).unwrap_or(0);
    let value = f();
    let after = NET.try_with(Cell::get).unwrap_or(0);
    (value, usize::try_from(after.wrapping_sub(before)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::{Counting, measure};

    #[global_allocator]
    static ALLOCATOR: Counting<std::alloc::System> = Counting(std::alloc::System);

    #[test]
    fn measures_what_stays_allocated() {
        let (kept, bytes) = measure(|| {
            let _dropped = vec![0u8; 10_000];
            vec![0u64; 1_000]
        });
        assert_eq!(kept.len(), 1_000);
        assert_eq!(bytes, 8_000, "the dropped buffer is not counted, the kept one is");
        let (_, none) = measure(|| drop(vec![1u8; 4096]));
        assert_eq!(none, 0);
    }
}
