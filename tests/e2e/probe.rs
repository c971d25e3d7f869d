//! Bad input found by the black-box probe of 2026-12-01 (each answered with a
//! clear error and the right status now, nothing acknowledged then lost).

use crate::dataapi::command;
use crate::harness::{json_of, token, Gateway, Store};
use serde_json::{json, Value};

crate::on_both_stores!(probe_findings);

/// The first error's code of a Data API answer (HTTP 200 with `errors[]`).
fn error_code(answer: (u16, Value)) -> String {
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    body["errors"][0]["errorCode"].as_str().unwrap_or_else(|| panic!("no error: {body}")).to_owned()
}

fn probe_findings(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    command(&gw, "/v1", json!({"createKeyspace": {"name": "qa"}}));
    command(&gw, "/v1/qa", json!({"createCollection": {"name": "c"}}));
    command(&gw, "/v1/qa/c", json!({"insertOne": {"document": {"_id": "d", "a": [1]}}}));

    // An array index far past the limit: refused at once, not built (it took 4 GB).
    let set = json!({"updateOne": {"filter": {"_id": "d"}, "update": {"$set": {"a.30000000": 1}}}});
    assert_eq!(error_code(command(&gw, "/v1/qa/c", set)), "SHRED_DOC_LIMIT_VIOLATION");

    // A NUL in a path: a 400 (Documents) or INVALID_PATH (Data API), no SQL text.
    for (param, value) in [("where", r#"{"x\u0000": {"$eq": 1}}"#), ("sort", r#"{"x\u0000": "asc"}"#)] {
        let r = gw.get("/v2/namespaces/qa/collections/c").header("x-cassandra-token", &t).query(&[(param, value)]);
        let (status, body) = json_of(r.send().unwrap());
        assert_eq!(status, 400, "{param}: {body}");
        assert!(body["description"].as_str().unwrap().contains("U+0000"), "{body}");
    }
    let find = json!({"find": {"filter": {"a\u{0}b": 1}}});
    assert_eq!(error_code(command(&gw, "/v1/qa/c", find)), "INVALID_PATH");

    // The collection holding every collection's options is no client's to address.
    let vec = json!({"createCollection": {"name": "vec", "options": {"vector": {"dimension": 2}}}});
    assert_eq!(command(&gw, "/v1/qa", vec).1, json!({"status": {"ok": 1}}));
    let replace = json!({"findOneAndReplace": {"filter": {"_id": "vec"}, "replacement": {"vector": "garbage"}}});
    let (status, body) = command(&gw, "/v1/qa/datagate_collection_options", replace);
    assert_eq!((status, body["errors"][0]["errorCode"].as_str()), (400, Some("UNSUPPORTED_SCHEMA_NAME")), "{body}");
    let drop = json!({"deleteCollection": {"name": "datagate_collection_options"}});
    assert_eq!(error_code(command(&gw, "/v1/qa", drop)), "UNSUPPORTED_SCHEMA_NAME");
    let explain = json!({"findCollections": {"options": {"explain": true}}});
    let (_, body) = command(&gw, "/v1/qa", explain);
    let vec = body["status"]["collections"].as_array().unwrap().iter().find(|c| c["name"] == "vec").cloned();
    assert_eq!(vec.unwrap()["options"]["vector"]["dimension"], 2, "{body}");
    let list = gw.get("/v2/namespaces/qa/collections").header("x-cassandra-token", &t).send().unwrap();
    let (_, body) = json_of(list);
    assert!(!body.to_string().contains("datagate_collection_options"), "{body}");
    for path in [
        "/v2/namespaces/qa/collections/datagate_collection_options",
        "/v2/namespaces/qa/collections/datagate_collection_options/vec",
    ] {
        let (status, body) = json_of(gw.get(path).header("x-cassandra-token", &t).send().unwrap());
        assert_eq!(status, 400, "{path}: {body}");
    }

    // Lax Data API input: now refused with the contract's codes.
    for (body, code) in [
        (
            json!({"updateOne": {"filter": {"_id": "d"}, "update": {"$push": {"a": {"$each": "x"}}}}}),
            "UNSUPPORTED_UPDATE_OPERATION_PARAM",
        ),
        (json!({"insertOne": {"document": {"_id": "e1", "a": {"$date": "2024"}}}}), "SHRED_BAD_EJSON_VALUE"),
        (json!({"insertOne": {"document": {"_id": "e1", "b": {"$uuid": 1}}}}), "SHRED_BAD_EJSON_VALUE"),
        (json!({"insertOne": {"document": {"_id": "e2"}, "bogus": 1}}), "COMMAND_FIELD_UNKNOWN"),
        (json!({"find": {"options": {"pageState": 123}}}), "COMMAND_FIELD_VALUE_INVALID"),
    ] {
        assert_eq!(error_code(command(&gw, "/v1/qa/c", body.clone())), code, "{body}");
    }
    // A Documents API body `_id` must name the document it is written to (the Data API finds by it).
    let put = |id: &str, body: Value| {
        let r = gw.put(&format!("/v2/namespaces/qa/collections/c/{id}")).header("x-cassandra-token", &t);
        json_of(r.json(&body).send().unwrap())
    };
    assert_eq!(put("x1", json!({"_id": "other", "v": 1})).0, 400);
    assert_eq!(put("x1", json!({"_id": "x1", "v": 1})).0, 200);
    command(&gw, "/v1/qa/c", json!({"insertOne": {"document": {"_id": 5, "v": 1}}}));
    assert_eq!(put("5", json!({"_id": 5, "v": 2})).0, 200, "a Data API document edited through the Documents API");
    let (_, body) = command(&gw, "/v1/qa/c", json!({"findOne": {"filter": {"_id": 5}}}));
    assert_eq!(body["data"]["document"]["v"], 2, "{body}");
    // A Data API replacement is a new document: it does not inherit the old one's TTL.
    let r = gw.put("/v2/namespaces/qa/collections/c/e?ttl=1").header("x-cassandra-token", &t);
    assert_eq!(json_of(r.json(&json!({"n": 1})).send().unwrap()).0, 200);
    let replace = json!({"findOneAndReplace": {"filter": {"_id": "e"}, "replacement": {"n": 2}}});
    assert_eq!(command(&gw, "/v1/qa/c", replace).1["status"]["modifiedCount"], 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (_, body) = command(&gw, "/v1/qa/c", json!({"findOne": {"filter": {"_id": "e"}}}));
    assert_eq!(body["data"]["document"]["n"], 2, "{body}");
    // An updateMany that fails on its second document says what the first got.
    command(&gw, "/v1/qa", json!({"createCollection": {"name": "sch"}}));
    let docs = json!({"insertMany": {"documents": [{"_id": "x1", "a": 1, "k": 1}, {"_id": "x2", "k": 1}]}});
    command(&gw, "/v1/qa/sch", docs);
    let r = gw.put("/v2/namespaces/qa/collections/sch/json-schema").header("x-cassandra-token", &t);
    assert_eq!(json_of(r.json(&json!({"type": "object", "required": ["a"]})).send().unwrap()).0, 200);
    let many = json!({"updateMany": {"filter": {"k": 1}, "update": {"$set": {"k": 2}}}});
    let (_, body) = command(&gw, "/v1/qa/sch", many);
    assert_eq!((&body["status"]["matchedCount"], &body["status"]["modifiedCount"]), (&json!(1), &json!(1)), "{body}");
    assert!(body["errors"][0]["errorCode"].is_string(), "{body}");
    rows(&gw, &t);
    // The access log keeps paths, not query strings (filter values, a careless client's token).
    let r = gw.get("/v2/keyspaces/qa/fl/rows?marker=q-secret-77").header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 200);
    // Envoy writes its access log out every 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !gw.envoy_log().contains("/v2/keyspaces/qa/fl/rows") {
        assert!(std::time::Instant::now() < deadline, "no access-log line for the request");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!gw.envoy_log().contains("q-secret-77"));
    // A URL the sidecar's HTTP server could not parse: Envoy's 431 JSON, not a 502 to
    // retry (curl: reqwest itself refuses a URI above 65,534 bytes).
    let long = |n: usize| {
        let url = format!("{}/v2/keyspaces/qa/fl?where=%7B%22k%22:%7B%22$eq%22:%22{}%22%7D%7D", gw.base, "a".repeat(n));
        let out = std::process::Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "-H", &format!("x-cassandra-token: {t}"), &url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
        (status.to_owned(), body.chars().take(300).collect::<String>())
    };
    assert_eq!(long(60_000).0, "200");
    let (status, body) = long(66_000);
    assert_eq!(status, "431", "{body}");
    assert!(body.contains("larger than 64 KiB"), "{body}");
    // Numbers a Data API write would turn into null: refused.
    command(&gw, "/v1/qa/c", json!({"insertOne": {"document": {"_id": "ov", "n": 1e308}}}));
    let mul = json!({"updateOne": {"filter": {"_id": "ov"}, "update": {"$mul": {"n": 10}}}});
    assert_eq!(error_code(command(&gw, "/v1/qa/c", mul)), "UNSUPPORTED_UPDATE_OPERATION_PARAM");
    let (_, body) = command(&gw, "/v1/qa/c", json!({"findOne": {"filter": {"_id": "ov"}}}));
    assert_eq!(body["data"]["document"]["n"], 1e308, "{body}");
    let big = json!({"insertOne": {"document": {"_id": "big", "$vector": [1e39, 1]}}});
    assert_eq!(error_code(command(&gw, "/v1/qa/vec", big)), "SHRED_BAD_VECTOR_VALUE");
}

