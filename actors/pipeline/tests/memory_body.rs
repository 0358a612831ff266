//! A 1 GB response body with a hole in it passes through in bounded memory, and the loss is said.
#![allow(clippy::unwrap_used)]

mod common;

use common::{tcp_frame, HeapMeter};
use spider_decode::LinkType;
use spider_model::{ParseState, Record};
use spider_pipeline::{Analyzer, PipelineConfig};

#[global_allocator]
static HEAP: HeapMeter = HeapMeter;

const BODY: u64 = 1 << 30;
const SEGMENT: usize = 60_000;
const HEAP_BOUND: usize = 32 * 1024 * 1024;

#[test]
fn a_gigabyte_body_with_a_hole_stays_under_the_bound() {
    let client = ([10, 0, 0, 1], 40_000);
    let server = ([10, 0, 0, 2], 80);
    let mut analyzer = Analyzer::new(PipelineConfig::default());
    let mut records = Vec::new();
    let mut frame = Vec::with_capacity(SEGMENT + 64);
    let mut time = 1_000_000_000i64;
    let mut send = |analyzer: &mut Analyzer, frame: &[u8], records: &mut Vec<Record>| {
        time += 1_000;
        analyzer.process_frame(LinkType::RAW, time, frame, frame.len() as u32, &mut |r| {
            records.push(r)
        });
    };
    let request = b"GET /big HTTP/1.1\r\nHost: files.test\r\n\r\n";
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n");
    let (client_isn, server_isn) = (1_000u32, 5_000_000u32);
    tcp_frame(client, server, client_isn, None, "S", b"", &mut frame);
    send(&mut analyzer, &frame, &mut records);
    tcp_frame(
        server,
        client,
        server_isn,
        Some(client_isn + 1),
        "S",
        b"",
        &mut frame,
    );
    send(&mut analyzer, &frame, &mut records);
    tcp_frame(
        client,
        server,
        client_isn + 1,
        Some(server_isn + 1),
        "P",
        request,
        &mut frame,
    );
    send(&mut analyzer, &frame, &mut records);
    let client_next = client_isn + 1 + request.len() as u32;
    let mut seq = server_isn + 1;
    tcp_frame(
        server,
        client,
        seq,
        Some(client_next),
        "P",
        head.as_bytes(),
        &mut frame,
    );
    send(&mut analyzer, &frame, &mut records);
    seq = seq.wrapping_add(head.len() as u32);

    let chunk: Vec<u8> = (0..SEGMENT).map(|i| b'a' + (i % 26) as u8).collect();
    let before = HeapMeter::reset_peak();
    let mut sent = 0u64;
    let hole_at = BODY / 2;
    let mut lost = 0u64;
    while sent < BODY {
        let len = (BODY - sent).min(SEGMENT as u64) as usize;
        let in_hole = sent <= hole_at && hole_at < sent + len as u64;
        if in_hole {
            lost += len as u64;
        } else {
            tcp_frame(
                server,
                client,
                seq,
                Some(client_next),
                "",
                &chunk[..len],
                &mut frame,
            );
            send(&mut analyzer, &frame, &mut records);
        }
        seq = seq.wrapping_add(len as u32);
        sent += len as u64;
    }
    tcp_frame(server, client, seq, Some(client_next), "F", b"", &mut frame);
    send(&mut analyzer, &frame, &mut records);
    let peak = HeapMeter::peak() - before;
    analyzer.finish(&mut |r| records.push(r));

    assert!(
        peak < HEAP_BOUND,
        "peak heap {} MiB over the bound of {} MiB",
        peak >> 20,
        HEAP_BOUND >> 20
    );
    let exchange = records
        .iter()
        .find_map(|r| match r {
            Record::Http(x) => Some(x),
            _ => None,
        })
        .unwrap();
    assert_eq!(exchange.status, Some(200));
    assert_eq!(exchange.state, ParseState::Incomplete);
    let body = exchange.response_body.as_ref().unwrap();
    assert_eq!(body.announced_length, Some(BODY));
    assert!(body.truncated);
    assert_eq!(
        body.wire_length,
        BODY - lost,
        "the body bytes that were seen are counted"
    );
    let stats = analyzer.stats();
    assert_eq!(stats.tcp_lost_bytes, lost, "the hole is counted exactly");
    assert!(stats.tcp_gaps >= 1);
}
