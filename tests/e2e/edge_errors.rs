//! The edge of the contract: methods the API does not serve, requests Envoy
//! itself refuses, and the OpenAPI document against what the gateway does.
//! Every answer, whoever produces it, is `{"description","code"}` JSON.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use reqwest::Method;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One answer read off a raw HTTP/1.1 connection.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts a JSON `{"description","code"}` error with this status.
    fn assert_json_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"), "body: {}", self.body);
        let body: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        assert_eq!(body["code"], status, "{body}");
        let d = body["description"].as_str().unwrap_or_else(|| panic!("no description: {body}"));
        assert!(d.contains(needle), "description {d:?} does not mention {needle:?}");
    }
}

/// Sends `request` verbatim (bytes a normal client would never send) and reads
/// the one answer. The read is bounded: a gateway that hangs fails the test.
fn raw(gw: &Gateway, request: &[u8]) -> Raw {
    let addr = gw.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    // Until the head and `content-length` bytes of body are in (some answers
    // keep the connection open, e.g. for a CONNECT tunnel).
    loop {
        let n = s
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("no answer ({e}); so far: {:?}", String::from_utf8_lossy(&buf)));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .map(|v| v.parse::<usize>().unwrap())
                .unwrap_or(0);
            if body.len() >= len || n == 0 {
                let mut lines = head.lines();
                let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                return Raw { status, headers, body: body.to_owned() };
            }
        }
        assert!(n > 0, "connection closed before a full answer: {text:?}");
    }
}

