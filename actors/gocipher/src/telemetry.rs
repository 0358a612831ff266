//! The Gocipher's `/metrics` and `/healthz` (`spider-telemetry`): records built, batches sent and
//! acknowledged, the buffer, drops by cause, what the kernel side could not count.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use spider_telemetry::{Exposition, Health, Source};

use crate::Counters;

/// The Gocipher as a telemetry source.
#[derive(Debug, Clone)]
pub struct GocipherTelemetry(pub(crate) Arc<Counters>);

impl Source for GocipherTelemetry {
    fn render(&self, out: &mut Exposition) {
        let c = &self.0;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        out.counter(
            "spider_gocipher_records_total",
            "Usage records built (one direction of one IP pair, protocol and port per bucket).",
            get(&c.records),
        );
        out.counter(
            "spider_gocipher_calls_total",
            "Send and receive calls counted by the kernel programs.",
            get(&c.calls),
        );
        out.counters(
            "spider_gocipher_batches_total",
            "Batches sent upstream and acknowledged.",
            &[
                (&[("stage", "sent")], get(&c.batches_sent)),
                (&[("stage", "acked")], get(&c.batches_acked)),
            ],
        );
        out.gauge(
            "spider_gocipher_buffered_records",
            "Records kept until the upstream acknowledges them.",
            get(&c.buffered_records) as f64,
        );
        out.counters(
            "spider_gocipher_dropped_total",
            "What was not counted or not delivered, by cause: records dropped with the buffer full, kernel flow entries evicted or not created, packets whose headers did not parse, UDP receives without a peer.",
            &[
                (&[("cause", "buffer_full")], get(&c.dropped_records)),
                (&[("cause", "flow_evicted")], get(&c.flow_evictions)),
                (&[("cause", "flow_not_created")], get(&c.flows_failed)),
                (&[("cause", "skb_unparsed")], get(&c.skb_unparsed)),
                (&[("cause", "recv_without_peer")], get(&c.recv_without_peer)),
            ],
        );
    }

    fn health(&self) -> Health {
        let c = &self.0;
        let sent = c.batches_sent.load(Ordering::Relaxed);
        let acked = c.batches_acked.load(Ordering::Relaxed);
        let buffered = c.buffered_records.load(Ordering::Relaxed);
        Health::default()
            .check("programs_attached", true, "counting".to_owned())
            .check(
                "upstream",
                sent == 0 || acked > 0,
                format!("{acked} of {sent} batches acknowledged, {buffered} records buffered"),
            )
    }
}
