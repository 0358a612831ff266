//! The Controller's `/metrics` and `/healthz` (`spider-telemetry`): usage relayed, inventory
//! updates sent, the backend link, the inventory's size and its failing watches.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use spider_telemetry::{Exposition, Health, Source};

use crate::inventory::{Inventory, Kind};

/// Counters updated by the Controller's link and relay (per batch), read at each scrape.
#[derive(Debug, Default)]
pub struct ControllerStats {
    pub usage_batches: AtomicU64,
    pub usage_records: AtomicU64,
    /// Usage pushes that the backend did not take (the agent retries them).
    pub usage_failures: AtomicU64,
    pub inventory_updates: AtomicU64,
    pub backend_connects: AtomicU64,
    pub backend_link_failures: AtomicU64,
    pub backend_connected: AtomicBool,
}

impl ControllerStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The Controller as a telemetry source.
#[derive(Debug, Clone)]
pub struct ControllerTelemetry {
    pub stats: Arc<ControllerStats>,
    pub inventory: Inventory,
    /// False for a Controller without a backend (inventory only): the link is not checked.
    pub linked: bool,
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Source for ControllerTelemetry {
    fn render(&self, out: &mut Exposition) {
        let s = &self.stats;
        out.counter(
            "spider_controller_usage_batches_total",
            "Gociphers' usage batches relayed to the backend.",
            get(&s.usage_batches),
        );
        out.counter(
            "spider_controller_usage_records_total",
            "Usage records relayed (enriched) to the backend.",
            get(&s.usage_records),
        );
        out.counter(
            "spider_controller_usage_failures_total",
            "Usage pushes the backend did not take (the Gocipher keeps and resends them).",
            get(&s.usage_failures),
        );
        out.counter(
            "spider_controller_inventory_updates_total",
            "Inventory snapshots and deltas sent to the backend.",
            get(&s.inventory_updates),
        );
        out.counters(
            "spider_controller_backend_events_total",
            "Registrations with the backend, and links lost or refused.",
            &[
                (&[("event", "connected")], get(&s.backend_connects)),
                (&[("event", "failed")], get(&s.backend_link_failures)),
            ],
        );
        out.gauge(
            "spider_controller_backend_connected",
            "1 while the Controller is registered with the backend.",
            if s.backend_connected.load(Ordering::Relaxed) {
                1.0
            } else {
                0.0
            },
        );
        let sizes = {
            let state = self.inventory.read();
            [
                ("node", state.nodes.len()),
                ("namespace", state.namespaces.len()),
                ("pod", state.pods.len()),
                ("service", state.services.len()),
                ("endpoint_slice", state.slices.len()),
                ("workload", state.workloads.len()),
            ]
        };
        let samples: Vec<([(&str, &str); 1], f64)> = sizes
            .iter()
            .map(|(kind, n)| ([("kind", *kind)], *n as f64))
            .collect();
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_controller_inventory_objects",
            "Objects in the inventory, by kind.",
            &refs,
        );
        out.gauge(
            "spider_controller_watch_failing",
            "Kinds of Kubernetes objects whose watch is failing now.",
            self.inventory.errors().len() as f64,
        );
    }

    fn health(&self) -> Health {
        let errors = self.inventory.errors();
        let failing: Vec<String> = errors
            .iter()
            .map(|(kind, error)| format!("{}: {error}", kind_name(*kind)))
            .collect();
        let mut health = Health::default().check(
            "kubernetes_watches",
            failing.is_empty(),
            if failing.is_empty() {
                "every watch is current".to_owned()
            } else {
                failing.join("; ")
            },
        );
        if self.linked {
            let connected = self.stats.backend_connected.load(Ordering::Relaxed);
            health = health.check(
                "backend_link",
                connected,
                if connected {
                    "registered"
                } else {
                    "not registered with the backend: connecting again"
                },
            );
        }
        health
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Node => "node",
        Kind::Namespace => "namespace",
        Kind::Pod => "pod",
        Kind::Service => "service",
        Kind::EndpointSlice => "endpoint_slice",
        Kind::ReplicaSet => "replica_set",
        Kind::Deployment => "deployment",
        Kind::DaemonSet => "daemon_set",
        Kind::StatefulSet => "stateful_set",
        Kind::Job => "job",
        Kind::CronJob => "cron_job",
    }
}
