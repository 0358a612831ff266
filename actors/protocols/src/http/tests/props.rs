use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked(usize),
    Gzip,
    NoContent,
    Continue,
}

#[derive(Debug, Clone)]
struct Spec {
    head: bool,
    path: String,
    request_body: Vec<u8>,
    status: u16,
    body: Vec<u8>,
    framing: Framing,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        "/[a-z0-9%+=&?]{0,12}",
        proptest::collection::vec(any::<u8>(), 0..40),
        200_u16..600,
        proptest::collection::vec(any::<u8>(), 0..300),
        prop_oneof![
            Just(Framing::Length),
            (1_usize..50).prop_map(Framing::Chunked),
            Just(Framing::Gzip),
            Just(Framing::NoContent),
            Just(Framing::Continue),
        ],
    )
        .prop_map(|(head, path, request_body, status, body, framing)| Spec {
            head,
            path,
            request_body,
            status,
            body,
            framing,
        })
}

/// The two byte streams of a session of these exchanges; the last response may be
/// close-delimited.
fn streams(specs: &[Spec], close_last: bool) -> (Vec<u8>, Vec<u8>) {
    let mut req = Vec::new();
    let mut resp = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let method = if s.head { "HEAD" } else { "POST" };
        req.extend(format!("{method} {} HTTP/1.1\r\nHost: h\r\n", s.path).as_bytes());
        req.extend(format!("Content-Length: {}\r\n\r\n", s.request_body.len()).as_bytes());
        req.extend(&s.request_body);
        let last = i + 1 == specs.len();
        match &s.framing {
            Framing::NoContent => resp.extend(b"HTTP/1.1 204 No Content\r\n\r\n"),
            Framing::Continue => {
                resp.extend(b"HTTP/1.1 100 Continue\r\n\r\n");
                resp.extend(
                    format!("HTTP/1.1 {} X\r\nContent-Length: 0\r\n\r\n", s.status).as_bytes(),
                );
            }
            _ if s.head => resp.extend(
                format!("HTTP/1.1 {} X\r\nContent-Length: 77\r\n\r\n", s.status).as_bytes(),
            ),
            _ if last && close_last => {
                resp.extend(b"HTTP/1.0 200 OK\r\n\r\n");
                resp.extend(&s.body);
            }
            Framing::Length => resp.extend(super::encoded_response("identity", &s.body)),
            Framing::Gzip => resp.extend(super::encoded_response("gzip", &gzip(&s.body))),
            Framing::Chunked(size) => {
                resp.extend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                resp.extend(chunked(&s.body, *size));
            }
        }
    }
    (req, resp)
}

/// Feeds the streams in pieces of the given sizes, alternating directions as `order` says.
fn feed(req: &[u8], resp: &[u8], cuts: &[(bool, usize)]) -> (Vec<HttpExchange>, HttpParserStats) {
    let mut run = Run::new();
    let (mut r, mut s) = (0, 0);
    let mut time = 0;
    for &(to_server, size) in cuts {
        time += 1;
        if to_server && r < req.len() {
            let end = (r + size).min(req.len());
            run.req(time, &req[r..end]);
            r = end;
        } else if s < resp.len() {
            let end = (s + size).min(resp.len());
            run.resp(time, &resp[s..end]);
            s = end;
        }
    }
    run.req(time + 1, &req[r..]);
    run.resp(time + 2, &resp[s..]);
    run.end(C, time + 3).end(S, time + 4);
    let ex = run.finish(time + 5);
    (ex, run.stats())
}

/// One direction's events: the stream with the given ranges lost, data cut every `piece` bytes.
fn lossy_events<'a>(
    stream: &'a [u8],
    losses: &[(usize, usize)],
    piece: usize,
) -> Vec<(Option<&'a [u8]>, u64)> {
    let mut events = Vec::new();
    let mut pos = 0;
    let mut cuts: Vec<(usize, usize)> = losses
        .iter()
        .map(|&(at, len)| (at % (stream.len() + 1), len))
        .collect();
    cuts.sort_unstable();
    for (at, len) in cuts {
        if at < pos {
            continue;
        }
        let end = (at + len).min(stream.len());
        events.extend(stream[pos..at].chunks(piece).map(|c| (Some(c), 0)));
        if end > at {
            events.push((None, (end - at) as u64));
        }
        pos = end;
    }
    events.extend(stream[pos..].chunks(piece).map(|c| (Some(c), 0)));
    events
}

