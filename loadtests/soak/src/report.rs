//! The soak's report: every sample as CSV, and a JSON summary with the verdict on memory (the
//! least-squares slope of each process's resident memory over the last half of the run, judged
//! on the whole RSS and on its anonymous part alike; the backend's on the level its anonymous
//! memory comes back to after each memtable flush, RocksDB's block cache (bounded, filling over
//! minutes) aside and checked against its bound).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::procs::{Memory, Sample};

/// What the run was.
#[derive(Debug)]
pub struct Run {
    pub duration: Duration,
    pub fraction: f64,
    pub target_rps: f64,
    pub churn: f64,
    pub requests: u64,
    pub request_errors: u64,
    pub gocipher: bool,
}

/// Growth over the last half that still counts as flat: this much, or 5% of the RSS.
const FLAT_BYTES: f64 = 4.0 * 1048576.0;
const FLAT_SHARE: f64 = 0.05;

/// The node's block caches together: 64 MiB for each of its 2 shards (`ShardConfig`).
const BACKEND_BLOCK_CACHE_CAP: f64 = 2.0 * 64.0 * 1048576.0;

/// The window of the backend's floors: longer than a memtable's fill-and-flush at the soak's
/// loads (20–40 s at 10k requests/s).
const FLOOR_WINDOW_SECONDS: f64 = 60.0;

/// Least-squares slope of (x, y).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

/// The verdict on one memory series.
struct Judged {
    flat: bool,
    json: serde_json::Value,
}

/// (seconds, bytes) of every sample.
fn series(samples: &[Sample], bytes: impl Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    samples
        .iter()
        .map(|s| (s.seconds, bytes(s) as f64))
        .collect()
}

/// The lowest value of each whole `window` of seconds (a run's last, partial window left out),
/// at the window's middle: the level a series that swings with its memtables' flushes comes
/// back to.
fn floors(series: &[(f64, f64)], window: f64, end: f64) -> Vec<(f64, f64)> {
    let mut lowest: std::collections::BTreeMap<u64, f64> = std::collections::BTreeMap::new();
    for &(seconds, value) in series {
        let slot = (seconds / window) as u64;
        if (slot + 1) as f64 * window > end {
            continue;
        }
        let low = lowest.entry(slot).or_insert(value);
        *low = low.min(value);
    }
    lowest
        .into_iter()
        .map(|(slot, low)| ((slot as f64 + 0.5) * window, low))
        .collect()
}

/// Judges `series`: flat when its least-squares growth over the points after `half` seconds
/// stays within [`FLAT_BYTES`] or [`FLAT_SHARE`] of its median there.
fn judge(series: &[(f64, f64)], half: f64) -> Judged {
    let last_half: Vec<(f64, f64)> = series.iter().copied().filter(|p| p.0 >= half).collect();
    let per_second = slope(&last_half);
    let values: Vec<f64> = last_half.iter().map(|p| p.1).collect();
    let median = percentile(&values, 0.5);
    let growth = per_second * half;
    let flat = growth <= FLAT_BYTES.max(FLAT_SHARE * median);
    Judged {
        flat,
        json: serde_json::json!({
            "first_mib": series.first().map_or(0.0, |p| p.1) / 1048576.0,
            "max_mib": series.iter().map(|p| p.1).fold(0.0, f64::max) / 1048576.0,
            "last_half_median_mib": median / 1048576.0,
            "last_mib": series.last().map_or(0.0, |p| p.1) / 1048576.0,
            "slope_last_half_mib_per_hour": per_second * 3600.0 / 1048576.0,
            "growth_over_last_half_mib": growth / 1048576.0,
            "flat": flat,
        }),
    }
}

