//! Pure edits on one document: read, replace or merge at a path, delete a
//! path, array functions and `fields` projection. The store runs these inside
//! its read-modify-write transaction; nothing here does I/O.

use super::path::{display, Segment};
use crate::fault::Fault;
use serde_json::{Map, Value as Json};

/// The value at `path`, if the document has one there.
pub fn get<'a>(doc: &'a Json, path: &[Segment]) -> Option<&'a Json> {
    path.iter().try_fold(doc, |node, step| match (node, step) {
        (Json::Object(m), Segment::Key(k)) => m.get(k),
        (Json::Array(a), Segment::Index(i)) => a.get(*i),
        _ => None,
    })
}

fn scalar_in_the_way(path: &[Segment], depth: usize, node: &Json) -> Fault {
    Fault::Invalid(format!(
        "path '{}' goes through '{}', which is {} and cannot hold '{}'",
        display(path),
        if depth == 0 { "the document root".to_owned() } else { display(&path[..depth]) },
        crate::json::kind(node),
        path[depth]
    ))
}

/// The node at `path`, creating objects (or arrays, before an index) on the way.
fn slot<'a>(doc: &'a mut Json, path: &[Segment]) -> Result<&'a mut Json, Fault> {
    let mut node = doc;
    for (depth, step) in path.iter().enumerate() {
        let next_is_index = matches!(path.get(depth + 1), Some(Segment::Index(_)));
        let fresh = || if next_is_index { Json::Array(Vec::new()) } else { Json::Object(Map::new()) };
        // Checked on a shared borrow first, so the error can describe the node.
        match (&*node, step) {
            (Json::Object(_), Segment::Key(_)) => {}
            (Json::Array(a), Segment::Index(i)) if *i <= a.len() => {}
            (Json::Array(a), Segment::Index(i)) => {
                return Err(Fault::Invalid(format!(
                    "path '{}': index {i} is past the end of an array of {} elements (use {} to append)",
                    display(path),
                    a.len(),
                    a.len()
                )))
            }
            (n, _) => return Err(scalar_in_the_way(path, depth, n)),
        }
        node = match (node, step) {
            (Json::Object(m), Segment::Key(k)) => m.entry(k.clone()).or_insert_with(fresh),
            (Json::Array(a), Segment::Index(i)) => {
                if *i == a.len() {
                    a.push(fresh());
                }
                &mut a[*i]
            }
            (n, _) => n,
        };
    }
    Ok(node)
}

/// The document after replacing the value at `path` (the whole document when empty).
pub fn put(doc: Option<Json>, path: &[Segment], value: Json) -> Result<Json, Fault> {
    if path.is_empty() {
        return Ok(value);
    }
    let mut doc = doc.unwrap_or_else(|| Json::Object(Map::new()));
    *slot(&mut doc, path)? = value;
    Ok(doc)
}

/// The document after merging `patch`'s members into the object at `path`
/// (members named in the patch are replaced; the rest stay).
pub fn merge(doc: Option<Json>, path: &[Segment], patch: Json) -> Result<Json, Fault> {
    let Json::Object(patch) = patch else {
        return Err(Fault::Invalid(format!("PATCH needs a JSON object to merge, got {}", crate::json::kind(&patch))));
    };
    let mut doc = doc.unwrap_or_else(|| Json::Object(Map::new()));
    let target = slot(&mut doc, path)?;
    match target {
        Json::Object(m) => m.extend(patch),
        other => {
            return Err(Fault::Invalid(format!(
                "PATCH merges into an object, but '{}' is {}",
                if path.is_empty() { "the document".to_owned() } else { display(path) },
                crate::json::kind(other)
            )))
        }
    }
    Ok(doc)
}

