//! The streaming redactor on arbitrary bytes: a stream cut into pieces anywhere is masked exactly
//! as the whole stream, masking only ever writes mask bytes, and the frame redactor takes
//! arbitrary frames of one session without panicking.
//!
//! Input: a flags byte (bit 0: the stream's start was seen; bits 1-7: where to cut), then the
//! stream. The same bytes are also cut into frames (2-byte big-endian length, then the frame) of
//! one Ethernet session for the frame redactor.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use spider_model::PacketRecord;
use spider_redact::{FrameRedactor, HttpRedactor, RuleSet, Rules, SessionLink};

fn masked(rules: &Rules, stream: &[u8], clean: bool, cuts: &[usize]) -> Vec<u8> {
    let mut bytes = stream.to_vec();
    let mut scanner = HttpRedactor::new(clean);
    let mut link = SessionLink::default();
    let mut bounds = vec![0, bytes.len()];
    bounds.extend(cuts.iter().map(|c| c % (bytes.len() + 1)));
    bounds.sort_unstable();
    for pair in bounds.windows(2) {
        scanner.redact(rules, &mut bytes[pair[0]..pair[1]], &mut link);
    }
    bytes
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let rules = Rules::new(&RuleSet::default());
    let clean = flags & 1 == 1;
    let step = usize::from(flags >> 1) + 1;
    let cuts: Vec<usize> = (1..8).map(|i| i * step * 7 + usize::from(flags)).collect();
    let whole = masked(&rules, stream, clean, &[]);
    assert_eq!(masked(&rules, stream, clean, &cuts), whole);
    assert_eq!(whole.len(), stream.len());
    for (out, original) in whole.iter().zip(stream) {
        assert!(out == original || matches!(*out, b'*' | b'0' | b' '));
    }

    let mut frames = Vec::new();
    let mut rest = stream;
    let mut time = 1_700_000_000_000_000_000i64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let frame = rest[2..(2 + len).min(rest.len())].to_vec();
        rest = &rest[(2 + len).min(rest.len())..];
        time += 1_000;
        frames.push(PacketRecord {
            whisperer: "fuzz".into(),
            session_id: u64::from(frame.first().copied().unwrap_or_default() % 3),
            time,
            interface: 0,
            link_type: 1,
            wire_len: frame.len() as u32,
            from_client: frame.len() % 2 == 0,
            frame,
        });
    }
    let lengths: Vec<usize> = frames.iter().map(|f| f.frame.len()).collect();
    let mut redactor = FrameRedactor::new(Arc::new(rules));
    let half = frames.len() / 2;
    let (first, second) = frames.split_at_mut(half);
    redactor.redact(first, &[]);
    redactor.redact(second, &[1]);
    assert_eq!(
        frames.iter().map(|f| f.frame.len()).collect::<Vec<_>>(),
        lengths
    );
});
