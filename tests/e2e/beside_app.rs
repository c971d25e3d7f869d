//! Beside an application (the mesh profile): Datagate owns only its paths; the
//! application's routes skip the edge filter and ext_proc, so it answers
//! without a token and its requests and responses pass untouched.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// A tiny HTTP/1.1 application: answers every request with 418 and a JSON echo
/// of what it received (method, path, headers, body), plus an `x-app` header.
fn start_app() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve_connection(conn));
        }
    });
    port
}

fn serve_connection(conn: TcpStream) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = serde_json::Map::new();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            if k == "content-length" {
                length = v.parse().unwrap();
            }
            headers.insert(k, Value::String(v));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let echo = json!({"method": method, "path": path, "headers": headers, "body": String::from_utf8_lossy(&body)});
        let text = echo.to_string();
        let reply = format!(
            "HTTP/1.1 418 I'm a teapot\r\ncontent-type: application/json\r\nx-app: yes\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn the_application_answers_its_own_paths_untouched() {
    let gw = Gateway::start_beside_app(Store::Sqlite, start_app());

    // No token, a spoofed identity header and a foreign Authorization: all reach the app as sent.
    let r = gw
        .post("/app/orders?x=1")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("x-tenant-id", "spoofed")
        .body("plain text, not JSON")
        .send()
        .unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers().get("x-app").map(|v| v.to_str().unwrap()), Some("yes"));
    let echo: Value = r.json().unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/app/orders?x=1");
    assert_eq!(echo["headers"]["authorization"], "Basic dXNlcjpwYXNz");
    assert_eq!(echo["headers"]["x-tenant-id"], "spoofed");
    assert_eq!(echo["body"], "plain text, not JSON");

    // Paths that only look like Datagate's belong to the application too.
    for path in ["/", "/v2x", "/graphqlish", "/health", "/app/v2/schemas/keyspaces"] {
        let r = gw.get(path).send().unwrap();
        assert_eq!(r.status(), 418, "{path} should reach the application");
        assert_eq!(r.json::<Value>().unwrap()["path"], path);
    }
}

#[test]
fn datagate_paths_behave_as_before_beside_an_application() {
    let gw = Gateway::start_beside_app(Store::Sqlite, start_app());
    assert_error(gw.get("/v2/schemas/keyspaces").send().unwrap(), 401, "missing credentials");
    assert_error(gw.post("/graphql-schema").body("{}").send().unwrap(), 401, "missing credentials");

    let t = token("acme");
    gw.vehicle_table(&t, "shop");
    let r = gw
        .post("/v2/keyspaces/shop/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "S", "year": 2012}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, body) = json_of(gw.get("/v2/keyspaces/shop/vehicle/Tesla").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!((s, body["data"].clone()), (200, json!([{"manufacturer": "Tesla", "model": "S", "year": 2012}])));
    // An unknown path under Datagate's prefix is Datagate's 404, not the application's.
    assert_error(gw.get("/v2/nothing").header("x-cassandra-token", &t).send().unwrap(), 404, "no API");
    let r = gw.get("/playground").send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-app").is_none());
}
