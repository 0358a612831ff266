//! Byte-level searches: the empty line that ends a head or a trailer section, and the start of
//! a request or status line (for detection and resynchronisation).

/// Longest method token accepted when looking for a request line.
const MAX_METHOD_LEN: usize = 24;

/// Incremental search for the empty line that ends a header section, carried across calls so a
/// head arriving in many pieces is scanned once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct EndScan {
    line: LineSoFar,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LineSoFar {
    #[default]
    Empty,
    Cr,
    Text,
}

impl EndScan {
    /// A scan positioned inside a line (a head's first line cannot be the empty one).
    pub(super) fn in_line() -> Self {
        Self {
            line: LineSoFar::Text,
        }
    }

    /// A scan positioned at a line start (a trailer section may be empty).
    pub(super) fn at_line_start() -> Self {
        Self::default()
    }

    /// The offset just past the empty line when `bytes` completes the section.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut start = 0;
        while let Some(rest) = bytes.get(start..) {
            let Some(pos) = rest.iter().position(|&b| b == b'\n') else {
                self.line = match (self.line, rest) {
                    (_, []) => self.line,
                    (LineSoFar::Empty, b"\r") => LineSoFar::Cr,
                    _ => LineSoFar::Text,
                };
                return None;
            };
            let empty = match self.line {
                LineSoFar::Empty => pos == 0 || (pos == 1 && rest.first() == Some(&b'\r')),
                LineSoFar::Cr => pos == 0,
                LineSoFar::Text => false,
            };
            if empty {
                self.line = LineSoFar::Empty;
                return Some(start + pos + 1);
            }
            self.line = LineSoFar::Empty;
            start += pos + 1;
        }
        None
    }
}

/// Whether bytes at a line start begin a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Candidate {
    /// A whole start line prefix was recognised (`METHOD target HTTP/1.` or `HTTP/1.x NNN`).
    Yes,
    /// Not a message start.
    No,
    /// A prefix of a start line; `past_method` when a method token and its space were seen.
    Partial { past_method: bool },
}

fn is_method_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b == b'-' || b == b'_'
}

/// Classifies bytes as the start of a request line: an upper-case method token, a space, a
/// target, a space and `HTTP/1.`.
pub(super) fn request_candidate(bytes: &[u8]) -> Candidate {
    let method_len = bytes.iter().take_while(|&&b| is_method_byte(b)).count();
    if method_len > MAX_METHOD_LEN {
        return Candidate::No;
    }
    let Some(after_method) = bytes.get(method_len..) else {
        return Candidate::No;
    };
    match after_method.first() {
        None => return Candidate::Partial { past_method: false },
        Some(b' ') if method_len > 0 => {}
        Some(_) => return Candidate::No,
    }
    let target = after_method.get(1..).unwrap_or_default();
    let target_len = target
        .iter()
        .take_while(|&&b| b > b' ' && b != 0x7f)
        .count();
    let partial = Candidate::Partial { past_method: true };
    let Some(after_target) = target.get(target_len..) else {
        return Candidate::No;
    };
    match after_target.first() {
        None => return partial,
        Some(b' ') if target_len > 0 => {}
        Some(_) => return Candidate::No,
    }
    match_prefix(
        after_target.get(1..).unwrap_or_default(),
        b"HTTP/1.",
        partial,
    )
}

/// Classifies bytes as the start of a status line: `HTTP/1.x NNN`.
pub(super) fn response_candidate(bytes: &[u8]) -> Candidate {
    const SHAPE: &[u8] = b"HTTP/1.0 000";
    let partial = Candidate::Partial { past_method: false };
    for (i, &want) in SHAPE.iter().enumerate() {
        let Some(&b) = bytes.get(i) else {
            return partial;
        };
        let ok = if want == b'0' {
            b.is_ascii_digit()
        } else {
            b == want
        };
        if !ok {
            return Candidate::No;
        }
    }
    Candidate::Yes
}

fn match_prefix(bytes: &[u8], want: &[u8], partial: Candidate) -> Candidate {
    let n = bytes.len().min(want.len());
    if bytes.get(..n) != want.get(..n) {
        Candidate::No
    } else if n < want.len() {
        partial
    } else {
        Candidate::Yes
    }
}

/// True when `bytes` start with an HTTP/1.x request line, or with a prefix of one that reaches at
/// least the space after the method.
pub fn looks_like_request(bytes: &[u8]) -> bool {
    matches!(
        request_candidate(bytes),
        Candidate::Yes | Candidate::Partial { past_method: true }
    )
}
