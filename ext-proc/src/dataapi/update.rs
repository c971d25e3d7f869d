//! Update operators (`$set`, `$inc`, `$push`, ...): parsed and checked once,
//! then applied to each matched document.

use super::envelope::CmdError;
use super::value::{equal, get, parse_path, remove, set, total_order, Path};
use serde_json::{json, Value as Json};
use std::cmp::Ordering;

/// One operator applied to one path.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    op: Op,
    path: Path,
    arg: Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    SetOnInsert,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    Rename,
    Push,
    AddToSet,
    Pop,
    CurrentDate,
}

/// A parsed update document.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    steps: Vec<Step>,
}

fn bad(code: &'static str, message: String) -> CmdError {
    CmdError::new(code, "UPDATE", message)
}

fn op(name: &str) -> Result<Op, CmdError> {
    Ok(match name {
        "$set" => Op::Set,
        "$setOnInsert" => Op::SetOnInsert,
        "$unset" => Op::Unset,
        "$inc" => Op::Inc,
        "$mul" => Op::Mul,
        "$min" => Op::Min,
        "$max" => Op::Max,
        "$rename" => Op::Rename,
        "$push" => Op::Push,
        "$addToSet" => Op::AddToSet,
        "$pop" => Op::Pop,
        "$currentDate" => Op::CurrentDate,
        other => return Err(bad("UNSUPPORTED_UPDATE_OPERATION", format!("unsupported update operator '{other}'"))),
    })
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

impl Update {
    /// Parses and checks an update document.
    pub fn parse(v: &Json) -> Result<Update, CmdError> {
        let Json::Object(ops) = v else {
            return Err(bad("UNSUPPORTED_UPDATE_OPERATION", "update must be an object of operators".into()));
        };
        if ops.is_empty() {
            return Err(bad("UNSUPPORTED_UPDATE_OPERATION", "update must name at least one operator".into()));
        }
        let mut steps: Vec<Step> = Vec::new();
        // Every numeric segment may pad an array up to it: bounded over the whole
        // update, not per path (60 paths of a.999999 would build 60 million nulls).
        let mut padding: u64 = 0;
        for (name, args) in ops {
            let op = op(name)?;
            let Json::Object(args) = args else {
                return Err(bad("UNSUPPORTED_UPDATE_OPERATION_PARAM", format!("{name} takes an object of paths")));
            };
            for (path, arg) in args {
                let path = parse_path(path, "UPDATE")?;
                padding += path.iter().filter_map(|seg| seg.parse::<u64>().ok()).sum::<u64>();
                if padding >= crate::doc::path::MAX_ARRAY as u64 {
                    return Err(bad(
                        "SHRED_DOC_LIMIT_VIOLATION",
                        format!(
                            "the update's array indexes add up to {padding} or more: a document holds at most {} \
                             array elements",
                            crate::doc::path::MAX_ARRAY
                        ),
                    ));
                }
                let mut targets = vec![path.clone()];
                if op == Op::Rename {
                    let to = arg.as_str().ok_or_else(|| {
                        bad("UNSUPPORTED_UPDATE_OPERATION_PARAM", "$rename takes {\"from\": \"to\"}".into())
                    })?;
                    let to = parse_path(to, "UPDATE")?;
                    // The contract's rule: a rename names fields, never array elements.
                    if to.iter().chain(&path).any(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())) {
                        return Err(bad(
                            "UNSUPPORTED_UPDATE_OPERATION_PARAM",
                            "$rename names fields, not array elements (numeric path segments)".into(),
                        ));
                    }
                    targets.push(to);
                }
                for t in &targets {
                    if t[0] == "_id" && op != Op::SetOnInsert {
                        return Err(bad("UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID", format!("{name} cannot change _id")));
                    }
                    if steps.iter().any(|s| {
                        overlaps(&s.path, t) || (s.op == Op::Rename && rename_to(s).is_some_and(|p| overlaps(&p, t)))
                    }) {
                        return Err(bad(
                            "UNSUPPORTED_UPDATE_OPERATION_PARAM",
                            format!("path '{}' is updated by two operators", t.join(".")),
                        ));
                    }
                }
                if matches!(op, Op::Inc | Op::Mul) && !arg.is_number() {
                    return Err(bad("UNSUPPORTED_UPDATE_OPERATION_PARAM", format!("{name} takes numbers")));
                }
                if op == Op::Pop && !matches!(arg.as_i64(), Some(1 | -1)) {
                    return Err(bad("UNSUPPORTED_UPDATE_OPERATION_PARAM", "$pop takes 1 or -1".into()));
                }
                if matches!(op, Op::Push | Op::AddToSet) {
                    // Checked here, so a bad modifier fails even when nothing matches.
                    each(arg)?;
                }
                steps.push(Step { op, path, arg: arg.clone() });
            }
        }
        Ok(Update { steps })
    }

    /// Applies the update; `inserting` enables `$setOnInsert`. Returns whether
    /// the document changed.
    pub fn apply(&self, doc: &mut Json, inserting: bool, now_ms: i64) -> Result<bool, CmdError> {
        let before = doc.clone();
        for s in &self.steps {
            step(s, doc, inserting, now_ms)?;
        }
        Ok(before != *doc)
    }
}

