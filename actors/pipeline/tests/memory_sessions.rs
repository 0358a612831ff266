//! One million SYN-only sessions stay within the session bound, and the evictions are counted.
#![allow(clippy::unwrap_used)]

mod common;

use common::{tcp_frame, HeapMeter};
use spider_decode::LinkType;
use spider_pipeline::{Analyzer, PipelineConfig};

#[global_allocator]
static HEAP: HeapMeter = HeapMeter;

const SESSIONS: u32 = 1_000_000;
const MAX_SESSIONS: usize = 100_000;
/// What `MAX_SESSIONS` tracked sessions may take (about 550 bytes each, measured), with room
/// for the index to grow.
const HEAP_BOUND: usize = 64 * 1024 * 1024;

#[test]
fn a_million_syn_only_sessions_stay_under_the_bound() {
    let mut config = PipelineConfig::default();
    config.tracker.max_sessions = MAX_SESSIONS;
    let mut analyzer = Analyzer::new(config);
    let mut frame = Vec::with_capacity(128);
    let mut records = 0u64;
    let before = HeapMeter::reset_peak();
    for i in 0..SESSIONS {
        let client = [10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
        tcp_frame(
            (client, 40_000),
            ([10, 0, 0, 1], 80),
            i,
            None,
            "S",
            b"",
            &mut frame,
        );
        analyzer.process_frame(LinkType::RAW, i64::from(i) * 1_000, &frame, 60, &mut |_| {
            records += 1
        });
    }
    let peak = HeapMeter::peak() - before;
    let stats = analyzer.stats();
    assert_eq!(stats.tracker.sessions_opened, u64::from(SESSIONS));
    assert_eq!(stats.tracker.live_sessions, MAX_SESSIONS as u64);
    assert_eq!(
        stats.tracker.sessions_evicted,
        u64::from(SESSIONS) - MAX_SESSIONS as u64,
        "every session cut by the limit is counted"
    );
    assert_eq!(
        records, stats.tracker.sessions_evicted,
        "each evicted session is reported"
    );
    assert!(
        peak < HEAP_BOUND,
        "peak heap {} MiB over the bound of {} MiB",
        peak >> 20,
        HEAP_BOUND >> 20
    );
    analyzer.finish(&mut |_| records += 1);
    assert_eq!(records, u64::from(SESSIONS));
}
