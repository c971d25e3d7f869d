//! The sidecar binary's allocator (mimalloc) and the one setting it changes.
//! The binary's only `unsafe`: calls into mimalloc's and glibc's C APIs to
//! set how they hand memory back, declared here (the `mimalloc` crate links
//! the library but exposes no option setter).
//!
//! Each request allocates many small, short-lived buffers (HTTP/2 frames,
//! protobuf, SQL, JSON) on one thread and frees some on another; mimalloc's
//! per-thread free lists beat glibc's arenas there (see bench/README.md).
//! Built with `no_thp` (Cargo.toml): with transparent huge pages in `madvise`
//! mode (Debian's default) mimalloc asked for 2 MiB pages, and every arena it
//! touched counted whole: 21.7 MiB idle and 31.9 MiB peak on PostgreSQL
//! against 14.0 and 18.2 without.

#![allow(unsafe_code)]

use std::os::raw::{c_int, c_long};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
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
