//! Component tests for GraphQL on both stores: conditional mutations are
//! atomic under concurrency (exactly one `ifNotExists` insert applies), and
//! `ifExists` sees only live rows.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;
use common::Harness;
use serde_json::{json, Value};
use std::sync::Arc;

on_both_stores!(conditional_mutations_are_atomic);

async fn gql(h: &Harness, path: &str, query: &str) -> Value {
    let (status, body) = h.call("t", "POST", path, Some(json!({ "query": query }))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

async fn conditional_mutations_are_atomic(postgres: bool) {
    let h = Arc::new(Harness::new(postgres).await);
    gql(&h, "/graphql-schema", r#"mutation { createKeyspace(name: "ks") }"#).await;
    gql(
        &h,
        "/graphql-schema",
        r#"mutation { createTable(keyspaceName: "ks", tableName: "users", partitionKeys: [{name: "name", type: "text"}],
           values: [{name: "owner", type: "int"}]) }"#,
    )
    .await;
    // Sixteen clients race to claim the same name: exactly one wins, and the row is the winner's.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let q = format!(
                r#"mutation {{ insertusers(value: {{name: "neo", owner: {i}}}, ifNotExists: true) {{ applied }} }}"#
            );
            let d = gql(&h, "/graphql/ks", &q).await;
            (i, d["insertusers"]["applied"].as_bool().unwrap())
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, applied) = t.await.unwrap();
        if applied {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one ifNotExists insert applies: {winners:?}");
    let d = gql(&h, "/graphql/ks", r#"{ users(value: {name: "neo"}) { values { owner } } }"#).await;
    assert_eq!(d["users"]["values"], json!([{ "owner": winners[0] }]));
    // ifExists: applies to the live row, not to a missing or expired one.
    let upd = |name: &str| {
        format!(r#"mutation {{ updateusers(value: {{name: "{name}", owner: 99}}, ifExists: true) {{ applied }} }}"#)
    };
    assert_eq!(gql(&h, "/graphql/ks", &upd("neo")).await["updateusers"]["applied"], true);
    assert_eq!(gql(&h, "/graphql/ks", &upd("nobody")).await["updateusers"]["applied"], false);
    let d = gql(&h, "/graphql/ks", r#"{ users(value: {name: "nobody"}) { values { owner } } }"#).await;
    assert_eq!(d["users"]["values"], json!([]), "a failed ifExists writes nothing");
    gql(
        &h,
        "/graphql/ks",
        r#"mutation { insertusers(value: {name: "brief", owner: 1}, options: {ttl: 1}) { applied } }"#,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        gql(&h, "/graphql/ks", &upd("brief")).await["updateusers"]["applied"],
        false,
        "expired counts as absent"
    );
    let again = r#"mutation { insertusers(value: {name: "brief", owner: 2}, ifNotExists: true) { applied } }"#;
    assert_eq!(gql(&h, "/graphql/ks", again).await["insertusers"]["applied"], true, "an expired row can be claimed");
    let del = r#"mutation { deleteusers(value: {name: "ghost"}, ifExists: true) { applied } }"#;
    assert_eq!(gql(&h, "/graphql/ks", del).await["deleteusers"]["applied"], false);
    Arc::into_inner(h).unwrap().done().await;
}