fn feed_lossy(
    req: &[u8],
    resp: &[u8],
    losses: &[(bool, usize, usize)],
    piece: usize,
) -> (Vec<HttpExchange>, HttpParserStats) {
    let mut run = Run::new();
    for (dir, stream) in [(C, req), (S, resp)] {
        let mine: Vec<(usize, usize)> = losses
            .iter()
            .filter(|l| l.0 == (dir == C))
            .map(|l| (l.1, l.2))
            .collect();
        for (data, gap) in lossy_events(stream, &mine, piece) {
            match data {
                Some(bytes) => run.data(dir, 1, bytes),
                None => run.gap(dir, 1, gap),
            };
        }
    }
    run.end(C, 2).end(S, 2);
    let ex = run.finish(3);
    (ex, run.stats())
}

fn without_timing(mut ex: Vec<HttpExchange>) -> Vec<HttpExchange> {
    for e in &mut ex {
        e.timing = Default::default();
    }
    ex
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn splitting_does_not_change_exchanges(
        specs in proptest::collection::vec(spec(), 1..6),
        close_last in any::<bool>(),
        cuts in proptest::collection::vec((any::<bool>(), 1_usize..80), 0..60),
    ) {
        let (req, resp) = streams(&specs, close_last);
        let (whole, whole_stats) = feed(&req, &resp, &[]);
        prop_assert_eq!(whole.len(), specs.len());
        prop_assert!(whole.iter().all(|e| e.status.is_some()));
        let (split, split_stats) = feed(&req, &resp, &cuts);
        prop_assert_eq!(without_timing(split), without_timing(whole));
        prop_assert_eq!(split_stats, whole_stats);
    }

    #[test]
    fn splitting_with_gaps_does_not_change_exchanges(
        specs in proptest::collection::vec(spec(), 1..6),
        losses in proptest::collection::vec((any::<bool>(), 0_usize..3000, 1_usize..40), 0..4),
        piece in 1_usize..40,
    ) {
        let (req, resp) = streams(&specs, false);
        let (whole, whole_stats) = feed_lossy(&req, &resp, &losses, usize::MAX);
        let (split, split_stats) = feed_lossy(&req, &resp, &losses, piece);
        prop_assert!(whole.len() <= specs.len());
        prop_assert_eq!(without_timing(split), without_timing(whole));
        prop_assert_eq!(split_stats, whole_stats);
    }

    #[test]
    fn arbitrary_events_never_panic(
        events in proptest::collection::vec(
            (0_u8..4, proptest::collection::vec(any::<u8>(), 0..64), 0_u64..5000),
            0..40,
        ),
        specs in proptest::collection::vec(spec(), 0..3),
    ) {
        let limits = ParserLimits {
            max_body_bytes: 100,
            max_decoded_bytes: 1000,
            max_head_bytes: 256,
            max_pending_requests: 3,
        };
        let mut run = Run::with_limits(limits);
        let (req, resp) = streams(&specs, false);
        run.req(0, &req[..req.len() / 2]);
        run.resp(0, &resp[..resp.len() / 3]);
        for (i, (kind, bytes, len)) in events.into_iter().enumerate() {
            let t = i as i64;
            match kind {
                0 => { run.req(t, &bytes); }
                1 => { run.resp(t, &bytes); }
                2 => { run.gap(if len % 2 == 0 { C } else { S }, t, len); }
                _ => {
                    let mut mixed = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec();
                    mixed.extend(&bytes);
                    run.data(if len % 2 == 0 { C } else { S }, t, &mixed);
                }
            }
            prop_assert!(run.parser.buffered_bytes() <= 4 * 1024);
        }
        run.finish(1000);
        prop_assert_eq!(run.parser.buffered_bytes(), 0);
    }
}
