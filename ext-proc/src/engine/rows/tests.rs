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

fn term(column: &str, op: Op, operand: Json) -> Term {
    Term { column: column.to_owned(), op, operand }
}

#[test]
fn terms_are_typed_by_their_column() {
    let t = vehicle();
    let c = conditions(&t, &[term("year", Op::Lte, json!("5")), term("year", Op::In, json!([1, 2]))]).unwrap();
    assert_eq!(c[0].values, [Value::Int(5)]);
    assert_eq!(c[1].values, [Value::Int(1), Value::Int(2)]);
    let err = |op: Op, v: Json| conditions(&t, &[term("year", op, v)]).unwrap_err().to_string();
    assert!(conditions(&t, &[term("colour", Op::Eq, json!(1))])
        .unwrap_err()
        .to_string()
        .contains("unknown column 'colour'"));
    assert!(err(Op::Eq, json!([1])).contains("single int"));
    assert!(err(Op::Contains, json!(1)).contains("does not apply to a int column"));
    assert!(err(Op::Exists, json!(false)).contains("$exists: true"));
    assert!(err(Op::In, json!(5)).contains("non-empty array"));
    assert!(err(Op::Eq, Json::Null).contains("null"));
    assert!(err(Op::Eq, json!([1])).starts_with("where.year.$eq: "));
}

#[test]
fn where_lists_are_capped() {
    let t = vehicle();
    let list = |n: usize| Json::Array((0..n).map(|i| json!(i)).collect());
    assert!(conditions(&t, &[term("year", Op::In, list(MAX_WHERE_VALUES))]).is_ok());
    let e = conditions(&t, &[term("year", Op::Nin, list(33_000))]).unwrap_err().to_string();
    assert!(e.contains("at most 1000 values, got 33000"), "{e}");
    let e =
        conditions(&t, &[term("year", Op::In, list(600)), term("year", Op::Nin, list(600))]).unwrap_err().to_string();
    assert!(e.contains("1200 values") && e.contains("limit is 1000"), "{e}");
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
    let entries = vec![("year".to_owned(), json!(1)), ("model".to_owned(), json!("S"))];
    let key = vec![("manufacturer".to_owned(), Value::Text("Tesla".into()))];
    let u = row_upsert_at(&t, key, entries, false).unwrap();
    let cols: Vec<&str> = u.values.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cols, ["manufacturer", "model", "year"]);
    let missing = row_upsert_at(&t, Vec::new(), vec![("year".to_owned(), json!(1))], true).unwrap_err();
    assert!(missing.to_string().contains("primary-key column manufacturer is missing"));
}

#[test]
fn rows_project_fields() {
    let t = vehicle();
    let row = vec![Value::Text("T".into()), Value::Text("S".into()), Value::Int(1)];
    assert_eq!(row_json(&t, &row, Some(&["year".to_owned()]), true), json!({"year": 1}));
    let order = read_order(&t, &[("year".to_owned(), Order::Desc)]);
    assert_eq!(order_values(&t, &order, &row), vec![Value::Int(1), Value::Text("T".into()), Value::Text("S".into())]);
}

#[test]
fn sort_columns_must_exist() {
    let t = vehicle();
    assert!(check_sort(&t, &[("year".to_owned(), Order::Desc)]).is_ok());
    let e = check_sort(&t, &[("colour".to_owned(), Order::Asc)]).unwrap_err().to_string();
    assert!(e.contains("unknown column 'colour'"), "{e}");
}

#[test]
fn page_sizes_and_ttls_are_bounded() {
    assert_eq!(page_len(None, 100, 50).unwrap(), 50);
    assert_eq!(page_len(Some(7), 100, 50).unwrap(), 7);
    assert!(page_len(Some(0), 100, 50).unwrap_err().to_string().contains("from 1 to 50, got '0'"));
    assert_eq!(ttl_seconds(Some(0)).unwrap(), Some(0));
    assert!(ttl_seconds(Some(-1)).is_err());
    assert!(ttl_seconds(Some(MAX_TTL_SECONDS as i64 + 1)).is_err());
}

#[test]
fn rows_written_straight_read_as_the_built_ones() {
    use crate::model::ColumnDef;
    let mut t = test_table(
        "every",
        &[
            ("id", ColumnType::Text),
            ("n", ColumnType::Bigint),
            ("ok", ColumnType::Boolean),
            ("f", ColumnType::Double),
            ("u", ColumnType::Uuid),
            ("at", ColumnType::Timestamp),
            ("b", ColumnType::Blob),
            ("d", ColumnType::Decimal),
        ],
        &["id"],
        &[],
    );
    t.columns.push(ColumnDef { name: "m".into(), ty: DataType::Map(ColumnType::Int, ColumnType::Text) });
    t.columns.push(ColumnDef { name: "quote\"d".into(), ty: DataType::Scalar(ColumnType::Text) });
    let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
    let full = vec![
        Value::Text("a \"b\"\n\u{e9}".into()),
        Value::Int(-42),
        Value::Bool(true),
        Value::Double(1.5),
        Value::Uuid(uuid::Uuid::nil()),
        Value::Timestamp(at),
        Value::Blob(vec![0, 1, 255]),
        Value::Decimal("12.50".into()),
        Value::Json(json!({"1": "one", "2": "two"})),
        Value::Text("x".into()),
    ];
    let nulls = vec![Value::Null; full.len()];
    for fields in [None, Some(vec!["m".to_owned(), "n".to_owned()])] {
        let page = RowPage { def: Arc::new(t.clone()), rows: vec![full.clone(), nulls.clone()], fields, next: None };
        for compact in [true, false] {
            let mut out = Vec::new();
            page.write_json_rows(compact, &mut out);
            let built = serde_json::to_vec(&Json::Array(page.json_rows(compact))).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(built).unwrap(), "compact {compact}");
        }
    }
    let empty = RowPage { def: Arc::new(t), rows: Vec::new(), fields: None, next: None };
    let mut out = Vec::new();
    empty.write_json_rows(true, &mut out);
    assert_eq!(out, b"[]");
}
