//! Writing masks into a buffer and remembering where they went.

/// The byte a masked value byte becomes.
pub const MASK: u8 = b'*';

/// A run of bytes set to one value, at `start` (relative to the buffer of one call, or a stream
/// offset once the stream layer has placed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub len: u64,
    pub byte: u8,
}

impl Run {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// A buffer being masked in place, and the runs written into it.
#[derive(Debug)]
pub(crate) struct Out<'a> {
    pub buf: &'a mut [u8],
    pub runs: &'a mut Vec<Run>,
}

impl Out<'_> {
    /// Sets `buf[i]` to `byte`.
    pub fn set(&mut self, i: usize, byte: u8) {
        self.buf[i] = byte;
        let at = i as u64;
        match self.runs.last_mut() {
            Some(last) if last.byte == byte && last.end() == at => last.len += 1,
            _ => self.runs.push(Run {
                start: at,
                len: 1,
                byte,
            }),
        }
    }

    /// Masks `buf[from..to]`.
    pub fn fill(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        self.buf[from..to].fill(MASK);
        let (start, len) = (from as u64, (to - from) as u64);
        match self.runs.last_mut() {
            Some(last) if last.byte == MASK && last.end() == start => last.len += len,
            _ => self.runs.push(Run {
                start,
                len,
                byte: MASK,
            }),
        }
    }
}

/// Masks `bytes` whole with a throwaway run list (record-level use).
pub(crate) fn with_out<R>(bytes: &mut [u8], body: impl FnOnce(&mut Out<'_>) -> R) -> R {
    let mut runs = Vec::new();
    let mut out = Out {
        buf: bytes,
        runs: &mut runs,
    };
    body(&mut out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_writes_of_one_byte_make_one_run() {
        let mut bytes = *b"abcdefgh";
        let mut runs = Vec::new();
        let mut out = Out {
            buf: &mut bytes,
            runs: &mut runs,
        };
        out.fill(1, 3);
        out.set(3, MASK);
        out.set(4, b'0');
        out.set(6, MASK);
        assert_eq!(&bytes, b"a***0f*h");
        assert_eq!(
            runs,
            vec![
                Run {
                    start: 1,
                    len: 3,
                    byte: MASK
                },
                Run {
                    start: 4,
                    len: 1,
                    byte: b'0'
                },
                Run {
                    start: 6,
                    len: 1,
                    byte: MASK
                },
            ]
        );
    }
}
