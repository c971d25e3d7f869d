//! The hosts: thin adapters that move data between Envoy and the decisions in
//! [`crate::edge`], each implementing [`crate::edge::Host`]. `wasm` is the
//! proxy-wasm build (the portable one, for Istio `WasmPlugin` and Envoy
//! Gateway); the native Envoy dynamic module is the `datagate-edge-native` crate.

#[cfg(target_arch = "wasm32")]
mod wasm;
