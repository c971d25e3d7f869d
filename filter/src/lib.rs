//! Datagate edge filter.
//!
//! The decision logic (configuration, credential extraction, JWT verification,
//! tenant tagging, rate limiting, rejections, metric names) is plain Rust with
//! no host calls, so it compiles and is unit-tested natively. The per-request
//! flow ([`edge`]) talks to Envoy only through the [`edge::Host`] trait; `host`
//! holds the proxy-wasm adapter (built only for `wasm32`), and the native
//! dynamic module (crate `datagate-edge-native`) is the second adapter.

pub mod apikey;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod edge;
pub mod global;
pub mod headermap;
pub mod identity;
pub mod jwks;
pub mod metrics;
pub mod ratelimit;
pub mod reject;
pub mod rules;
pub mod shared;
pub mod target;

mod host;

pub use auth::{authenticate, authenticate_with, Request, TokenStore};
pub use cache::TokenCache;
pub use clock::Clock;
pub use config::{Config, ConfigError};
pub use edge::{Exchange, Host, KeyRefresh, Verdict};
pub use identity::Identity;
pub use reject::Rejection;
