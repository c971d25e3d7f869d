//! The Datagate config `datagate envoy-config` renders from: listen ports,
//! sidecar endpoints, the filter build and the edge filter's own configuration
//! (JWKS or API keys, plans). Every field is optional; the defaults are the
//! profile's (they give the committed `envoy/gateway.yaml` and
//! `envoy/mesh-sidecar.yaml`). Validated up front, listing every problem.

use super::Profile;
use crate::listen::Listen;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// The shipped location of the proxy-wasm build (the include fragments name it).
pub const DEFAULT_WASM: &str = "target/wasm32-wasip1/release/datagate_filter.wasm";

/// `datagate.json` as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatagateConfig {
    /// Listener address [edge: 127.0.0.1, mesh: 0.0.0.0].
    pub bind_address: Option<String>,
    /// Listener port [edge: 8080, mesh: 15006].
    pub listen_port: Option<u16>,
    /// Admin port, always on 127.0.0.1 [edge: 9901, mesh: 15000].
    pub admin_port: Option<u16>,
    /// The sidecar replicas, each `unix:/path/to.sock` (a sidecar on this host)
    /// or `IP:PORT` [`unix:/tmp/datagate.sock`, the sidecar's default `--listen`].
    pub sidecars: Option<Vec<String>>,
    /// The edge filter build: `native` (dynamic module) or `wasm` [native].
    pub filter: Option<FilterBuild>,
    /// Where Envoy finds the proxy-wasm build.
    pub wasm_path: Option<String>,
    /// Largest request body, also the listener's buffer limit [1048576].
    pub max_body_bytes: Option<u64>,
    /// mesh: the application's port on 127.0.0.1 [8081].
    pub app_port: Option<u16>,
    /// How requests reach the sidecars: `upstream` (Envoy's router forwards the
    /// request to them like to any HTTP service) or `extProc` (Envoy's ext_proc
    /// filter asks them over gRPC and they answer in its place) [upstream].
    pub data_path: Option<DataPath>,
    /// The edge filter's configuration (tokenSources, jwks, apiKeys, plans...);
    /// absent: the development configuration with the `dev` key.
    pub edge: Option<serde_json::Value>,
    /// The edge filter's `rateLimit` (plans, tenants, costs), set into `edge`.
    pub rate_limit: Option<serde_json::Value>,
    /// The edge filter's `globalLimit` (one budget per tenant for the whole
    /// fleet, in the Redis the sidecars get with `datagate serve --redis`), set
    /// into `edge`; its `cluster` defaults to the sidecars' `datagate_ext_proc`.
    pub global_limit: Option<serde_json::Value>,
}

/// The Envoy cluster of the sidecars, which also serve the lease service.
pub const SIDECAR_CLUSTER: &str = "datagate_ext_proc";

/// Which build of the edge filter Envoy loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterBuild {
    /// The Envoy dynamic module `libdatagate_edge.so`.
    Native,
    /// The portable proxy-wasm build.
    Wasm,
}

impl FilterBuild {
    /// The name the rendered header and `DATAGATE_FILTER` use.
    pub fn name(self) -> &'static str {
        match self {
            FilterBuild::Native => "native",
            FilterBuild::Wasm => "wasm",
        }
    }
}

/// How Envoy hands a data request to the sidecars (both served on the same
/// listener, see `crate::upstream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DataPath {
    /// The router: the sidecar cluster as the routes' plain HTTP upstream. The
    /// default: no gRPC stream and protobuf round trip per request, so Envoy and
    /// the sidecar each spend less per request (README, Benchmarks).
    #[default]
    Upstream,
    /// The ext_proc filter: a gRPC stream per request, answered with an
    /// `ImmediateResponse` (what platforms that attach processors rather than
    /// routes, such as Envoy Gateway's `extProc`, offer).
    ExtProc,
}

/// A validated [`DatagateConfig`] with the profile's defaults filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: IpAddr,
    pub listen_port: u16,
    pub admin_port: u16,
    pub sidecars: Vec<Listen>,
    pub filter: FilterBuild,
    pub data_path: DataPath,
    pub wasm_path: String,
    pub max_body_bytes: u64,
    pub app_port: u16,
    /// The edge filter's JSON configuration, pretty-printed; `None`: the shipped one.
    pub edge: Option<String>,
}

/// Every problem found in a config, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ConfigErrors(pub Vec<String>);