fn rename_to(s: &Step) -> Option<Path> {
    s.arg.as_str().and_then(|t| parse_path(t, "UPDATE").ok())
}

fn number(v: f64, like_int: bool) -> Json {
    if like_int && v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn arith(cur: Option<&Json>, arg: &Json, op: Op, path: &[String]) -> Result<Json, CmdError> {
    let a = arg.as_f64().unwrap_or(0.0);
    let ints = arg.is_i64() && cur.is_none_or(Json::is_i64);
    match cur {
        None => Ok(number(if op == Op::Inc { a } else { 0.0 }, ints)),
        Some(Json::Number(n)) => {
            let c = n.as_f64().unwrap_or(0.0);
            let v = if op == Op::Inc { c + a } else { c * a };
            // JSON has no infinity: written, it would read back as null.
            if !v.is_finite() {
                let name = if op == Op::Inc { "$inc" } else { "$mul" };
                return Err(bad(
                    "UNSUPPORTED_UPDATE_OPERATION_PARAM",
                    format!("{name} on '{}' would overflow a 64-bit float; the document is unchanged", path.join(".")),
                ));
            }
            Ok(number(v, ints))
        }
        Some(_) => Err(bad("UNSUPPORTED_UPDATE_OPERATION_TARGET", format!("'{}' is not a number", path.join(".")))),
    }
}

fn each(arg: &Json) -> Result<(Vec<Json>, Option<i64>), CmdError> {
    match arg {
        Json::Object(m) if m.contains_key("$each") => {
            let param = |m: String| bad("UNSUPPORTED_UPDATE_OPERATION_PARAM", m);
            if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "$each" | "$position")) {
                return Err(param(format!("'{k}' is not a modifier: use $each and $position")));
            }
            let items = match m.get("$each") {
                Some(Json::Array(a)) => a.clone(),
                other => return Err(param(format!("$each takes an array, got {}", other.unwrap_or(&Json::Null)))),
            };
            let position = match m.get("$position") {
                None => None,
                Some(p) => Some(p.as_i64().ok_or_else(|| param(format!("$position takes an integer, got {p}")))?),
            };
            Ok((items, position))
        }
        v => Ok((vec![v.clone()], None)),
    }
}

fn array_at(doc: &Json, path: &[String]) -> Result<Vec<Json>, CmdError> {
    match get(doc, path) {
        None => Ok(Vec::new()),
        Some(Json::Array(a)) => Ok(a.clone()),
        Some(_) => Err(bad("UNSUPPORTED_UPDATE_OPERATION_TARGET", format!("'{}' is not an array", path.join(".")))),
    }
}

