use super::*;
use crate::engine::rows::{check_sort, conditions};
use crate::model::{test_table, ColumnType, Order, TableDef};

fn vehicle() -> TableDef {
    test_table(
        "vehicle",
        &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
        &["manufacturer"],
        &[("model", Order::Asc)],
    )
}

/// `where` as the REST API reads it: parsed here, typed by the engine.
fn where_on(t: &TableDef, text: &str) -> Result<Vec<crate::plan::Condition>, ApiError> {
    Ok(conditions(t, &parse_where(text)?)?)
}

fn sort_on(t: &TableDef, text: &str) -> Result<Vec<(String, Order)>, ApiError> {
    let sort = parse_sort(text)?;
    check_sort(t, &sort)?;
    Ok(sort)
}

#[test]
fn where_parses_every_operator() {
    let c = where_on(
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
    let err = |w: &str| where_on(&t, w).unwrap_err().to_string();
    assert!(err(r#"{"colour":{"$eq":1}}"#).contains("unknown column 'colour'"));
    assert!(err(r#"{"year":{"$regex":1}}"#).contains("unknown operator '$regex'"));
    assert_eq!(where_on(&t, r#"{"year":{"$exists":true}}"#).unwrap()[0].op, Op::Exists);
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
fn sort_parses_in_order_and_names_errors() {
    let t = vehicle();
    let s = sort_on(&t, r#"{"year":"DESC","model":"asc"}"#).unwrap();
    assert_eq!(s, vec![("year".to_owned(), Order::Desc), ("model".to_owned(), Order::Asc)]);
    assert!(sort_on(&t, r#"{"colour":"asc"}"#).unwrap_err().to_string().contains("unknown column 'colour'"));
    assert!(sort_on(&t, r#"{"year":"up"}"#).unwrap_err().to_string().contains("\"asc\" or \"desc\""));
    assert!(sort_on(&t, "{}").is_err());
}

#[test]
fn where_lists_are_capped() {
    let t = vehicle();
    let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    assert!(where_on(&t, &format!(r#"{{"year":{{"$in":[{}]}}}}"#, list(1000))).is_ok());
    let e = where_on(&t, &format!(r#"{{"year":{{"$nin":[{}]}}}}"#, list(33_000))).unwrap_err().to_string();
    assert!(e.contains("at most 1000 values, got 33000"), "{e}");
    let two = format!(r#"{{"year":{{"$in":[{0}],"$nin":[{0}]}}}}"#, list(600));
    let e = where_on(&t, &two).unwrap_err().to_string();
    assert!(e.contains("1200 values") && e.contains("limit is 1000"), "{e}");
}
