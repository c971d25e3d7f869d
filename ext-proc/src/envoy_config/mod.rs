//! `datagate envoy-config` and `datagate check-config`: the Envoy bootstrap
//! (edge or mesh profile) or the include fragments, rendered from one small
//! Datagate config, so nobody hand-edits Envoy YAML. The committed
//! `envoy/gateway.yaml`, `envoy/mesh-sidecar.yaml` and `envoy/fragments/*` are
//! this module's output with the default config (`envoy/render.sh`), and CI
//! (`scripts/validate-envoy.sh`) checks they are current.

pub mod check;
pub mod config;
pub mod data_path;
pub mod render;
pub mod templates;

pub use config::{ConfigErrors, DataPath, DatagateConfig, FilterBuild, Settings};

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The gateway at the edge: Datagate owns the listener (envoy/gateway.yaml).
    Edge,
    /// A pod sidecar behind a mesh or ingress, beside the application (envoy/mesh-sidecar.yaml).
    Mesh,
    /// The fragments to paste into an existing Envoy (envoy/fragments/).
    Include,
}
