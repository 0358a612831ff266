//! `/metrics`: the gateway's counters in the Prometheus text format (version 0.0.4).
//!
//! Requests are counted per route *pattern* (never a raw path: no unbounded label values).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bridge::BridgeStats;

/// Upper bounds of the request duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// API errors answered, by code (a fixed set: `bad_request`, `payload_too_large`, `timeout`, …):
/// the limits a request met are counted here.
static ERRORS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Counts one API error of `code`.
pub fn count_error(code: &'static str) {
    if let Ok(mut errors) = ERRORS.lock() {
        *errors.entry(code).or_default() += 1;
    }
}

/// The gateway's telemetry.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    durations: Mutex<BTreeMap<&'static str, Histogram>>,
    pub live_connections: std::sync::atomic::AtomicI64,
    pub live_messages: std::sync::atomic::AtomicU64,
}

/// The route pattern a path belongs to.
pub fn route_of(path: &str) -> &'static str {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return match path {
            "/metrics" => "metrics",
            _ => "ui",
        };
    };
    let first = rest.split('/').next().unwrap_or("");
    match first {
        "health" => "health",
        "http" if rest.ends_with("/har") || rest.contains("har") => "http_har",
        "http" => "http",
        "sessions" if rest.ends_with("/pcapng") => "session_pcapng",
        "sessions" => "sessions",
        "hosts" => "hosts",
        "packets" => "packets",
        "agents" => "agents",
        "schema" => "schema",
        "timeline" => "timeline",
        "extent" => "extent",
        "whisperers" => "whisperers",
        "usage" => "usage",
        "network-map" => "network_map",
        "query" => "query",
        "import" => "import",
        "live" => "live",
        "openapi.json" => "openapi",
        _ => "other",
    }
}

impl Metrics {
    pub fn observe(&self, path: &str, status: u16, elapsed: Duration) {
        let route = route_of(path);
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut durations) = self.durations.lock() {
            let histogram = durations.entry(route).or_default();
            let seconds = elapsed.as_secs_f64();
            for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *count += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// The exposition text.
    pub fn render(&self, bridge: &Arc<BridgeStats>) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP spider_gateway_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE spider_gateway_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "spider_gateway_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP spider_gateway_request_duration_seconds Time to answer an HTTP request, by route.\n");
        out.push_str("# TYPE spider_gateway_request_duration_seconds histogram\n");
        if let Ok(durations) = self.durations.lock() {
            for (route, histogram) in durations.iter() {
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "spider_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "spider_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(
                    out,
                    "spider_gateway_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    histogram.sum
                );
                let _ = writeln!(
                    out,
                    "spider_gateway_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    histogram.count
                );
            }
        }
        let counters = [
            (
                "spider_gateway_backend_calls_total",
                "Calls to the backend.",
                &bridge.calls,
            ),
            (
                "spider_gateway_backend_errors_total",
                "Calls to the backend that failed.",
                &bridge.errors,
            ),
            (
                "spider_gateway_backend_timeouts_total",
                "Calls to the backend that timed out.",
                &bridge.timeouts,
            ),
            (
                "spider_gateway_backend_connects_total",
                "Connection attempts to the backend.",
                &bridge.connects,
            ),
            (
                "spider_gateway_live_messages_total",
                "Messages sent on live WebSockets.",
                &self.live_messages,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP spider_gateway_live_connections Open live WebSockets.\n# TYPE spider_gateway_live_connections gauge\nspider_gateway_live_connections {}",
            self.live_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP spider_gateway_errors_total API errors answered, by code (limits met: bad_request for a page over 1000 or a query over 64 KiB, payload_too_large, timeout).\n# TYPE spider_gateway_errors_total counter\n");
        if let Ok(errors) = ERRORS.lock() {
            for (code, count) in errors.iter() {
                let _ = writeln!(
                    out,
                    "spider_gateway_errors_total{{code=\"{code}\"}} {count}"
                );
            }
        }
        // Resident memory, CPU, open files and threads of the process (spider-telemetry).
        let mut process = spider_telemetry::Exposition::new();
        spider_telemetry::process::render(&mut process);
        out.push_str(&process.finish());
        out
    }
}
