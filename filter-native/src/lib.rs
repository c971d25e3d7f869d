//! Datagate's edge filter as an Envoy dynamic module (`libdatagate_edge.so`).
//!
//! The decisions are `datagate-filter`'s, the same the proxy-wasm build runs;
//! this crate is the second host: [`ffi`] binds the C ABI (the only `unsafe`
//! code, every hook under `catch_unwind`), [`module`] keeps the state one
//! Envoy process shares across its workers and implements
//! [`datagate_filter::Host`] over the ABI. A host call here is a function
//! call, not a VM crossing.

mod ffi;
mod module;