/// Removes the value at `path` (non-empty); true when there was one.
pub fn remove(doc: &mut Json, path: &[Segment]) -> bool {
    let Some((last, parent)) = path.split_last() else { return false };
    let mut node = doc;
    for step in parent {
        node = match (node, step) {
            (Json::Object(m), Segment::Key(k)) => match m.get_mut(k) {
                Some(n) => n,
                None => return false,
            },
            (Json::Array(a), Segment::Index(i)) => match a.get_mut(*i) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    match (node, last) {
        (Json::Object(m), Segment::Key(k)) => m.shift_remove(k).is_some(),
        (Json::Array(a), Segment::Index(i)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// An array function (`$push`, `$pop`) from a request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// Append the value.
    Push(Json),
    /// Remove the last element and return it.
    Pop,
}

impl Function {
    /// Parses `{"operation": "$push"|"$pop", "value": ...}`.
    pub fn parse(body: Json) -> Result<Function, Fault> {
        let bad = |why: String| Fault::Invalid(format!("function body: {why}"));
        let Json::Object(mut m) = body else {
            return Err(bad("expected an object like {\"operation\": \"$push\", \"value\": 1}".to_owned()));
        };
        let op = m.shift_remove("operation");
        let value = m.shift_remove("value");
        if let Some(k) = m.keys().next() {
            return Err(bad(format!("unknown field '{k}' (use 'operation' and 'value')")));
        }
        match (op.as_ref().and_then(Json::as_str), value) {
            (Some("$push"), Some(v)) => Ok(Function::Push(v)),
            (Some("$push"), None) => Err(bad("$push needs a 'value'".to_owned())),
            (Some("$pop"), None) => Ok(Function::Pop),
            (Some("$pop"), Some(_)) => Err(bad("$pop takes no 'value'".to_owned())),
            (Some(other), _) => Err(bad(format!("unknown operation '{other}' (use $push or $pop)"))),
            (None, _) => Err(bad("'operation' must be \"$push\" or \"$pop\"".to_owned())),
        }
    }

    /// Applies the function to the array at `path`; returns the reply
    /// (`$push`: the array after; `$pop`: the removed element).
    pub fn apply(&self, doc: &mut Json, path: &[Segment]) -> Result<Json, Fault> {
        let where_ = if path.is_empty() { "the document".to_owned() } else { format!("'{}'", display(path)) };
        let target = match path.is_empty() {
            true => Some(&mut *doc),
            false => get_mut(doc, path),
        };
        let array = match target {
            Some(Json::Array(a)) => a,
            Some(other) => {
                return Err(Fault::Invalid(format!(
                    "array functions need an array, but {where_} is {}",
                    crate::json::kind(other)
                )))
            }
            None => return Err(Fault::NotFound(format!("the document has nothing at {where_}"))),
        };
        match self {
            Function::Push(v) => {
                array.push(v.clone());
                Ok(Json::Array(array.clone()))
            }
            Function::Pop => array.pop().ok_or_else(|| Fault::Invalid(format!("$pop: the array at {where_} is empty"))),
        }
    }
}

fn get_mut<'a>(doc: &'a mut Json, path: &[Segment]) -> Option<&'a mut Json> {
    path.iter().try_fold(doc, |node, step| match (node, step) {
        (Json::Object(m), Segment::Key(k)) => m.get_mut(k),
        (Json::Array(a), Segment::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// Only the members `fields` names, in the document's shape (array elements
/// a path selects keep their order, compacted).
pub fn project(doc: &Json, fields: &[Vec<Segment>]) -> Json {
    let mut out = Json::Object(Map::new());
    for path in fields {
        if let Some(v) = get(doc, path) {
            insert_projected(&mut out, doc, path, v.clone());
        }
    }
    out
}

fn insert_projected(out: &mut Json, source: &Json, path: &[Segment], value: Json) {
    let mut node = out;
    let mut src = source;
    for (depth, step) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let next_src = match (src, step) {
            (Json::Object(m), Segment::Key(k)) => m.get(k),
            (Json::Array(a), Segment::Index(i)) => a.get(*i),
            _ => None,
        };
        let Some(next_src) = next_src else { return };
        let fresh = || match next_src {
            _ if last => value.clone(),
            Json::Array(_) => Json::Array(Vec::new()),
            _ => Json::Object(Map::new()),
        };
        node = match (node, step) {
            (Json::Object(m), Segment::Key(k)) => m.entry(k.clone()).or_insert_with(fresh),
            (Json::Array(a), Segment::Index(_)) => {
                a.push(fresh());
                let n = a.len() - 1;
                &mut a[n]
            }
            _ => return,
        };
        src = next_src;
    }
}

/// Document limits beyond what parsing enforces.
#[derive(Debug, Clone, Copy)]
pub struct DocLimits {
    /// Largest serialized document, bytes.
    pub max_bytes: usize,
    /// Deepest nesting.
    pub max_depth: usize,
    /// Longest array.
    pub max_array: usize,
    /// Most members in one object.
    pub max_properties: usize,
}

/// Checks a whole document (after an edit) against the limits: 413 for size,
/// 400 for shape, naming where the problem is.
pub fn check(doc: &Json, limits: &DocLimits) -> Result<(), Fault> {
    /// Where the walk is: borrowed, so a valid document (the common case)
    /// costs no allocation per member; the path is built only for an error.
    enum Step<'a> {
        Key(&'a str),
        Index(usize),
    }
    fn here(at: &[Step<'_>]) -> String {
        if at.is_empty() {
            return "the document root".to_owned();
        }
        let path: Vec<Segment> = at
            .iter()
            .map(|s| match s {
                Step::Key(k) => Segment::Key((*k).to_owned()),
                Step::Index(i) => Segment::Index(*i),
            })
            .collect();
        format!("'{}'", display(&path))
    }
    fn walk<'a>(v: &'a Json, depth: usize, at: &mut Vec<Step<'a>>, l: &DocLimits) -> Result<(), Fault> {
        if depth > l.max_depth {
            return Err(Fault::Invalid(format!("the document nests deeper than {} levels", l.max_depth)));
        }
        match v {
            Json::String(s) if s.contains('\0') => {
                Err(Fault::Invalid(format!("the string at {} contains U+0000, which stores cannot keep", here(at))))
            }
            Json::Array(a) if a.len() > l.max_array => Err(Fault::Invalid(format!(
                "the array at {} has {} elements, above the limit of {}",
                here(at),
                a.len(),
                l.max_array
            ))),
            Json::Array(a) => a.iter().enumerate().try_for_each(|(i, x)| {
                at.push(Step::Index(i));
                let r = walk(x, depth + 1, at, l);
                at.pop();
                r
            }),
            Json::Object(m) if m.len() > l.max_properties => Err(Fault::Invalid(format!(
                "the object at {} has {} members, above the limit of {}",
                here(at),
                m.len(),
                l.max_properties
            ))),
            Json::Object(m) => m.iter().try_for_each(|(k, x)| {
                if k.contains('\0') {
                    return Err(Fault::Invalid(format!(
                        "a member name under {} contains U+0000, which stores cannot keep",
                        here(at)
                    )));
                }
                at.push(Step::Key(k));
                let r = walk(x, depth + 1, at, l);
                at.pop();
                r
            }),
            _ => Ok(()),
        }
    }
    walk(doc, 1, &mut Vec::new(), limits)?;
    let size = serialized_len(doc);
    if size > limits.max_bytes {
        return Err(Fault::LimitExceeded(format!(
            "the document would be {size} bytes, above the {} byte limit",
            limits.max_bytes
        )));
    }
    Ok(())
}

/// The length of `doc` serialized, counted without building the text.
fn serialized_len(doc: &Json) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    serde_json::to_writer(&mut n, doc).map_or(usize::MAX, |()| n.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::path::parse;
    use serde_json::json;

    fn p(s: &str) -> Vec<Segment> {
        parse(s).unwrap()
    }

    #[test]
    fn put_creates_the_way_and_refuses_scalars() {
        let d = put(None, &p("a.b.[0].c"), json!(1)).unwrap();
        assert_eq!(d, json!({"a": {"b": [{"c": 1}]}}));
        let d = put(Some(d), &p("a.b.[1]"), json!("x")).unwrap();
        assert_eq!(d, json!({"a": {"b": [{"c": 1}, "x"]}}));
        assert!(matches!(put(Some(d.clone()), &p("a.b.[5]"), json!(0)).unwrap_err(), Fault::Invalid(_)));
        let err = put(Some(d), &p("a.b.[1].z"), json!(0)).unwrap_err();
        assert!(err.to_string().contains("a.b.[1]"), "{err}");
        assert_eq!(put(Some(json!({"a": 1})), &[], json!([1])).unwrap(), json!([1]));
    }

    #[test]
    fn merge_is_shallow_and_needs_objects() {
        let d = json!({"a": {"x": 1, "y": 2}, "b": 3});
        assert_eq!(merge(Some(d.clone()), &[], json!({"b": 4})).unwrap(), json!({"a": {"x": 1, "y": 2}, "b": 4}));
        assert_eq!(merge(Some(d.clone()), &p("a"), json!({"y": 5})).unwrap(), json!({"a": {"x": 1, "y": 5}, "b": 3}));
        assert!(matches!(merge(Some(d.clone()), &p("b"), json!({"y": 5})).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(merge(Some(d), &[], json!([1])).unwrap_err(), Fault::Invalid(_)));
        assert_eq!(merge(None, &p("n"), json!({"k": 1})).unwrap(), json!({"n": {"k": 1}}));
    }

    #[test]
    fn remove_paths() {
        let mut d = json!({"a": [1, 2, 3], "b": {"c": 1}});
        assert!(remove(&mut d, &p("a.[1]")));
        assert!(remove(&mut d, &p("b.c")));
        assert!(!remove(&mut d, &p("b.c.d")));
        assert_eq!(d, json!({"a": [1, 3], "b": {}}));
    }

    #[test]
    fn functions() {
        let mut d = json!({"tags": ["a"]});
        assert_eq!(Function::Push(json!("b")).apply(&mut d, &p("tags")).unwrap(), json!(["a", "b"]));
        assert_eq!(Function::Pop.apply(&mut d, &p("tags")).unwrap(), json!("b"));
        assert_eq!(Function::Pop.apply(&mut d, &p("tags")).unwrap(), json!("a"));
        assert!(matches!(Function::Pop.apply(&mut d, &p("tags")).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(Function::Pop.apply(&mut d, &p("nope")).unwrap_err(), Fault::NotFound(_)));
        let mut s = json!({"n": 1});
        assert!(matches!(Function::Push(json!(1)).apply(&mut s, &p("n")).unwrap_err(), Fault::Invalid(_)));
        assert_eq!(Function::parse(json!({"operation": "$pop"})).unwrap(), Function::Pop);
        assert!(Function::parse(json!({"operation": "$shift"})).is_err());
        assert!(Function::parse(json!({"operation": "$push"})).is_err());
    }

    #[test]
    fn projection_keeps_shape() {
        let d = json!({"name": "n", "address": {"city": "c", "zip": "z"}, "tags": ["a", "b", "c"]});
        let fields = vec![p("name"), p("address.city"), p("tags.[2]"), p("tags.[0]"), p("missing")];
        assert_eq!(project(&d, &fields), json!({"name": "n", "address": {"city": "c"}, "tags": ["c", "a"]}));
    }

    #[test]
    fn limits() {
        let l = DocLimits { max_bytes: 100, max_depth: 3, max_array: 2, max_properties: 2 };
        assert!(check(&json!({"a": {"b": 1}}), &l).is_ok());
        assert!(matches!(check(&json!({"a": {"b": {"c": 1}}}), &l).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(check(&json!([1, 2, 3]), &l).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(check(&json!({"a": 1, "b": 2, "c": 3}), &l).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(check(&json!({"a": "x\u{0}y"}), &l).unwrap_err(), Fault::Invalid(_)));
        assert!(matches!(check(&json!("x".repeat(200)), &l).unwrap_err(), Fault::LimitExceeded(_)));
    }

    #[test]
    fn the_counted_size_is_the_serialized_size() {
        let doc = json!({"a": [1, 2.5, "x\"y\u{e9}"], "b": {"c": null, "d": true}});
        assert_eq!(serialized_len(&doc), serde_json::to_vec(&doc).unwrap().len());
    }
}
