//! The sidecar binary's allocator (mimalloc), how Rust calls it, and the
//! settings it changes. The binary's only `unsafe`: calls into mimalloc's and
//! glibc's C APIs, declared here (the `mimalloc` crate links the library but
//! exposes no option setter).
//!
//! Each request allocates many small, short-lived buffers (HTTP/2 frames,
//! protobuf, SQL, JSON) on one thread and frees some on another; mimalloc's
//! per-thread free lists beat glibc's arenas there (see bench/README.md).
//! Built with `no_thp` (Cargo.toml): with transparent huge pages in `madvise`
//! mode (Debian's default) mimalloc asked for 2 MiB pages, and every arena it
//! touched counted whole: 21.7 MiB idle and 31.9 MiB peak on PostgreSQL
//! against 14.0 and 18.2 without.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::os::raw::{c_int, c_long, c_void};

#[global_allocator]
static ALLOCATOR: Mimalloc = Mimalloc;

// The `mimalloc` crate builds and links the library; its `MiMalloc` is
// replaced by [`Mimalloc`] below, so name the crate to keep it linked.
use mimalloc as _;

/// mimalloc as the global allocator, taking its plain entry points whenever
/// they already give the alignment Rust asks for.
///
/// `mimalloc::MiMalloc` calls `mi_malloc_aligned` for every allocation. In the
/// linked mimalloc 3 that takes the plain fast path only when the thread's
/// page for the size has a free block and `align <= size`; otherwise it goes
/// through `mi_theap_malloc_zero_aligned_at_generic`, and for a block size
/// that is not a power of two on to `_overalloc`, which asks for
/// `size + align - 1` bytes. A REST GET made about 99 allocations, 17 of
/// them on that path, 13 over-allocated (callgrind, bench/instructions).
/// Every mimalloc block is 8-aligned, and 16-aligned once its size is 16 or
/// more (`MI_MAX_ALIGN_SIZE`, asserted in `c_src/mimalloc/v3/src/alloc.c`):
/// those requests need no aligned call at all.
struct Mimalloc;

/// Whether mimalloc's plain calls already align a block of `size` bytes to
/// `align`: every block is 8-aligned, and one of 16 bytes or more is 16-aligned.
#[inline]
fn plain_aligns(size: usize, align: usize) -> bool {
    align <= 8 || (align <= 16 && size >= 16)
}

