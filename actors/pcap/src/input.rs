//! The reader's own buffer over a `Read`: records are handed out as slices of it.

use std::io::{self, Read};

use crate::PcapError;

/// Bytes read from the source per refill, at least.
const INITIAL_CAPACITY: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    /// The first byte not yet consumed.
    start: usize,
    /// The end of the valid bytes in `buf`.
    end: usize,
    /// The file offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R> Input<R> {
    /// The file offset of the next unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: Read> Input<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// The unconsumed bytes currently buffered.
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Makes at least `n` unconsumed bytes available; `false` when the input ends before.
    ///
    /// `n` must be bounded by the caller (it is at most [`crate::MAX_BLOCK_LEN`]).
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> Result<bool, PcapError> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> Result<bool, PcapError> {
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n, 0);
            }
        }
        while self.end - self.start < n && !self.eof {
            let Some(free) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.reader.read(free) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read.min(free.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(PcapError::Io {
                        offset: self.offset + (self.end - self.start) as u64,
                        source,
                    })
                }
            }
        }
        Ok(self.end - self.start >= n)
    }

    /// Consumes `n` buffered bytes (`n` is at most what is available); returns the buffer index
    /// where they start, so the caller can keep slicing them until the next `fill`.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let at = self.start;
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        at
    }

    /// The buffered bytes at `start..start + len`, as returned by `consume`.
    #[inline]
    pub(crate) fn slice(&self, start: usize, len: usize) -> &[u8] {
        self.buf.get(start..start + len).unwrap_or(&[])
    }

    /// Consumes `n` bytes, reading and discarding what is not buffered; returns how many bytes
    /// were skipped (fewer than `n` when the input ended).
    pub(crate) fn skip(&mut self, n: u64) -> Result<u64, PcapError> {
        let mut left = n;
        loop {
            let buffered = (self.end - self.start) as u64;
            let step = buffered.min(left);
            self.consume(step as usize);
            left -= step;
            if left == 0 {
                return Ok(n);
            }
            if !self.fill(1)? {
                return Ok(n - left);
            }
        }
    }
}

/// The byte order of a pcap file or pcapng section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The `u16` at `off` of `b`, or 0 when `b` is too short (callers check lengths first).
    #[inline]
    pub(crate) fn u16(self, b: &[u8], off: usize) -> u16 {
        let mut a = [0u8; 2];
        if let Some(s) = b.get(off..off + 2) {
            a.copy_from_slice(s);
        }
        match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        }
    }

    /// The `u32` at `off` of `b`, or 0 when `b` is too short (callers check lengths first).
    #[inline]
    pub(crate) fn u32(self, b: &[u8], off: usize) -> u32 {
        let mut a = [0u8; 4];
        if let Some(s) = b.get(off..off + 4) {
            a.copy_from_slice(s);
        }
        match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        }
    }

    /// The `u64` at `off` of `b`, or 0 when `b` is too short (callers check lengths first).
    #[inline]
    pub(crate) fn u64(self, b: &[u8], off: usize) -> u64 {
        let mut a = [0u8; 8];
        if let Some(s) = b.get(off..off + 8) {
            a.copy_from_slice(s);
        }
        match self {
            Self::Little => u64::from_le_bytes(a),
            Self::Big => u64::from_be_bytes(a),
        }
    }
}
