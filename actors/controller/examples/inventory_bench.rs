//! The inventory benchmark's measured process (issue 6): the Controller's inventory (the real
//! watchers on a current-thread runtime, as `spider controller` runs them) against an API server
//! given by a kubeconfig (`spider-kube-apiserver --synthetic-pods ...`, see
//! `loadtests/controller/bench.sh`).
//!
//! `inventory_bench KUBECONFIG CHURN_SECS LOOKUP_SECS` prints one JSON object: the time to the
//! first complete inventory (every kind listed), RSS then, peak and steady RSS (median of the
//! samples of the churn's second half), CPU seconds per minute of churn, inventory updates during
//! it, and IP → workload lookups a second (one thread, while churn goes on), with what the
//! inventory holds.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use spider_controller::inventory::ips::MINUTE_NS;
use spider_controller::inventory::watch::spawn_watchers;
use spider_controller::{now_ns, ControllerConfig, Inventory};

/// A field of `/proc/self/status`, in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of this process (clock ticks of 1/100 s, as on every Linux
/// configuration the project runs on).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; here, 11 and 12 after the state field.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kubeconfig), Some(churn_secs), Some(lookup_secs)) = (
        args.first().map(PathBuf::from),
        args.get(1).and_then(|a| a.parse::<u64>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: inventory_bench KUBECONFIG CHURN_SECS LOOKUP_SECS");
        std::process::exit(2);
    };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = ControllerConfig {
        kubeconfig: Some(kubeconfig),
        ..ControllerConfig::default()
    };
    let inventory = Inventory::new(config.internal_networks.clone(), config.ip_retention_ns());
    let client = runtime
        .block_on(config.client())
        .expect("kube client from the kubeconfig");
    let _guard = runtime.enter();
    let _watchers = spawn_watchers(&inventory, &client);
    runtime.block_on(inventory.wait_synced());
    let sync_secs = started.elapsed().as_secs_f64();
    let rss_synced_kb = status_kb("VmRSS:");
    let (pods, services, slices, workloads, nodes) = {
        let state = inventory.read();
        (
            state.pods.len(),
            state.services.len(),
            state.slices.len(),
            state.workloads.len(),
            state.nodes.len(),
        )
    };

    // Churn: the watchers follow the changes; sample RSS every second.
    let generation = *inventory.changes().borrow();
    let cpu_start = cpu_seconds();
    let churn_start = Instant::now();
    let mut samples = Vec::new();
    runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        let end = tokio::time::sleep(Duration::from_secs(churn_secs));
        tokio::pin!(end);
        loop {
            tokio::select! {
                _ = &mut end => break,
                _ = tick.tick() => samples.push(status_kb("VmRSS:")),
                _ = prune.tick() => inventory.update(|state| state.prune(now_ns())),
            }
        }
    });
    let churn_elapsed = churn_start.elapsed().as_secs_f64();
    let cpu_per_minute = (cpu_seconds() - cpu_start) / churn_elapsed * 60.0;
    let updates = *inventory.changes().borrow() - generation;
    let mut steady: Vec<u64> = samples[samples.len() / 2..].to_vec();
    let steady_kb = median(&mut steady);

    // Lookups: pod, service and node IPs and outside addresses, at the current minute,
    // from another thread while the watchers go on.
    let targets: Vec<IpAddr> = {
        let snapshot = inventory.snapshot();
        let mut ips: Vec<IpAddr> = snapshot.pods.iter().flat_map(|p| p.ips.clone()).collect();
        ips.extend(snapshot.services.iter().flat_map(|s| s.cluster_ips.clone()));
        ips.extend(snapshot.nodes.iter().flat_map(|n| n.addresses.clone()));
        ips.extend((0..500u32).map(|i| IpAddr::V4(Ipv4Addr::from(0x0808_0000 + i))));
        ips
    };
    let lookup_inventory = inventory.clone();
    let lookups = std::thread::spawn(move || {
        let now = now_ns() / MINUTE_NS * MINUTE_NS;
        let deadline = Instant::now() + Duration::from_secs(lookup_secs);
        let (mut count, mut known) = (0u64, 0u64);
        let mut by_class: std::collections::BTreeMap<String, u64> = Default::default();
        let started = Instant::now();
        while Instant::now() < deadline {
            for ip in &targets {
                let names = lookup_inventory.resolve(*ip, now);
                known += u64::from(names.workload.is_some());
                if count < targets.len() as u64 {
                    *by_class.entry(names.kind.unwrap_or_default()).or_default() += 1;
                }
                count += 1;
            }
        }
        (
            count as f64 / started.elapsed().as_secs_f64(),
            known,
            count,
            by_class,
        )
    });
    runtime.block_on(async {
        while !lookups.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let (lookups_per_second, known, count, by_class) = lookups.join().expect("lookup thread");
    println!(
        "{}",
        serde_json::json!({
            "sync_seconds": sync_secs,
            "rss_synced_mb": rss_synced_kb as f64 / 1024.0,
            "rss_peak_mb": status_kb("VmHWM:") as f64 / 1024.0,
            "rss_steady_mb": steady_kb as f64 / 1024.0,
            "rss_end_mb": status_kb("VmRSS:") as f64 / 1024.0,
            "cpu_seconds_per_churn_minute": cpu_per_minute,
            "churn_seconds": churn_elapsed,
            "inventory_updates": updates,
            "lookups_per_second": lookups_per_second,
            "lookups_named": known as f64 / count.max(1) as f64,
            "lookup_targets_by_kind": by_class,
            "pods": pods, "services": services, "endpoint_slices": slices,
            "workloads": workloads, "nodes": nodes,
        })
    );
}
