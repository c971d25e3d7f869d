//! The REST rows slice: keyspace, table, insert, reads by key and by `where`.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::json;
use std::process::Command;

crate::on_both_stores!(origin_query_verbatim, crud_by_primary_key, pages_follow_page_state, batch_and_ttl);

/// The query from the article that introduced the API, as its curl line.
pub(crate) fn origin_query_verbatim(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    for (model, year) in [("Model S", 2012), ("Model 3", 2017)] {
        let r = gw
            .post("/v2/keyspaces/blog/vehicle")
            .header("x-cassandra-token", &t)
            .json(&json!({"manufacturer": "Tesla", "model": model, "year": year}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = gw
        .post("/v2/keyspaces/blog/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Ford", "model": "T", "year": 1908}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // Exactly the article's command, with our port.
    let line = format!(
        r#"curl -s -L -X GET '{}/v2/keyspaces/blog/vehicle?where=\{{"manufacturer":\{{"$eq":"Tesla"\}}\}}' -H "X-Cassandra-Token: $AUTH_TOKEN" -H 'Content-Type: application/json'"#,
        gw.base
    );
    let out = Command::new("sh").arg("-c").arg(&line).env("AUTH_TOKEN", &t).output().unwrap();
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["count"], 2, "{body}");
    assert_eq!(body["data"][0], json!({"manufacturer": "Tesla", "model": "Model 3", "year": 2017}));
    assert_eq!(body["data"][1]["model"], "Model S");
    assert!(body.get("pageState").is_none());
}

pub(crate) fn crud_by_primary_key(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "garage");
    let base = "/v2/keyspaces/garage/vehicle";
    let r = gw
        .post(base)
        .header("authorization", format!("Bearer {t}"))
        .json(&json!({"manufacturer": "Tesla", "model": "Model S", "year": 2012}))
        .send()
        .unwrap();
    let (status, body) = json_of(r);
    assert_eq!((status, body), (201, json!({"manufacturer": "Tesla", "model": "Model S"})));
    for (m, model, y) in [("Tesla", "Model X", 2015), ("Tesla", "Roadster", 2008), ("Volvo", "XC90", 2002)] {
        gw.post(base)
            .header("x-cassandra-token", &t)
            .json(&json!({"manufacturer": m, "model": model, "year": y}))
            .send()
            .unwrap();
    }
    // Whole partition, in clustering order.
    let (s, body) = json_of(gw.get(&format!("{base}/Tesla")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(s, 200);
    let models: Vec<&str> = body["data"].as_array().unwrap().iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["Model S", "Model X", "Roadster"]);
    // Full key, percent-encoded segment, projection, raw.
    let (s, body) = json_of(
        gw.get(&format!("{base}/Tesla/Model%20X?fields=year&raw=true")).header("x-cassandra-token", &t).send().unwrap(),
    );
    assert_eq!((s, body), (200, json!([{"year": 2015}])));
    // PUT and PATCH are upserts that leave other columns alone.
    let (s, body) = json_of(
        gw.put(&format!("{base}/Tesla/Model%20X"))
            .header("x-cassandra-token", &t)
            .json(&json!({"year": 2016}))
            .send()
            .unwrap(),
    );
    assert_eq!((s, body), (200, json!({"data": {"year": 2016}})));
    let (s, _) = json_of(
        gw.patch(&format!("{base}/Tesla/Cybertruck"))
            .header("x-cassandra-token", &t)
            .json(&json!({"year": 2023}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    let (_, body) =
        json_of(gw.get(&format!("{base}/Tesla/Cybertruck")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body["data"], json!([{"manufacturer": "Tesla", "model": "Cybertruck", "year": 2023}]));
    // where with several operators (including $ne/$in, which Stargate lacks).
    let w = r#"{"manufacturer":{"$eq":"Tesla"},"year":{"$gte":2010,"$ne":2023},"model":{"$in":["Model S","Model X","Roadster"]}}"#;
    let (s, body) = json_of(gw.get(base).query(&[("where", w)]).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(s, 200, "{body}");
    let years: Vec<i64> = body["data"].as_array().unwrap().iter().map(|r| r["year"].as_i64().unwrap()).collect();
    assert_eq!(years, [2012, 2016]);
    // DELETE one row, then the rest of its partition.
    let r = gw.delete(&format!("{base}/Tesla/Roadster")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 204);
    let (_, body) = json_of(gw.get(&format!("{base}/Tesla")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body["count"], 3);
    assert_eq!(gw.delete(&format!("{base}/Tesla")).header("x-cassandra-token", &t).send().unwrap().status(), 204);
    let (_, body) = json_of(gw.get(&format!("{base}/Tesla")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body, json!({"count": 0, "data": []}));
    let (_, body) = json_of(gw.get(&format!("{base}/rows")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body["data"], json!([{"manufacturer": "Volvo", "model": "XC90", "year": 2002}]));
}

fn pages_follow_page_state(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    let r = gw.post("/v2/schemas/keyspaces").header("token", &t).json(&json!({"name": "events"})).send().unwrap();
    assert_eq!(r.status(), 201);
    let r = gw
        .post("/v2/schemas/keyspaces/events/tables")
        .header("token", &t)
        .json(&json!({
            "name": "log",
            "columnDefinitions": [{"name":"day","typeDefinition":"text"},{"name":"seq","typeDefinition":"bigint"},
                                  {"name":"at","typeDefinition":"timestamp"},{"name":"id","typeDefinition":"uuid"},
                                  {"name":"ok","typeDefinition":"boolean"},{"name":"score","typeDefinition":"double"}],
            "primaryKey": {"partitionKey": ["day"], "clusteringKey": ["seq"]},
            "tableOptions": {"clusteringExpression": [{"column": "seq", "order": "DESC"}]}
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    for seq in 0..25i64 {
        let row = json!({"day": "mon", "seq": seq, "at": format!("2024-05-01T10:00:{seq:02}Z"),
                         "id": uuid::Uuid::new_v4().to_string(), "ok": seq % 2 == 0, "score": seq as f64 / 4.0});
        assert_eq!(gw.post("/v2/keyspaces/events/log").header("token", &t).json(&row).send().unwrap().status(), 201);
    }
    let mut seen = Vec::new();
    let mut state: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = gw.get("/v2/keyspaces/events/log/mon").query(&[("page-size", "10")]).header("token", &t);
        if let Some(s) = &state {
            req = req.query(&[("page-state", s)]);
        }
        let (s, body) = json_of(req.send().unwrap());
        assert_eq!(s, 200, "{body}");
        pages += 1;
        seen.extend(body["data"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()));
        match body["pageState"].as_str() {
            Some(next) => state = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..25).rev().collect::<Vec<_>>(), "DESC clustering order across pages");
    // A cursor from another query, or garbage, is a 400 — never a 500.
    let (_, first) = json_of(gw.get("/v2/keyspaces/events/log/mon?page-size=5").header("token", &t).send().unwrap());
    let cursor = first["pageState"].as_str().unwrap();
    assert_eq!(first["data"][0]["at"], "2024-05-01T10:00:24.000Z");
    assert_eq!(first["data"][0]["score"], 6.0);
    assert_error(
        gw.get("/v2/keyspaces/events/log/rows").query(&[("page-state", cursor)]).header("token", &t).send().unwrap(),
        400,
        "page-state",
    );
    assert_error(gw.get("/v2/keyspaces/events/log/mon?page-state=%%%").header("token", &t).send().unwrap(), 400, "");
    assert_error(
        gw.get("/v2/keyspaces/events/log/mon?page-size=1001").header("token", &t).send().unwrap(),
        400,
        "page-size",
    );
}

/// Beyond Stargate: all-or-nothing batches and per-write TTL.
fn batch_and_ttl(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "fleet");
    let rows = json!([
        {"manufacturer": "Tesla", "model": "S", "year": 2012},
        {"manufacturer": "Tesla", "model": "3", "year": 2017},
        {"manufacturer": "Volvo", "model": "XC90", "year": 2002}
    ]);
    let (s, keys) = json_of(
        gw.post("/v2/keyspaces/fleet/vehicle/batch?ttl=2").header("x-cassandra-token", &t).json(&rows).send().unwrap(),
    );
    assert_eq!((s, keys[2].clone()), (201, json!({"manufacturer": "Volvo", "model": "XC90"})));
    let bad = json!([{"manufacturer": "Ford", "model": "T", "year": 1908}, {"manufacturer": "Ford", "model": "A", "year": "old"}]);
    assert_error(
        gw.post("/v2/keyspaces/fleet/vehicle/batch").header("x-cassandra-token", &t).json(&bad).send().unwrap(),
        400,
        "rows[1]",
    );
    let (_, body) = json_of(gw.get("/v2/keyspaces/fleet/vehicle/rows").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body["count"], 3, "the failed batch wrote nothing: {body}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (_, body) = json_of(gw.get("/v2/keyspaces/fleet/vehicle/rows").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body, json!({"count": 0, "data": []}), "rows written with ttl=2 are gone after 2 s");
}