impl DatagateConfig {
    /// Reads and parses a config file (`-` or `/dev/stdin` for standard input).
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text =
            std::fs::read(path).map_err(|e| ConfigErrors(vec![format!("cannot read {}: {e}", path.display())]))?;
        serde_json::from_slice(&text).map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))
    }

    /// Checks every field and fills in the profile's defaults.
    pub fn validate(self, profile: Profile) -> Result<Settings, ConfigErrors> {
        let mesh = profile == Profile::Mesh;
        let mut errors = Vec::new();
        let bind = match self.bind_address {
            None => IpAddr::from(if mesh { [0, 0, 0, 0] } else { [127, 0, 0, 1] }),
            Some(a) => a.parse().unwrap_or_else(|_| {
                errors.push(format!("bindAddress: '{a}' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"));
                IpAddr::from([127, 0, 0, 1])
            }),
        };
        let mut port = |field: &str, value: Option<u16>, default: u16| match value {
            Some(0) => {
                errors.push(format!("{field}: must be a port between 1 and 65535"));
                default
            }
            v => v.unwrap_or(default),
        };
        let listen_port = port("listenPort", self.listen_port, if mesh { 15006 } else { 8080 });
        let admin_port = port("adminPort", self.admin_port, if mesh { 15000 } else { 9901 });
        let app_port = port("appPort", self.app_port, 8081);
        if listen_port == admin_port {
            errors.push(format!("listenPort and adminPort: both are {listen_port}; give them different ports"));
        }
        let sidecars = self.sidecars.unwrap_or_else(|| vec![Listen::default().to_string()]);
        if sidecars.is_empty() {
            errors.push("sidecars: list at least one sidecar endpoint (unix:/path or IP:PORT)".into());
        }
        let sidecars = sidecars
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.parse::<Listen>() {
                Ok(Listen::Tcp(a)) if a.port() == 0 => {
                    errors.push(format!("sidecars[{i}]: '{s}' has port 0; give the port the sidecar listens on"));
                    None
                }
                Ok(l) => Some(l),
                Err(e) => {
                    errors.push(format!("sidecars[{i}]: {e}; the cluster is STATIC, so no host names"));
                    None
                }
            })
            .collect();
        let wasm_path = self.wasm_path.unwrap_or_else(|| DEFAULT_WASM.into());
        if wasm_path.is_empty() || wasm_path.chars().any(|c| c.is_control() || c == '|') {
            errors.push("wasmPath: give a file path without control characters or '|'".into());
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(1_048_576);
        if max_body_bytes == 0 || max_body_bytes > u64::from(u32::MAX) {
            errors.push(format!("maxBodyBytes: {max_body_bytes} is out of range (1 to {})", u32::MAX));
        }
        let mut edge = self.edge;
        if self.rate_limit.is_some() || self.global_limit.is_some() {
            let mut e = match edge.take() {
                Some(e) => e,
                None => serde_json::from_str(&super::templates::default_edge_config()).unwrap_or_default(),
            };
            if let (Some(rl), Some(obj)) = (self.rate_limit, e.as_object_mut()) {
                obj.insert("rateLimit".into(), rl);
            }
            if let (Some(mut g), Some(obj)) = (self.global_limit, e.as_object_mut()) {
                if let Some(g) = g.as_object_mut() {
                    g.entry("cluster").or_insert_with(|| SIDECAR_CLUSTER.into());
                }
                obj.insert("globalLimit".into(), g);
            }
            edge = Some(e);
        }
        let edge = edge.map(|edge| {
            if let Err(e) = datagate_filter::Config::from_json(edge.to_string().as_bytes()) {
                errors.extend(e.0.into_iter().map(|m| format!("edge: {m}")));
            }
            serde_json::to_string_pretty(&edge).unwrap_or_default()
        });
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Settings {
            bind,
            listen_port,
            admin_port,
            sidecars,
            filter: self.filter.unwrap_or(FilterBuild::Native),
            data_path: self.data_path.unwrap_or_default(),
            wasm_path,
            max_body_bytes,
            app_port,
            edge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> DatagateConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_follow_the_profile() {
        let edge = DatagateConfig::default().validate(Profile::Edge).unwrap();
        assert_eq!((edge.bind.to_string(), edge.listen_port, edge.admin_port), ("127.0.0.1".into(), 8080, 9901));
        let mesh = DatagateConfig::default().validate(Profile::Mesh).unwrap();
        assert_eq!((mesh.bind.to_string(), mesh.listen_port, mesh.admin_port), ("0.0.0.0".into(), 15006, 15000));
        assert_eq!(mesh.sidecars, vec![Listen::default()]);
    }

    #[test]
    fn every_problem_is_listed() {
        let c = parse(
            r#"{"bindAddress": "localhost", "listenPort": 9901, "adminPort": 9901, "sidecars": ["a:1", "127.0.0.1:0", "unix:"],
                "maxBodyBytes": 0, "wasmPath": "", "edge": {"tenantClaim": ""}}"#,
        );
        let errors = c.validate(Profile::Edge).unwrap_err().0;
        for field in [
            "bindAddress",
            "listenPort and adminPort",
            "sidecars[0]",
            "sidecars[1]",
            "sidecars[2]",
            "maxBodyBytes",
            "wasmPath",
            "edge: ",
        ] {
            assert!(errors.iter().any(|e| e.starts_with(field)), "{field} missing from {errors:?}");
        }
    }

    #[test]
    fn plans_and_global_limits_go_into_the_edge_config() {
        let c = parse(
            r#"{"rateLimit": {"plans": {"p": {"requestsPerSecond": 10, "burst": 20}}, "defaultPlan": "p"},
                "globalLimit": {"leaseSize": 5, "failureMode": "closed"}}"#,
        );
        let edge: serde_json::Value = serde_json::from_str(&c.validate(Profile::Edge).unwrap().edge.unwrap()).unwrap();
        assert_eq!(edge["globalLimit"]["cluster"], SIDECAR_CLUSTER);
        assert_eq!(edge["rateLimit"]["defaultPlan"], "p");
        assert_eq!(edge["tenantClaim"], "tenant", "the rest of the shipped config stays");
        let errors = parse(r#"{"globalLimit": {"leaseSize": 0}}"#).validate(Profile::Edge).unwrap_err().0;
        assert!(errors.iter().any(|e| e.contains("globalLimit.leaseSize")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("needs rateLimit")), "{errors:?}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<DatagateConfig>(r#"{"listen": 1}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `listen`"), "{e}");
        let e = serde_json::from_str::<DatagateConfig>(r#"{"filter": "lua"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}
