//! End-to-end tests: every request goes client → Envoy → Datagate edge filter
//! (.wasm) → ext_proc → `datagate` sidecar → SQLite or PostgreSQL, and back.
//! Each test reads like a user's curl session against a fresh gateway.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod algorithms;
mod auth;
mod beside_app;
mod data_path;
mod dataapi;
mod doc_indexes;
mod documents;
mod edge_errors;
mod errors;
mod examples;
mod fleet;
mod global_limit;
mod graphql;
mod hardening;
mod jwks;
mod lifecycle;
mod metering;
mod openapi;
mod probe;
mod ratelimit;
mod rows;
mod schema;
mod schemathesis;
mod tenancy;
mod transport;
