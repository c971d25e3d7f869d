//! Datagate edge filter.
//!
//! The decision logic (configuration, credential extraction, JWT verification,
//! tenant tagging, rejections) is plain Rust with no host calls, so it compiles
//! and is unit-tested natively. Only [`host`] touches proxy-wasm, and it exists
//! only when building for `wasm32`: the `cdylib` is a thin adapter.

pub mod apikey;
pub mod auth;
pub mod cache;
pub mod config;
pub mod headermap;
pub mod jwks;
pub mod ratelimit;
pub mod reject;
pub mod rules;

#[cfg(target_arch = "wasm32")]
mod host;

pub use auth::{authenticate, Identity, Request};
pub use cache::TokenCache;
pub use config::{Config, ConfigError};
pub use reject::Rejection;
