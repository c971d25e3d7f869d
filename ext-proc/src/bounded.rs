//! Size bounds for the per-table caches (catalog, GraphQL schemas). A
//! serverless gateway serves many small tenants: a cache keyed by tenant,
//! keyspace or table must not grow with all of them, only with those in use.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

/// Entries one per-table cache keeps at most (tables, collections, keyspaces).
pub const MAX_ENTRIES: usize = 4096;

/// Makes room for one more entry in `map` (values stamped with when they were
/// stored): first drops what is older than `ttl`, and if the map is still
/// full, the older half. Runs only when full, so its O(n) is paid once per
/// n/2 inserts at worst.
pub fn make_room<K: Eq + Hash, V, S: BuildHasher>(map: &mut HashMap<K, (Instant, V), S>, cap: usize, ttl: Duration) {
    if map.len() < cap {
        return;
    }
    map.retain(|_, (at, _)| at.elapsed() < ttl);
    if map.len() < cap {
        return;
    }
    let mut stamps: Vec<Instant> = map.values().map(|(at, _)| *at).collect();
    let mid = stamps.len() / 2;
    let (_, median, _) = stamps.select_nth_unstable(mid);
    let cutoff = *median;
    map.retain(|_, (at, _)| *at > cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_first_loses_what_expired() {
        let old = Instant::now() - Duration::from_secs(60);
        let mut m: HashMap<u32, (Instant, ())> = (0..4).map(|i| (i, (old, ()))).collect();
        m.insert(9, (Instant::now(), ()));
        make_room(&mut m, 5, Duration::from_secs(5));
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![9]);
    }

    #[test]
    fn a_full_map_of_fresh_entries_keeps_the_newer_half() {
        let now = Instant::now();
        let mut m: HashMap<u32, (Instant, ())> =
            (0..10).map(|i| (i, (now - Duration::from_millis(100 - u64::from(i)), ()))).collect();
        make_room(&mut m, 10, Duration::from_secs(5));
        assert!(m.len() < 10 && m.len() >= 4, "{}", m.len());
        assert!(m.contains_key(&9) && !m.contains_key(&0));
    }

    #[test]
    fn below_the_cap_nothing_goes() {
        let old = Instant::now() - Duration::from_secs(60);
        let mut m: HashMap<u32, (Instant, ())> = (0..3).map(|i| (i, (old, ()))).collect();
        make_room(&mut m, 5, Duration::from_secs(5));
        assert_eq!(m.len(), 3);
    }
}
