//! The request collection in `examples/` runs top to bottom against a real
//! gateway and every request succeeds: the examples cannot silently rot.

use crate::harness::{token, Gateway, Store};
use serde_json::Value;

#[test]
fn postman_collection_runs_green() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/datagate.postman_collection.json");
    let collection: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let gw = Gateway::start(Store::Sqlite);
    let tok = token("demo");
    let vars =
        |s: &str| s.replace("{{baseUrl}}", &gw.base).replace("{{token}}", &tok).replace("{{keyspace}}", "postman_demo");
    let http = reqwest::blocking::Client::new();
    for item in collection["item"].as_array().unwrap() {
        let name = item["name"].as_str().unwrap();
        let req = &item["request"];
        let url = vars(&format!(
            "{{{{baseUrl}}}}/{}",
            req["url"]["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect::<Vec<_>>().join("/")
        ));
        let method = reqwest::Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
        let mut r = http.request(method, url);
        for q in req["url"]["query"].as_array().into_iter().flatten() {
            r = r.query(&[(q["key"].as_str().unwrap(), q["value"].as_str().unwrap())]);
        }
        for h in req["header"].as_array().unwrap() {
            r = r.header(h["key"].as_str().unwrap(), vars(h["value"].as_str().unwrap()));
        }
        if let Some(raw) = req["body"]["raw"].as_str() {
            r = r.body(vars(raw));
        }
        let resp = r.send().unwrap();
        let status = resp.status();
        assert!(status.is_success(), "{name}: {status} {}", resp.text().unwrap_or_default());
    }
}
