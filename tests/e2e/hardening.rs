//! Hardening (issue 12, store side): names that differ only in case, names the
//! stores keep for themselves, unbounded lists, internal errors that must not
//! leak SQL, and one tenant's slow work that must not starve another tenant.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

crate::on_both_stores!(
    names_differing_in_case_are_kept_apart,
    store_reserved_names_are_refused_or_kept_apart,
    long_lists_are_refused_with_the_limit,
    internal_errors_name_the_request_not_the_sql,
);

/// A JSON request with the tenant's token.
fn send(gw: &Gateway, t: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    let r = match method {
        "GET" => gw.get(path),
        "POST" => gw.post(path),
        "PUT" => gw.put(path),
        "PATCH" => gw.patch(path),
        "DELETE" => gw.delete(path),
        other => panic!("no helper for {other}"),
    };
    let r = r.header("x-cassandra-token", t);
    match body {
        Some(b) => r.json(&b).send().unwrap(),
        None => r.send().unwrap(),
    }
}

fn created(r: Response, what: &str) {
    let (status, body) = json_of(r);
    assert!(status == 201, "{what}: expected 201, got {status} {body}");
}

fn keyspace(gw: &Gateway, t: &str, name: &str) {
    created(send(gw, t, "POST", "/v2/schemas/keyspaces", Some(json!({"name": name}))), "keyspace");
}

fn table(gw: &Gateway, t: &str, ks: &str, name: &str, columns: &[&str]) -> Response {
    let defs: Vec<Value> = columns.iter().map(|c| json!({"name": c, "typeDefinition": "text"})).collect();
    let body = json!({"name": name, "columnDefinitions": defs, "primaryKey": {"partitionKey": [columns[0]]}});
    send(gw, t, "POST", &format!("/v2/schemas/keyspaces/{ks}/tables"), Some(body))
}

/// Tables, columns (created and added) and collections whose names differ only
/// in letter case are distinct on both stores (CQL's rule for quoted names).
fn names_differing_in_case_are_kept_apart(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    keyspace(&gw, &t, "fleet");
    created(table(&gw, &t, "fleet", "Vehicle", &["id", "a", "A"]), "table Vehicle with columns a and A");
    created(table(&gw, &t, "fleet", "vehicle", &["id", "name"]), "table vehicle beside Vehicle");
    let cols = "/v2/schemas/keyspaces/fleet/tables/Vehicle/columns";
    created(send(&gw, &t, "POST", cols, Some(json!({"name": "B", "typeDefinition": "int"}))), "column B");
    created(send(&gw, &t, "POST", cols, Some(json!({"name": "b", "typeDefinition": "text"}))), "column b");

    let r = send(&gw, &t, "POST", "/v2/keyspaces/fleet/Vehicle", Some(json!({"id": "1", "a": "x", "A": "X", "B": 2})));
    assert_eq!(r.status(), 201);
    let r = send(&gw, &t, "POST", "/v2/keyspaces/fleet/vehicle", Some(json!({"id": "1", "name": "lower"})));
    assert_eq!(r.status(), 201);
    let (status, body) = json_of(send(&gw, &t, "GET", "/v2/keyspaces/fleet/Vehicle/1?raw=true", None));
    assert_eq!(status, 200, "{body}");
    let row = &body[0];
    assert_eq!((&row["a"], &row["A"], &row["B"]), (&json!("x"), &json!("X"), &json!(2)), "{body}");
    assert!(row["b"].is_null(), "{body}");
    let (_, body) = json_of(send(&gw, &t, "GET", "/v2/keyspaces/fleet/vehicle/1?raw=true", None));
    assert_eq!(body[0]["name"], "lower", "{body}");
    // Renaming onto a name that differs only in case is a new name too.
    let r = send(&gw, &t, "PUT", &format!("{cols}/b"), Some(json!({"name": "bB"})));
    assert_eq!(r.status(), 200, "rename b -> bB");
    // Same names twice are still refused, naming the thing.
    assert_error(table(&gw, &t, "fleet", "Vehicle", &["id"]), 409, "Vehicle");

    let c = "/v2/namespaces/fleet/collections";
    created(send(&gw, &t, "POST", c, Some(json!({"name": "Docs"}))), "collection Docs");
    created(send(&gw, &t, "POST", c, Some(json!({"name": "docs"}))), "collection docs beside Docs");
    let r = send(&gw, &t, "PUT", &format!("{c}/Docs/one"), Some(json!({"case": "upper"})));
    assert_eq!(r.status(), 200);
    assert_eq!(send(&gw, &t, "GET", &format!("{c}/docs/one"), None).status(), 404, "docs is not Docs");
    let (_, body) = json_of(send(&gw, &t, "GET", &format!("{c}/Docs/one"), None));
    assert_eq!(body["data"], json!({"case": "upper"}));
    // Collections a first write creates follow the same rule.
    let r = send(&gw, &t, "POST", &format!("{c}/Qq"), Some(json!({"a": 1})));
    assert_eq!(r.status(), 201);
    let r = send(&gw, &t, "POST", &format!("{c}/qq"), Some(json!({"a": 2})));
    assert_eq!(r.status(), 201, "implicitly created qq beside Qq");
    // Nor does a collection take the name of another one's key index.
    created(send(&gw, &t, "POST", c, Some(json!({"name": "docs_pkey"}))), "collection docs_pkey beside docs");
}

