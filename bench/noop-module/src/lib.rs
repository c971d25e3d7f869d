//! An Envoy dynamic module (ABI `v0.2.0`, Envoy 1.40) whose HTTP filter only
//! continues: bench/run's row 2d, the floor under the native edge filter (row
//! 3n) as the wasm filter that only continues (row 2c) is under row 3. Envoy
//! requires every `envoy_dynamic_module_on_http_filter_*` hook; each here
//! answers "continue" or does nothing. No state: the config and stream
//! pointers Envoy needs to be non-null point at a static byte.

// `#[no_mangle]` exports are what `unsafe_code` flags; this crate has no
// `unsafe` block (no pointer is ever read) and exists only to be loaded by Envoy.
#![allow(unsafe_code)]

use std::ffi::c_void;

/// Envoy compares this with its ABI version ("matched" in its log).
static ABI_VERSION: &[u8] = b"v0.2.0\0";
/// What the config and every stream point at.
static NOTHING: u8 = 0;
/// `envoy_dynamic_module_type_on_http_filter_*_status` Continue.
const CONTINUE: u32 = 0;

/// `envoy_dynamic_module_type_envoy_buffer`: bytes Envoy owns, lent for one hook.
#[repr(C)]
pub struct EnvoyBuffer {
    ptr: *const u8,
    length: usize,
}

fn nothing() -> *const c_void {
    std::ptr::addr_of!(NOTHING).cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    ABI_VERSION.as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _config_envoy: *mut c_void,
    _name: EnvoyBuffer,
    _config: EnvoyBuffer,
) -> *const c_void {
    nothing()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(_config: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    _config: *const c_void,
    _filter: *mut c_void,
) -> *const c_void {
    nothing()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(_stream: *const c_void) {}

/// Every header, body and trailer hook of either direction: continue.
macro_rules! continue_hooks {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name(_filter: *mut c_void, _stream: *const c_void $(, $arg: $ty)*) -> u32 {
            $(let _ = $arg;)*
            CONTINUE
        }
    )*};
}

continue_hooks! {
    envoy_dynamic_module_on_http_filter_request_headers(end_of_stream: bool);
    envoy_dynamic_module_on_http_filter_request_body(end_of_stream: bool);
    envoy_dynamic_module_on_http_filter_request_trailers();
    envoy_dynamic_module_on_http_filter_response_headers(end_of_stream: bool);
    envoy_dynamic_module_on_http_filter_response_body(end_of_stream: bool);
    envoy_dynamic_module_on_http_filter_response_trailers();
}

/// Every event hook Envoy requires but this filter never triggers: nothing.
macro_rules! empty_hooks {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($($arg: $ty),*) {
            $(let _ = $arg;)*
        }
    )*};
}

empty_hooks! {
    envoy_dynamic_module_on_http_filter_stream_complete(f: *mut c_void, s: *const c_void);
    envoy_dynamic_module_on_http_filter_scheduled(f: *mut c_void, s: *const c_void, event: u64);
    envoy_dynamic_module_on_http_filter_http_callout_done(
        f: *mut c_void, s: *const c_void, id: u64, result: u32, headers: *const c_void, headers_size: usize,
        chunks: *const c_void, chunks_size: usize);
    envoy_dynamic_module_on_http_filter_http_stream_headers(
        f: *mut c_void, s: *const c_void, id: u64, headers: *const c_void, size: usize, end_stream: bool);
    envoy_dynamic_module_on_http_filter_http_stream_data(
        f: *mut c_void, s: *const c_void, id: u64, chunks: *const c_void, size: usize, end_stream: bool);
    envoy_dynamic_module_on_http_filter_http_stream_trailers(
        f: *mut c_void, s: *const c_void, id: u64, trailers: *const c_void, size: usize);
    envoy_dynamic_module_on_http_filter_http_stream_complete(f: *mut c_void, s: *const c_void, id: u64);
    envoy_dynamic_module_on_http_filter_http_stream_reset(f: *mut c_void, s: *const c_void, id: u64, reason: u32);
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(f: *mut c_void, s: *const c_void);
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(f: *mut c_void, s: *const c_void);
}