// SAFETY: every call hands mimalloc a layout Rust's allocator contract makes
// valid (non-zero size for alloc; `ptr` from this allocator for dealloc and
// realloc) and returns what mimalloc returns: a block of at least the size
// asked, aligned as asked (the plain calls only where `plain_aligns` holds),
// or null on failure.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain_aligns(layout.size(), layout.align()) {
            // SAFETY: mimalloc's malloc; alignment covered by `plain_aligns`.
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: as above, through the aligned entry point.
            unsafe { mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain_aligns(layout.size(), layout.align()) {
            // SAFETY: mimalloc's zeroing malloc; alignment covered by `plain_aligns`.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as above, through the aligned entry point.
            unsafe { mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from mimalloc (this allocator); mi_free takes
        // aligned and plain blocks alike.
        unsafe { mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain_aligns(new_size, layout.align()) {
            // SAFETY: `ptr` came from this allocator; the new block is a plain
            // one of `new_size` bytes, aligned as `plain_aligns` says.
            unsafe { mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as above, through the aligned entry point.
            unsafe { mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

extern "C" {
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_zalloc(size: usize) -> *mut c_void;
    fn mi_realloc(p: *mut c_void, newsize: usize) -> *mut c_void;
    fn mi_malloc_aligned(size: usize, alignment: usize) -> *mut c_void;
    fn mi_zalloc_aligned(size: usize, alignment: usize) -> *mut c_void;
    fn mi_realloc_aligned(p: *mut c_void, newsize: usize, alignment: usize) -> *mut c_void;
    fn mi_free(p: *mut c_void);
    fn mi_option_set(option: c_int, value: c_long);
    // glibc's malloc, which SQLite (C code, bundled) allocates from.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn mallopt(param: c_int, value: c_int) -> c_int;
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// `mi_option_purge_delay` in mimalloc 3, the version libmimalloc-sys 0.1.49
/// builds (Cargo.lock pins it; `c_src/mimalloc/v3/include/mimalloc.h`): the
/// milliseconds freed memory waits before it goes back to the OS (default
/// 1000, `src/options.c`).
const PURGE_DELAY: c_int = 15;

/// Hands freed memory back to the OS when it is freed. With the default second,
/// memory freed on a thread that then goes quiet (a SQLite call's blocking
/// thread, a worker after a burst) stayed resident: after seeding 1,000
/// vectors and 5,000 documents the SQLite sidecar held 52–66 MiB, and 30–35
/// with this; a GET's CPU cost did not change measurably (bench/run, rows 4u,
/// 5u, 8au, with and without `MIMALLOC_PURGE_DELAY=0`).
///
/// `MIMALLOC_PURGE_DELAY` in the environment wins (mimalloc reads it itself).
pub fn purge_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores a number in mimalloc's option table (an
    // atomic store); PURGE_DELAY is a valid option of the linked version.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

/// glibc's `M_ARENA_MAX` (`malloc.h`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_ARENA_MAX: c_int = -8;

/// One glibc malloc arena. SQLite's page caches and statements are
/// allocated by C code, from glibc's malloc, on whichever blocking thread runs
/// the call; glibc gives threads arenas of their own (up to 8 per core) and
/// returns little of them: after seeding 2,000 vectors and 20,000 documents
/// the SQLite sidecar held 50.9 MiB, and 34.3 with two arenas (bench/run with
/// `MALLOC_ARENA_MAX=2`; GET throughput within the run-to-run spread). One
/// arena instead of two took another 1–1.5 MiB off the peak of the indexed
/// find at 16 connections (2026-12-01; its req/s within the runs' spread):
/// SQLite's calls are bounded by the pool size, and its allocations are few
/// next to the page reads they wait for.
///
/// SQLite stays on glibc: routed through mimalloc instead
/// (`SQLITE_CONFIG_MALLOC`, tried 2026-12-01) its peak RSS was worse, 48.8
/// against 37.3 MiB over the bench's SQLite rows after seeding 100,000
/// documents, and its CPU per request 10–26 % higher with p99 2–3× (one
/// run each; the likely cause, not profiled: the page cache's churn meeting
/// mimalloc's prompt purge).
///
/// `MALLOC_ARENA_MAX` in the environment wins (glibc reads it itself).
pub fn few_c_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets a parameter of glibc's allocator; called first
    // thing in main, before any thread but the main one exists.
    unsafe {
        mallopt(M_ARENA_MAX, 1);
    }
}

/// The purge delay in force, in milliseconds.
#[cfg(test)]
fn purge_delay() -> c_long {
    // SAFETY: mi_option_get reads mimalloc's option table.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_gets_its_alignment() {
        // Sizes around mimalloc's bins and the 16-byte line, every alignment
        // from 1 to 4 KiB, through alloc, alloc_zeroed and realloc both ways.
        let sizes = [1, 7, 8, 9, 15, 16, 17, 24, 40, 48, 100, 1000, 1025, 1500, 4096, 70_000, 300_000];
        for &size in &sizes {
            for shift in 0..=12 {
                let align = 1usize << shift;
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = ALLOCATOR.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align), "alloc {size} align {align}");
                    p.write_bytes(0xAB, size);
                    let z = ALLOCATOR.alloc_zeroed(layout);
                    assert!(!z.is_null() && (z as usize).is_multiple_of(align), "zalloc {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    ALLOCATOR.dealloc(z, layout);
                    for &new_size in &[size / 2 + 1, size * 3] {
                        let q = ALLOCATOR.alloc(layout);
                        q.write_bytes(0xCD, size);
                        let r = ALLOCATOR.realloc(q, layout, new_size);
                        assert!(
                            !r.is_null() && (r as usize).is_multiple_of(align),
                            "realloc {size}->{new_size} align {align}"
                        );
                        let kept = size.min(new_size);
                        assert!(std::slice::from_raw_parts(r, kept).iter().all(|&b| b == 0xCD));
                        ALLOCATOR.dealloc(r, Layout::from_size_align(new_size, align).unwrap());
                    }
                    ALLOCATOR.dealloc(p, layout);
                }
            }
        }
    }

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // The option's documented default: a check that PURGE_DELAY names it
        // in the linked mimalloc (an environment override would show here too).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay(), 1000);
            purge_promptly();
            assert_eq!(purge_delay(), 0);
        }
    }
}
