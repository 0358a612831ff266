//! Message bodies: framing (Content-Length, chunked, close-delimited) and capture (counting,
//! decoding, keeping a bounded prefix).

use spider_model::{BodyCapture, BodyData};

use super::decode::{Collector, Decoder, Encoding, Stop};
use super::scan::EndScan;
use super::HttpParserStats;

/// Longest chunk-size line (size plus extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// Bytes left of a `Content-Length` body.
    Length(u64),
    Chunked(Chunk),
    /// The body ends when the sender closes the connection.
    Close,
}

/// Position inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// Reading a chunk-size line into the line buffer.
    Size,
    /// Bytes left of a chunk's data.
    Data(u64),
    /// The CRLF after a chunk's data; `true` once the CR was seen.
    DataEnd(bool),
    /// Reading the trailer section into the line buffer.
    Trailers(EndScan),
}

/// What feeding bytes to a body did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// All bytes were body; more is expected.
    More,
    /// The body ended after `used` bytes.
    Done,
    /// The framing is broken (bad chunk size or line): the stream is out of sync.
    Invalid(&'static str),
}

/// What a capture gap did to a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GapOutcome {
    /// The lost bytes were body content; parsing continues in sync.
    Skipped,
    /// The lost bytes ended exactly at the end of the body.
    Ended,
    /// The gap covers framing or runs past the body: the stream is out of sync.
    Lost,
}

impl Framing {
    /// Takes body bytes from the start of `input`; returns how many were used. Chunk-size lines
    /// and trailers are gathered in `line` (the trailer section stays there when done).
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        line: &mut Vec<u8>,
        max_trailers: usize,
        sink: &mut BodySink,
    ) -> (usize, Outcome) {
        match self {
            Self::Close => {
                sink.push(input);
                (input.len(), Outcome::More)
            }
            Self::Length(remaining) => {
                let n = take_len(*remaining, input.len());
                sink.push(input.get(..n).unwrap_or_default());
                *remaining -= n as u64;
                let outcome = if *remaining == 0 {
                    Outcome::Done
                } else {
                    Outcome::More
                };
                (n, outcome)
            }
            Self::Chunked(chunk) => feed_chunked(chunk, input, line, max_trailers, sink),
        }
    }

    pub(super) fn skip(&mut self, len: u64) -> GapOutcome {
        match self {
            Self::Close => GapOutcome::Skipped,
            Self::Length(remaining) if len < *remaining => {
                *remaining -= len;
                GapOutcome::Skipped
            }
            Self::Length(remaining) if len == *remaining => {
                *remaining = 0;
                GapOutcome::Ended
            }
            Self::Chunked(Chunk::Data(remaining)) if len <= *remaining => {
                *remaining -= len;
                if *remaining == 0 {
                    *self = Self::Chunked(Chunk::DataEnd(false));
                }
                GapOutcome::Skipped
            }
            Self::Length(_) | Self::Chunked(_) => GapOutcome::Lost,
        }
    }
}

fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn feed_chunked(
    chunk: &mut Chunk,
    input: &[u8],
    line: &mut Vec<u8>,
    max_trailers: usize,
    sink: &mut BodySink,
) -> (usize, Outcome) {
    let mut pos = 0;
    while let Some(rest) = input.get(pos..).filter(|rest| !rest.is_empty()) {
        match chunk {
            Chunk::Size => {
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    if line.len() + rest.len() > MAX_CHUNK_LINE {
                        return (input.len(), Outcome::Invalid("chunk-size line too long"));
                    }
                    line.extend_from_slice(rest);
                    return (input.len(), Outcome::More);
                };
                if line.len() + nl > MAX_CHUNK_LINE {
                    return (pos + nl + 1, Outcome::Invalid("chunk-size line too long"));
                }
                line.extend_from_slice(rest.get(..nl).unwrap_or_default());
                pos += nl + 1;
                let size = parse_chunk_size(line);
                line.clear();
                *chunk = match size {
                    Some(0) => Chunk::Trailers(EndScan::at_line_start()),
                    Some(size) => Chunk::Data(size),
                    None => return (pos, Outcome::Invalid("invalid chunk size")),
                };
            }
            Chunk::Data(remaining) => {
                let n = take_len(*remaining, rest.len());
                sink.push(rest.get(..n).unwrap_or_default());
                *remaining -= n as u64;
                pos += n;
                if *remaining == 0 {
                    *chunk = Chunk::DataEnd(false);
                }
            }
            Chunk::DataEnd(seen_cr) => {
                match rest.first() {
                    Some(b'\r') if !*seen_cr => *seen_cr = true,
                    Some(b'\n') => *chunk = Chunk::Size,
                    _ => return (pos, Outcome::Invalid("missing CRLF after chunk data")),
                }
                pos += 1;
            }
            Chunk::Trailers(scan) => {
                let end = scan.feed(rest);
                let n = end.unwrap_or(rest.len());
                if line.len() + n > max_trailers {
                    return (pos + n, Outcome::Invalid("trailer section too long"));
                }
                line.extend_from_slice(rest.get(..n).unwrap_or_default());
                pos += n;
                if end.is_some() {
                    return (pos, Outcome::Done);
                }
            }
        }
    }
    (pos, Outcome::More)
}

