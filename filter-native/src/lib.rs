//! Datagate's edge filter as an Envoy dynamic module (`libdatagate_edge.so`).
//!
//! The decisions are `datagate-filter`'s, the same the proxy-wasm build runs;
//! this crate is the second host: [`ffi`] binds the C ABI (the only `unsafe`
//! code, every hook under `catch_unwind`) and implements [`envoy`]'s traits;
//! [`module`] keeps the state one Envoy process shares across its workers and
//! implements [`datagate_filter::Host`] over those traits, never touching the ABI. A host call here is a function
//! call, not a VM crossing.

mod envoy;
mod ffi;
mod module;
