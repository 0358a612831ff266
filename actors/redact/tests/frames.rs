//! Raw frames masked in place: cut anywhere, reordered inside a batch, spread over batches or
//! retransmitted, a session's frames come out as its streams masked whole; what cannot be known
//! (a hole across batches, a lost segment, IP fragments) is masked, never leaked.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{leaks, payload, reassemble, request_stream, response_stream, Session};
use proptest::prelude::*;
use spider_model::PacketRecord;
use spider_redact::{FrameRedactor, HttpRedactor, RuleSet, Rules, SessionLink};

fn redactor() -> FrameRedactor {
    FrameRedactor::new(Arc::new(Rules::new(&RuleSet::default())))
}

/// Both streams masked whole by the scanner: what the frames must add up to.
fn reference() -> (Vec<u8>, Vec<u8>) {
    let rules = Rules::new(&RuleSet::default());
    let mut link = SessionLink::default();
    let (mut client, mut server) = (request_stream(), response_stream());
    HttpRedactor::new(true).redact(&rules, &mut client, &mut link);
    HttpRedactor::new(true).redact(&rules, &mut server, &mut link);
    (client, server)
}

fn run(batches: Vec<Vec<PacketRecord>>) -> Vec<PacketRecord> {
    let mut redactor = redactor();
    let mut out = Vec::new();
    for mut batch in batches {
        redactor.redact(&mut batch, &[]);
        out.extend(batch);
    }
    out
}

fn check(frames: &[PacketRecord]) {
    let (client, server) = reference();
    assert_eq!(
        String::from_utf8_lossy(&reassemble(frames, true, client.len())),
        String::from_utf8_lossy(&client)
    );
    assert_eq!(
        String::from_utf8_lossy(&reassemble(frames, false, server.len())),
        String::from_utf8_lossy(&server)
    );
}

