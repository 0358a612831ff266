//! Property: any shuffling (within a window) and duplication of a session's segments gives the
//! same HTTP exchanges as the segments in order.
#![allow(clippy::unwrap_used)]

mod common;

use common::tcp_frame;
use proptest::prelude::*;
use spider_decode::LinkType;
use spider_model::Record;
use spider_pipeline::{Analyzer, PipelineConfig};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40_000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

/// The frames of one keep-alive session: handshake, `requests` exchanges cut into segments of
/// `mss` bytes, each direction acknowledging the other, then FIN both ways.
fn session_frames(requests: usize, body: usize, mss: usize) -> Vec<Vec<u8>> {
    let (mut c_seq, mut s_seq) = (1_000u32, 900_000u32);
    let mut frames = Vec::new();
    let mut frame = Vec::new();
    let mut push = |frame: &Vec<u8>| frames.push(frame.clone());
    tcp_frame(CLIENT, SERVER, c_seq, None, "S", b"", &mut frame);
    push(&frame);
    tcp_frame(SERVER, CLIENT, s_seq, Some(c_seq + 1), "S", b"", &mut frame);
    push(&frame);
    c_seq += 1;
    s_seq += 1;
    tcp_frame(CLIENT, SERVER, c_seq, Some(s_seq), "", b"", &mut frame);
    push(&frame);
    for i in 0..requests {
        let request = format!(
            "POST /items/{i}?q=a%20b&n={i} HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello"
        );
        for chunk in request.as_bytes().chunks(mss) {
            tcp_frame(CLIENT, SERVER, c_seq, Some(s_seq), "P", chunk, &mut frame);
            push(&frame);
            c_seq = c_seq.wrapping_add(chunk.len() as u32);
        }
        let content: String = (0..body + i)
            .map(|k| (b'a' + (k % 26) as u8) as char)
            .collect();
        let response = format!(
            "HTTP/1.1 {} OK\r\nContent-Length: {}\r\n\r\n{content}",
            200 + i % 3,
            content.len()
        );
        for chunk in response.as_bytes().chunks(mss) {
            tcp_frame(SERVER, CLIENT, s_seq, Some(c_seq), "P", chunk, &mut frame);
            push(&frame);
            s_seq = s_seq.wrapping_add(chunk.len() as u32);
        }
        tcp_frame(CLIENT, SERVER, c_seq, Some(s_seq), "", b"", &mut frame);
        push(&frame);
    }
    tcp_frame(CLIENT, SERVER, c_seq, Some(s_seq), "F", b"", &mut frame);
    push(&frame);
    tcp_frame(SERVER, CLIENT, s_seq, Some(c_seq + 1), "F", b"", &mut frame);
    push(&frame);
    frames
}

type Summary = Vec<(
    String,
    String,
    Option<u16>,
    Vec<(String, String)>,
    Option<String>,
)>;

fn exchanges(frames: &[Vec<u8>]) -> Summary {
    let mut analyzer = Analyzer::new(PipelineConfig::default());
    let mut records = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        analyzer.process_frame(
            LinkType::RAW,
            1_000 + i as i64,
            frame,
            frame.len() as u32,
            &mut |r| records.push(r),
        );
    }
    analyzer.finish(&mut |r| records.push(r));
    let mut out: Summary = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Http(x) => Some((
                x.method,
                x.uri,
                x.status,
                x.query,
                x.response_body
                    .and_then(|b| b.data)
                    .and_then(|d| d.to_bytes())
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
            )),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// How far a frame may move from its place: the reordering window.
const WINDOW: usize = 4;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shuffled_and_duplicated_segments_give_the_same_exchanges(
        requests in 1usize..6,
        body in 0usize..3000,
        mss in 16usize..1460,
        jitter in prop::collection::vec(0usize..WINDOW, 400),
        duplicates in prop::collection::vec((0usize..400, 0usize..WINDOW), 0..20),
    ) {
        let frames = session_frames(requests, body, mss);
        let expected = exchanges(&frames);
        prop_assert_eq!(expected.len(), requests);
        prop_assert!(expected.iter().all(|x| x.2.is_some()));
        // Each frame moves by less than WINDOW places: sort by position plus a jitter.
        let mut order: Vec<usize> = (0..frames.len()).collect();
        order.sort_by_key(|&i| i + jitter[i % jitter.len()]);
        let mut shuffled: Vec<Vec<u8>> = order.iter().map(|&i| frames[i].clone()).collect();
        for &(i, later) in &duplicates {
            let i = i % shuffled.len();
            let copy = shuffled[i].clone();
            shuffled.insert((i + later).min(shuffled.len()), copy);
        }
        prop_assert_eq!(exchanges(&shuffled), expected);
    }
}
