//! What the native host needs from Envoy, as traits: [`crate::ffi`] implements
//! them over the ABI and [`crate::module`] uses them, so the module never
//! depends on the bindings (and the bindings alone hold `unsafe`).

use datagate_filter::headermap::NOT_UTF8;

/// Envoy's log levels the module uses.
#[derive(Debug, Clone, Copy)]
pub enum LogLevel {
    Warn,
    Error,
}

/// What a request-headers hook tells Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Pass the request on.
    Continue,
    /// Hold it (it was answered, or it waits for a fetch).
    Stop,
}

/// One stream's filter, for the duration of a hook.
pub trait StreamEnvoy {
    /// Every request header, copied out of Envoy into `into` (cleared first).
    fn request_headers(&self, into: &mut HeaderCopy);
    fn remove_request_header(&self, name: &str);
    fn add_request_header(&self, name: &str, value: &str);
    /// Replaces every value of a request header with `value`.
    fn set_request_header(&self, name: &str, value: &str);
    fn set_response_header(&self, name: &str, value: &str);
    fn send_response(&self, status: u32, headers: &[(&str, &str)], body: &[u8]);
    fn set_filter_state(&self, key: &str, value: &str);
    fn increment_counter(&self, id: usize, value: u64);
    /// Resumes a request a hook stopped.
    fn continue_decoding(&self);
    /// Starts an HTTP call tied to this stream; its id, or `None` if Envoy refused it.
    fn http_callout(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Option<u64>;
}

/// A filter configuration: lives as long as the module's config object, usable from any thread.
pub trait ConfigEnvoy: Send + Sync {
    /// Defines a counter (only while the config is created); its id.
    fn define_counter(&self, name: &str) -> Option<usize>;
    fn increment_counter(&self, id: usize, value: u64);
    /// Starts an HTTP call from the main thread; its id, or `None` if Envoy refused it.
    fn http_callout(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Option<u64>;
    /// Something that runs the config's `scheduled` hook on the main thread.
    fn scheduler(&self) -> Option<Box<dyn SchedulerEnvoy>>;
    fn log(&self, level: LogLevel, message: &str);
}

/// Posts events to the main thread; usable from any thread until dropped.
pub trait SchedulerEnvoy: Send {
    fn commit(&self, event_id: u64);
}

/// Request headers copied out of Envoy (whose pointers die at the first header
/// change) into one buffer, reused from request to request.
#[derive(Debug, Default)]
pub struct HeaderCopy {
    text: String,
    spans: Vec<(usize, usize, usize)>,
}

impl HeaderCopy {
    /// Forgets the headers, keeping the memory.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Keeps one header; a value that is not UTF-8 as [`NOT_UTF8`] (so a forged
    /// identity header is still seen and stripped), a name that is not is skipped.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        let Ok(key) = std::str::from_utf8(key) else { return };
        let value = std::str::from_utf8(value).unwrap_or(NOT_UTF8);
        let start = self.text.len();
        self.text.push_str(key);
        let mid = self.text.len();
        self.text.push_str(value);
        self.spans.push((start, mid, self.text.len()));
    }

    /// The `(name, value)` pairs.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.spans
            .iter()
            .filter_map(|&(start, mid, end)| Some((self.text.get(start..mid)?, self.text.get(mid..end)?)))
            .collect()
    }
}
