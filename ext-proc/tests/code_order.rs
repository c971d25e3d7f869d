//! `code-order.txt` (written by `scripts/code-order`, given to the release link
//! by `build.rs`) is a list the linker can use: one symbol per line, each once,
//! covering the sidecar's own code and the C it links (SQLite, mimalloc).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

#[test]
fn the_code_order_lists_symbols_once_each() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/code-order.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(names.len() > 1000, "only {} names: did scripts/code-order's workload run?", names.len());
    let mut seen = HashSet::new();
    for name in &names {
        assert!(!name.is_empty() && !name.contains(char::is_whitespace), "not a symbol: {name:?}");
        assert!(seen.insert(*name), "listed twice: {name}");
    }
    // A request's path through the sidecar, SQLite and the allocator.
    for must in ["sqlite3VdbeExec", "mi_free"] {
        assert!(seen.contains(must), "{must} is missing");
    }
    assert!(names.iter().any(|n| n.starts_with("_ZN8datagate")), "none of the sidecar's own functions");
}
