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

#![allow(unsafe_code)]

use crate::envoy::{ConfigEnvoy, HeaderCopy, LogLevel, SchedulerEnvoy, Status, StreamEnvoy};
use crate::module::{self, Module, Stream};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The ABI version this module was written against; Envoy 1.40 logs "matched".
const ABI_VERSION: &[u8] = b"v0.2.0\0";

// ------------------------------- types -------------------------------

/// A buffer Envoy owns (valid for the hook it was passed to).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EnvoyBuffer {
    ptr: *const u8,
    length: usize,
}

/// A buffer the module owns, lent to Envoy for one call.
#[repr(C)]
#[derive(Clone, Copy)]
struct ModuleBuffer {
    ptr: *const u8,
    length: usize,
}

impl ModuleBuffer {
    fn of(s: &[u8]) -> ModuleBuffer {
        ModuleBuffer { ptr: s.as_ptr(), length: s.len() }
    }
    const NULL: ModuleBuffer = ModuleBuffer { ptr: std::ptr::null(), length: 0 };
}

/// A header the module owns.
#[repr(C)]
struct ModuleHttpHeader {
    key_ptr: *const u8,
    key_length: usize,
    value_ptr: *const u8,
    value_length: usize,
}

impl ModuleHttpHeader {
    fn of(key: &str, value: &str) -> ModuleHttpHeader {
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
pub struct EnvoyHttpHeader {
    key_ptr: *const u8,
    key_length: usize,
    value_ptr: *const u8,
    value_length: usize,
}

impl EnvoyHttpHeader {
    const EMPTY: EnvoyHttpHeader =
        EnvoyHttpHeader { key_ptr: std::ptr::null(), key_length: 0, value_ptr: std::ptr::null(), value_length: 0 };
}

thread_local! {
    /// Each worker's buffer for the entries `get_headers` writes.
    static RAW_HEADERS: std::cell::Cell<Vec<EnvoyHttpHeader>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `envoy_dynamic_module_type_http_header_type`.
const REQUEST_HEADER: u32 = 0;
const RESPONSE_HEADER: u32 = 2;
/// `..._http_callout_init_result_Success` and `..._http_callout_result_Success`.
const CALLOUT_SUCCESS: u32 = 0;
/// `..._metrics_result_Success`.
const METRICS_SUCCESS: u32 = 0;
/// `..._on_http_filter_*_status_Continue` / `_StopIteration` (headers).
const CONTINUE: u32 = 0;
const STOP_ITERATION: u32 = 1;

fn status(s: Status) -> u32 {
    match s {
        Status::Continue => CONTINUE,
        Status::Stop => STOP_ITERATION,
    }
}

/// `envoy_dynamic_module_type_log_level_*`.
fn level(l: LogLevel) -> u32 {
    match l {
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

// ----------------------------- callbacks -----------------------------

extern "C" {
    fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, header_type: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        header_type: u32,
        result: *mut EnvoyHttpHeader,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_set_header(
        filter: *mut c_void,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_add_header(
        filter: *mut c_void,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status: u32,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    fn envoy_dynamic_module_callback_http_set_filter_state_bytes(
        filter: *mut c_void,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_continue_decoding(filter: *mut c_void);
    fn envoy_dynamic_module_callback_http_filter_http_callout(
        filter: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: *mut c_void,
        id: usize,
        labels: *const ModuleBuffer,
        labels_size: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        labels: *const ModuleBuffer,
        labels_size: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: *mut c_void,
        id: usize,
        labels: *const ModuleBuffer,
        labels_size: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(config: *mut c_void) -> *mut c_void;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(scheduler: *mut c_void, event_id: u64);
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(scheduler: *mut c_void);
}

/// Logs through Envoy's logger (component `dynamic_modules`).
fn log(l: LogLevel, message: &str) {
    // SAFETY: the buffer is valid for the call; Envoy copies what it logs.
    unsafe { envoy_dynamic_module_callback_log(level(l), ModuleBuffer::of(message.as_bytes())) }
}

// ------------------------------ handles ------------------------------

/// Envoy's side of one HTTP stream's filter, valid for the hook it was passed to.
struct FilterHandle(*mut c_void);

impl FilterHandle {
    /// Sets (replaces) a header; `None` removes it.
    fn set_header(&self, header_type: u32, name: &str, value: Option<&str>) {
        let value = value.map_or(ModuleBuffer::NULL, |v| ModuleBuffer::of(v.as_bytes()));
        // SAFETY: the filter pointer is live for this hook; the buffers for this call.
        unsafe {
            envoy_dynamic_module_callback_http_set_header(self.0, header_type, ModuleBuffer::of(name.as_bytes()), value)
        };
    }
}

impl StreamEnvoy for FilterHandle {
    /// Every request header, copied (one call for the count, one for the headers).
    fn request_headers(&self, into: &mut HeaderCopy) {
        into.clear();
        // SAFETY: `self.0` is the filter pointer of the running hook.
        let count = unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.0, REQUEST_HEADER) };
        if count == 0 {
            return;
        }
        // The worker's entry buffer, reused; taken, so a re-entered hook gets its own.
        let mut raw = RAW_HEADERS.with(|r| r.take());
        raw.clear();
        raw.resize(count, EnvoyHttpHeader::EMPTY);
        // SAFETY: `raw` has room for the `count` entries Envoy writes.
        if unsafe { envoy_dynamic_module_callback_http_get_headers(self.0, REQUEST_HEADER, raw.as_mut_ptr()) } {
            for h in &raw {
                // SAFETY: Envoy filled each entry with pointers into its header map,
                // valid until the next set call; they are copied before any.
                let (key, value) = unsafe { (bytes(h.key_ptr, h.key_length), bytes(h.value_ptr, h.value_length)) };
                into.push(key, value);
            }
        }
        // No pointer into Envoy's map outlives this call.
        raw.clear();
        RAW_HEADERS.with(|r| r.set(raw));
    }

    fn remove_request_header(&self, name: &str) {
        self.set_header(REQUEST_HEADER, name, None);
    }

    fn set_request_header(&self, name: &str, value: &str) {
        self.set_header(REQUEST_HEADER, name, Some(value));
    }

    fn set_response_header(&self, name: &str, value: &str) {
        self.set_header(RESPONSE_HEADER, name, Some(value));
    }

    fn add_request_header(&self, name: &str, value: &str) {
        // SAFETY: as in `set_header`.
        unsafe {
            envoy_dynamic_module_callback_http_add_header(
                self.0,
                REQUEST_HEADER,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::of(value.as_bytes()),
            )
        };
    }

    fn send_response(&self, status: u32, headers: &[(&str, &str)], body: &[u8]) {
        let headers: Vec<ModuleHttpHeader> = headers.iter().map(|(k, v)| ModuleHttpHeader::of(k, v)).collect();
        // SAFETY: headers and body outlive the call; Envoy copies them.
        unsafe {
            envoy_dynamic_module_callback_http_send_response(
                self.0,
                status,
                headers.as_ptr(),
                headers.len(),
                ModuleBuffer::of(body),
                ModuleBuffer::of(b"datagate_edge"),
            )
        };
    }

    fn set_filter_state(&self, key: &str, value: &str) {
        // SAFETY: as in `set_header`; Envoy copies key and value.
        unsafe {
            envoy_dynamic_module_callback_http_set_filter_state_bytes(
                self.0,
                ModuleBuffer::of(key.as_bytes()),
                ModuleBuffer::of(value.as_bytes()),
            )
        };
    }

    fn increment_counter(&self, id: usize, value: u64) {
        // SAFETY: `id` came from `define_counter` on this filter's config.
        unsafe { envoy_dynamic_module_callback_http_filter_increment_counter(self.0, id, std::ptr::null(), 0, value) };
    }

    fn continue_decoding(&self) {
        // SAFETY: called from a hook of this stream, which was paused.
        unsafe { envoy_dynamic_module_callback_http_filter_continue_decoding(self.0) }
    }

    fn http_callout(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Option<u64> {
        let headers: Vec<ModuleHttpHeader> = headers.iter().map(|(k, v)| ModuleHttpHeader::of(k, v)).collect();
        let mut id = 0u64;
        // SAFETY: every buffer outlives the call; `id` is a valid out pointer.
        let r = unsafe {
            envoy_dynamic_module_callback_http_filter_http_callout(
                self.0,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                headers.as_ptr(),
                headers.len(),
                ModuleBuffer::NULL,
                timeout_ms,
            )
        };
        (r == CALLOUT_SUCCESS).then_some(id)
    }
}

/// Envoy's side of one filter configuration; lives until `config_destroy`,
/// and its callbacks may be called from any thread.
#[derive(Clone, Copy)]
struct ConfigHandle(*mut c_void);

// SAFETY: Envoy's filter config outlives the module's config object (destroyed
// first), and the callbacks used through it (counters, callouts on the main
// thread, scheduler creation) are safe to call from the threads that use them.
unsafe impl Send for ConfigHandle {}
// SAFETY: as above; the handle is a plain pointer Envoy synchronizes behind.
unsafe impl Sync for ConfigHandle {}

impl ConfigEnvoy for ConfigHandle {
    fn define_counter(&self, name: &str) -> Option<usize> {
        let mut id = 0usize;
        // SAFETY: called during config_new with a live config pointer.
        let r = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.0,
                ModuleBuffer::of(name.as_bytes()),
                std::ptr::null(),
                0,
                &mut id,
            )
        };
        (r == METRICS_SUCCESS).then_some(id)
    }

    fn increment_counter(&self, id: usize, value: u64) {
        // SAFETY: `id` came from `define_counter` on this config.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_increment_counter(self.0, id, std::ptr::null(), 0, value)
        };
    }

    fn http_callout(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Option<u64> {
        let headers: Vec<ModuleHttpHeader> = headers.iter().map(|(k, v)| ModuleHttpHeader::of(k, v)).collect();
        let mut id = 0u64;
        // SAFETY: every buffer outlives the call; `id` is a valid out pointer.
        let r = unsafe {
            envoy_dynamic_module_callback_http_filter_config_http_callout(
                self.0,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                headers.as_ptr(),
                headers.len(),
                ModuleBuffer::NULL,
                timeout_ms,
            )
        };
        (r == CALLOUT_SUCCESS).then_some(id)
    }

    fn scheduler(&self) -> Option<Box<dyn SchedulerEnvoy>> {
        // SAFETY: live config pointer.
        let ptr = unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_new(self.0) };
        (!ptr.is_null()).then(|| Box::new(Scheduler(ptr)) as Box<dyn SchedulerEnvoy>)
    }

    fn log(&self, level: LogLevel, message: &str) {
        log(level, message);
    }
}

/// Posts events to the main thread; may be used from any thread until dropped.
struct Scheduler(*mut c_void);

// SAFETY: Envoy's scheduler posts to the main dispatcher, which is thread-safe;
// the owner makes sure no commit races the delete in `Drop`.
unsafe impl Send for Scheduler {}

impl SchedulerEnvoy for Scheduler {
    fn commit(&self, event_id: u64) {
        // SAFETY: the scheduler is live until `Drop`.
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, event_id) }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // SAFETY: created by `scheduler_new`, deleted once.
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) }
    }
}

/// # Safety
/// `ptr` must point to `len` readable bytes (or `len` be 0).
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// The HTTP status and body of a finished callout.
fn callout_response(
    result: u32,
    headers: *const EnvoyHttpHeader,
    headers_size: usize,
    chunks: *const EnvoyBuffer,
    chunks_size: usize,
) -> (String, Vec<u8>) {
    if result != CALLOUT_SUCCESS {
        return (String::new(), Vec::new());
    }
    let mut status = String::new();
    // SAFETY: Envoy passes `headers_size` headers and `chunks_size` chunks, valid during the hook.
    let headers = unsafe { entries(headers, headers_size) };
    for h in headers {
        // SAFETY: pointers of a valid header entry.
        let key = unsafe { bytes(h.key_ptr, h.key_length) };
        if key == b":status" {
            // SAFETY: as above.
            status = String::from_utf8_lossy(unsafe { bytes(h.value_ptr, h.value_length) }).into_owned();
        }
    }
    let mut body = Vec::new();
    // SAFETY: as above.
    for c in unsafe { entries(chunks, chunks_size) } {
        // SAFETY: pointers of a valid chunk.
        body.extend_from_slice(unsafe { bytes(c.ptr, c.length) });
    }
    (status, body)
}

/// # Safety
/// `ptr` must point to `len` initialized entries (or `len` be 0).
unsafe fn entries<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

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
