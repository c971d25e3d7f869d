//! The proxy-wasm adapter: reads the plugin configuration once, then hands each
//! request's headers to [`crate::auth`] and applies the decision. Nothing here
//! decides anything; it only moves data between Envoy and the pure logic.

// `proxy_wasm::main!` expands to the `#[no_mangle]` module entry point.
#![allow(unsafe_code)]

use crate::auth::{self, Outcome, Request, SUBJECT_HEADER, TENANT_HEADER};
use crate::config::Config;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    // Also installs a panic hook that logs instead of silently killing the VM.
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: LogLevel, message: &str) {
    // Logging failures have nowhere to be reported; dropping them is the only option.
    let _ = hostcalls::log(level, message);
}

/// Counters on Envoy's `/stats` as `wasmcustom.datagate.*`.
#[derive(Default)]
struct Metrics {
    ids: std::cell::RefCell<HashMap<String, u32>>,
}

impl Metrics {
    fn increment(&self, name: &str) {
        let mut ids = self.ids.borrow_mut();
        let id = match ids.get(name) {
            Some(id) => *id,
            None => match hostcalls::define_metric(MetricType::Counter, name) {
                Ok(id) => {
                    ids.insert(name.to_owned(), id);
                    id
                }
                Err(_) => return,
            },
        };
        let _ = hostcalls::increment_metric(id, 1);
    }
}

#[derive(Default)]
struct Root {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Config::from_json(&bytes) {
            Ok(cfg) => {
                self.config = Some(Rc::new(cfg));
                true
            }
            Err(e) => {
                // Returning false makes Envoy refuse the plugin (and `--mode validate` fail).
                log(LogLevel::Error, &e.to_string());
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(Edge {
            config,
            metrics: self.metrics.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Edge {
    config: Rc<Config>,
    metrics: Rc<Metrics>,
}

impl Context for Edge {}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (name, _) in self.get_http_request_headers() {
            if auth::is_identity_header(&name) {
                self.set_http_request_header(&name, None);
            }
        }
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_owned();
        let now = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let lookup = |name: &str| self.get_http_request_header(name);
        let decision = auth::authenticate(
            &self.config,
            &Request {
                path: &path,
                header: &lookup,
            },
            now,
        );
        match decision {
            Ok(Outcome::Public) => {
                self.metrics.increment("datagate.public");
                Action::Continue
            }
            Ok(Outcome::Authenticated(id)) => {
                self.set_http_request_header(TENANT_HEADER, Some(&id.tenant));
                if let Some(sub) = &id.subject {
                    self.set_http_request_header(SUBJECT_HEADER, Some(sub));
                }
                self.metrics.increment("datagate.allowed");
                Action::Continue
            }
            Err(rejection) => {
                self.metrics
                    .increment(&format!("datagate.rejected.{}", rejection.reason));
                let headers = rejection.headers();
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                self.send_http_response(rejection.status, headers, Some(&rejection.body()));
                Action::Pause
            }
        }
    }
}
