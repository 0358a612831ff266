//! Streaming content decoding (gzip, deflate, br) into a bounded collector.

use std::io::{self, Write};

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// Size of the brotli decoder's output buffer.
const BROTLI_BUFFER: usize = 4096;

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
        if let Some(head) = buf.get(..keep) {
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

#[derive(Debug)]
enum Kind {
    Plain(Collector),
    /// `deflate` before its first byte tells zlib from raw deflate.
    Deflate(Collector),
    Gzip(Box<GzDecoder<Collector>>),
    Zlib(Box<ZlibDecoder<Collector>>),
    Raw(Box<DeflateDecoder<Collector>>),
    Brotli(Box<brotli::DecompressorWriter<Collector>>),
    /// Decoding ended (stream end, error, limit or capture loss): later bytes are ignored.
    Stopped(Collector),
}

/// A body decoder fed with wire bytes in pieces.
#[derive(Debug)]
pub(super) struct Decoder {
    kind: Kind,
    stop: Option<Stop>,
}

impl Decoder {
    pub(super) fn new(encoding: Encoding, out: Collector) -> Self {
        let kind = match encoding {
            Encoding::Identity | Encoding::Unsupported => Kind::Plain(out),
            Encoding::Gzip => Kind::Gzip(Box::new(GzDecoder::new(out))),
            Encoding::Deflate => Kind::Deflate(out),
            Encoding::Brotli => Kind::Brotli(Box::new(brotli::DecompressorWriter::new(
                out,
                BROTLI_BUFFER,
            ))),
        };
        Self { kind, stop: None }
    }

    pub(super) fn write(&mut self, mut bytes: &[u8]) {
        if let Kind::Deflate(out) = &mut self.kind {
            let Some(&first) = bytes.first() else {
                return;
            };
            let out = std::mem::take(out);
            // A zlib header's first byte: compression method 8, window size at most 32 KiB.
            self.kind = if first & 0x0f == 8 && first >> 4 <= 7 {
                Kind::Zlib(Box::new(ZlibDecoder::new(out)))
            } else {
                Kind::Raw(Box::new(DeflateDecoder::new(out)))
            };
        }
        if let Kind::Plain(out) = &mut self.kind {
            if out.write(bytes).is_err() {
                self.stop = Some(Stop::Limit);
            }
            return;
        }
        while !bytes.is_empty() {
            let written = match &mut self.kind {
                Kind::Gzip(d) => d.write(bytes),
                Kind::Zlib(d) => d.write(bytes),
                Kind::Raw(d) => d.write(bytes),
                Kind::Brotli(d) => d.write(bytes),
                Kind::Plain(_) | Kind::Deflate(_) | Kind::Stopped(_) => return,
            };
            match written {
                // The encoded stream ended; bytes after it are ignored.
                Ok(0) => return self.halt(None),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(err) => return self.halt(Some(err)),
            }
        }
    }

    /// Stops decoding after bytes were lost: the rest of the stream cannot be decoded.
    pub(super) fn lose(&mut self) {
        if let Kind::Plain(out) = &mut self.kind {
            out.stop_keeping();
        } else {
            self.halt(None);
        }
    }

    /// Flushes the decoder; `complete` when the whole body was seen, so an unfinished encoded
    /// stream is an error.
    pub(super) fn finish(mut self, complete: bool) -> (Collector, Option<Stop>) {
        let result = match &mut self.kind {
            Kind::Gzip(d) => d.try_finish(),
            Kind::Zlib(d) => d.try_finish(),
            Kind::Raw(d) => d.try_finish(),
            Kind::Brotli(d) => d.close(),
            Kind::Plain(_) | Kind::Deflate(_) | Kind::Stopped(_) => Ok(()),
        };
        let failed = result.err().filter(|_| complete);
        let mut out = self.take_collector();
        if let Some(err) = failed {
            self.record(&mut out, err);
        }
        (out, self.stop)
    }

    fn halt(&mut self, err: Option<io::Error>) {
        let mut out = self.take_collector();
        if let Some(err) = err {
            self.record(&mut out, err);
        }
        self.kind = Kind::Stopped(out);
    }

    fn record(&mut self, out: &mut Collector, err: io::Error) {
        if self.stop.is_none() {
            self.stop = Some(if out.hit_limit {
                Stop::Limit
            } else {
                Stop::Invalid(err.to_string())
            });
        }
    }

    fn take_collector(&mut self) -> Collector {
        match &mut self.kind {
            Kind::Plain(out) | Kind::Deflate(out) | Kind::Stopped(out) => std::mem::take(out),
            Kind::Gzip(d) => std::mem::take(d.get_mut()),
            Kind::Zlib(d) => std::mem::take(d.get_mut()),
            Kind::Raw(d) => std::mem::take(d.get_mut()),
            Kind::Brotli(d) => std::mem::take(d.get_mut()),
        }
    }

    /// Decoded bytes kept so far.
    pub(super) fn kept_len(&self) -> usize {
        match &self.kind {
            Kind::Plain(out) | Kind::Deflate(out) | Kind::Stopped(out) => out.kept.len(),
            Kind::Gzip(d) => d.get_ref().kept.len(),
            Kind::Zlib(d) => d.get_ref().kept.len(),
            Kind::Raw(d) => d.get_ref().kept.len(),
            Kind::Brotli(d) => d.get_ref().kept.len(),
        }
    }
}