/// Column names a store keeps for itself (PostgreSQL's system columns, SQLite's
/// rowid aliases) are refused with a 400 naming them, on both stores and for
/// every way a column gets its name; derived physical names do not collide.
fn store_reserved_names_are_refused_or_kept_apart(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    keyspace(&gw, &t, "ks");
    for name in ["xmin", "xmax", "cmin", "cmax", "ctid", "tableoid", "XMIN", "rowid", "oid"] {
        assert_error(table(&gw, &t, "ks", "t1", &["id", name]), 400, &format!("'{name}' is reserved"));
    }
    created(table(&gw, &t, "ks", "t1", &["id", "v"]), "table t1");
    let cols = "/v2/schemas/keyspaces/ks/tables/t1/columns";
    let r = send(&gw, &t, "POST", cols, Some(json!({"name": "ctid", "typeDefinition": "int"})));
    assert_error(r, 400, "'ctid' is reserved");
    assert_error(send(&gw, &t, "PUT", &format!("{cols}/v"), Some(json!({"name": "tableoid"}))), 400, "'tableoid'");
    // GraphQL DDL reaches the same check.
    let q = r#"mutation { alterTableAdd(keyspaceName: "ks", tableName: "t1", toAdd: [{name: "cmax", type: "int"}]) }"#;
    let (status, body) = json_of(send(&gw, &t, "POST", "/graphql-schema", Some(json!({"query": q}))));
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("'cmax' is reserved"), "{body}");

    // A table named like the key index PostgreSQL would derive for another.
    created(table(&gw, &t, "ks", "foo", &["id"]), "table foo");
    created(table(&gw, &t, "ks", "foo_pkey", &["id"]), "table foo_pkey beside foo");
    let r = send(&gw, &t, "POST", "/v2/keyspaces/ks/foo_pkey", Some(json!({"id": "1"})));
    assert_eq!(r.status(), 201);

    // A table named like one of the keyspace's indexes (the name is public:
    // "ix_" and 10 bytes of SHA-256 over table and index name).
    let r = send(
        &gw,
        &t,
        "POST",
        "/v2/schemas/keyspaces/ks/tables/t1/indexes",
        Some(json!({"column": "v", "name": "by_v"})),
    );
    created(r, "index by_v");
    let digest = Sha256::digest(b"t1\0by_v");
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    created(table(&gw, &t, "ks", &format!("ix_{hex}"), &["id"]), "table named like index by_v");
    let r = send(
        &gw,
        &t,
        "POST",
        "/v2/schemas/keyspaces/ks/tables/foo/indexes",
        Some(json!({"column": "id", "name": "by_id"})),
    );
    created(r, "an index beside the look-alike table");
}