/// A JSON request on the REST API with the tenant's token: (status, body).
fn rest(gw: &Gateway, t: &str, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    json_of(gw.http_request(method, path).header("x-cassandra-token", t).json(&body).send().unwrap())
}

fn rows(gw: &Gateway, t: &str) {
    use reqwest::Method;
    let table = |name: &str, columns: Value, options: Value| {
        let def = json!({"name": name, "columnDefinitions": columns, "primaryKey": {"partitionKey": ["k"]}, "tableOptions": options});
        let (status, body) = rest(gw, t, Method::POST, "/v2/schemas/keyspaces/qa/tables", def);
        assert_eq!(status, 201, "{body}");
    };
    let col = |name: &str, ty: &str| json!({"name": name, "typeDefinition": ty});
    // A counter that would overflow: a 400 naming no physical table, the row unchanged.
    table("cnt", json!([col("k", "text"), col("n", "counter")]), json!({}));
    let (status, _) = rest(gw, t, Method::PATCH, "/v2/keyspaces/qa/cnt/a", json!({"n": "9223372036854775807"}));
    assert_eq!(status, 200);
    let (status, body) = rest(gw, t, Method::PATCH, "/v2/keyspaces/qa/cnt/a", json!({"n": 1}));
    assert_eq!(status, 400, "{body}");
    let text = body["description"].as_str().unwrap();
    assert!(text.contains("bigint range") && !text.contains("dg_"), "{body}");
    let (_, body) = rest(gw, t, Method::GET, "/v2/keyspaces/qa/cnt/a", Value::Null);
    assert_eq!(body["data"][0]["n"], 9223372036854775807i64, "{body}");
    // NaN and infinities: refused (they were acknowledged, then read back as null).
    table("fl", json!([col("k", "text"), col("f", "float"), col("d", "double")]), json!({}));
    for row in [json!({"k": "a", "f": "NaN"}), json!({"k": "a", "d": "Infinity"}), json!({"k": "a", "f": 1e39})] {
        let (status, body) = rest(gw, t, Method::POST, "/v2/keyspaces/qa/fl", row.clone());
        assert_eq!(status, 400, "{row}: {body}");
    }
    // Counters and other values never mix, and counters take no default TTL.
    table("mix", json!([col("k", "text"), col("v", "text")]), json!({"defaultTimeToLive": 3600}));
    let (status, body) = rest(gw, t, Method::POST, "/v2/schemas/keyspaces/qa/tables/mix/columns", col("n", "counter"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = rest(gw, t, Method::POST, "/v2/schemas/keyspaces/qa/tables/cnt/columns", col("v", "text"));
    assert_eq!(status, 400, "{body}");
    let (status, _) = rest(gw, t, Method::POST, "/v2/keyspaces/qa/mix", json!({"k": "a", "v": "after"}));
    assert_eq!(status, 201);
    // A table whose name clashes with a GraphQL type is left out of GraphQL;
    // the keyspace's other tables stay served.
    for name in ["String", "ok1", "Query", "ok1Result"] {
        table(name, json!([col("k", "text")]), json!({}));
    }
    let query = json!({"query": "{ ok1 { values { k } } }"});
    let (status, body) = rest(gw, t, Method::POST, "/graphql/qa", query);
    assert_eq!((status, body["data"]["ok1"]["values"].clone()), (200, json!([])), "{body}");
    let query = json!({"query": "{ __type(name: \"Query\") { description } }"});
    let (_, body) = rest(gw, t, Method::POST, "/graphql/qa", query);
    let description = body["data"]["__type"]["description"].as_str().unwrap_or("").to_owned();
    assert!(["String", "Query", "ok1Result"].iter().all(|t| description.contains(t)), "{body}");
    // A GraphQL alter with one bad column changes nothing.
    table("ad", json!([col("k", "text"), col("a", "text"), col("b", "text")]), json!({}));
    for mutation in [
        r#"mutation { alterTableDrop(keyspaceName: "qa", tableName: "ad", toDrop: ["a", "nope"]) }"#,
        r#"mutation { alterTableAdd(keyspaceName: "qa", tableName: "ad", toAdd: [{name: "d", type: "text"}, {name: "b", type: "int"}]) }"#,
    ] {
        let (_, body) = rest(gw, t, Method::POST, "/graphql-schema", json!({ "query": mutation }));
        assert!(body["errors"].is_array(), "{body}");
    }
    let (_, body) = rest(gw, t, Method::GET, "/v2/schemas/keyspaces/qa/tables/ad/columns", Value::Null);
    let names: Vec<&str> = body["data"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["k", "a", "b"], "{body}");
    // GraphQL names the option the client sent.
    let query = json!({"query": "{ mix(options: {limit: -5}) { values { k } } }"});
    let (_, body) = rest(gw, t, Method::POST, "/graphql/qa", query);
    assert!(body.to_string().contains("options.limit must be an integer from 1 to"), "{body}");
}
