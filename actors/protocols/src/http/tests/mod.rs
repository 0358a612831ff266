#![allow(clippy::unwrap_used)]

mod basic;
mod bodies;
mod gaps;
mod props;

use std::io::Write;

use spider_model::{BodyCapture, BodyData, Endpoint, EpochNanos, HttpExchange};

use super::{HttpParser, HttpParserStats};
use crate::{Direction, ParsedMessage, ParserLimits, StreamContext, StreamParser};

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn ctx() -> StreamContext {
    StreamContext {
        session_id: 7,
        client: Endpoint::new([10, 0, 0, 1].into(), 40000),
        server: Endpoint::new([10, 0, 0, 2].into(), 80),
    }
}

/// A parser with its output, driven by short calls.
struct Run {
    parser: HttpParser,
    out: Vec<ParsedMessage>,
}

impl Run {
    fn new() -> Self {
        Self::with_limits(ParserLimits::default())
    }

    fn with_limits(limits: ParserLimits) -> Self {
        Self {
            parser: HttpParser::new(ctx(), limits),
            out: Vec::new(),
        }
    }

    fn data(&mut self, dir: Direction, time: EpochNanos, bytes: &[u8]) -> &mut Self {
        self.parser.data(dir, time, bytes, &mut self.out);
        self
    }

    fn req(&mut self, time: EpochNanos, bytes: &[u8]) -> &mut Self {
        self.data(C, time, bytes)
    }

    fn resp(&mut self, time: EpochNanos, bytes: &[u8]) -> &mut Self {
        self.data(S, time, bytes)
    }

    fn gap(&mut self, dir: Direction, time: EpochNanos, len: u64) -> &mut Self {
        self.parser.gap(dir, time, len, &mut self.out);
        self
    }

    fn end(&mut self, dir: Direction, time: EpochNanos) -> &mut Self {
        self.parser.end(dir, time, &mut self.out);
        self
    }

    /// Exchanges emitted so far (taken).
    fn taken(&mut self) -> Vec<HttpExchange> {
        exchanges(std::mem::take(&mut self.out))
    }

    /// Finishes the session and returns every exchange emitted.
    fn finish(&mut self, time: EpochNanos) -> Vec<HttpExchange> {
        self.parser.finish(time, &mut self.out);
        self.taken()
    }

    fn stats(&self) -> HttpParserStats {
        self.parser.stats()
    }
}

fn exchanges(out: Vec<ParsedMessage>) -> Vec<HttpExchange> {
    out.into_iter()
        .map(|m| match m {
            ParsedMessage::Http(ex) => *ex,
        })
        .collect()
}

fn text(body: &BodyCapture) -> String {
    match &body.data {
        Some(BodyData::Utf8(s)) => s.clone(),
        Some(data @ BodyData::Base64(_)) => {
            String::from_utf8_lossy(&data.to_bytes().unwrap()).into()
        }
        None => String::new(),
    }
}

fn resp_text(ex: &HttpExchange) -> String {
    text(ex.response_body.as_ref().unwrap())
}

fn ok(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n").into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        enc.write_all(data).unwrap();
    }
    out
}

/// A response head with a binary body.
fn encoded_response(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: {encoding}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
