//! The stream reassembler on segments built in the test.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use spider_decode::{ReassemblyConfig, StreamEvent, StreamReassembler};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Data(Vec<u8>),
    Gap(u64),
    End,
}

fn collect(outs: &mut Vec<Out>) -> impl FnMut(StreamEvent<'_>) + '_ {
    |event| match event {
        StreamEvent::Data { bytes, .. } => match outs.last_mut() {
            Some(Out::Data(data)) => data.extend_from_slice(bytes),
            _ => outs.push(Out::Data(bytes.to_vec())),
        },
        StreamEvent::Gap { len, .. } => outs.push(Out::Gap(len)),
        StreamEvent::End { .. } => outs.push(Out::End),
    }
}

fn reassembler() -> StreamReassembler {
    StreamReassembler::new(ReassemblyConfig::default())
}

#[test]
fn in_order_segments_pass_through() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(1000);
    r.segment(1, 1000, b"hello ", false, false, &mut collect(&mut outs));
    r.segment(2, 1006, b"world", true, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"hello world".to_vec()), Out::End]);
    assert_eq!(r.stats().delivered_bytes, 11);
}

#[test]
fn out_of_order_and_duplicates_are_put_back_in_order() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(0);
    r.segment(1, 6, b"world", false, false, &mut collect(&mut outs));
    assert!(outs.is_empty(), "a hole holds later bytes back");
    r.segment(2, 0, b"hello ", false, false, &mut collect(&mut outs));
    r.segment(3, 0, b"hello ", false, false, &mut collect(&mut outs));
    r.segment(4, 3, b"lo wor", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"hello world".to_vec())]);
    assert_eq!(r.stats().out_of_order_segments, 1);
    assert_eq!(r.stats().duplicate_bytes, 12);
}

#[test]
fn overlapping_segment_delivers_only_new_bytes() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(100);
    r.segment(1, 100, b"abcd", false, false, &mut collect(&mut outs));
    r.segment(2, 102, b"cdef", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"abcdef".to_vec())]);
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    let start = u32::MAX - 2;
    r.anchor(start);
    r.segment(
        1,
        start.wrapping_add(4),
        b"ef",
        false,
        false,
        &mut collect(&mut outs),
    );
    r.segment(2, start, b"abcd", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"abcdef".to_vec())]);
}

#[test]
fn hole_acknowledged_by_peer_becomes_a_gap_after_patience() {
    let config = ReassemblyConfig {
        acked_hole_patience: 2,
        ..ReassemblyConfig::default()
    };
    let mut outs = Vec::new();
    let mut r = StreamReassembler::new(config);
    r.anchor(0);
    r.segment(1, 0, b"aaaa", false, false, &mut collect(&mut outs));
    r.segment(2, 8, b"cccc", false, false, &mut collect(&mut outs));
    r.peer_ack(3, 12, &mut collect(&mut outs));
    assert_eq!(outs.len(), 1, "patience not used up yet");
    r.peer_ack(4, 12, &mut collect(&mut outs));
    r.peer_ack(5, 12, &mut collect(&mut outs));
    assert_eq!(
        outs,
        vec![
            Out::Data(b"aaaa".to_vec()),
            Out::Gap(4),
            Out::Data(b"cccc".to_vec())
        ]
    );
    assert_eq!(r.stats().lost_bytes, 4);
}

#[test]
fn hole_not_acknowledged_waits_for_the_retransmission() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(0);
    r.segment(1, 4, b"bbbb", false, false, &mut collect(&mut outs));
    for t in 0..100 {
        r.peer_ack(t, 0, &mut collect(&mut outs));
    }
    assert!(outs.is_empty());
    r.segment(200, 0, b"aaaa", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"aaaabbbb".to_vec())]);
}

#[test]
fn buffer_limit_forces_a_gap_and_is_counted() {
    let config = ReassemblyConfig {
        max_buffered_bytes: 10,
        ..ReassemblyConfig::default()
    };
    let mut outs = Vec::new();
    let mut r = StreamReassembler::new(config);
    r.anchor(0);
    r.segment(1, 5, b"123456", false, false, &mut collect(&mut outs));
    r.segment(2, 11, b"789012", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Gap(5), Out::Data(b"123456789012".to_vec())]);
    assert_eq!(r.stats().gaps_forced_by_limit, 1);
    assert_eq!(r.buffered_bytes(), 0);
}

#[test]
fn fin_ends_the_stream_once_bytes_before_it_arrive() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(0);
    r.segment(1, 3, b"def", true, false, &mut collect(&mut outs));
    assert!(outs.is_empty());
    r.segment(2, 0, b"abc", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"abcdef".to_vec()), Out::End]);
    r.segment(3, 0, b"abc", false, false, &mut collect(&mut outs));
    assert_eq!(outs.len(), 2, "nothing after the end");
}

#[test]
fn finish_reports_holes_then_end() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.anchor(0);
    r.segment(1, 0, b"ab", false, false, &mut collect(&mut outs));
    r.segment(2, 5, b"fg", false, false, &mut collect(&mut outs));
    r.finish(3, &mut collect(&mut outs));
    assert_eq!(
        outs,
        vec![
            Out::Data(b"ab".to_vec()),
            Out::Gap(3),
            Out::Data(b"fg".to_vec()),
            Out::End
        ]
    );
}

#[test]
fn unanchored_stream_starts_at_first_data() {
    let mut outs = Vec::new();
    let mut r = reassembler();
    r.segment(1, 777, b"mid-stream", false, false, &mut collect(&mut outs));
    assert_eq!(outs, vec![Out::Data(b"mid-stream".to_vec())]);
}

proptest! {
    /// Any shuffling within a window and any duplication gives back the same stream.
    #[test]
    fn shuffled_and_duplicated_segments_give_the_same_stream(
        sizes in prop::collection::vec(1usize..200, 1..60),
        swaps in prop::collection::vec((0usize..60, 1usize..4), 0..40),
        duplicates in prop::collection::vec(0usize..60, 0..10),
        isn in any::<u32>(),
    ) {
        let total: usize = sizes.iter().sum();
        let stream: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
        let mut segments = Vec::new();
        let mut at = 0;
        for size in &sizes {
            segments.push((at, &stream[at..at + size]));
            at += size;
        }
        for &(i, distance) in &swaps {
            let i = i % segments.len();
            let j = (i + distance).min(segments.len() - 1);
            segments.swap(i, j);
        }
        for &d in &duplicates {
            let d = d % segments.len();
            let copy = segments[d];
            segments.insert((d + 2).min(segments.len()), copy);
        }
        let mut outs = Vec::new();
        let mut r = StreamReassembler::new(ReassemblyConfig::default());
        r.anchor(isn);
        for (t, (offset, bytes)) in segments.iter().enumerate() {
            r.segment(t as i64, isn.wrapping_add(*offset as u32), bytes, false, false, &mut collect(&mut outs));
        }
        r.finish(1000, &mut collect(&mut outs));
        prop_assert_eq!(outs, vec![Out::Data(stream.clone()), Out::End]);
    }
}
