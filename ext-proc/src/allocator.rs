//! The sidecar binary's allocator (mimalloc), the settings it changes, and
//! SQLite's allocations routed through it.
//! The binary's only `unsafe`: calls into mimalloc's, glibc's and SQLite's C
//! APIs, declared here (the `mimalloc` crate links the library but exposes no
//! option setter and no C-ABI functions).
//!
//! Each request allocates many small, short-lived buffers (HTTP/2 frames,
//! protobuf, SQL, JSON) on one thread and frees some on another; mimalloc's
//! per-thread free lists beat glibc's arenas there (see bench/README.md).
//! Built with `no_thp` (Cargo.toml): with transparent huge pages in `madvise`
//! mode (Debian's default) mimalloc asked for 2 MiB pages, and every arena it
//! touched counted whole: 21.7 MiB idle and 31.9 MiB peak on PostgreSQL
//! against 14.0 and 18.2 without.

#![allow(unsafe_code)]

use rusqlite::ffi;
use std::os::raw::{c_int, c_long, c_void};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn mi_free(p: *mut c_void);
    fn mi_usable_size(p: *const c_void) -> usize;
    fn mi_good_size(size: usize) -> usize;
    #[cfg(test)]
    fn mi_is_in_heap_region(p: *const c_void) -> bool;
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

/// At most two glibc malloc arenas. SQLite's page caches and statements are
/// allocated by C code, from glibc's malloc, on whichever blocking thread runs
/// the call; glibc gives threads arenas of their own (up to 8 per core) and
/// returns little of them: after seeding 2,000 vectors and 20,000 documents
/// the SQLite sidecar held 50.9 MiB, and 34.3 with two arenas (bench/run with
/// `MALLOC_ARENA_MAX=2`; GET throughput within the run-to-run spread).
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
        mallopt(M_ARENA_MAX, 2);
    }
}

/// SQLite allocates through mimalloc instead of glibc's malloc: its page
/// caches and statements then live in the same heap as the rest of the
/// sidecar and are handed back as promptly ([`purge_promptly`]). glibc kept
/// what a big scan had touched: after the bench's 10,000-vector search row
/// its arenas held 15.4 MiB for SQLite, of which `malloc_trim` could give back
/// 5 (bench/README.md, "Sidecar memory").
///
/// Must run before SQLite initializes (the first connection opened): SQLite
/// refuses a new allocator afterwards, and this then says so and changes
/// nothing. Answers whether SQLite took it.
pub fn sqlite_through_mimalloc() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(sqlite_malloc),
        xFree: Some(sqlite_free),
        xRealloc: Some(sqlite_realloc),
        xSize: Some(sqlite_size),
        xRoundup: Some(sqlite_roundup),
        xInit: Some(sqlite_init),
        xShutdown: Some(sqlite_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes one pointer to a sqlite3_mem_methods,
    // which SQLite copies before returning (`sqlite3_config` in main.c), so a
    // local is enough; every function in it upholds SQLite's contract below.
    // Before initialization nothing else in SQLite runs concurrently; after
    // it SQLite answers SQLITE_MISUSE and keeps its allocator.
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) };
    rc == ffi::SQLITE_OK
}

/// The size SQLite asked for, or None for the sizes SQLite never asks for
/// (it checks before calling, `sqlite3Malloc`).
fn size_of(n: c_int) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// A size back to SQLite's `int`, saturating (mimalloc's usable size can
/// exceed the request; SQLite allocations stay far below 2 GiB).
fn to_int(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    match size_of(n) {
        // SAFETY: mi_malloc takes any size and answers null when out of
        // memory, which SQLite handles (SQLITE_NOMEM); alignment is 16 bytes,
        // more than SQLite's 8.
        Some(n) => unsafe { mi_malloc(n) },
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    // SAFETY: SQLite frees only what sqlite_malloc/sqlite_realloc answered
    // (mimalloc's), or null, which mi_free ignores.
    unsafe { mi_free(p) }
}

unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    match size_of(n) {
        // SAFETY: p is null or mimalloc's (as in sqlite_free); on failure
        // mi_realloc answers null and leaves p allocated, as SQLite expects.
        Some(n) => unsafe { mi_realloc(p, n) },
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: p is a live allocation of mimalloc's (as in sqlite_free).
    to_int(unsafe { mi_usable_size(p) })
}

unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    match size_of(n) {
        // SAFETY: mi_good_size only computes a size class.
        Some(n) => to_int(unsafe { mi_good_size(n) }),
        None => n,
    }
}

unsafe extern "C" fn sqlite_init(_app: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn sqlite_shutdown(_app: *mut c_void) {}

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
    fn sqlite_allocates_from_mimalloc() {
        // The binary's only test that touches SQLite: it must configure the
        // allocator before anything in this process initializes SQLite.
        assert!(sqlite_through_mimalloc());
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(100000));").unwrap();
        let n: i64 = conn.query_row("SELECT length(x) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 100_000);
        // SAFETY (test): a plain allocation through SQLite's public API, freed below.
        unsafe {
            let p = ffi::sqlite3_malloc(1000);
            assert!(!p.is_null());
            assert!(mi_is_in_heap_region(p));
            assert!(ffi::sqlite3_msize(p) >= 1000);
            ffi::sqlite3_free(p);
        }
        // Once initialized, SQLite keeps the allocator it has.
        assert!(!sqlite_through_mimalloc());
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
