//! The Envoy dynamic-module ABI (`source/extensions/dynamic_modules/abi/abi.h`,
//! ABI `v0.2.0` in Envoy 1.40): the `#[repr(C)]` types, the callbacks Envoy
//! exports, the event hooks it calls, and safe handles over them. The only
//! module with `unsafe`; every hook runs its body under `catch_unwind`, so no
//! input can unwind into Envoy.
//!
//! Every callback declared here is exported by the pinned 1.40 binary (checked
//! with `nm -D`: the library has no undefined `envoy_*` symbol the binary lacks),
//! and every hook and callback the filter uses is exercised by the end-to-end
//! tests, which run each filter test against this build too: a signature drift
//! would fail them, not the load (Envoy only warns on an ABI version mismatch).
//!
//! `abi` holds the C types and the callback declarations, `handles` the safe
//! wrappers over them (implementing [`crate::envoy`]'s traits), `hooks` the
//! entry points Envoy calls.

#![allow(unsafe_code)]

mod abi;
mod handles;
mod hooks;
