//! Masking throughput on realistic frames: the recorded captures of `testdata/` (HTTP/1.1 load,
//! the basic API mix, compressed and chunked bodies, and the capture full of secrets), tagged as
//! a Whisperer tags them, through [`FrameRedactor`] as the backend's capture worker runs it.
//! The peer is a plain copy of the same frame bytes: masking rewrites frames in place, so a copy
//! per byte is the floor it is compared with.
//!
//! `cargo bench -p spider-redact --bench redact`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use spider_model::PacketRecord;
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig};
use spider_redact::{FrameRedactor, RuleSet, Rules};

const CAPTURES: &[&str] = &[
    "http-load.pcap",
    "http-basic.pcap",
    "http-compressed.pcap",
    "http-chunked-trailers.pcap",
    "redaction/secrets.pcap",
];

/// Every capture's frames with their session ids, one Whisperer each, in batches of 2048 frames
/// (the Whisperer's batch bound).
fn batches() -> Vec<Vec<PacketRecord>> {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut batches = Vec::new();
    for name in CAPTURES {
        let mut tagger = FrameTagger::new(*name, PipelineConfig::default());
        let mut reader = CaptureReader::open(testdata.join(name)).expect("a test capture");
        let mut frames = Vec::new();
        while let Some(record) = reader.next_record().expect("a readable capture") {
            frames.push(tagger.tag_record(&record).packet);
        }
        batches.extend(frames.chunks(2048).map(<[PacketRecord]>::to_vec));
    }
    batches
}

fn masking(c: &mut Criterion) {
    let batches = batches();
    let bytes: usize = batches.iter().flatten().map(|f| f.frame.len()).sum();
    let rules = Arc::new(Rules::new(&RuleSet::default()));
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("memcpy", |b| {
        let mut out = vec![0u8; bytes];
        b.iter(|| {
            let mut at = 0;
            for frame in batches.iter().flatten() {
                out[at..at + frame.frame.len()].copy_from_slice(&frame.frame);
                at += frame.frame.len();
            }
            black_box(&out);
        });
    });
    group.bench_function("frames", |b| {
        b.iter_batched_ref(
            || batches.clone(),
            |batches| {
                // One redactor per capture, as a worker keeps one per Whisperer.
                let mut redactors: Vec<(String, FrameRedactor)> = Vec::new();
                for batch in batches.iter_mut() {
                    let whisperer = batch
                        .first()
                        .map(|f| f.whisperer.clone())
                        .unwrap_or_default();
                    if redactors.last().is_none_or(|(name, _)| *name != whisperer) {
                        redactors.push((whisperer, FrameRedactor::new(rules.clone())));
                    }
                    if let Some((_, redactor)) = redactors.last_mut() {
                        redactor.redact(batch, &[]);
                    }
                }
                black_box(&redactors);
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
