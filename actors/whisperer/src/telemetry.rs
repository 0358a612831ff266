//! The Whisperer's `/metrics` and `/healthz` (`spider-telemetry`): its counters, buffer depth and
//! state, read from the shared state at each scrape.

use std::sync::Arc;

use spider_telemetry::{Exposition, Health, Source};

use crate::{Shared, WhispererState};

/// The Whisperer as a telemetry source. Outlives the handle's `wait` (it holds the shared
/// state, not the threads).
#[derive(Debug, Clone)]
pub struct WhispererTelemetry(pub(crate) Arc<Shared>);

fn labelled<'a>(label: &'a str, rows: &[(&'a str, u64)]) -> Vec<([(&'a str, &'a str); 1], u64)> {
    rows.iter().map(|(v, n)| ([(label, *v)], *n)).collect()
}

fn counters(out: &mut Exposition, name: &str, help: &str, label: &str, rows: &[(&str, u64)]) {
    let samples = labelled(label, rows);
    let refs: Vec<(&[(&str, &str)], u64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
    out.counters(name, help, &refs);
}

impl Source for WhispererTelemetry {
    fn render(&self, out: &mut Exposition) {
        let status = self.0.status();
        let c = status.counters;
        counters(
            out,
            "spider_whisperer_frames_total",
            "Frames by stage: read from the ring or file, sealed in batches, acknowledged by the backend.",
            "stage",
            &[
                ("seen", c.packets_seen),
                ("sealed", c.frames_sealed),
                ("acked", c.frames_acked),
            ],
        );
        counters(
            out,
            "spider_whisperer_bytes_total",
            "Wire bytes of the frames read and of those acknowledged.",
            "stage",
            &[("seen", c.bytes_seen), ("acked", c.bytes_acked)],
        );
        counters(
            out,
            "spider_whisperer_batches_total",
            "Batches by stage: sealed, spilled to disk, pushed (resends included), resent, acknowledged.",
            "stage",
            &[
                ("sealed", c.batches_sealed),
                ("spilled", c.batches_spilled),
                ("pushed", c.pushes),
                ("resent", c.batches_resent),
                ("acked", c.batches_acked),
            ],
        );
        counters(
            out,
            "spider_whisperer_dropped_frames_total",
            "Frames not delivered, by cause: the kernel's ring full, the buffer full, a circuit breaker, left at stop, unsupported link type, empty ACKs skipped.",
            "cause",
            &[
                ("kernel", c.kernel_drops),
                ("buffer_full", c.own_drop_frames),
                ("limit", c.limit_drops),
                ("abandoned", c.abandoned_frames),
                ("unsupported", c.unsupported_frames),
                ("skipped_empty_ack", c.skipped_empty_acks),
            ],
        );
        counters(
            out,
            "spider_whisperer_dropped_batches_total",
            "Batches not delivered, by cause.",
            "cause",
            &[
                ("buffer_full", c.own_drop_batches),
                ("abandoned", c.abandoned_batches),
                ("spill_damaged", c.spill_lost_batches),
            ],
        );
        counters(
            out,
            "spider_whisperer_backend_events_total",
            "Connections to the backend made, failed or broken, and pushes it refused for a full disk.",
            "event",
            &[
                ("connected", c.connections),
                ("failed", c.connection_failures),
                ("refused_storage_full", c.refused_storage_full),
            ],
        );
        counters(
            out,
            "spider_whisperer_names_total",
            "Addresses asked of the Controller, names learnt, failed questions, addresses dropped (queue full).",
            "event",
            &[
                ("asked", c.names_asked),
                ("learnt", c.names_learnt),
                ("failed", c.name_failures),
                ("dropped", c.names_dropped),
            ],
        );
        out.counter(
            "spider_whisperer_sessions_closed_total",
            "Session records produced by the tracker.",
            c.sessions_closed,
        );
        let depth = status.depth;
        let samples = [
            ([("where", "memory")], depth.memory_bytes as f64),
            ([("where", "spill")], depth.spill_bytes as f64),
        ];
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_whisperer_buffer_bytes",
            "Bytes of batches not yet acknowledged, in memory and in the spill folder.",
            &refs,
        );
        let samples = [
            ([("where", "memory")], depth.memory_batches as f64),
            ([("where", "spill")], depth.spill_batches as f64),
        ];
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_whisperer_buffer_batches",
            "Batches not yet acknowledged, in memory and in the spill folder.",
            &refs,
        );
        out.gauge(
            "spider_whisperer_cpu_percent",
            "CPU of the Whisperer's threads over the last second, percent of one core.",
            f64::from(status.cpu_percent),
        );
        out.gauge(
            "spider_whisperer_breaker_open",
            "1 while a circuit breaker (throughput limit, CPU budget) drops frames.",
            if status.breaker_open { 1.0 } else { 0.0 },
        );
        let states = [
            WhispererState::Starting,
            WhispererState::Recording,
            WhispererState::Paused,
            WhispererState::ServerDown,
            WhispererState::InvalidConfig,
            WhispererState::Stopped,
            WhispererState::Failed,
        ];
        let samples: Vec<([(&str, &str); 1], f64)> = states
            .iter()
            .map(|state| {
                let value = if *state == status.state { 1.0 } else { 0.0 };
                ([("state", state_name(*state))], value)
            })
            .collect();
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_whisperer_state",
            "1 for the Whisperer's current state.",
            &refs,
        );
    }

    fn health(&self) -> Health {
        let status = self.0.status();
        let message = status.message.clone().unwrap_or_default();
        let (ok, detail) = match status.state {
            WhispererState::Recording | WhispererState::Paused => {
                (true, state_name(status.state).to_owned())
            }
            WhispererState::Starting => (false, "starting".to_owned()),
            WhispererState::ServerDown => (
                false,
                format!("the backend cannot be reached: batches are buffered ({message})"),
            ),
            WhispererState::InvalidConfig => (false, format!("a setting was refused: {message}")),
            WhispererState::Stopped => (false, format!("stopped {message}")),
            WhispererState::Failed => (false, format!("failed: {message}")),
        };
        Health::default().check("whisperer", ok, detail)
    }
}

fn state_name(state: WhispererState) -> &'static str {
    match state {
        WhispererState::Starting => "starting",
        WhispererState::Recording => "recording",
        WhispererState::Paused => "paused",
        WhispererState::ServerDown => "server_down",
        WhispererState::InvalidConfig => "invalid_config",
        WhispererState::Stopped => "stopped",
        WhispererState::Failed => "failed",
    }
}