/// Lists are capped with a 400 naming the limit, far below what the stores
/// accept, wherever a client can send one.
pub(crate) fn long_lists_are_refused_with_the_limit(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    let years: Vec<u32> = (0..5000).collect();
    let q = |w: Value| {
        gw.get("/v2/keyspaces/blog/vehicle").query(&[("where", w.to_string())]).header("x-cassandra-token", &t).send()
    };
    assert_error(q(json!({"year": {"$in": years}})).unwrap(), 400, "at most 1000 values, got 5000");
    assert_error(q(json!({"year": {"$nin": years}})).unwrap(), 400, "at most 1000 values");
    let half: Vec<u32> = (0..600).collect();
    assert_error(q(json!({"year": {"$in": half, "$nin": half}})).unwrap(), 400, "limit is 1000");
    let (status, _) = json_of(q(json!({"year": {"$in": (0..1000).collect::<Vec<u32>>()}})).unwrap());
    assert_eq!(status, 200, "the limit itself is accepted");

    // GraphQL `in` maps onto the same where.
    let list: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let query = format!("{{ vehicle(filter: {{year: {{in: [{}]}}}}) {{ values {{ model }} }} }}", list.join(","));
    let (status, body) = json_of(send(&gw, &t, "POST", "/graphql/blog", Some(json!({"query": query}))));
    assert_eq!(status, 200);
    let err = &body["errors"][0];
    assert!(err["message"].as_str().unwrap_or("").contains("at most 1000 values"), "{body}");
    assert_eq!(err["extensions"]["code"], 400, "{body}");

    // Batches and table widths.
    let rows: Vec<Value> = (0..1001).map(|i| json!({"manufacturer": "m", "model": format!("{i}")})).collect();
    assert_error(send(&gw, &t, "POST", "/v2/keyspaces/blog/vehicle/batch", Some(json!(rows))), 400, "1 to 1000 rows");
    let wide: Vec<String> = (0..1001).map(|i| format!("c{i}")).collect();
    let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
    assert_error(table(&gw, &t, "blog", "wide", &wide), 400, "the limit is 1000");
}

/// A 500 tells the client the request id and nothing of the SQL or the driver;
/// the sidecar's log has the detail under the same id. The fault: the stored
/// table definition is corrupted behind the sidecar's back, from the test's
/// own connection to the store.
pub(crate) fn internal_errors_name_the_request_not_the_sql(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    let corrupt = r#"{"broken": true}"#;
    match store {
        Store::Sqlite => {
            let c = rusqlite::Connection::open(gw.sqlite_file_of("acme")).unwrap();
            c.busy_timeout(Duration::from_secs(5)).unwrap();
            c.execute("UPDATE datagate_tables SET definition = ?1", [corrupt]).unwrap();
        }
        Store::Postgres => pg_on(gw.store_url(), format!("UPDATE datagate.tables SET definition = '{corrupt}'")),
    }
    let (status, body) = json_of(send(&gw, &t, "GET", "/v2/keyspaces/blog/vehicle/Tesla", None));
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], 500);
    let d = body["description"].as_str().unwrap();
    let id = d.rsplit("request id ").next().unwrap().trim();
    assert!(d.contains("request id") && id.len() >= 8, "the description names the request id: {d}");
    for leak in ["corrupt", "definition", "SELECT", "sqlite", "PostgreSQL", "missing field"] {
        assert!(!d.contains(leak), "the description leaks {leak:?}: {d}");
    }
    // The sidecar logs through a background writer: wait for the line to land.
    let mut log = gw.sidecar_log();
    for _ in 0..100 {
        if log.contains(id) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = gw.sidecar_log();
    }
    let line = log.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("no log line with {id}:\n{log}"));
    assert!(line.contains("corrupt table definition"), "the log has the detail under the id: {line}");
}

/// Runs one statement on the gateway's own PostgreSQL database.
fn pg_on(url: &str, sql: String) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
        })
    })
    .join()
    .unwrap();
}

/// Holds `LOCK TABLE` on the table named `table` (in whichever keyspace schema
/// holds it) from the test's own connection until the returned sender is dropped.
fn lock_table(url: &str, table: &str) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (url, table) = (url.to_owned(), table.to_owned());
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let row = client
                .query_one("SELECT table_schema FROM information_schema.tables WHERE table_name = $1", &[&table])
                .await
                .unwrap();
            let schema: String = row.get(0);
            let tx = client.transaction().await.unwrap();
            tx.batch_execute(&format!("LOCK TABLE \"{schema}\".\"{table}\" IN ACCESS EXCLUSIVE MODE")).await.unwrap();
            locked_tx.send(()).unwrap();
            // Until the test lets go (recv fails when the sender is dropped).
            let _ = tokio::task::spawn_blocking(move || release_rx.recv()).await;
            tx.rollback().await.unwrap();
        })
    });
    locked_rx.recv_timeout(Duration::from_secs(20)).expect("table locked");
    (release_tx, handle)
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() * 99).div_ceil(100)).saturating_sub(1)]
}

