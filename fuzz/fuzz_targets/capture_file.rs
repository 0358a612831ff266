//! Capture files of any shape (pcap, pcapng, damaged) through the reader and the pipeline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spider_pcap::CaptureReader;
use spider_pipeline::{analyze_capture, Analyzer, PipelineConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let mut config = PipelineConfig::default();
    config.tracker.max_sessions = 64;
    let mut analyzer = Analyzer::new(config);
    let mut records = 0usize;
    let _summary = analyze_capture(&mut reader, &mut analyzer, &mut |_| records += 1, &mut |_| {});
});
