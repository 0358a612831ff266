//! Streaming content decoding (gzip, deflate, br) into a bounded collector.

use std::io::{self, Write};

use super::inflate::{Format, Inflate};

/// Size of the brotli decoder's output buffer.
const BROTLI_BUFFER: usize = 4096;
/// Encoded bytes given to the brotli decoder at a time, at fixed offsets of the body. The decoder
/// writes out what it decoded where its input ends: fed as the bytes arrive, what a damaged or cut
/// stream leaves would depend on how TCP segmented the body.
const BROTLI_BLOCK: usize = 1024;

/// Receives decoded bytes: counts them up to `max_produced`, keeps the first `max_keep`.
#[derive(Debug, Default)]
pub(super) struct Collector {
    pub kept: Vec<u8>,
    pub max_keep: usize,
    pub produced: u64,
    pub max_produced: u64,
    pub hit_limit: bool,
}

impl Collector {
    pub(super) fn new(max_keep: usize, max_produced: u64) -> Self {
        Self {
            kept: Vec::new(),
            max_keep,
            produced: 0,
            max_produced,
            hit_limit: false,
        }
    }

    /// Stops keeping bytes (what follows a capture gap would leave a hole in `kept`).
    pub(super) fn stop_keeping(&mut self) {
        self.max_keep = self.kept.len();
    }
}

