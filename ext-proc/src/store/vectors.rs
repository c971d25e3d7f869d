//! Packed vectors beside documents, for exact nearest-neighbour search.
//!
//! A document's `$vector` (a JSON array of numbers) is also kept as packed
//! little-endian f32 bytes in one side table per store, keyed by tenant,
//! keyspace, collection and document id. Every store write of a document
//! updates it in the same transaction and every delete removes it, whichever
//! API made the change. A vector search then reads only these bytes (3 KB for
//! 768 dimensions instead of ~15 KB of JSON text to parse), keeps the best
//! `k` in a heap, and fetches just the winners' documents.
//!
//! Exact search reads every vector of the collection on each query; see the
//! README ("Vectors at scale") for the sizes that stays fine at and what an
//! approximate index would need.

use super::StoreError;
use crate::model::Namespace;
use async_trait::async_trait;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// The document member holding a vector.
pub const FIELD: &str = "$vector";

/// Scores one stored vector against the query (higher is closer).
pub type Scorer = Arc<dyn Fn(&[f32]) -> f64 + Send + Sync>;

/// Vector search over the packed side table.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// The ids of the `k` best-scoring vectors of a collection with their
    /// scores, best first (ties by id).
    async fn nearest(
        &self,
        ns: &Namespace,
        coll: &str,
        score: Scorer,
        k: usize,
    ) -> Result<Vec<(String, f64)>, StoreError>;
    /// Live (unexpired) documents by id, in no particular order.
    async fn docs_by_id(
        &self,
        ns: &Namespace,
        coll: &str,
        ids: &[String],
        now_ms: i64,
    ) -> Result<Vec<(String, Json)>, StoreError>;
}

/// The packed form of a document's `$vector`, when it holds a non-empty
/// array of numbers.
pub fn pack(doc: &Json) -> Option<Vec<u8>> {
    let items = doc.get(FIELD)?.as_array().filter(|a| !a.is_empty())?;
    let mut out = Vec::with_capacity(items.len() * 4);
    for i in items {
        out.extend_from_slice(&(i.as_f64()? as f32).to_le_bytes());
    }
    Some(out)
}

/// Whether a document has a vector to keep beside it.
pub fn has(doc: &Json) -> bool {
    doc.get(FIELD).is_some_and(Json::is_array)
}

/// Unpacks into `buf` (reused across rows to spare an allocation each).
pub fn unpack_into(bytes: &[u8], buf: &mut Vec<f32>) {
    buf.clear();
    buf.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
}

/// One candidate in the heap: ordered so the worst is on top.
#[derive(Debug, PartialEq)]
struct Cand(f64, String);

impl Eq for Cand {}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        // Worse = lower score, then larger id (ties go to the smaller id).
        other.0.partial_cmp(&self.0).unwrap_or(Ordering::Equal).then_with(|| self.1.cmp(&other.1))
    }
}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` best of a stream of scored ids.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Cand>,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> TopK {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// Whether a score could enter (saves building the id string).
    pub fn wants(&self, score: f64) -> bool {
        if self.k == 0 || score.is_nan() {
            return false;
        }
        self.heap.len() < self.k || self.heap.peek().is_some_and(|w| score >= w.0)
    }

    /// Offers one candidate.
    pub fn offer(&mut self, score: f64, id: String) {
        if !self.wants(score) {
            return;
        }
        self.heap.push(Cand(score, id));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<(String, f64)> {
        // Ascending by `Ord`, under which the best candidate is the smallest.
        self.heap.into_sorted_vec().into_iter().map(|Cand(s, id)| (id, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packs_little_endian() {
        let b = pack(&json!({"$vector": [1.0, -2.5]})).unwrap();
        assert_eq!(b, [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat());
        let mut buf = Vec::new();
        unpack_into(&b, &mut buf);
        assert_eq!(buf, vec![1.0, -2.5]);
        assert_eq!(pack(&json!({"$vector": []})), None);
        assert_eq!(pack(&json!({"$vector": ["x"]})), None);
        assert_eq!(pack(&json!({"a": 1})), None);
    }

    #[test]
    fn top_k_keeps_the_best_ties_by_id() {
        let mut t = TopK::new(3);
        for (s, id) in [(0.5, "e"), (0.9, "b"), (0.1, "a"), (0.9, "a"), (0.7, "c"), (0.7, "d")] {
            t.offer(s, id.to_owned());
        }
        assert_eq!(t.into_sorted(), vec![("a".into(), 0.9), ("b".into(), 0.9), ("c".into(), 0.7)]);
        let mut none = TopK::new(0);
        none.offer(1.0, "x".into());
        assert!(none.into_sorted().is_empty());
    }
}
