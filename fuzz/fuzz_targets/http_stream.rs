//! The HTTP/1.x stream parser (`HttpParser` through the `StreamParser` trait) on two arbitrary
//! byte streams, cut into arbitrary pieces, interleaved in an arbitrary order, with capture gaps
//! (lost bytes, and the zero-length gap of a session picked up midstream) and direction ends.
//!
//! Input: `seed`, `flags`, a 2-byte big-endian length of the client stream, the client stream,
//! then the server stream. `seed` drives a small PRNG that picks, piece by piece, the direction
//! and the size (from 1 to 2^(flags >> 4 & 0xf), at most 4096); `flags` bit 0: the small limits
//! (so that the bounds are reached by short inputs), bit 1: both directions start with a
//! zero-length gap, bit 2: about one piece in eight is lost (a gap of its length), bit 3: both
//! directions end (FIN) before the session finishes.
//!
//! Checks besides "no panic": after every call the parser's buffered bytes stay within a bound
//! derived from its limits (and the largest piece given); emitted exchanges keep bodies within
//! `max_body_bytes`, flag what they left out, and come with distinct, increasing indexes; and the
//! same events with every piece cut once more (TCP segmentation is arbitrary) emit the same
//! exchanges; after a capture gap or a resynchronisation, the same requests (which response
//! answers which request is then a guess made as bytes arrive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spider_model::{BodyCapture, BodyData, Endpoint};
use spider_protocols::http::HttpParser;
use spider_protocols::{Direction, ParsedMessage, ParserLimits, StreamContext, StreamParser};

const SMALL: ParserLimits = ParserLimits {
    max_body_bytes: 200,
    max_decoded_bytes: 4096,
    max_head_bytes: 300,
    max_pending_requests: 3,
};

#[derive(Debug, Clone, Copy)]
enum Step {
    Data(Direction, usize, usize),
    Gap(Direction, usize),
    End(Direction),
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The pieces of both streams, in the order they are given to the parser.
fn schedule(seed: u8, flags: u8, lens: [usize; 2]) -> Vec<Step> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (u64::from(seed) << 8 | u64::from(flags)));
    let max_piece = (1usize << ((flags >> 4) & 0x0f)).min(4096);
    let lossy = flags & 4 != 0;
    let mut steps = Vec::new();
    let mut at = [0usize; 2];
    while at[0] < lens[0] || at[1] < lens[1] {
        let side = if at[0] == lens[0] {
            1
        } else if at[1] == lens[1] {
            0
        } else {
            (rng.next() & 1) as usize
        };
        let dir = [Direction::ToServer, Direction::ToClient][side];
        let len = (1 + (rng.next() as usize) % max_piece).min(lens[side] - at[side]);
        if lossy && rng.next() % 8 == 0 {
            steps.push(Step::Gap(dir, len));
        } else {
            steps.push(Step::Data(dir, at[side], len));
        }
        at[side] += len;
    }
    if flags & 8 != 0 {
        let first = (rng.next() & 1) as usize;
        steps.push(Step::End([Direction::ToServer, Direction::ToClient][first]));
        steps.push(Step::End(
            [Direction::ToServer, Direction::ToClient][1 - first],
        ));
    }
    steps
}

/// The most a parser with these limits may buffer, when no piece is longer than `piece`: per
/// direction an unfinished head or line, the events held while it waits for the other direction
/// (the wait bound plus the piece that crossed it) and a body being kept; the pending requests'
/// and early responses' kept bodies (as base64 text, 4/3 of their bytes). Generous on purpose: it
/// catches growth with the input, not an exact account.
fn bound(limits: &ParserLimits, piece: usize) -> usize {
    let text = |bytes: usize| bytes.div_ceil(3) * 4;
    let wait = limits.max_head_bytes + limits.max_body_bytes;
    let side = limits.max_head_bytes + 4096 + wait + piece + limits.max_body_bytes;
    let slots = (limits.max_pending_requests + 2) * 3 * text(limits.max_body_bytes);
    2 * side + slots
}

