//! Billable units: what a tenant's invoice counts. The formula (stated in the
//! README; users reconcile invoices against it):
//!
//! - read units = max(⌈bytes read / 4 KiB⌉, read calls): at least one per
//!   storage read (a select, a document get, a search page, a document
//!   function that changed nothing), even when it found nothing; the read
//!   inside a document write (PUT, PATCH, DELETE) is part of the write;
//! - write units = max(⌈bytes written / 1 KiB⌉, rows and documents written or
//!   deleted, write calls): at least one per row or document changed, and one
//!   for a write that changed nothing (a conditional write that did not apply);
//! - DDL and catalog reads (schema listings, definitions) cost no units; they
//!   are counted as operations;
//! - a failed request costs what the store did before it failed (usually
//!   nothing): units follow the storage calls, not the status.

use crate::scope::Counts;

/// Bytes per read unit.
pub const READ_UNIT_BYTES: u64 = 4096;
/// Bytes per write unit.
pub const WRITE_UNIT_BYTES: u64 = 1024;

/// (read units, write units) for one request's storage counts.
pub fn units(c: &Counts) -> (u64, u64) {
    let read = c.bytes_read.div_ceil(READ_UNIT_BYTES).max(c.read_calls);
    let changed = c.rows_written + c.rows_deleted + c.docs_written + c.docs_deleted;
    let write = c.bytes_written.div_ceil(WRITE_UNIT_BYTES).max(changed).max(c.write_calls);
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cost_a_unit_per_4_kib_and_at_least_one_per_call() {
        let c = |read_calls, bytes_read| Counts { read_calls, bytes_read, ..Counts::default() };
        assert_eq!(units(&c(1, 0)), (1, 0), "a read that found nothing");
        assert_eq!(units(&c(1, 4096)), (1, 0));
        assert_eq!(units(&c(1, 4097)), (2, 0), "rounded up");
        assert_eq!(units(&c(3, 100)), (3, 0), "at least one per call");
        assert_eq!(units(&Counts::default()), (0, 0), "DDL or catalog reads only");
    }

    #[test]
    fn writes_cost_a_unit_per_kib_and_at_least_one_per_row() {
        let w = |write_calls, rows_written, bytes_written| Counts {
            write_calls,
            rows_written,
            bytes_written,
            ..Counts::default()
        };
        assert_eq!(units(&w(1, 1, 10)), (0, 1));
        assert_eq!(units(&w(1, 1, 1025)), (0, 2));
        assert_eq!(units(&w(1, 10, 1000)), (0, 10), "a batch of ten small rows");
        assert_eq!(units(&w(1, 0, 0)), (0, 1), "a conditional write that did not apply");
        let del = Counts { write_calls: 1, rows_deleted: 3, ..Counts::default() };
        assert_eq!(units(&del), (0, 3));
    }
}
