//! The hash maps and sets that requests look up: keyed by tenant, table,
//! label set or file name, hashed with foldhash (hashbrown's own default)
//! instead of std's SipHash-1-3. SipHash over those keys was 5.4 % of the
//! instructions a REST GET by key executes (callgrind, `bench/instructions`).
//!
//! The keys are partly the tenants' choice (table and keyspace names), so the
//! hasher stays seeded at random per map, as std's is: foldhash's `fast`
//! variant, whose output a client cannot predict to make names collide.

use foldhash::fast::RandomState;

/// A `HashMap` with the request path's hasher; build it with `FastMap::default()`.
pub type FastMap<K, V> = std::collections::HashMap<K, V, RandomState>;

/// A `HashSet` with the request path's hasher; build it with `FastSet::default()`.
pub type FastSet<K> = std::collections::HashSet<K, RandomState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_maps_hash_the_same_key_differently() {
        use std::hash::BuildHasher;
        let (a, b) = (RandomState::default(), RandomState::default());
        let key = ("acme", "vehicle");
        assert_ne!(a.hash_one(key), b.hash_one(key), "each map is seeded on its own");
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut m: FastMap<String, u32> = FastMap::default();
        m.insert("t".to_owned(), 1);
        assert_eq!(m.get("t"), Some(&1));
        let s: FastSet<&str> = ["a", "b"].into_iter().collect();
        assert!(s.contains("a") && !s.contains("c"));
    }
}