impl Write for Collector {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = self.max_produced.saturating_sub(self.produced);
        if room == 0 {
            self.hit_limit = true;
            return Err(io::Error::other("decoded body limit reached"));
        }
        let n = usize::try_from(room).map_or(buf.len(), |room| room.min(buf.len()));
        let keep = self.max_keep.saturating_sub(self.kept.len()).min(n);
        if let Some(head) = buf.get(..keep).filter(|head| !head.is_empty()) {
            let needed = self.kept.len() + head.len();
            if needed > self.kept.capacity() {
                // Grow by doubling, but never past the bound.
                let target = needed.max(self.kept.capacity() * 2).min(self.max_keep);
                self.kept.reserve_exact(target - self.kept.len());
            }
            self.kept.extend_from_slice(head);
        }
        self.produced += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Content-Encoding` this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Unsupported,
}

impl Encoding {
    pub(super) fn from_header(value: &str) -> Self {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("identity") {
            Self::Identity
        } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Self::Gzip
        } else if value.eq_ignore_ascii_case("deflate") {
            Self::Deflate
        } else if value.eq_ignore_ascii_case("br") {
            Self::Brotli
        } else {
            Self::Unsupported
        }
    }
}

/// Why decoding stopped before the end of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// The decoded size reached `max_produced`.
    Limit,
    /// The encoded bytes were invalid (message from the decoder).
    Invalid(String),
}

enum Kind {
    Plain,
    /// `deflate` before its first byte tells zlib from raw deflate.
    Deflate,
    Flate(Box<Inflate>),
    /// The brotli writer owns the collector while it decodes; encoded bytes wait for a whole
    /// block (`BROTLI_BLOCK`).
    Brotli(Box<brotli::DecompressorWriter<Collector>>, Vec<u8>),
    /// Decoding ended (stream end, error, limit or capture loss): later bytes are ignored.
    Stopped,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain => f.write_str("plain"),
            Self::Deflate => f.write_str("deflate"),
            Self::Flate(inflate) => inflate.fmt(f),
            Self::Brotli(..) => f.write_str("br"),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

/// A body decoder fed with wire bytes in pieces.
#[derive(Debug)]
pub(super) struct Decoder {
    kind: Kind,
    out: Collector,
    stop: Option<Stop>,
}

impl Decoder {
    pub(super) fn new(encoding: Encoding, out: Collector) -> Self {
        let (kind, out) = match encoding {
            Encoding::Identity | Encoding::Unsupported => (Kind::Plain, out),
            Encoding::Gzip => (Kind::Flate(Box::new(Inflate::new(Format::Gzip))), out),
            Encoding::Deflate => (Kind::Deflate, out),
            Encoding::Brotli => (
                Kind::Brotli(
                    Box::new(brotli::DecompressorWriter::new(out, BROTLI_BUFFER)),
                    Vec::new(),
                ),
                Collector::default(),
            ),
        };
        Self {
            kind,
            out,
            stop: None,
        }
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        if matches!(self.kind, Kind::Deflate) {
            let Some(&first) = bytes.first() else {
                return;
            };
            // A zlib header's first byte: compression method 8, window size at most 32 KiB.
            let format = if first & 0x0f == 8 && first >> 4 <= 7 {
                Format::Zlib
            } else {
                Format::Raw
            };
            self.kind = Kind::Flate(Box::new(Inflate::new(format)));
        }
        let result = match &mut self.kind {
            Kind::Plain => self.out.write_all(bytes).map_err(|_| Stop::Limit),
            Kind::Flate(inflate) => match inflate.write(bytes, &mut self.out) {
                Ok(true) => return self.halt(None),
                Ok(false) => Ok(()),
                Err(stop) => Err(stop),
            },
            Kind::Brotli(writer, held) => {
                let mut rest = bytes;
                let mut result = Ok(false);
                while !rest.is_empty() && result == Ok(false) {
                    let take = (BROTLI_BLOCK - held.len()).min(rest.len());
                    held.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if held.len() == BROTLI_BLOCK {
                        result = brotli_block(writer, held);
                        held.clear();
                    }
                }
                match result {
                    // The encoded stream ended; bytes after it are ignored.
                    Ok(true) => return self.halt(None),
                    Ok(false) => Ok(()),
                    Err(stop) => Err(stop),
                }
            }
            Kind::Deflate | Kind::Stopped => Ok(()),
        };
        if let Err(stop) = result {
            self.halt(Some(stop));
        }
    }

    /// Stops decoding after bytes were lost: the rest of the stream cannot be decoded.
    pub(super) fn lose(&mut self) {
        match &mut self.kind {
            Kind::Plain => self.out.stop_keeping(),
            // What arrived before the loss is decoded (its end is where the loss is, whatever
            // the segmentation); an error in it is reported.
            Kind::Brotli(writer, held) => {
                let stop = brotli_block(writer, held).err();
                self.halt(stop);
            }
            _ => self.halt(None),
        }
    }

    /// The decoded output and why decoding stopped early, if it did; `complete` when the whole
    /// body was seen, so an unfinished encoded stream is an error.
    pub(super) fn finish(mut self, complete: bool) -> (Collector, Option<Stop>) {
        let result = match &mut self.kind {
            Kind::Flate(inflate) => inflate.finish(),
            Kind::Brotli(writer, held) => match brotli_block(writer, held) {
                Ok(true) => Ok(()),
                Ok(false) => match writer.close() {
                    Ok(()) => Ok(()),
                    Err(_) if writer.get_ref().hit_limit => Err(Stop::Limit),
                    Err(err) => Err(Stop::Invalid(err.to_string())),
                },
                Err(stop) => Err(stop),
            },
            Kind::Plain | Kind::Deflate | Kind::Stopped => Ok(()),
        };
        if let Err(stop) = result {
            if complete || stop == Stop::Limit {
                self.halt(Some(stop));
            }
        }
        self.halt(None);
        (self.out, self.stop)
    }

    /// Ends decoding, keeping the first reason given.
    fn halt(&mut self, stop: Option<Stop>) {
        if let Kind::Brotli(writer, _) = &mut self.kind {
            self.out = std::mem::take(writer.get_mut());
        }
        if !matches!(self.kind, Kind::Plain) {
            self.kind = Kind::Stopped;
        }
        if self.stop.is_none() {
            self.stop = stop;
        }
    }

    /// Decoded bytes kept so far.
    pub(super) fn kept_len(&self) -> usize {
        match &self.kind {
            Kind::Brotli(writer, _) => writer.get_ref().kept.len(),
            _ => self.out.kept.len(),
        }
    }
}

/// Decodes one block of a brotli stream; true when the encoded stream ended in it.
fn brotli_block(
    writer: &mut brotli::DecompressorWriter<Collector>,
    block: &[u8],
) -> Result<bool, Stop> {
    if block.is_empty() {
        return Ok(false);
    }
    match writer.write(block) {
        Ok(n) => Ok(n < block.len()),
        Err(_) if writer.get_ref().hit_limit => Err(Stop::Limit),
        Err(err) => Err(Stop::Invalid(err.to_string())),
    }
}