/// Writes `samples.csv` and `report.json` into `dir`; returns the summary text.
pub fn write(dir: &Path, run: &Run, samples: &[Sample]) -> anyhow::Result<String> {
    let roles: Vec<&'static str> = samples
        .first()
        .map(|s| s.memory.iter().map(|(name, _)| *name).collect())
        .unwrap_or_default();
    let mut csv = String::from("seconds");
    for role in &roles {
        let _ = write!(csv, ",rss_{role}_bytes,anon_{role}_bytes");
    }
    csv.push_str(",requests,request_errors,frames_seen,frames_acked,frames_dropped,whisperer_buffer_bytes,backend_frames,backend_http,backend_refused,backend_in_flight,backend_storage_bytes,parse_events,memtables_bytes,block_cache_bytes,controller_usage_records,gocipher_dropped,query_ms,query_status\n");
    for s in samples {
        let _ = write!(csv, "{:.1}", s.seconds);
        for (_, memory) in &s.memory {
            let _ = write!(csv, ",{},{}", memory.rss, memory.anon);
        }
        let _ = writeln!(
            csv,
            ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{}",
            s.requests_sent,
            s.request_errors,
            s.whisperer_frames_seen,
            s.whisperer_frames_acked,
            s.whisperer_dropped_frames,
            s.whisperer_buffer_bytes,
            s.backend_frames_stored,
            s.backend_http_stored,
            s.backend_refused,
            s.backend_in_flight,
            s.backend_storage_bytes,
            s.backend_parse_events,
            s.backend_memtables_bytes,
            s.backend_block_cache_bytes,
            s.controller_usage_records,
            s.gocipher_dropped,
            s.query_ms,
            s.query_status
        );
    }
    std::fs::write(dir.join("samples.csv"), csv)?;

    let half = run.duration.as_secs_f64() / 2.0;
    let mut memory = Vec::new();
    let mut all_flat = true;
    for (index, role) in roles.iter().enumerate() {
        let memory_of = |s: &Sample| s.memory.get(index).map_or(Memory::default(), |m| m.1);
        let total = judge(&series(samples, |s| memory_of(s).rss), half);
        let anon = judge(&series(samples, |s| memory_of(s).anon), half);
        let mut flat = total.flat && anon.flat;
        let mut floor = serde_json::Value::Null;
        if *role == "backend" {
            // The node's memory swings with its memtables (bounded: the WAL is capped) and
            // climbs as its block cache fills (bounded: 64 MiB a shard) — minutes at this load.
            // What must not grow is the level it comes back to after each flush, the cache
            // aside.
            let outside_cache = series(samples, |s| {
                memory_of(s)
                    .anon
                    .saturating_sub(s.backend_block_cache_bytes as u64)
            });
            let floors = judge(
                &floors(
                    &outside_cache,
                    FLOOR_WINDOW_SECONDS,
                    run.duration.as_secs_f64(),
                ),
                half,
            );
            let block_cache_max = samples
                .iter()
                .map(|s| s.backend_block_cache_bytes)
                .fold(0.0, f64::max);
            flat = floors.flat && block_cache_max <= BACKEND_BLOCK_CACHE_CAP;
            floor = floors.json;
        }
        // The fixture API server is the load, not a role: reported, not judged.
        let judged = *role != "kube-apiserver";
        if judged {
            all_flat &= flat;
        }
        memory.push(serde_json::json!({
            "role": role,
            "flat": flat,
            "judged": judged,
            "rss": total.json,
            "anonymous": anon.json,
            "anonymous_floor_outside_block_cache": floor,
        }));
    }
    let last = samples.last();
    let latencies: Vec<f64> = samples.iter().map(|s| s.query_ms).collect();
    let failed_queries = samples.iter().filter(|s| s.query_status != 200).count();
    let seconds = run.duration.as_secs_f64().max(1.0);
    let report = serde_json::json!({
        "duration_seconds": seconds,
        "fraction": run.fraction,
        "target_requests_per_second": run.target_rps,
        "achieved_requests_per_second": run.requests as f64 / seconds,
        "request_errors": run.request_errors,
        "controller_churn_per_second": run.churn,
        "gocipher": run.gocipher,
        "samples": samples.len(),
        "memory": memory,
        "memory_flat": all_flat,
        "whisperer": {
            "frames_seen": last.map_or(0.0, |s| s.whisperer_frames_seen),
            "frames_acked": last.map_or(0.0, |s| s.whisperer_frames_acked),
            "frames_dropped": last.map_or(0.0, |s| s.whisperer_dropped_frames),
        },
        "backend": {
            "frames_stored": last.map_or(0.0, |s| s.backend_frames_stored),
            "http_stored": last.map_or(0.0, |s| s.backend_http_stored),
            "refused": last.map_or(0.0, |s| s.backend_refused),
            "parse_events": last.map_or(0.0, |s| s.backend_parse_events),
            "storage_bytes_last": last.map_or(0.0, |s| s.backend_storage_bytes),
        },
        "gocipher_dropped": last.map_or(0.0, |s| s.gocipher_dropped),
        "query_ms": {
            "p50": percentile(&latencies, 0.5),
            "p90": percentile(&latencies, 0.9),
            "max": latencies.iter().copied().fold(0.0, f64::max),
            "failed": failed_queries,
        },
    });
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write(dir.join("report.json"), &text)?;
    Ok(format!(
        "{text}\nverdict: memory {} (report in {})",
        if all_flat { "FLAT" } else { "GROWING" },
        dir.display()
    ))
}
