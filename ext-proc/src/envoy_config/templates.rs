//! The templates the Envoy configs are rendered from (the files beside this
//! one, compiled in), and what both the config and the renderer read of them.

pub const BOOTSTRAP: &str = include_str!("templates/bootstrap.yaml");
pub const CLUSTERS: &str = include_str!("templates/clusters.yaml");
pub const HTTP_FILTERS: &str = include_str!("templates/http-filters.yaml");
pub const EDGE_WASM: &str = include_str!("templates/edge-wasm.yaml");
pub const ROUTES: &str = include_str!("templates/routes.yaml");
pub const APP_ROUTE_FILTERS: &str = include_str!("templates/app-route-filters.yaml");

/// The shipped edge filter configuration (the JSON of http-filters.yaml).
pub fn default_edge_config() -> String {
    let mut lines = Vec::new();
    let mut block_indent: Option<usize> = None;
    for line in HTTP_FILTERS.lines() {
        let indent = line.len() - line.trim_start().len();
        match block_indent {
            Some(outer) if indent > outer => lines.push(line.trim_start()),
            Some(_) => break,
            None if line.trim_end().ends_with("value: |") => block_indent = Some(indent),
            None => {}
        }
    }
    lines.join("\n")
}
