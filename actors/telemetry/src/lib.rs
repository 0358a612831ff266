//! Self-monitoring for every Spider role.
//!
//! Owns: the small HTTP listener each role runs with `--metrics ADDR` (`GET /metrics` in the
//! Prometheus text format, readable with a bearer token; `GET /healthz`, open, saying whether the
//! process is ready and why not), the exposition writer ([`Exposition`]), latency histograms
//! ([`Histogram`]) and the process's own metrics (resident memory, CPU, open files).
//!
//! Must not: know what a role counts. Each role implements [`Source`] over its own counters; this
//! crate only renders and serves them. Metric names follow `spider_<subsystem>_<name>_<unit>`, and
//! no label takes an unbounded value (no hostnames, paths or addresses).

mod access;
mod exposition;
mod histogram;
pub mod process;
mod server;

pub use access::Access;
pub use exposition::{Exposition, Kind};
pub use histogram::{Histogram, LATENCY_BUCKETS};
pub use server::{serve, TelemetryError, TelemetryServer};

/// Whether a process is ready to do its work, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// One entry per thing the role depends on; the process is ready when all are ok.
    pub checks: Vec<Check>,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What is checked, e.g. `backend_connection` (a fixed name, not an address).
    pub name: &'static str,
    pub ok: bool,
    /// Why it is not ok (or a short state when it is).
    pub detail: String,
}

impl Health {
    /// Adds a check.
    pub fn check(mut self, name: &'static str, ok: bool, detail: impl Into<String>) -> Self {
        self.checks.push(Check {
            name,
            ok,
            detail: detail.into(),
        });
        self
    }

    /// True when every check passed.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|check| check.ok)
    }

    /// The JSON document `/healthz` answers.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": if self.ready() { "ready" } else { "not_ready" },
            "checks": self.checks.iter().map(|check| serde_json::json!({
                "name": check.name,
                "ok": check.ok,
                "detail": check.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Several sources served as one (families must not repeat across them); more can be added
/// while it is served, e.g. the roles `spider up` starts after its gateway.
#[derive(Clone, Default)]
pub struct Sources(std::sync::Arc<std::sync::RwLock<Vec<std::sync::Arc<dyn Source>>>>);

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map_or(0, |list| list.len());
        write!(f, "Sources({n})")
    }
}

impl Sources {
    /// Adds a source.
    pub fn push(&self, source: std::sync::Arc<dyn Source>) {
        if let Ok(mut list) = self.0.write() {
            list.push(source);
        }
    }

    fn list(&self) -> Vec<std::sync::Arc<dyn Source>> {
        self.0.read().map(|list| list.clone()).unwrap_or_default()
    }
}

impl Source for Sources {
    fn render(&self, out: &mut Exposition) {
        for source in self.list() {
            source.render(out);
        }
    }

    fn health(&self) -> Health {
        Health {
            checks: self
                .list()
                .iter()
                .flat_map(|source| source.health().checks)
                .collect(),
        }
    }
}

/// What a role exposes: its metrics and its readiness. Called on the listener's thread at every
/// scrape, so it must only read (atomics, short locks), never wait on the role's work.
pub trait Source: Send + Sync + 'static {
    /// Writes the role's metric families (the process metrics are added by the server).
    fn render(&self, out: &mut Exposition);
    /// Whether the role is ready.
    fn health(&self) -> Health;
}