fn step(s: &Step, doc: &mut Json, inserting: bool, now_ms: i64) -> Result<(), CmdError> {
    let path = &s.path;
    match s.op {
        Op::Set => set(doc, path, s.arg.clone()),
        Op::SetOnInsert if inserting => set(doc, path, s.arg.clone()),
        Op::SetOnInsert => Ok(()),
        Op::Unset => {
            remove(doc, path);
            Ok(())
        }
        Op::Inc | Op::Mul => {
            let v = arith(get(doc, path), &s.arg, s.op, path)?;
            set(doc, path, v)
        }
        Op::Min | Op::Max => {
            let want = if s.op == Op::Min { Ordering::Less } else { Ordering::Greater };
            match get(doc, path) {
                Some(cur) if total_order(&s.arg, cur) != want => Ok(()),
                _ => set(doc, path, s.arg.clone()),
            }
        }
        Op::Rename => match remove(doc, path) {
            Some(v) => set(doc, &rename_to(s).unwrap_or_default(), v),
            None => Ok(()),
        },
        Op::Push => {
            let mut items = array_at(doc, path)?;
            let (new, pos) = each(&s.arg)?;
            let at = match pos {
                Some(p) if p < 0 => items.len().saturating_sub(p.unsigned_abs() as usize),
                Some(p) => (p as usize).min(items.len()),
                None => items.len(),
            };
            items.splice(at..at, new);
            set(doc, path, Json::Array(items))
        }
        Op::AddToSet => {
            let mut items = array_at(doc, path)?;
            for v in each(&s.arg)?.0 {
                if !items.iter().any(|i| equal(i, &v)) {
                    items.push(v);
                }
            }
            set(doc, path, Json::Array(items))
        }
        Op::Pop => {
            if get(doc, path).is_none() {
                return Ok(());
            }
            let mut items = array_at(doc, path)?;
            if s.arg.as_i64() == Some(1) {
                items.pop();
            } else if !items.is_empty() {
                items.remove(0);
            }
            set(doc, path, Json::Array(items))
        }
        Op::CurrentDate => set(doc, path, json!({ "$date": now_ms })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn run(doc: Json, u: Json) -> Json {
        let mut d = doc;
        Update::parse(&u).unwrap().apply(&mut d, false, 7).unwrap();
        d
    }

    #[test]
    fn set_unset_inc() {
        assert_eq!(run(json!({"a": 1}), json!({"$set": {"b.c": 2}, "$unset": {"a": ""}})), json!({"b": {"c": 2}}));
        assert_eq!(run(json!({"n": 1}), json!({"$inc": {"n": 2, "m": 1}})), json!({"n": 3, "m": 1}));
        assert_eq!(run(json!({"n": 2}), json!({"$mul": {"n": 1.5, "z": 3}})), json!({"n": 3.0, "z": 0}));
        assert_eq!(run(json!({"n": 5}), json!({"$min": {"n": 3}, "$max": {"m": 1}})), json!({"n": 3, "m": 1}));
        assert_eq!(run(json!({"a": 1}), json!({"$rename": {"a": "b"}})), json!({"b": 1}));
        assert_eq!(run(json!({}), json!({"$currentDate": {"t": true}})), json!({"t": {"$date": 7}}));
    }

    #[test]
    fn arrays() {
        assert_eq!(run(json!({}), json!({"$push": {"t": 1}})), json!({"t": [1]}));
        assert_eq!(
            run(json!({"t": [1]}), json!({"$push": {"t": {"$each": [2, 3], "$position": 0}}})),
            json!({"t": [2, 3, 1]})
        );
        assert_eq!(run(json!({"t": [1]}), json!({"$addToSet": {"t": {"$each": [1, 2]}}})), json!({"t": [1, 2]}));
        assert_eq!(run(json!({"t": [1, 2, 3]}), json!({"$pop": {"t": -1}})), json!({"t": [2, 3]}));
    }

    #[test]
    fn set_on_insert_only_when_inserting() {
        let u = Update::parse(&json!({"$setOnInsert": {"x": 1}})).unwrap();
        let mut d = json!({});
        assert!(!u.apply(&mut d, false, 0).unwrap());
        assert!(u.apply(&mut d, true, 0).unwrap());
        assert_eq!(d, json!({"x": 1}));
    }

    #[test]
    fn refusals() {
        let code = |u: Json| Update::parse(&u).unwrap_err().code;
        assert_eq!(code(json!({"$pullAll": {"a": [1]}})), "UNSUPPORTED_UPDATE_OPERATION");
        assert_eq!(code(json!({"$set": {"_id": 1}})), "UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID");
        assert_eq!(code(json!({"$set": {"a": 1}, "$inc": {"a.b": 1}})), "UNSUPPORTED_UPDATE_OPERATION_PARAM");
        for bad in [
            json!({"$push": {"a": {"$each": "x"}}}),
            json!({"$addToSet": {"a": {"$each": 1}}}),
            json!({"$push": {"a": {"$each": [1], "$position": "0"}}}),
            json!({"$push": {"a": {"$each": [1], "$slice": 2}}}),
            json!({"$rename": {"n": "a.0"}}),
        ] {
            assert_eq!(code(bad.clone()), "UNSUPPORTED_UPDATE_OPERATION_PARAM", "{bad}");
        }
        // Many paths each below the array limit, together far above it: refused up front.
        let many: Map<String, Json> = (0..60).map(|i| (format!("a{i}.999999"), json!(1))).collect();
        assert_eq!(code(json!({ "$set": many })), "SHRED_DOC_LIMIT_VIOLATION");
        let mut d = json!({"a": "x"});
        let e = Update::parse(&json!({"$inc": {"a": 1}})).unwrap().apply(&mut d, false, 0).unwrap_err();
        assert_eq!(e.code, "UNSUPPORTED_UPDATE_OPERATION_TARGET");
        // An overflow would be written as null: refused, the document unchanged.
        let mut d = json!({"n": 1e308});
        for u in [json!({"$mul": {"n": 10}}), json!({"$inc": {"n": 1e308}})] {
            let e = Update::parse(&u).unwrap().apply(&mut d, false, 0).unwrap_err();
            assert_eq!(e.code, "UNSUPPORTED_UPDATE_OPERATION_PARAM", "{u}");
        }
        assert_eq!(d, json!({"n": 1e308}));
    }
}
