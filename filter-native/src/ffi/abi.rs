//! The ABI's `#[repr(C)]` types and constants, the callbacks the `envoy`
//! binary exports (declarations only), and the raw-pointer readers the hooks
//! and handles share.

use crate::envoy::{LogLevel, Status};
use std::ffi::c_void;

// ------------------------------- types -------------------------------

/// A buffer Envoy owns (valid for the hook it was passed to).
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct EnvoyBuffer {
    pub(super) ptr: *const u8,
    pub(super) length: usize,
}

/// A buffer the module owns, lent to Envoy for one call.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct ModuleBuffer {
    pub(super) ptr: *const u8,
    pub(super) length: usize,
}

impl ModuleBuffer {
    pub(super) fn of(s: &[u8]) -> ModuleBuffer {
        ModuleBuffer { ptr: s.as_ptr(), length: s.len() }
    }
    pub(super) const NULL: ModuleBuffer = ModuleBuffer { ptr: std::ptr::null(), length: 0 };
}

/// A header the module owns.
#[repr(C)]
pub(super) struct ModuleHttpHeader {
    pub(super) key_ptr: *const u8,
    pub(super) key_length: usize,
    pub(super) value_ptr: *const u8,
    pub(super) value_length: usize,
}

impl ModuleHttpHeader {
    pub(super) fn of(key: &str, value: &str) -> ModuleHttpHeader {
        ModuleHttpHeader {
            key_ptr: key.as_ptr(),
            key_length: key.len(),
            value_ptr: value.as_ptr(),
            value_length: value.len(),
        }
    }
}

/// A header in one of Envoy's header maps.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct EnvoyHttpHeader {
    pub(super) key_ptr: *const u8,
    pub(super) key_length: usize,
    pub(super) value_ptr: *const u8,
    pub(super) value_length: usize,
}

impl EnvoyHttpHeader {
    pub(super) const EMPTY: EnvoyHttpHeader =
        EnvoyHttpHeader { key_ptr: std::ptr::null(), key_length: 0, value_ptr: std::ptr::null(), value_length: 0 };
}

/// `envoy_dynamic_module_type_http_header_type`.
pub(super) const REQUEST_HEADER: u32 = 0;
pub(super) const RESPONSE_HEADER: u32 = 2;
/// `..._http_callout_init_result_Success` and `..._http_callout_result_Success`.
pub(super) const CALLOUT_SUCCESS: u32 = 0;
/// `..._metrics_result_Success`.
pub(super) const METRICS_SUCCESS: u32 = 0;
/// `..._on_http_filter_*_status_Continue` / `_StopIteration` (headers).
pub(super) const CONTINUE: u32 = 0;
pub(super) const STOP_ITERATION: u32 = 1;

pub(super) fn status(s: Status) -> u32 {
    match s {
        Status::Continue => CONTINUE,
        Status::Stop => STOP_ITERATION,
    }
}

/// `envoy_dynamic_module_type_log_level_*`.
pub(super) fn level(l: LogLevel) -> u32 {
    match l {
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

// ----------------------------- callbacks -----------------------------

extern "C" {
    pub(super) fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    pub(super) fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, header_type: u32) -> usize;
    pub(super) fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        header_type: u32,
        result: *mut EnvoyHttpHeader,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_set_header(
        filter: *mut c_void,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_add_header(
        filter: *mut c_void,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status: u32,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    pub(super) fn envoy_dynamic_module_callback_http_set_filter_state_bytes(
        filter: *mut c_void,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_filter_continue_decoding(filter: *mut c_void);
    pub(super) fn envoy_dynamic_module_callback_http_filter_http_callout(
        filter: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: *mut c_void,
        id: usize,
        labels: *const ModuleBuffer,
        labels_size: usize,
        value: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        labels: *const ModuleBuffer,
        labels_size: usize,
        id: *mut usize,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: *mut c_void,
        id: usize,
        labels: *const ModuleBuffer,
        labels_size: usize,
        value: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(config: *mut c_void) -> *mut c_void;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
        scheduler: *mut c_void,
        event_id: u64,
    );
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(scheduler: *mut c_void);
}

/// Logs through Envoy's logger (component `dynamic_modules`).
pub(super) fn log(l: LogLevel, message: &str) {
    // SAFETY: the buffer is valid for the call; Envoy copies what it logs.
    unsafe { envoy_dynamic_module_callback_log(level(l), ModuleBuffer::of(message.as_bytes())) }
}

/// # Safety
/// `ptr` must point to `len` readable bytes (or `len` be 0).
pub(super) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// # Safety
/// `ptr` must point to `len` initialized entries (or `len` be 0).
pub(super) unsafe fn entries<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}
