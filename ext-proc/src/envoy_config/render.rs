//! Text rendering of the Envoy configs from the templates beside this file.
//! Plain line edits over YAML text, not a YAML model: the output keeps the
//! templates' comments and layout, so a user reading the committed
//! `envoy/gateway.yaml` sees the same explanations as the fragments.

use super::config::{DataPath, FilterBuild, Settings, DEFAULT_WASM};
use super::templates::{APP_ROUTE_FILTERS, BOOTSTRAP, CLUSTERS, EDGE_WASM, HTTP_FILTERS, ROUTES};
use super::Profile;
use crate::listen::Listen;

/// The endpoint the clusters template names (the default sidecar,
/// [`crate::listen::DEFAULT_SOCKET`]); replaced by each configured sidecar.
const TEMPLATE_SIDECAR: &str = "pipe: {path: /tmp/datagate.sock}";

/// The include fragments (file name, text) users paste into their own Envoy;
/// on the ext_proc data path and otherwise default settings they are the
/// templates unchanged (the templates carry ext_proc's lines, which the default
/// upstream data path removes: see [`super::data_path`]).
pub fn fragments(s: &Settings) -> Vec<(&'static str, String)> {
    let files = vec![
        ("app-route-filters.yaml", APP_ROUTE_FILTERS.to_owned()),
        ("clusters.yaml", sidecar_endpoints(CLUSTERS, s)),
        ("edge-wasm.yaml", wasm_path(EDGE_WASM, s)),
        ("http-filters.yaml", edge_config(HTTP_FILTERS, s)),
        ("routes.yaml", ROUTES.to_owned()),
    ];
    files.into_iter().map(|(name, text)| (name, data_path(text, s))).collect()
}

/// `text` for the configured data path (ext_proc: the templates' own).
fn data_path(text: String, s: &Settings) -> String {
    match s.data_path {
        DataPath::ExtProc => text,
        DataPath::Upstream => super::data_path::upstream(&text),
    }
}

/// The edge's refusal of the sidecar's gRPC services (ext_proc, health,
/// leases: `/envoy.…`, `/grpc.…`, `/datagate.…`), before the catch-all that,
/// on the `upstream` data path, forwards every other path to the sidecar's
/// listener: those services are Envoy's to call, never a client's (the
/// sidecar refuses a forwarded one too, see `crate::upstream::internal_only`).
/// No data path starts so. Not in the mesh profile, whose catch-all is the
/// application's, which may serve gRPC of its own.
const INTERNAL_SERVICES: &str = "              # The sidecar's gRPC services are Envoy's to call, not a client's.
              - match: {prefix: \"/envoy.\"}
                direct_response: {status: 404, body: {inline_string: '{\"description\":\"no API at this path\",\"code\":404}'}}
              - match: {prefix: \"/grpc.\"}
                direct_response: {status: 404, body: {inline_string: '{\"description\":\"no API at this path\",\"code\":404}'}}
              - match: {prefix: \"/datagate.\"}
                direct_response: {status: 404, body: {inline_string: '{\"description\":\"no API at this path\",\"code\":404}'}}
";

/// The whole Envoy bootstrap for the edge or mesh profile.
pub fn bootstrap(profile: Profile, s: &Settings) -> String {
    let mesh = profile == Profile::Mesh;
    let catch_all = if mesh {
        format!(
            "              - match: {{prefix: \"/\"}}\n                route: {{cluster: local_app}}\n{}",
            fragment("                ", APP_ROUTE_FILTERS)
        )
    } else {
        format!(
            "{INTERNAL_SERVICES}              - match: {{prefix: \"/\"}}\n                direct_response: {{status: 503, body: \
             {{inline_string: '{{\"description\":\"the Datagate sidecar did not answer this request\",\"code\":503}}'}}}}"
        )
    };
    let app_cluster = if mesh {
        format!(
            "  - name: local_app\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: local_app\n      \
             endpoints:\n      - lb_endpoints:\n        - endpoint:\n            address:\n              \
             socket_address: {{address: 127.0.0.1, port_value: {}}}",
            s.app_port
        )
    } else {
        String::new()
    };
    let filters = http_filters(s);
    let filters = fragment("          ", &filters);
    let filters = filters.replace(&format!("filename: {DEFAULT_WASM}"), &format!("filename: {}", s.wasm_path));
    let fields = [
        ("profile", (if mesh { "mesh" } else { "edge" }).to_owned()),
        ("filter", s.filter.name().to_owned()),
        ("admin", s.admin_port.to_string()),
        ("bind", s.bind.to_string()),
        ("listen", s.listen_port.to_string()),
        ("max_body", s.max_body_bytes.to_string()),
        ("remote_address", (!mesh).to_string()),
        // proxy-wasm prefixes the filter-state keys it sets.
        ("state_prefix", (if s.filter == FilterBuild::Wasm { "wasm." } else { "" }).to_owned()),
        ("routes", fragment("              ", ROUTES)),
        ("catch_all", catch_all),
        ("http_filters", filters),
        ("clusters", sidecar_endpoints(&fragment("  ", CLUSTERS), s)),
        ("app_cluster", app_cluster),
    ];
    data_path(fill(BOOTSTRAP, &fields), s)
}

/// Replaces each `${name}` of `template` with its value, in one pass (values are not rescanned).
fn fill(template: &str, fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}').and_then(|end| fields.iter().find(|(n, _)| *n == &after[..end]).map(|(_, v)| (end, v))) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A template's text without its top-level comment lines, each line indented;
/// no trailing newline (the bootstrap template has one after each block).
fn fragment(indent: &str, text: &str) -> String {
    let lines: Vec<String> = text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{indent}{l}")).collect();
    lines.join("\n").trim_end_matches('\n').to_owned()
}

/// The template's one `- endpoint:` block, repeated for each configured sidecar.
fn sidecar_endpoints(text: &str, s: &Settings) -> String {
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.contains("- endpoint:") {
            block = Some(vec![line]);
            continue;
        }
        match block.as_mut() {
            Some(b) if line.contains(TEMPLATE_SIDECAR) => {
                b.push(line);
                let b = b.join("\n");
                for sidecar in &s.sidecars {
                    let endpoint = match sidecar {
                        Listen::Unix(path) => format!("pipe: {{path: {}}}", yaml_scalar(&path.to_string_lossy())),
                        Listen::Tcp(a) => format!("socket_address: {{address: {}, port_value: {}}}", a.ip(), a.port()),
                    };
                    out.push(b.replacen(TEMPLATE_SIDECAR, &endpoint, 1));
                }
                block = None;
            }
            Some(b) => b.push(line),
            None => out.push(line.to_owned()),
        }
    }
    let mut text_out = out.join("\n");
    if text.ends_with('\n') {
        text_out.push('\n');
    }
    text_out
}

/// `text` as a YAML flow scalar: plain when that is safe, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn yaml_scalar(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        text.to_owned()
    } else {
        serde_json::Value::from(text).to_string()
    }
}

