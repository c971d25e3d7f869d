//! The `upstream` data path (`"dataPath": "upstream"`, see `crate::upstream`):
//! the rendered configs with the sidecar cluster as the routes' plain HTTP
//! upstream instead of the ext_proc filter. Line edits over the ext_proc
//! render, so both paths share every other line (edge filter, mappers,
//! health checks, circuit breakers) and cannot drift apart.

use super::config::SIDECAR_CLUSTER;

/// The routes' answer when ext_proc was skipped (the templates' `direct_response`).
const SKIPPED: &str = "direct_response: {status: 503, body: {inline_string: \
                       '{\"description\":\"the Datagate sidecar did not answer this request\",\"code\":503}'}}";

/// The ext_proc render, rewritten for the upstream data path. Each edit is a
/// no-op on a text without its lines, so it applies to the bootstrap and to
/// every fragment alike.
pub fn upstream(text: &str) -> String {
    // The same 10 s as ext_proc's message_timeout: above the sidecar's own
    // storage timeout (5 s), so a slow store gets the sidecar's 504 JSON.
    let route = format!("route: {{cluster: {SIDECAR_CLUSTER}, timeout: 10s}}");
    let text = text
        .replace(SKIPPED, &route)
        .replace(
            "# Datagate gateway: client -> edge filter (native) -> ext_proc sidecar -> store.",
            "# Datagate gateway: client -> edge filter (native) -> sidecar (HTTP upstream) -> store.",
        )
        .replace(
            "# Datagate gateway: client -> edge filter (wasm) -> ext_proc sidecar -> store.",
            "# Datagate gateway: client -> edge filter (wasm) -> sidecar (HTTP upstream) -> store.",
        )
        .replace(
            "(they must come before a catch-all). The ext_proc sidecar answers every request\n\
             # on them; reaching the router means it was skipped, which must not look like success.",
            "(they must come before a catch-all). The router forwards them to the sidecars\n\
             # (\"dataPath\": \"upstream\"): no ext_proc filter.",
        )
        .replace(
            "# edge filter authenticates and tags the tenant, then ext_proc serves the data.",
            "# edge filter authenticates and tags the tenant, then the router forwards the\n\
             # request to the sidecars (\"dataPath\": \"upstream\": no ext_proc filter).",
        )
        // Reaching no sidecar (refused, reset, timed out, all ejected) gets the
        // same JSON 503 + Retry-After as ext_proc's failure to reach one.
        .replace(
            "expression: \"response.code_details.startsWith('ext_proc_error')\"",
            "expression: \"response.code_details.startsWith('ext_proc_error') || \
             response.code_details.startsWith('upstream_') || response.code_details == 'no_healthy_upstream'\"",
        );
    let mut out: Vec<String> = Vec::new();
    let mut skip_deeper_than: Option<usize> = None;
    let mut connect_added = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if !connect_added && line.trim_end().ends_with("mappers:") {
            out.push(line.to_owned());
            out.extend(connect_mapper(indent));
            connect_added = true;
            continue;
        }
        if let Some(outer) = skip_deeper_than {
            if indent > outer || line.trim().is_empty() {
                continue;
            }
            skip_deeper_than = None;
        }
        let trimmed = line.trim_start();
        // The ext_proc filter (a list item) and its per-route entry (a map key):
        // the whole block goes.
        if trimmed == "- name: envoy.filters.http.ext_proc" || trimmed == "envoy.filters.http.ext_proc:" {
            skip_deeper_than = Some(indent);
            continue;
        }
        if trimmed == "enforcing_consecutive_gateway_failure: 100" {
            // A sidecar's own 5xx (its store down, a storage timeout) is an answer,
            // not a dead replica: only transport failures eject over plain HTTP.
            let pad = " ".repeat(indent);
            out.push(format!(
                "{pad}# dataPath upstream: the sidecar's own 5xx answers (its store down) eject nothing."
            ));
            out.push(format!("{pad}enforcing_consecutive_gateway_failure: 0"));
            out.push(format!("{pad}enforcing_consecutive_5xx: 0"));
            continue;
        }
        out.push(line.to_owned());
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// A CONNECT matches no route (Envoy routes it by `connect_matcher` only,
/// and answers `upgrade_failed` to one routed anywhere without an upgrade
/// config): without ext_proc to refuse it first, its `route_not_found` reply
/// becomes the sidecar's own 405, text and `Allow` taken from the router.
fn connect_mapper(indent: usize) -> Vec<String> {
    let refusal = match crate::router::route::<&str>("CONNECT", &[]) {
        Err(e) => e.into_response(),
        Ok(_) => return Vec::new(),
    };
    let body: serde_json::Value = serde_json::from_slice(&refusal.body).unwrap_or_default();
    let description = body["description"].clone();
    let allow = refusal.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("allow")).map_or("", |(_, v)| v.as_str());
    let pad = " ".repeat(indent);
    vec![
        format!("{pad}# dataPath upstream: no route serves CONNECT (ext_proc refused it before routing)."),
        format!("{pad}- filter:"),
        format!("{pad}    extension_filter:"),
        format!("{pad}      name: envoy.access_loggers.extension_filters.cel"),
        format!("{pad}      typed_config:"),
        format!("{pad}        \"@type\": type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter"),
        format!("{pad}        expression: \"request.method == 'CONNECT'\""),
        format!("{pad}  status_code: {}", refusal.status),
        format!("{pad}  headers_to_add:"),
        format!("{pad}  - header: {{key: allow, value: \"{allow}\"}}"),
        format!("{pad}  body_format_override:"),
        format!("{pad}    json_format: {{description: {description}, code: {}}}", refusal.status),
        format!("{pad}    content_type: application/json"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy_config::templates::{APP_ROUTE_FILTERS, CLUSTERS, HTTP_FILTERS, ROUTES};

    #[test]
    fn routes_go_to_the_sidecars() {
        let out = upstream(ROUTES);
        assert!(!out.contains("direct_response"), "{out}");
        assert_eq!(out.matches("route: {cluster: datagate_ext_proc, timeout: 10s}").count(), 5);
        assert!(!out.contains("ext_proc sidecar answers"));
        assert!(out.starts_with("# Datagate's routes"), "the comments stay on top");
    }

    #[test]
    fn the_ext_proc_filter_and_its_route_entry_go() {
        let filters = upstream(HTTP_FILTERS);
        assert!(!filters.contains("envoy.filters.http.ext_proc") && !filters.contains("processing_mode"), "{filters}");
        assert!(!filters.contains("then ext_proc serves"), "{filters}");
        assert!(filters.contains("- name: datagate.edge") && filters.contains("\"tenantClaim\": \"tenant\""));
        let app = upstream(APP_ROUTE_FILTERS);
        assert!(!app.contains("envoy.filters.http.ext_proc") && app.contains("datagate.edge:"), "{app}");
        assert_eq!(app.matches("disabled: true").count(), 1);
    }

    #[test]
    fn connect_gets_the_sidecars_405() {
        let out = upstream(crate::envoy_config::templates::BOOTSTRAP);
        let at = out.find("request.method == 'CONNECT'").expect("a CONNECT mapper");
        assert!(at < out.find("request_payload_too_large").unwrap_or(usize::MAX), "first among the mappers");
        assert!(out.contains("status_code: 405") && out.contains("not a proxy"), "{out}");
        assert!(out.contains("value: \"GET, POST, PUT, PATCH, DELETE\""), "{out}");
    }

    #[test]
    fn only_transport_failures_eject() {
        let out = upstream(CLUSTERS);
        assert!(out.contains("enforcing_consecutive_gateway_failure: 0\n"));
        assert!(out.contains("enforcing_consecutive_5xx: 0\n"));
        assert!(out.contains("enforcing_consecutive_local_origin_failure: 100"));
    }
}
