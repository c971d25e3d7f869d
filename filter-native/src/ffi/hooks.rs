//! The event hooks Envoy calls (`#[no_mangle]`), each running its body under
//! `catch_unwind`, so no input can unwind into Envoy.

use super::abi::*;
use super::handles::{callout_response, ConfigHandle, FilterHandle};
use crate::envoy::{LogLevel, StreamEnvoy};
use crate::module::{self, Module, Stream};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The ABI version this module was written against; Envoy 1.40 logs "matched".
const ABI_VERSION: &[u8] = b"v0.2.0\0";

/// Runs a hook body; a panic is logged and answered with `fallback`.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    guard_with(|| fallback, body)
}

/// [`guard`] whose fallback does something (e.g. answers the request).
fn guard_with<T>(fallback: impl FnOnce() -> T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            log(LogLevel::Error, "datagate: the edge filter panicked; the hook was abandoned");
            fallback()
        }
    }
}

// ---------------------------- event hooks ----------------------------

/// Called by Envoy once, after loading the library: the ABI version (null would fail the load).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    guard(std::ptr::null(), || ABI_VERSION.as_ptr())
}

/// Parses and validates the JSON configuration; null (Envoy refuses the
/// config) when it is bad, after logging every problem.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: *mut c_void,
    _name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: Envoy passes the configuration bytes, valid during this hook.
        let bytes = unsafe { bytes(config.ptr, config.length) };
        match module::config_new(Box::new(ConfigHandle(config_envoy)), bytes) {
            Some(m) => Box::into_raw(Box::new(m)) as *const c_void,
            None => std::ptr::null(),
        }
    })
}

/// `module` is what `config_new` returned.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(module: *const c_void) {
    guard((), || {
        if !module.is_null() {
            // SAFETY: created by Box::into_raw in config_new; Envoy destroys it once.
            drop(unsafe { Box::from_raw(module as *mut Module) });
        }
    })
}

/// Borrows the module config Envoy hands back.
fn module_ref<'a>(module: *const c_void) -> Option<&'a Module> {
    // SAFETY: a pointer from config_new, live until config_destroy, which Envoy
    // calls only after every filter of the config is gone.
    unsafe { (module as *const Module).as_ref() }
}

/// Borrows a stream's state.
fn stream_mut<'a>(stream: *const c_void) -> Option<&'a mut Stream> {
    // SAFETY: a pointer from filter_new, used only on its own worker thread, one hook at a time.
    unsafe { (stream as *mut Stream).as_mut() }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    module: *const c_void,
    _filter: *mut c_void,
) -> *const c_void {
    guard(std::ptr::null(), || match module_ref(module) {
        Some(m) => Box::into_raw(Box::new(m.stream())) as *const c_void,
        None => std::ptr::null(),
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(stream: *const c_void) {
    guard((), || {
        if !stream.is_null() {
            // SAFETY: created by Box::into_raw in filter_new; destroyed once.
            drop(unsafe { Box::from_raw(stream as *mut Stream) });
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter: *mut c_void,
    stream: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    // A panic (a bug) must neither let an unauthenticated request through nor leave it hanging.
    let fail = || {
        let body = br#"{"description":"the edge filter failed on this request","code":500}"#;
        FilterHandle(filter).send_response(500, &[("content-type", "application/json")], body);
        STOP_ITERATION
    };
    guard_with(fail, || match stream_mut(stream) {
        Some(s) => status(s.on_request_headers(&FilterHandle(filter))),
        None => fail(),
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter: *mut c_void,
    stream: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    guard(CONTINUE, || {
        if let Some(s) = stream_mut(stream) {
            s.on_response_headers(&FilterHandle(filter));
        }
        CONTINUE
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    filter: *mut c_void,
    stream: *const c_void,
    _callout_id: u64,
    result: u32,
    headers: *const EnvoyHttpHeader,
    headers_size: usize,
    chunks: *const EnvoyBuffer,
    chunks_size: usize,
) {
    guard((), || {
        let (status, body) = callout_response(result, headers, headers_size, chunks, chunks_size);
        if let Some(s) = stream_mut(stream) {
            s.on_callout_done(&FilterHandle(filter), &status, &body);
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    _config_envoy: *mut c_void,
    module: *const c_void,
    _callout_id: u64,
    result: u32,
    headers: *const EnvoyHttpHeader,
    headers_size: usize,
    chunks: *const EnvoyBuffer,
    chunks_size: usize,
) {
    guard((), || {
        let (status, body) = callout_response(result, headers, headers_size, chunks, chunks_size);
        if let Some(m) = module_ref(module) {
            m.absorb(&status, &body);
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(
    _config_envoy: *mut c_void,
    module: *const c_void,
    _event_id: u64,
) {
    guard((), || {
        if let Some(m) = module_ref(module) {
            m.tick();
        }
    })
}

// Hooks Envoy requires but this filter does not use: continue, do nothing.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    _f: *mut c_void,
    _s: *const c_void,
    _eos: bool,
) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(_f: *mut c_void, _s: *const c_void) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _f: *mut c_void,
    _s: *const c_void,
    _eos: bool,
) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_f: *mut c_void, _s: *const c_void) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_f: *mut c_void, _s: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(_f: *mut c_void, _s: *const c_void, _event: u64) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _f: *mut c_void,
    _s: *const c_void,
    _stream_id: u64,
    _headers: *const EnvoyHttpHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _f: *mut c_void,
    _s: *const c_void,
    _stream_id: u64,
    _chunks: *const EnvoyBuffer,
    _chunks_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _f: *mut c_void,
    _s: *const c_void,
    _stream_id: u64,
    _trailers: *const EnvoyHttpHeader,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _f: *mut c_void,
    _s: *const c_void,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _f: *mut c_void,
    _s: *const c_void,
    _stream_id: u64,
    _reason: u32,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _f: *mut c_void,
    _s: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _f: *mut c_void,
    _s: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_headers(
    _c: *mut c_void,
    _m: *const c_void,
    _stream_id: u64,
    _headers: *const EnvoyHttpHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_data(
    _c: *mut c_void,
    _m: *const c_void,
    _stream_id: u64,
    _chunks: *const EnvoyBuffer,
    _chunks_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_trailers(
    _c: *mut c_void,
    _m: *const c_void,
    _stream_id: u64,
    _trailers: *const EnvoyHttpHeader,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_complete(
    _c: *mut c_void,
    _m: *const c_void,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_reset(
    _c: *mut c_void,
    _m: *const c_void,
    _stream_id: u64,
    _reason: u32,
) {
}
