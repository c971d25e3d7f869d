//! The decision half of a document edit, shared by every store's `edit_doc`:
//! the store reads the row inside its transaction, [`decide`] runs the edit
//! on it and says what to write, and the store does that I/O.

use super::docs::{live, Edit, EditFn};
use super::vectors;
use super::StoreError;
use serde_json::Value as Json;

/// What a store does to finish an edit, decided from the row it read.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Store `doc` with this expiry (epoch ms; `None`: never), then do
    /// `vector` to its side row. `created`: no row existed, not even an
    /// expired one, so a store that cannot lock a missing row inserts only
    /// and runs the edit again if a concurrent request created it first.
    Write { doc: Json, expires_ms: Option<i64>, created: bool, vector: VectorSide, reply: Json },
    /// Delete the document, then do `vector` to its side row.
    Delete { vector: VectorSide, reply: Json },
    /// Change nothing: the transaction need not commit.
    Keep { reply: Json },
}

/// What becomes of a document's row in the packed-vector side table
/// (see [`super::vectors`]).
#[derive(Debug, Clone, PartialEq)]
pub enum VectorSide {
    /// Write this packed vector.
    Put(Vec<u8>),
    /// Remove the row: the document has no vector now, and had one before.
    Remove,
    /// Nothing to do: there is no row and none is wanted.
    Leave,
}

impl VectorSide {
    /// For `doc` just written over a version that `had` a side row (or may have).
    pub fn of(doc: &Json, had: bool) -> VectorSide {
        match vectors::pack(doc) {
            Some(bytes) => VectorSide::Put(bytes),
            None if had => VectorSide::Remove,
            None => VectorSide::Leave,
        }
    }
}

/// Runs `edit` on the live document of the `row` the store read (the document
/// and its expiry; `None`: no row) and decides what to write.
pub fn decide(row: Option<(Json, Option<i64>)>, now_ms: i64, edit: &EditFn) -> Result<Step, StoreError> {
    let created = row.is_none();
    let (doc, exp) = live(row, now_ms);
    // An expired document is hidden but may still have a side row.
    let had_vector = !created && doc.as_ref().is_none_or(vectors::has);
    Ok(match edit(doc, exp)? {
        Edit::Write { doc, expires_ms, reply } => {
            let vector = VectorSide::of(&doc, had_vector);
            Step::Write { doc, expires_ms, created, vector, reply }
        }
        Edit::Delete { reply } => {
            let vector = if had_vector { VectorSide::Remove } else { VectorSide::Leave };
            Step::Delete { vector, reply }
        }
        Edit::Keep { reply } => Step::Keep { reply },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(doc: Json) -> EditFn {
        Box::new(move |_, _| Ok(Edit::Write { doc: doc.clone(), expires_ms: None, reply: json!("w") }))
    }

    fn delete() -> EditFn {
        Box::new(|_, _| Ok(Edit::Delete { reply: json!("d") }))
    }

    #[test]
    fn the_edit_sees_only_a_live_document() {
        let seen: EditFn = Box::new(|doc, exp| Ok(Edit::Keep { reply: json!([doc, exp]) }));
        let keep = |row, now| decide(row, now, &seen).unwrap();
        assert_eq!(keep(Some((json!({"a": 1}), Some(20))), 10), Step::Keep { reply: json!([{"a": 1}, 20]) });
        assert_eq!(keep(Some((json!({"a": 1}), Some(20))), 20), Step::Keep { reply: json!([null, null]) });
        assert_eq!(keep(None, 0), Step::Keep { reply: json!([null, null]) });
    }

    #[test]
    fn side_rows_follow_the_vector() {
        let with = json!({"$vector": [1.0, 2.0]});
        let without = json!({"a": 1});
        let packed = vectors::pack(&with).unwrap();
        let vector = |row, edit: EditFn| match decide(row, 0, &edit).unwrap() {
            Step::Write { vector, .. } | Step::Delete { vector, .. } => vector,
            Step::Keep { .. } => unreachable!(),
        };
        assert_eq!(vector(None, put(with.clone())), VectorSide::Put(packed));
        assert_eq!(vector(None, put(without.clone())), VectorSide::Leave);
        assert_eq!(vector(Some((without.clone(), None)), put(without.clone())), VectorSide::Leave);
        assert_eq!(vector(Some((with.clone(), None)), put(without.clone())), VectorSide::Remove);
        // An expired version is hidden from the edit, but its side row may still be there.
        assert_eq!(vector(Some((without.clone(), Some(0))), put(without.clone())), VectorSide::Remove);
        assert_eq!(vector(Some((with.clone(), None)), delete()), VectorSide::Remove);
        assert_eq!(vector(Some((without.clone(), None)), delete()), VectorSide::Leave);
        assert_eq!(vector(None, delete()), VectorSide::Leave);
    }

    #[test]
    fn a_missing_row_is_created_an_expired_one_is_not() {
        let created = |row| match decide(row, 5, &put(json!({}))).unwrap() {
            Step::Write { created, .. } => created,
            other => panic!("{other:?}"),
        };
        assert!(created(None));
        assert!(!created(Some((json!({}), Some(1)))));
        assert!(!created(Some((json!({}), None))));
    }
}