/// Item 5: an authenticated CONNECT used to wait 300 s for a body that never
/// ends and then get `408 text/plain`; every method the API does not serve now
/// gets an immediate 405 JSON naming the allowed methods in `Allow`.
#[test]
pub(crate) fn methods_the_api_does_not_serve_get_405_with_allow() {
    let gw = Gateway::start(Store::Sqlite);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");

    let connect =
        format!("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\nx-cassandra-token: {t}\r\n\r\n");
    let r = raw(&gw, connect.as_bytes());
    r.assert_json_error(405, "not a proxy");
    assert_eq!(r.header("allow"), Some("GET, POST, PUT, PATCH, DELETE"));

    let send = |method: &str, path: &str, body: Option<&str>| {
        let mut req =
            gw.http_request(Method::from_bytes(method.as_bytes()).unwrap(), path).header("x-cassandra-token", &t);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        req.send().unwrap()
    };
    let cases = [
        ("TRACE", "/v2/schemas/keyspaces", "GET, POST"),
        ("OPTIONS", "/v2/schemas/keyspaces/blog", "GET, DELETE"),
        ("PROPFIND", "/v2/keyspaces/blog/vehicle", "GET, POST"),
        ("PATCH", "/v2/schemas/keyspaces/blog/tables/vehicle", "GET, PUT, DELETE"),
        ("DELETE", "/v2/openapi.json", "GET"),
        ("POST", "/playground", "GET"),
        ("PUT", "/graphql-schema", "GET, POST"),
        ("POST", "/v2/namespaces/ns/collections/c/doc1", "GET, PUT, PATCH, DELETE"),
    ];
    for (method, path, allow) in cases {
        let r = send(method, path, None);
        let got = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        assert_error(r, 405, &format!("method {method} is not allowed"));
    }
    // With a body: refused as soon as the headers arrive, the same way.
    let r = send("PUT", "/v2/schemas/keyspaces", Some(r#"{"name":"x"}"#));
    assert_eq!(r.headers().get("allow").unwrap(), "GET, POST");
    assert_error(r, 405, "use GET, POST");
    // QUERY (RFC 10008) with its required Content-Type reaches the API: 405. Without
    // one, Envoy must fail it before any filter runs: a 400, JSON all the same.
    let r = send("QUERY", "/v2/schemas/keyspaces", Some("{}"));
    assert_eq!(r.headers().get("allow").unwrap(), "GET, POST");
    assert_error(r, 405, "method QUERY is not allowed");
    assert_error(send("QUERY", "/v2/schemas/keyspaces", None), 400, "needs a Content-Type");
    // A HEAD gets the status and `Allow`, with no body (RFC 9110 §9.3.2).
    let r = send("HEAD", "/v2/schemas/keyspaces", None);
    assert_eq!((r.status().as_u16(), r.headers().get("allow").unwrap().to_str().unwrap()), (405, "GET, POST"));
    // The gateway still serves.
    assert_eq!(json_of(send("GET", "/v2/schemas/keyspaces", None)).0, 200);
}

/// Item 6: requests Envoy refuses before any filter runs (its HTTP codec, its
/// path normalization) used to get `400 text/plain` or an empty body.
#[test]
pub(crate) fn envoys_own_answers_are_json() {
    let gw = Gateway::start(Store::Sqlite);
    let t = token("acme");
    let get =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nx-cassandra-token: {t}\r\nConnection: close\r\n\r\n");

    // Methods Envoy's codec does not know, or in lower case (methods are case-sensitive).
    for method in ["FOO", "get", "Post"] {
        let req = format!("{method} /v2/schemas/keyspaces HTTP/1.1\r\nHost: x\r\nx-cassandra-token: {t}\r\n\r\n");
        raw(&gw, req.as_bytes()).assert_json_error(400, "malformed HTTP request");
    }
    // Raw (not percent-encoded) bytes in the path: invalid UTF-8, and valid UTF-8.
    for bytes in [&b"\xff"[..], "é".as_bytes()] {
        let mut req = get("/v2/schemas/keyspaces/").into_bytes();
        let at = "GET /v2/schemas/keyspaces/".len();
        req.splice(at..at, bytes.iter().copied());
        raw(&gw, &req).assert_json_error(400, "malformed HTTP request");
    }
    // A CONNECT with a path instead of a host.
    let req = format!("CONNECT /v2/schemas/keyspaces HTTP/1.1\r\nHost: x\r\nx-cassandra-token: {t}\r\n\r\n");
    raw(&gw, req.as_bytes()).assert_json_error(400, "malformed HTTP request");
    // A header line without a colon.
    let req = format!("GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\nx-cassandra-token: {t}\r\n\r\n");
    raw(&gw, req.as_bytes()).assert_json_error(400, "well-formed headers");
    // HTTP/1.0, which Envoy does not accept: its own status, still JSON.
    raw(&gw, b"GET /health HTTP/1.0\r\n\r\n").assert_json_error(426, "gateway refused the request");
    // A percent-encoded NUL: path normalization refuses it.
    raw(&gw, get("/v2/schemas/keyspaces/%00").as_bytes()).assert_json_error(400, "path cannot be normalized");

    // Answers of the edge filter and the sidecar keep their own descriptions.
    raw(&gw, b"GET /v2/schemas/keyspaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .assert_json_error(401, "missing credentials");
    raw(&gw, get("/v2/nothing/here").as_bytes()).assert_json_error(404, "no API at /v2/nothing/here");
    raw(&gw, get("/v2/schemas/keyspaces/%ff").as_bytes()).assert_json_error(400, "not valid UTF-8");
    raw(&gw, get("/v2/schemas/keyspaces/a%20b").as_bytes()).assert_json_error(400, "invalid keyspace name");
}

/// Item 9: the OpenAPI document says what the gateway does.
#[test]
fn the_openapi_document_matches_the_gateway() {
    let gw = Gateway::start(Store::Sqlite);
    let t = token("acme");
    let doc: Value = gw.get("/v2/openapi.json").send().unwrap().json().unwrap();

    // The playground needs no credentials, and the document says so.
    assert_eq!(doc["paths"]["/playground"]["get"]["security"], serde_json::json!([]));
    let r = gw.get("/playground").send().unwrap();
    assert_eq!(r.status(), 200);

    // Every name in a path is an identifier, and the document declares the rule
    // the gateway applies: `0` is refused by both.
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => r.trim_start_matches("#/").split('/').fold(doc.clone(), |d, k| d[k].clone()),
            None => v.clone(),
        }
    };
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten().map(resolve) {
                let name = p["name"].as_str().unwrap();
                if p["in"] == "path"
                    && ["keyspace", "namespace", "table", "collection", "column", "index"].contains(&name)
                {
                    let schema = resolve(&p["schema"]);
                    assert_eq!(schema["pattern"], "^[A-Za-z][A-Za-z0-9_]{0,47}$", "{method} {path} {{{name}}}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} identifier parameters found");
    let get = |path: &str| gw.get(path).header("x-cassandra-token", &t).send().unwrap();
    assert_error(get("/v2/schemas/keyspaces/0"), 400, "invalid keyspace name '0'");
    assert_error(get("/v2/namespaces/0/collections"), 400, "invalid keyspace name '0'");
    assert_error(get("/graphql/0?query=%7B__typename%7D"), 400, "invalid keyspace name '0'");

    // Transport problems are 4xx JSON, not GraphQL errors in a 200.
    let post = |ct: &str, body: &[u8]| {
        gw.post("/graphql-schema")
            .header("x-cassandra-token", &t)
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .unwrap()
    };
    assert_error(post("application/json", b"\x00"), 400, "not valid JSON");
    assert_error(post("application/json", b"{ keyspaces { name } }"), 400, "not valid JSON");
    assert_error(post("application/json", b"[]"), 400, "must be a JSON object");
    // Well-formed requests, declared either way, still run.
    for (ct, body) in [
        ("application/json", &br#"{"query":"{ keyspaces { name } }"}"#[..]),
        ("application/graphql", b"{ keyspaces { name } }"),
    ] {
        let (status, body) = json_of(post(ct, body));
        assert_eq!(status, 200, "{ct}: {body}");
        assert!(body["errors"].is_null(), "{ct}: {body}");
    }
}