#[test]
fn the_reference_masks_every_secret_and_keeps_the_rest() {
    let (client, server) = reference();
    assert_eq!(leaks(&client), None, "{}", String::from_utf8_lossy(&client));
    assert_eq!(leaks(&server), None);
    let client = String::from_utf8(client).unwrap();
    assert!(client.contains("next=%2Fhome") && client.contains(r#""user":"alice""#));
    assert!(client.contains("Authorization: Bearer ") && client.contains("Cookie: ***"));
    assert!(String::from_utf8(server)
        .unwrap()
        .contains(r#""expires":3600"#));
}

#[test]
fn a_request_cut_at_every_byte_gives_the_same_frames() {
    let (request, response) = (request_stream(), response_stream());
    for cut in 0..=request.len() {
        let mut session = Session::new(7);
        let mut frames = session.handshake();
        frames.extend(session.segments(true, &request, &[cut]));
        frames.extend(session.segments(false, &response, &[]));
        check(&run(vec![frames]));
    }
    for cut in 0..=response.len() {
        let mut session = Session::new(7);
        let mut frames = session.handshake();
        frames.extend(session.segments(true, &request, &[]));
        frames.extend(session.segments(false, &response, &[cut]));
        check(&run(vec![frames]));
    }
}

/// A permutation of `0..n` from `seed`.
fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (seed >> 33) as usize % (i + 1));
    }
    order
}

/// Frames cut at `cuts`, split into batches at `bounds`, each batch shuffled.
fn batches(cuts: &[usize], bounds: &[usize], seed: u64) -> Vec<Vec<PacketRecord>> {
    let (request, response) = (request_stream(), response_stream());
    let mut session = Session::new(9);
    let mut frames = session.handshake();
    let client_cuts: Vec<usize> = cuts.iter().map(|c| c % request.len()).collect();
    let server_cuts: Vec<usize> = cuts.iter().map(|c| c % response.len()).collect();
    let mut client_cuts = client_cuts;
    let mut server_cuts = server_cuts;
    client_cuts.sort_unstable();
    server_cuts.sort_unstable();
    frames.extend(session.segments(true, &request, &client_cuts));
    frames.extend(session.segments(false, &response, &server_cuts));
    let mut bounds: Vec<usize> = bounds.iter().map(|b| b % (frames.len() + 1)).collect();
    bounds.push(0);
    bounds.push(frames.len());
    bounds.sort_unstable();
    bounds.dedup();
    bounds
        .windows(2)
        .map(|w| {
            let batch = &frames[w[0]..w[1]];
            shuffled(batch.len(), seed)
                .into_iter()
                .map(|i| batch[i].clone())
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cut_anywhere_spread_over_batches_shuffled_inside_them(
        cuts in prop::collection::vec(0usize..1000, 0..16),
        bounds in prop::collection::vec(0usize..64, 0..5),
        seed in any::<u64>(),
    ) {
        check(&run(batches(&cuts, &bounds, seed)));
    }

    #[test]
    fn retransmissions_are_masked_as_their_originals(
        cuts in prop::collection::vec(0usize..1000, 1..16),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        seed in any::<u64>(),
    ) {
        let mut batches = batches(&cuts, &[], seed);
        let all: Vec<PacketRecord> = batches.concat();
        let again: Vec<PacketRecord> = repeats
            .iter()
            .map(|index| index.get(&all).clone())
            .collect();
        // Half come back in the same batch, half in the next.
        let (now, later) = again.split_at(again.len() / 2);
        batches[0].extend_from_slice(now);
        batches.push(later.to_vec());
        check(&run(batches));
    }

    #[test]
    fn holes_across_batches_and_lost_segments_leak_nothing(
        cuts in prop::collection::vec(0usize..1000, 2..16),
        moved in any::<prop::sample::Index>(),
        lost in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let frames: Vec<PacketRecord> = batches(&cuts, &[], seed).concat();
        let mut frames = frames;
        // One data frame lost, one moved to a batch of its own before the others.
        let data: Vec<usize> = (0..frames.len()).filter(|i| !payload(&frames[*i]).is_empty()).collect();
        let lost = data[lost.index(data.len())];
        let mut early = frames.remove(moved.index(frames.len()));
        if lost < frames.len() {
            frames.remove(lost);
        }
        early.time = 0;
        let out = run(vec![vec![early], frames]);
        for frame in &out {
            prop_assert_eq!(leaks(payload(frame)), None);
        }
    }
}

#[test]
fn a_hole_filled_in_the_next_batch_masks_only_what_was_ahead() {
    let request = request_stream();
    let mut session = Session::new(3);
    let mut frames = session.handshake();
    frames.extend(session.segments(true, &request, &[40, 80, 120]));
    // Batch 1: the handshake, pieces 1, 3 and 4; batch 2: piece 2 (the hole).
    let hole = frames.remove(3);
    let mut redactor = redactor();
    let mut first = frames;
    redactor.redact(&mut first, &[]);
    let mut second = vec![hole];
    redactor.redact(&mut second, &[]);
    let stats = redactor.stats();
    assert_eq!(stats.frames_masked_whole, 2, "the two pieces past the hole");
    let (client, _) = reference();
    assert_eq!(payload(&first[2]), &client[..40]);
    assert_eq!(payload(&second[0]), &client[40..80]);
    assert!(payload(&first[3]).iter().all(|b| *b == b'*'));
    // After the hole is filled the stream is known again: a retransmission is exact.
    let mut again = vec![Session::new(3).segments(true, &request, &[120]).remove(1)];
    again[0].session_id = 3;
    redactor.redact(&mut again, &[]);
    assert_eq!(payload(&again[0]), &client[120..]);
}

#[test]
fn tcp_in_ip_fragments_is_masked_past_the_tcp_header() {
    let request = request_stream();
    let mut session = Session::new(5);
    let mut frames = session.handshake();
    let mut pieces = session.segments(true, &request, &[100]);
    let whole = pieces.remove(0);
    // Split the first data frame's IP payload (TCP header + 100 bytes) into 64 + 56 bytes.
    let ip = &whole.frame[14..34];
    let data = &whole.frame[34..];
    for (offset, part, more) in [(0usize, &data[..64], true), (64, &data[64..], false)] {
        let mut header = etherparse::Ipv4Header::from_slice(ip).unwrap().0;
        header.more_fragments = more;
        header.fragment_offset = etherparse::IpFragOffset::try_new((offset / 8) as u16).unwrap();
        header.set_payload_len(part.len()).unwrap();
        header.header_checksum = header.calc_header_checksum();
        let mut frame = whole.frame[..14].to_vec();
        header.write(&mut frame).unwrap();
        frame.extend_from_slice(part);
        frames.push(PacketRecord {
            wire_len: frame.len() as u32,
            frame,
            ..whole.clone()
        });
    }
    frames.extend(pieces);
    let mut redactor = redactor();
    redactor.redact(&mut frames, &[]);
    assert!(
        frames[2].frame[34..54] == whole.frame[34..54],
        "TCP header kept"
    );
    assert!(frames[2].frame[54..].iter().all(|b| *b == b'*'));
    assert!(frames[3].frame[34..].iter().all(|b| *b == b'*'));
    let (client, _) = reference();
    assert_eq!(payload(&frames[4]), &client[100..], "the stream went on");
    assert_eq!(redactor.stats().frames_masked_whole, 2);
}

#[test]
fn closed_sessions_are_forgotten_and_a_later_frame_is_hunted() {
    let request = request_stream();
    let mut session = Session::new(11);
    let mut frames = session.handshake();
    frames.extend(session.segments(true, &request, &[]));
    let mut redactor = redactor();
    redactor.redact(&mut frames, &[11]);
    assert_eq!(redactor.sessions(), 0);
    let mut late = vec![Session::new(11)
        .segments(true, b"Cookie: a=SESS-abc\r\n", &[])
        .remove(0)];
    redactor.redact(&mut late, &[]);
    assert!(payload(&late[0])
        .iter()
        .all(|b| *b == b'*' || *b == b'\r' || *b == b'\n'));
}

#[test]
fn data_on_a_syn_starts_the_stream() {
    let request = request_stream();
    let mut session = Session::new(13);
    let mut frames = vec![
        session.frame(true, -1, true, &request[..60]),
        session.frame(false, -1, true, &[]),
    ];
    frames.extend(session.segments(true, &request, &[60]).into_iter().skip(1));
    let mut redactor = redactor();
    redactor.redact(&mut frames, &[]);
    let (client, _) = reference();
    assert_eq!(payload(&frames[0]), &client[..60]);
    assert_eq!(payload(&frames[2]), &client[60..]);
    assert_eq!(redactor.stats().frames_masked_whole, 0);
}