/// The HTTP filters fragment for the configured build: for wasm, its
/// dynamic-module lines ("@type" through `filter_config:`) become edge-wasm.yaml's.
fn http_filters(s: &Settings) -> String {
    let text = edge_config(HTTP_FILTERS, s);
    if s.filter == FilterBuild::Native {
        return text;
    }
    let head: Vec<&str> = EDGE_WASM.lines().filter(|l| !l.starts_with('#')).collect();
    let mut out = Vec::new();
    let mut skip = false;
    for line in text.lines() {
        if line.contains("dynamic_modules.v3.DynamicModuleFilter") {
            skip = true;
            out.extend(head.iter().copied());
        } else if skip {
            skip = !line.contains("filter_config:");
        } else {
            out.push(line);
        }
    }
    out.join("\n") + "\n"
}

fn wasm_path(text: &str, s: &Settings) -> String {
    text.replace(&format!("filename: {DEFAULT_WASM}"), &format!("filename: {}", s.wasm_path))
}

/// The edge filter's JSON under `value: |`, replaced by the configured one.
fn edge_config(text: &str, s: &Settings) -> String {
    match &s.edge {
        None => text.to_owned(),
        Some(json) => {
            let mut out = Vec::new();
            let mut block_indent: Option<usize> = None;
            for line in text.lines() {
                let indent = line.len() - line.trim_start().len();
                if let Some(outer) = block_indent {
                    if indent > outer && !line.trim().is_empty() {
                        continue;
                    }
                    block_indent = None;
                }
                out.push(line.to_owned());
                if line.trim_end().ends_with("value: |") {
                    block_indent = Some(indent);
                    let pad = " ".repeat(indent + 2);
                    out.extend(json.lines().map(|l| format!("{pad}{l}")));
                }
            }
            out.join("\n") + "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::DatagateConfig;
    use super::*;

    fn settings(profile: Profile, json: &str) -> Settings {
        serde_json::from_str::<DatagateConfig>(json).unwrap().validate(profile).unwrap()
    }

    #[test]
    fn ext_proc_fragments_are_the_templates() {
        let s = settings(Profile::Include, r#"{"dataPath": "extProc"}"#);
        for (name, text) in fragments(&s) {
            let template = match name {
                "clusters.yaml" => CLUSTERS,
                "http-filters.yaml" => HTTP_FILTERS,
                "edge-wasm.yaml" => EDGE_WASM,
                "routes.yaml" => ROUTES,
                _ => APP_ROUTE_FILTERS,
            };
            assert_eq!(text, template, "{name}");
        }
    }

    #[test]
    fn the_default_data_path_is_upstream() {
        let out = bootstrap(Profile::Edge, &settings(Profile::Edge, "{}"));
        assert!(!out.contains("envoy.filters.http.ext_proc"), "{out}");
        assert!(out.contains("route: {cluster: datagate_ext_proc, timeout: 10s}"), "{out}");
        for (name, text) in fragments(&settings(Profile::Include, "{}")) {
            assert!(!text.contains("envoy.filters.http.ext_proc"), "{name}");
        }
    }

    #[test]
    fn every_sidecar_gets_an_endpoint() {
        let s = settings(Profile::Edge, r#"{"sidecars": ["127.0.0.1:7001", "10.0.0.2:7002"]}"#);
        let out = bootstrap(Profile::Edge, &s);
        assert!(out.contains("socket_address: {address: 127.0.0.1, port_value: 7001}"));
        assert!(out.contains("socket_address: {address: 10.0.0.2, port_value: 7002}"));
        assert!(!out.contains("50051"));
        assert_eq!(out.matches("- endpoint:").count(), 2);
    }

    #[test]
    fn unix_and_tcp_sidecars_mix() {
        let s = settings(Profile::Edge, r#"{"sidecars": ["unix:/run/dg/a.sock", "10.0.0.2:7002"]}"#);
        let out = bootstrap(Profile::Edge, &s);
        assert!(out.contains("pipe: {path: /run/dg/a.sock}"), "{out}");
        assert!(out.contains("socket_address: {address: 10.0.0.2, port_value: 7002}"));
        assert!(!out.contains(crate::listen::DEFAULT_SOCKET));
        let odd = settings(Profile::Edge, r#"{"sidecars": ["unix:/tmp/a, b}.sock"]}"#);
        assert!(bootstrap(Profile::Edge, &odd).contains(r#"pipe: {path: "/tmp/a, b}.sock"}"#));
    }

    #[test]
    fn the_default_sidecar_is_the_default_socket() {
        assert_eq!(TEMPLATE_SIDECAR, format!("pipe: {{path: {}}}", crate::listen::DEFAULT_SOCKET));
        let out = bootstrap(Profile::Edge, &settings(Profile::Edge, "{}"));
        assert!(out.contains(TEMPLATE_SIDECAR) && !out.contains("50051"));
    }

    #[test]
    fn no_placeholder_is_left() {
        for profile in [Profile::Edge, Profile::Mesh] {
            for filter in ["native", "wasm"] {
                let out = bootstrap(profile, &settings(profile, &format!(r#"{{"filter": "{filter}"}}"#)));
                assert!(!out.contains("${"), "{profile:?} {filter}");
            }
        }
    }

    #[test]
    fn wasm_build_swaps_the_filter_lines_and_keeps_the_json() {
        let s = settings(Profile::Edge, r#"{"filter": "wasm", "wasmPath": "/opt/f.wasm"}"#);
        let out = bootstrap(Profile::Edge, &s);
        assert!(out.contains("filters.http.wasm.v3.Wasm") && out.contains("filename: /opt/f.wasm"));
        assert!(!out.contains("DynamicModuleFilter") && out.contains("\"tenantClaim\": \"tenant\""));
        assert!(out.contains("FILTER_STATE(wasm.datagate_tenant:PLAIN)"));
    }

    #[test]
    fn the_edge_block_replaces_the_dev_config() {
        let s = settings(
            Profile::Edge,
            r#"{"edge": {"jwks": {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}, "tenantClaim": "org"}}"#,
        );
        let out = bootstrap(Profile::Edge, &s);
        assert!(out.contains("\"tenantClaim\": \"org\"") && !out.contains("\"kid\": \"dev\""));
        assert!(out.contains("- name: envoy.filters.http.router"), "the next filter survives");
    }

    #[test]
    fn the_shipped_edge_config_is_valid() {
        datagate_filter::Config::from_json(crate::envoy_config::templates::default_edge_config().as_bytes()).unwrap();
    }
}
