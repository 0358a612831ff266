//! Collectors over fast fields: the timeline histogram and the network map's edges.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Counts per bucket: `[1xx, 2xx, 3xx, 4xx, 5xx, none]`.
pub(crate) type TimelineCounts = Vec<[u64; 6]>;

/// The status class slot of a status (`5` for none).
pub(crate) fn class_slot(status: Option<u64>) -> usize {
    match status {
        None => 5,
        Some(s) => usize::try_from((s / 100).clamp(1, 5) - 1).unwrap_or(4),
    }
}

pub(crate) struct TimelineCollector {
    pub from: i64,
    pub bucket_ns: i64,
    pub buckets: usize,
}

pub(crate) struct TimelineSegment {
    from: i64,
    bucket_ns: i64,
    time: Column<i64>,
    status: Column<u64>,
    counts: TimelineCounts,
}

impl Collector for TimelineCollector {
    type Fruit = TimelineCounts;
    type Child = TimelineSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<TimelineSegment> {
        let fast = segment.fast_fields();
        Ok(TimelineSegment {
            from: self.from,
            bucket_ns: self.bucket_ns.max(1),
            time: fast.i64("time")?,
            status: fast.u64("status")?,
            counts: vec![[0; 6]; self.buckets],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<TimelineCounts>) -> tantivy::Result<TimelineCounts> {
        let mut total = vec![[0u64; 6]; self.buckets];
        for fruit in fruits {
            add_counts(&mut total, &fruit);
        }
        Ok(total)
    }
}

pub(crate) fn add_counts(total: &mut TimelineCounts, more: &TimelineCounts) {
    for (sum, part) in total.iter_mut().zip(more) {
        for (s, p) in sum.iter_mut().zip(part) {
            *s += p;
        }
    }
}

impl SegmentCollector for TimelineSegment {
    type Fruit = TimelineCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(time) = self.time.first(doc) else {
            return;
        };
        let Ok(bucket) = usize::try_from(time.saturating_sub(self.from) / self.bucket_ns) else {
            return;
        };
        if let Some(slot) = self.counts.get_mut(bucket) {
            slot[class_slot(self.status.first(doc))] += 1;
        }
    }

    fn harvest(self) -> TimelineCounts {
        self.counts
    }
}

/// One client → server edge of the map, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EdgeSums {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub no_response: u64,
    pub latency_sum_ns: i128,
    pub latency_count: u64,
}

impl EdgeSums {
    pub fn add(&mut self, status: Option<u64>, duration: Option<i64>) {
        self.requests += 1;
        match class_slot(status) {
            3 => self.client_errors += 1,
            4 => self.server_errors += 1,
            5 => self.no_response += 1,
            _ => {}
        }
        if let Some(duration) = duration {
            self.latency_sum_ns += i128::from(duration);
            self.latency_count += 1;
        }
    }

    pub fn merge(&mut self, other: &EdgeSums) {
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.no_response += other.no_response;
        self.latency_sum_ns += other.latency_sum_ns;
        self.latency_count += other.latency_count;
    }
}

pub(crate) type MapCounts = HashMap<(Ipv6Addr, Ipv6Addr), EdgeSums>;

pub(crate) struct MapCollector;

pub(crate) struct MapSegment {
    client: Column<Ipv6Addr>,
    server: Column<Ipv6Addr>,
    status: Column<u64>,
    duration: Column<i64>,
    edges: MapCounts,
}

impl Collector for MapCollector {
    type Fruit = MapCounts;
    type Child = MapSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<MapSegment> {
        let fast = segment.fast_fields();
        Ok(MapSegment {
            client: fast.ip_addr("client_ip")?,
            server: fast.ip_addr("server_ip")?,
            status: fast.u64("status")?,
            duration: fast.i64("duration")?,
            edges: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<MapCounts>) -> tantivy::Result<MapCounts> {
        let mut total = MapCounts::new();
        for fruit in fruits {
            merge_maps(&mut total, fruit);
        }
        Ok(total)
    }
}

pub(crate) fn merge_maps(total: &mut MapCounts, more: MapCounts) {
    for (edge, sums) in more {
        total.entry(edge).or_default().merge(&sums);
    }
}

impl SegmentCollector for MapSegment {
    type Fruit = MapCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        let (Some(client), Some(server)) = (self.client.first(doc), self.server.first(doc)) else {
            return;
        };
        self.edges
            .entry((client, server))
            .or_default()
            .add(self.status.first(doc), self.duration.first(doc));
    }

    fn harvest(self) -> MapCounts {
        self.edges
    }
}