/// The size of a chunk-size line (without its LF): hex digits, then optional extensions.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    let size = size.trim_ascii();
    if size.is_empty() || size.len() > 16 {
        return None;
    }
    size.iter().try_fold(0_u64, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some((acc << 4) | u64::from(digit))
    })
}

/// Collects what is seen of one body.
#[derive(Debug)]
pub(super) struct BodySink {
    announced_length: Option<u64>,
    wire_length: u64,
    content_type: Option<String>,
    content_encoding: Option<String>,
    encoding: Encoding,
    decoder: Decoder,
    lost: bool,
    max_keep: usize,
    max_decoded: u64,
}

impl BodySink {
    pub(super) fn new(
        announced_length: Option<u64>,
        content_type: Option<String>,
        content_encoding: Option<String>,
        max_keep: usize,
        max_decoded: usize,
    ) -> Self {
        let encoding = content_encoding
            .as_deref()
            .map_or(Encoding::Identity, Encoding::from_header);
        let max_decoded = max_decoded as u64;
        let limit = match encoding {
            Encoding::Gzip | Encoding::Deflate | Encoding::Brotli => max_decoded,
            Encoding::Identity | Encoding::Unsupported => u64::MAX,
        };
        Self {
            announced_length,
            wire_length: 0,
            content_type,
            content_encoding,
            encoding,
            decoder: Decoder::new(encoding, Collector::new(max_keep, limit)),
            lost: false,
            max_keep,
            max_decoded,
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.wire_length += bytes.len() as u64;
        self.decoder.write(bytes);
    }

    /// Body bytes were lost in a capture gap.
    pub(super) fn lose(&mut self) {
        self.lost = true;
        self.decoder.lose();
    }

    pub(super) fn lost(&self) -> bool {
        self.lost
    }

    /// Decoded bytes held so far.
    pub(super) fn held(&self) -> usize {
        self.decoder.kept_len()
    }

    /// The capture; `complete` when the body was seen to its end. Warnings describe bounds and
    /// decoding problems.
    pub(super) fn finish(
        self,
        complete: bool,
        warnings: &mut Vec<String>,
        stats: &mut HttpParserStats,
    ) -> BodyCapture {
        let complete = complete && !self.lost;
        let (mut out, stop) = self.decoder.finish(complete);
        let mut truncated = self.lost || (out.kept.len() as u64) < out.produced;
        if self.max_keep > 0
            && (out.kept.len() as u64) < out.produced
            && out.kept.len() >= self.max_keep
        {
            warnings.push(format!("body truncated to {} bytes", self.max_keep));
        }
        let name = self.content_encoding.as_deref().unwrap_or_default();
        match stop {
            Some(Stop::Limit) => {
                truncated = true;
                warnings.push(format!(
                    "decoded body exceeds {} bytes; decoding stopped",
                    self.max_decoded
                ));
            }
            Some(Stop::Invalid(err)) => {
                truncated = true;
                stats.decode_errors += 1;
                warnings.push(format!("{name} decoding failed: {err}"));
            }
            None => {}
        }
        if self.lost {
            warnings.push("body bytes lost in a capture gap".to_owned());
        }
        if self.encoding == Encoding::Unsupported {
            warnings.push(format!("content-encoding {name} not decoded"));
        }
        if truncated {
            stats.bodies_truncated += 1;
        }
        BodyCapture {
            announced_length: self.announced_length,
            wire_length: self.wire_length,
            decoded_length: out.produced,
            content_type: self.content_type,
            content_encoding: self.content_encoding,
            data: (!out.kept.is_empty()).then(|| BodyData::from_vec(std::mem::take(&mut out.kept))),
            truncated,
        }
    }
}
