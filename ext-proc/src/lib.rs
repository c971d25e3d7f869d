//! Datagate sidecar: an Envoy external-processing server that turns JSON data
//! requests into storage calls and answers with an `ImmediateResponse`.
//!
//! Layers, outermost first, imports pointing down only: [`server`] (tonic
//! stream loop) → [`processor`] (ext_proc phases) → [`service`] (routing,
//! limits, timeouts) → the translators, peers that never call each other:
//! [`api`] (REST, Documents), [`graphql`] and [`dataapi`] (request → engine
//! operation → JSON) → [`engine`] (typed row and schema operations, paging
//! cursors, the catalog and its invalidation) → [`store`] (plan → SQL with
//! bound values). Below the translators failures are a [`fault::Fault`];
//! [`error`] maps them to HTTP. Everything below [`processor`] is testable
//! without Envoy. Beside the floors, [`scope`] carries what the whole request
//! shares (its id, its tenant's [`admission`] share of the store's
//! connections, whether it was given up, its usage meter) down to the stores
//! without threading it through every call. [`usage`] turns each request's
//! counts into usage records, rollups, quotas and the usage endpoints;
//! [`admin`] serves the metrics.

#![forbid(unsafe_code)]

pub mod admin;
pub mod admission;
pub mod api;
pub mod bounded;
pub mod catalog;
pub mod change;
pub mod config;
pub mod dataapi;
pub mod decimal;
pub mod doc;
pub mod engine;
pub mod envoy_config;
pub mod error;
pub mod fastmap;
pub mod fault;
pub mod graphql;
pub mod health;
pub mod http;
pub mod json;
pub mod lease;
pub mod listen;
pub mod logs;
pub mod model;
pub mod plan;
pub mod processor;
pub mod rawjson;
pub mod router;
pub mod scope;
pub mod server;
pub mod service;
pub mod store;
pub mod token;
pub mod upstream;
pub mod usage;
pub mod value;