/// Decoded bytes a body capture keeps.
fn kept(body: &BodyCapture) -> usize {
    match &body.data {
        None => 0,
        Some(BodyData::Utf8(text)) => text.len(),
        Some(BodyData::Base64(text)) => {
            text.len() / 4 * 3 - text.bytes().rev().take_while(|&b| b == b'=').count()
        }
    }
}

fn run(
    streams: [&[u8]; 2],
    steps: &[Step],
    limits: ParserLimits,
    flags: u8,
    split: bool,
) -> (Vec<ParsedMessage>, bool) {
    let ctx = StreamContext {
        session_id: 7,
        client: Endpoint::new([10, 0, 0, 1].into(), 40000),
        server: Endpoint::new([10, 0, 0, 2].into(), 80),
    };
    let mut parser = HttpParser::new(ctx, limits);
    let mut out = Vec::new();
    let mut time = 1_700_000_000_000_000_000i64;
    let mut largest = 0;
    let checked = |parser: &HttpParser, largest: usize| {
        let held = parser.buffered_bytes();
        let most = bound(&limits, largest);
        assert!(held <= most, "{held} bytes buffered, more than {most}");
    };
    if flags & 2 != 0 {
        parser.gap(Direction::ToServer, time, 0, &mut out);
        parser.gap(Direction::ToClient, time, 0, &mut out);
    }
    for step in steps {
        time += 1_000_000;
        match *step {
            Step::Data(dir, at, len) => {
                let bytes = &streams[dir.index()][at..at + len];
                let cut = if split { len / 2 } else { 0 };
                for piece in [&bytes[..cut], &bytes[cut..]] {
                    largest = largest.max(piece.len());
                    parser.data(dir, time, piece, &mut out);
                    checked(&parser, largest);
                }
            }
            Step::Gap(dir, len) => parser.gap(dir, time, len as u64, &mut out),
            Step::End(dir) => parser.end(dir, time, &mut out),
        }
        checked(&parser, largest);
    }
    parser.finish(time + 1_000_000, &mut out);
    let stats = parser.stats();
    (out, stats.gaps + stats.resyncs == 0)
}

/// The requests of the exchanges, in order: what the client's stream alone decides.
fn requests(messages: &[ParsedMessage]) -> Vec<RequestSide<'_>> {
    messages
        .iter()
        .map(|message| {
            let ParsedMessage::Http(ex) = message;
            (
                ex.index,
                &ex.method,
                &ex.uri,
                &ex.version,
                &ex.request_headers,
                &ex.request_body,
            )
        })
        .collect()
}

type RequestSide<'a> = (
    u32,
    &'a String,
    &'a String,
    &'a String,
    &'a Vec<(String, String)>,
    &'a BodyCapture,
);

fn check(messages: &[ParsedMessage], limits: &ParserLimits) {
    let mut last = None;
    for message in messages {
        let ParsedMessage::Http(exchange) = message;
        assert!(
            last.is_none_or(|last| exchange.index > last),
            "index {} after {last:?}",
            exchange.index
        );
        last = Some(exchange.index);
        for body in std::iter::once(&exchange.request_body).chain(exchange.response_body.as_ref()) {
            let kept = kept(body);
            assert!(kept <= limits.max_body_bytes, "{kept} body bytes kept");
            assert!(kept as u64 <= body.decoded_length);
            if (kept as u64) < body.decoded_length {
                assert!(body.truncated, "a body cut short and not flagged: {body:?}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [seed, flags, hi, lo, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (client, server) = rest.split_at(split);
    let limits = if flags & 1 != 0 {
        SMALL
    } else {
        ParserLimits::default()
    };
    let steps = schedule(*seed, *flags, [client.len(), server.len()]);
    let (messages, clean) = run([client, server], &steps, limits, *flags, false);
    check(&messages, &limits);
    let (again, clean_again) = run([client, server], &steps, limits, *flags, true);
    if clean && clean_again {
        assert_eq!(
            again, messages,
            "the same streams cut once more parse differently"
        );
    } else {
        // After a loss or a resynchronisation, which request a response answers is a guess made
        // as the bytes arrive (see the README): only the requests must not depend on the cuts.
        assert_eq!(
            requests(&again),
            requests(&messages),
            "the same client stream cut once more parses differently"
        );
    }
});
