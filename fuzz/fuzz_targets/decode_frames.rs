//! The whole decode path, from raw frame bytes to records: link layers, IP defragmentation, TCP
//! tracking and reassembly, HTTP, DNS and TLS parsing.
//!
//! Input: a link-type byte, then frames, each as a 2-byte big-endian length and its bytes; every
//! frame gets a timestamp 1 ms after the previous one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spider_decode::LinkType;
use spider_pipeline::{Analyzer, PipelineConfig};

const LINK_TYPES: [LinkType; 6] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link = LINK_TYPES[usize::from(selector) % LINK_TYPES.len()];
    let mut config = PipelineConfig::default();
    config.tracker.max_sessions = 64;
    config.reassembly.max_buffered_bytes = 64 * 1024;
    let mut analyzer = Analyzer::new(config);
    let mut records = 0usize;
    let mut time = 1_700_000_000_000_000_000i64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let frame = &rest[2..(2 + len).min(rest.len())];
        analyzer.process_frame(link, time, frame, frame.len() as u32, &mut |_| records += 1);
        rest = &rest[(2 + len).min(rest.len())..];
        time += 1_000_000;
    }
    analyzer.finish(&mut |_| records += 1);
});
