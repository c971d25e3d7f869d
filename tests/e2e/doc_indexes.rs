//! Declared document indexes through Envoy: `PUT .../collections/{c}/indexes`
//! builds them over the stored documents, searches on the paths answer the
//! same as before (now through the index: on SQLite the test reads the plan
//! from the store file), paging after a cursor goes on in id order, and bad
//! paths get one 400 naming each.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::{json, Value};

crate::on_both_stores!(indexed_paths_serve_searches);

const C: &str = "/v2/namespaces/shop/collections/people";

fn search(gw: &Gateway, t: &str, w: Value, state: Option<&str>) -> (Vec<String>, Option<String>) {
    let mut q = vec![("where", w.to_string()), ("page-size", "3".to_owned())];
    if let Some(s) = state {
        q.push(("page-state", s.to_owned()));
    }
    let (s, b) = json_of(gw.get(C).query(&q).header("x-cassandra-token", t).send().unwrap());
    assert_eq!(s, 200, "{b}");
    let ids = b["data"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    (ids, b["pageState"].as_str().map(str::to_owned))
}

fn indexed_paths_serve_searches(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    let r = gw.post("/v2/schemas/namespaces").header("x-cassandra-token", &t).json(&json!({"name": "shop"})).send();
    assert_eq!(r.unwrap().status(), 201);
    let docs: Vec<Value> = (0..40)
        .map(|i| json!({"id": format!("p{i:02}"), "user": {"city": format!("c{}", i % 4)}, "age": 20 + i}))
        .collect();
    let r = gw.post(&format!("{C}/batch?id-path=id")).header("x-cassandra-token", &t).json(&docs).send().unwrap();
    assert_eq!(r.status(), 202);

    let r =
        gw.put(&format!("{C}/indexes")).header("x-cassandra-token", &t).json(&json!({"paths": ["user.city", "age"]}));
    assert_eq!(json_of(r.send().unwrap()), (200, json!({"paths": ["age", "user.city"]})));
    let r = gw.get(&format!("{C}/indexes")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r), (200, json!({"paths": ["age", "user.city"]})));

    // $eq, paged in id order: 10 matches, 3 per page.
    let mut seen = Vec::new();
    let mut state = None;
    loop {
        let (ids, next) = search(&gw, &t, json!({"user.city": {"$eq": "c1"}}), state.as_deref());
        seen.extend(ids);
        match next {
            Some(s) => state = Some(s),
            None => break,
        }
    }
    let want: Vec<String> = (0..40).filter(|i| i % 4 == 1).map(|i| format!("p{i:02}")).collect();
    assert_eq!(seen, want);
    // Ranges and $in.
    assert_eq!(search(&gw, &t, json!({"age": {"$gte": 30, "$lt": 33}}), None).0, ["p10", "p11", "p12"]);
    let (ids, _) = search(&gw, &t, json!({"user.city": {"$in": ["c2", "c3"]}, "age": {"$lt": 24}}), None);
    assert_eq!(ids, ["p02", "p03"]);
    // New documents are in the index as soon as they are acknowledged.
    let r = gw.put(&format!("{C}/z1")).header("x-cassandra-token", &t).json(&json!({"user": {"city": "oslo"}}));
    assert_eq!(r.send().unwrap().status(), 200);
    assert_eq!(search(&gw, &t, json!({"user.city": {"$eq": "oslo"}}), None).0, ["z1"]);

    if store == Store::Sqlite {
        let path = gw.sqlite_file_of("acme");
        let c = rusqlite::Connection::open(path).unwrap();
        let plan: String = c
            .query_row(
                "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND name LIKE '%#i#%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(plan.contains("#i#user.city") && plan.contains("#i#age"), "{plan}");
        let table: String = c
            .query_row("SELECT tbl_name FROM sqlite_master WHERE name LIKE '%#i#user.city'", [], |r| r.get(0))
            .unwrap();
        let detail: String = c
            .query_row(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM \"{table}\" WHERE json_extract(doc, '$.\"user\".\"city\"') = 'c1' \
                     ORDER BY id"
                ),
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(detail.contains("#i#user.city"), "{detail}");
    }

    // Fewer paths drop the others; bad paths are all named in one 400.
    let r = gw.put(&format!("{C}/indexes")).header("x-cassandra-token", &t).json(&json!({"paths": ["age"]}));
    assert_eq!(json_of(r.send().unwrap()), (200, json!({"paths": ["age"]})));
    let r = gw.put(&format!("{C}/indexes")).header("x-cassandra-token", &t);
    let r = r.json(&json!({"paths": ["tags.[*]", "a.[0]"]})).send().unwrap();
    assert_error(r, 400, "'a.[0]'");
    let r = gw.put(&format!("{C}/indexes")).header("x-cassandra-token", &t).json(&json!({"path": []})).send();
    assert_error(r.unwrap(), 400, "path");
    let r = gw.get("/v2/namespaces/shop/collections/none/indexes").header("x-cassandra-token", &t).send().unwrap();
    assert_error(r, 404, "none");
}
