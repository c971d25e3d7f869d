//! Safe handles over Envoy's side of a stream, a filter configuration and a
//! scheduler: [`crate::envoy`]'s traits implemented with the callbacks in
//! [`super::abi`].

use super::abi::*;
use crate::envoy::{ConfigEnvoy, HeaderCopy, LogLevel, SchedulerEnvoy, StreamEnvoy};
use std::ffi::c_void;

thread_local! {
    /// Each worker's buffer for the entries `get_headers` writes.
    static RAW_HEADERS: std::cell::Cell<Vec<EnvoyHttpHeader>> = const { std::cell::Cell::new(Vec::new()) };
}

// ------------------------------ handles ------------------------------

/// Envoy's side of one HTTP stream's filter, valid for the hook it was passed to.
pub(super) struct FilterHandle(pub(super) *mut c_void);

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
pub(super) struct ConfigHandle(pub(super) *mut c_void);

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
pub(super) struct Scheduler(*mut c_void);

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

/// The HTTP status and body of a finished callout.
pub(super) fn callout_response(
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