/// Tenant B reads one row of its table: the status and how long it took.
fn timed_read(gw: &Gateway, t: &str) -> (u16, Duration, Value) {
    let start = Instant::now();
    let r = gw.get("/v2/keyspaces/bks/vehicle/Tesla").header("x-cassandra-token", t).send().unwrap();
    let took = start.elapsed();
    let (status, body) = json_of(r);
    (status, took, body)
}

/// Sets the flag when dropped, so A's clients stop even if B's loop panics
/// (the scope would otherwise wait for them forever).
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// With one of tenant A's tables locked and 12 of A's clients reading it, A may
/// hold only its share (4 of 8) of the pooled connections: the excess gets 503
/// with Retry-After, and tenant B's reads of its own table all succeed without
/// waiting anywhere near the 5 s storage timeout.
#[test]
fn a_noisy_tenant_cannot_starve_another() {
    let gw = Gateway::start_with_sidecar_config(
        Store::Postgres,
        r#"{"poolSize": 8, "tenantMaxConnections": 4, "poolWaitMs": 1000, "storageTimeoutMs": 5000}"#,
    );
    let (a, b) = (token("tenant-a"), token("tenant-b"));
    keyspace(&gw, &a, "aks");
    created(table(&gw, &a, "aks", "locked", &["id", "v"]), "A's table");
    gw.vehicle_table(&b, "bks");
    let r = send(&gw, &b, "POST", "/v2/keyspaces/bks/vehicle", Some(json!({"manufacturer": "Tesla", "model": "S"})));
    assert_eq!(r.status(), 201);
    // Warm A's catalog entry and both paths before measuring.
    assert_eq!(send(&gw, &a, "GET", "/v2/keyspaces/aks/locked/x", None).status(), 200);
    let unloaded: Vec<Duration> = (0..40)
        .map(|_| {
            let (status, took, body) = timed_read(&gw, &b);
            assert_eq!(status, 200, "{body}");
            took
        })
        .collect();

    let (release, locker) = lock_table(gw.store_url(), "locked");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (a_statuses, b_reads) = std::thread::scope(|s| {
        let stopper = StopOnDrop(&stop);
        let hammers: Vec<_> = (0..12)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = Vec::new();
                    let started = Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed)
                        && started.elapsed() < Duration::from_secs(60)
                    {
                        let r = gw.get("/v2/keyspaces/aks/locked/x").header("x-cassandra-token", &a).send().unwrap();
                        let retry_after = r.headers().get("retry-after").is_some();
                        let (status, body) = json_of(r);
                        assert_eq!(body["code"], status, "A's answers are JSON errors: {body}");
                        seen.push((status, retry_after));
                    }
                    seen
                })
            })
            .collect();
        // Let A's clients take what they can, then read as B through the storm.
        std::thread::sleep(Duration::from_millis(500));
        let mut b_reads: Vec<(u16, Duration, Value)> = Vec::new();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            b_reads.push(timed_read(&gw, &b));
            // One failure is enough to fail; no need to wait out the rest.
            if b_reads.last().is_some_and(|(status, _, _)| *status != 200) {
                break;
            }
        }
        drop(stopper);
        let statuses: Vec<(u16, bool)> = hammers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        (statuses, b_reads)
    });
    drop(release);
    locker.join().unwrap();

    for (status, took, body) in &b_reads {
        assert_eq!(*status, 200, "tenant B's read failed after {took:?} while A was busy: {body}");
    }
    let loaded: Vec<Duration> = b_reads.iter().map(|(_, took, _)| *took).collect();
    let over_share: Vec<&(u16, bool)> = a_statuses.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!over_share.is_empty(), "A's excess is refused: {a_statuses:?}");
    assert!(over_share.iter().all(|(_, retry)| *retry), "every 503 says Retry-After");
    assert!(
        a_statuses.iter().all(|(s, _)| [503, 504, 429].contains(s)),
        "A's reads of the locked table wait (504) or are refused (503): {a_statuses:?}"
    );
    let worst = loaded.iter().max().copied().unwrap_or_default();
    assert!(worst < Duration::from_millis(2500), "B waited {worst:?}, near the 5 s storage timeout");
    let (before, during) = (p99(unloaded), p99(loaded));
    eprintln!(
        "noisy neighbour: B p99 unloaded {before:?}, loaded {during:?} (ratio {:.2}); A: {} answers, {} x 503",
        during.as_secs_f64() / before.as_secs_f64().max(1e-6),
        a_statuses.len(),
        over_share.len()
    );
}
