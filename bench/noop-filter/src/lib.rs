//! A proxy-wasm HTTP filter that only says "continue": loaded by `bench/run`
//! beside the Datagate filter, it shows what entering and leaving the V8 VM
//! costs per request on its own, apart from what a filter does once inside.
//! Only meaningful on `wasm32`; elsewhere the crate is empty.

#![cfg(target_arch = "wasm32")]
// `proxy_wasm::main!` expands to the `#[no_mangle]` module entry point.
#![allow(unsafe_code)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl RootContext for Noop {
    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
}
