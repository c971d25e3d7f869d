use super::*;
use crate::model::{test_table, ColumnType, Order};

fn vehicle() -> TableDef {
    test_table(
        "vehicle",
        &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
        &["manufacturer"],
        &[("model", Order::Asc)],
    )
}

#[test]
fn where_parses_every_operator() {
    let c = parse_where(
        &vehicle(),
        r#"{"manufacturer":{"$eq":"Tesla"},"year":{"$gt":1,"$lte":"5","$ne":3,"$in":[1,2],"$nin":[4]}}"#,
    )
    .unwrap();
    let ops: Vec<Op> = c.iter().map(|c| c.op).collect();
    assert_eq!(ops, [Op::Eq, Op::Gt, Op::Lte, Op::Ne, Op::In, Op::Nin]);
    assert_eq!(c[2].values, [Value::Int(5)]);
    assert_eq!(c[4].values, [Value::Int(1), Value::Int(2)]);
}

#[test]
fn where_errors_name_the_problem() {
    let t = vehicle();
    let err = |w: &str| parse_where(&t, w).unwrap_err().to_string();
    assert!(err(r#"{"colour":{"$eq":1}}"#).contains("unknown column 'colour'"));
    assert!(err(r#"{"year":{"$regex":1}}"#).contains("unknown operator '$regex'"));
    assert_eq!(parse_where(&t, r#"{"year":{"$exists":true}}"#).unwrap()[0].op, Op::Exists);
    assert!(err(r#"{"year":5}"#).contains("object of operators"));
    assert!(err(r#"{"year":{"$eq":[1]}}"#).contains("single int"));
    assert!(err(r#"{"year":{"$contains":1}}"#).contains("does not apply to a int column"));
    assert!(err(r#"{"year":{"$exists":false}}"#).contains("$exists: true"));
    assert!(err(r#"{"year":{"$in":5}}"#).contains("non-empty array"));
    assert!(err(r#"{"year":{"$eq":null}}"#).contains("null"));
    assert!(err(r#"{"year":{}}"#).contains("no operator"));
    assert!(err("[]").contains("JSON object"));
}

#[test]
fn key_paths_cover_partition_and_prefix() {
    let t = vehicle();
    let segs = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(key_conditions(&t, &segs(&["Tesla"]), false).unwrap().len(), 1);
    assert_eq!(key_conditions(&t, &segs(&["Tesla", "S"]), true).unwrap().len(), 2);
    let e = key_conditions(&t, &segs(&["Tesla"]), true).unwrap_err().to_string();
    assert!(e.contains("expects 2 in the order: manufacturer/model"), "{e}");
    let e = key_conditions(&t, &segs(&["a", "b", "c"]), false).unwrap_err().to_string();
    assert!(e.contains("expects 1 to 2"), "{e}");
}

#[test]
fn upserts_put_key_columns_first_and_need_them() {
    let t = vehicle();
    let entries = vec![("year".to_owned(), serde_json::json!(1)), ("model".to_owned(), serde_json::json!("S"))];
    let key = vec![("manufacturer".to_owned(), Value::Text("Tesla".into()))];
    let u = row_upsert_at(&t, key, entries, false).unwrap();
    let cols: Vec<&str> = u.values.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cols, ["manufacturer", "model", "year"]);
    let missing = row_upsert_at(&t, Vec::new(), vec![("year".to_owned(), serde_json::json!(1))], true).unwrap_err();
    assert!(missing.to_string().contains("primary-key column manufacturer is missing"));
}

#[test]
fn rows_project_fields() {
    let t = vehicle();
    let row = vec![Value::Text("T".into()), Value::Text("S".into()), Value::Int(1)];
    assert_eq!(row_json(&t, &row, Some(&["year".to_owned()]), true), serde_json::json!({"year": 1}));
    let order = read_order(&t, &[("year".to_owned(), Order::Desc)]);
    assert_eq!(order_values(&t, &order, &row), vec![Value::Int(1), Value::Text("T".into()), Value::Text("S".into())]);
}

#[test]
fn sort_parses_in_order_and_names_errors() {
    let t = vehicle();
    let s = parse_sort(&t, r#"{"year":"DESC","model":"asc"}"#).unwrap();
    assert_eq!(s, vec![("year".to_owned(), Order::Desc), ("model".to_owned(), Order::Asc)]);
    assert!(parse_sort(&t, r#"{"colour":"asc"}"#).unwrap_err().to_string().contains("unknown column 'colour'"));
    assert!(parse_sort(&t, r#"{"year":"up"}"#).unwrap_err().to_string().contains("\"asc\" or \"desc\""));
    assert!(parse_sort(&t, "{}").is_err());
}

#[test]
fn where_lists_are_capped() {
    let t = vehicle();
    let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    assert!(parse_where(&t, &format!(r#"{{"year":{{"$in":[{}]}}}}"#, list(MAX_WHERE_VALUES))).is_ok());
    let e = parse_where(&t, &format!(r#"{{"year":{{"$nin":[{}]}}}}"#, list(33_000))).unwrap_err().to_string();
    assert!(e.contains("at most 1000 values, got 33000"), "{e}");
    let two = format!(r#"{{"year":{{"$in":[{0}],"$nin":[{0}]}}}}"#, list(600));
    let e = parse_where(&t, &two).unwrap_err().to_string();
    assert!(e.contains("1200 values") && e.contains("limit is 1000"), "{e}");
}
