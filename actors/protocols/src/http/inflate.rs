//! Deflate-based decoding (gzip, zlib, raw deflate) on flate2's streaming inflater. Every decoded
//! byte goes to the collector in the call that produced it, so what is decoded does not depend on
//! how the body was cut into pieces (nor is it lost when decoding stops early).
//!
//! Gzip members are unwrapped here (header skipped, trailer length checked, CRC not verified);
//! concatenated members are decoded one after the other.

use std::io::Write;

use flate2::{Decompress, FlushDecompress, Status};

use super::decode::{Collector, Stop};

const OUT_CHUNK: usize = 16 * 1024;
/// Longest gzip header accepted (file name and comment included).
const MAX_GZIP_HEADER: usize = 64 * 1024;
const GZIP_TRAILER: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Gzip,
    Zlib,
    Raw,
}

#[derive(Debug)]
enum Stage {
    /// Gathering a gzip header; `after_member` when a member already ended (then anything that
    /// is not a gzip header is trailing bytes, ignored).
    GzipHeader {
        bytes: Vec<u8>,
        after_member: bool,
    },
    Deflate,
    GzipTrailer(u8),
    Done,
}

pub(super) struct Inflate {
    format: Format,
    stage: Stage,
    state: Decompress,
    out: Vec<u8>,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate")
            .field("format", &self.format)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl Inflate {
    pub(super) fn new(format: Format) -> Self {
        let stage = match format {
            Format::Gzip => Stage::GzipHeader {
                bytes: Vec::new(),
                after_member: false,
            },
            Format::Zlib | Format::Raw => Stage::Deflate,
        };
        Self {
            format,
            stage,
            state: Decompress::new(format == Format::Zlib),
            out: Vec::new(),
        }
    }

    /// Decodes `input` into `sink`; `Ok(true)` once the encoded stream ended (later bytes are
    /// ignored).
    pub(super) fn write(&mut self, mut input: &[u8], sink: &mut Collector) -> Result<bool, Stop> {
        while !input.is_empty() {
            match &mut self.stage {
                Stage::GzipHeader {
                    bytes,
                    after_member,
                } => {
                    let old = bytes.len();
                    let n = input.len().min(MAX_GZIP_HEADER - old);
                    bytes.extend_from_slice(input.get(..n).unwrap_or_default());
                    match gzip_header_len(bytes) {
                        Ok(Some(len)) => {
                            input = input.get(len.saturating_sub(old)..).unwrap_or_default();
                            self.state.reset(false);
                            self.stage = Stage::Deflate;
                        }
                        Ok(None) if n == input.len() => return Ok(false),
                        Ok(None) => return Err(Stop::Invalid("gzip header too long".to_owned())),
                        Err(_) if *after_member => {
                            self.stage = Stage::Done;
                            return Ok(true);
                        }
                        Err(err) => return Err(Stop::Invalid(err.to_owned())),
                    }
                }
                Stage::Deflate => {
                    let (used, ended) = self.inflate(input, sink)?;
                    input = input.get(used..).unwrap_or_default();
                    if ended {
                        self.stage = match self.format {
                            Format::Gzip => Stage::GzipTrailer(0),
                            Format::Zlib | Format::Raw => Stage::Done,
                        };
                    } else if used == 0 {
                        return Ok(false);
                    }
                }
                Stage::GzipTrailer(seen) => {
                    let n = input.len().min(usize::from(GZIP_TRAILER - *seen));
                    *seen += n as u8;
                    input = input.get(n..).unwrap_or_default();
                    if *seen == GZIP_TRAILER {
                        self.stage = Stage::GzipHeader {
                            bytes: Vec::new(),
                            after_member: true,
                        };
                    }
                }
                Stage::Done => return Ok(true),
            }
        }
        Ok(matches!(self.stage, Stage::Done))
    }

    /// Whether the encoded stream was complete.
    pub(super) fn finish(&self) -> Result<(), Stop> {
        match &self.stage {
            Stage::Done => Ok(()),
            Stage::GzipHeader {
                after_member: true, ..
            } => Ok(()),
            _ => Err(Stop::Invalid("unexpected end of encoded stream".to_owned())),
        }
    }

    fn inflate(&mut self, input: &[u8], sink: &mut Collector) -> Result<(usize, bool), Stop> {
        if self.out.is_empty() {
            self.out.resize(OUT_CHUNK, 0);
        }
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(rest, &mut self.out, FlushDecompress::None);
            let consumed = (self.state.total_in() - in_before) as usize;
            let produced = (self.state.total_out() - out_before) as usize;
            used += consumed;
            if sink
                .write_all(self.out.get(..produced).unwrap_or_default())
                .is_err()
            {
                return Err(Stop::Limit);
            }
            match status {
                Err(err) => return Err(Stop::Invalid(err.to_string())),
                Ok(Status::StreamEnd) => return Ok((used, true)),
                Ok(Status::Ok | Status::BufError) => {
                    let output_full = produced == self.out.len();
                    if (used == input.len() && !output_full) || (consumed == 0 && produced == 0) {
                        return Ok((used, false));
                    }
                }
            }
        }
    }
}

/// The length of the gzip header at the start of `bytes`; `None` while incomplete.
fn gzip_header_len(bytes: &[u8]) -> Result<Option<usize>, &'static str> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    for (i, want) in [0x1f_u8, 0x8b, 8].into_iter().enumerate() {
        match bytes.get(i) {
            Some(&b) if b != want => return Err("not a gzip stream"),
            Some(_) => {}
            None => return Ok(None),
        }
    }
    let Some(&flags) = bytes.get(3) else {
        return Ok(None);
    };
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let (Some(&lo), Some(&hi)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return Ok(None);
        };
        pos += 2 + usize::from(u16::from_le_bytes([lo, hi]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let Some(end) = bytes
                .get(pos..)
                .and_then(|b| b.iter().position(|&c| c == 0))
            else {
                return Ok(None);
            };
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    Ok((bytes.len() >= pos).then_some(pos))
}
