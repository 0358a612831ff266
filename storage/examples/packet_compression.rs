//! Measures how packets compress as the shard stores them (one block per session per batch)
//! against compressing each frame alone, with lz4_flex and zstd.
//!
//! `cargo run --release -p spider-storage --example packet_compression [CAPTURE] [FRAMES_PER_BATCH]`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spider_decode::{Decoder, DecoderConfig, SessionTracker, TrackerConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/http-load.pcap").into()
    });
    let per_batch: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4096);
    let Ok(mut reader) = spider_pcap::CaptureReader::open(&path) else {
        eprintln!("cannot open {path}");
        std::process::exit(2);
    };
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    while let Ok(Some(frame)) = reader.next_record() {
        let session =
            match decoder.decode(frame.link_type, frame.ts_nanos, frame.data, frame.orig_len) {
                Ok(Some(packet)) => tracker.track(&packet, &mut events).id,
                _ => 0,
            };
        frames.push((session, frame.data.to_vec()));
    }
    let raw: usize = frames.iter().map(|f| f.1.len()).sum();
    // Blocks: a batch's frames of one session, concatenated with a small header per frame
    // (as the block format's varints: about 8 bytes).
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for batch in frames.chunks(per_batch) {
        let mut sessions: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (session, frame) in batch {
            let block = sessions.entry(*session).or_default();
            block.extend_from_slice(&[0u8; 8]);
            block.extend_from_slice(frame);
        }
        blocks.extend(sessions.into_values());
    }
    let singles: Vec<Vec<u8>> = frames.iter().map(|f| f.1.clone()).collect();
    println!(
        "{path}: {} frames, {:.1} MB, {} blocks (batches of {per_batch} frames, one block per session)\n",
        frames.len(),
        raw as f64 / 1e6,
        blocks.len()
    );
    println!("| unit | codec | stored / raw | compress MB/s | decompress MB/s |\n|---|---|---:|---:|---:|");
    for (unit, values) in [("per frame", &singles), ("per block", &blocks)] {
        measure(
            unit,
            "lz4_flex",
            values,
            raw,
            lz4_flex::block::compress_prepend_size,
            |c| {
                lz4_flex::block::decompress_size_prepended(c)
                    .map(|d| d.len())
                    .unwrap_or(0)
            },
        );
        for level in [1, 3] {
            measure(
                unit,
                &format!("zstd -{level}"),
                values,
                raw,
                |v| zstd::bulk::compress(v, level).unwrap_or_default(),
                |c| {
                    zstd::bulk::decompress(c, 1 << 24)
                        .map(|d| d.len())
                        .unwrap_or(0)
                },
            );
        }
    }
}

fn measure(
    unit: &str,
    codec: &str,
    values: &[Vec<u8>],
    raw: usize,
    compress: impl Fn(&[u8]) -> Vec<u8>,
    decompress: impl Fn(&[u8]) -> usize,
) {
    let started = Instant::now();
    let compressed: Vec<Vec<u8>> = values.iter().map(|v| compress(v)).collect();
    let compress_time = started.elapsed();
    let started = Instant::now();
    let restored: usize = compressed.iter().map(|c| decompress(c)).sum();
    let decompress_time = started.elapsed();
    let stored: usize = compressed.iter().map(Vec::len).sum();
    let restored_frames = restored.min(raw + values.len() * 8);
    let rate = |time: Duration| raw as f64 / time.as_secs_f64().max(1e-9) / 1e6;
    println!(
        "| {unit} | {codec} | {:.3} | {:.0} | {:.0} |",
        stored as f64 / raw as f64,
        rate(compress_time),
        rate(decompress_time),
    );
    assert!(restored_frames >= raw, "round trip");
}
