//! Pieces of message heads: recognising a start line while hunting, the Authorization scheme
//! word, and the framing headers' values.

use crate::rules::{is_tchar, KNOWN_SCHEMES};

/// The request method, as far as the framing of its response depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Method {
    #[default]
    Other,
    Head,
    Connect,
}

impl Method {
    pub fn of(token: &[u8]) -> Self {
        match token {
            b"HEAD" => Self::Head,
            b"CONNECT" => Self::Connect,
            _ => Self::Other,
        }
    }
}

/// A line recognised as the start of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request(Method),
    Response(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Token,
    Target,
    Version,
    Code,
    Rest,
    /// Not a start line: wait for the next line.
    Dead,
}

/// Recognises `METHOD SP target SP HTTP/x.y` or `HTTP/x.y SP ddd …` one byte at a time.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    phase: Phase,
    token: [u8; 16],
    len: u8,
    matched: u8,
    code: u16,
    digits: u8,
}

impl Probe {
    /// At the start of a line (`true`) or somewhere inside one.
    pub fn new(at_line_start: bool) -> Self {
        Self {
            phase: if at_line_start {
                Phase::Token
            } else {
                Phase::Dead
            },
            token: [0; 16],
            len: 0,
            matched: 0,
            code: 0,
            digits: 0,
        }
    }

    /// One byte; a line that ends as a start line is returned at its LF.
    pub fn byte(&mut self, byte: u8) -> Option<StartLine> {
        if byte == b'\n' {
            let found = match self.phase {
                Phase::Version if self.matched >= 5 => Some(StartLine::Request(Method::of(
                    &self.token[..usize::from(self.len)],
                ))),
                Phase::Code | Phase::Rest if self.digits == 3 => {
                    Some(StartLine::Response(self.code))
                }
                _ => None,
            };
            *self = Self::new(true);
            return found;
        }
        self.phase = match (self.phase, byte) {
            (Phase::Dead, _) => Phase::Dead,
            (_, b'\r') => self.phase,
            (Phase::Token, b' ') if self.token.starts_with(b"HTTP/") => Phase::Code,
            (Phase::Token, b' ') if self.len > 0 => Phase::Target,
            (Phase::Token, _) if (is_tchar(byte) || byte == b'/') && self.len < 16 => {
                self.token[usize::from(self.len)] = byte;
                self.len += 1;
                Phase::Token
            }
            (Phase::Target, b' ') => Phase::Version,
            (Phase::Target, _) if byte > b' ' && byte != 0x7f => Phase::Target,
            (Phase::Version, _)
                if self.matched < 5 && byte == b"HTTP/"[usize::from(self.matched)] =>
            {
                self.matched += 1;
                Phase::Version
            }
            (Phase::Version, b'0'..=b'9' | b'.') if self.matched >= 5 => Phase::Version,
            (Phase::Code, b'0'..=b'9') if self.digits < 3 => {
                self.code = self.code * 10 + u16::from(byte - b'0');
                self.digits += 1;
                Phase::Code
            }
            (Phase::Code, b' ') if self.digits == 3 => Phase::Rest,
            (Phase::Rest, _) => Phase::Rest,
            _ => Phase::Dead,
        };
        None
    }

    /// Bytes of the line were not seen: it can no longer be recognised.
    pub fn lose_line(&mut self) {
        self.phase = Phase::Dead;
    }
}

/// The scheme word of an Authorization value, while it is being read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scheme {
    word: [u8; 20],
    len: u8,
}

/// What the next byte of an Authorization value's scheme word does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemeStep {
    /// Still a prefix of a known scheme: the byte stays.
    Word,
    /// A known scheme ended at this blank: credentials follow.
    End,
    /// The value is not a known scheme: mask from this byte on.
    Secret,
}

impl Scheme {
    pub fn new() -> Self {
        Self {
            word: [0; 20],
            len: 0,
        }
    }

    pub fn step(&mut self, byte: u8) -> SchemeStep {
        let word = &self.word[..usize::from(self.len)];
        if byte == b' ' || byte == b'\t' {
            return if KNOWN_SCHEMES.contains(&word) {
                SchemeStep::End
            } else {
                SchemeStep::Secret
            };
        }
        let lower = byte.to_ascii_lowercase();
        let len = usize::from(self.len);
        let prefix = KNOWN_SCHEMES
            .iter()
            .any(|scheme| scheme.len() > len && scheme[len] == lower && scheme[..len] == *word);
        if prefix && len < self.word.len() {
            self.word[len] = lower;
            self.len += 1;
            SchemeStep::Word
        } else {
            SchemeStep::Secret
        }
    }
}

/// What the framing headers of a message said.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Framing {
    pub content_length: Option<u64>,
    pub bad_length: bool,
    pub chunked: bool,
    /// A transfer coding is given and the last one is not `chunked`.
    pub te_not_chunked: bool,
    /// A content or transfer coding other than `identity`/`chunked`: the body is compressed.
    pub encoded: bool,
    pub body: BodyType,
}

/// What a body is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyType {
    #[default]
    Other,
    Json,
    Form,
}

impl BodyType {
    /// `application/json`, `application/*+json`, `text/json`; `application/x-www-form-urlencoded`.
    pub fn of(content_type: &str) -> Self {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json"
            || essence == "text/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
        {
            Self::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Self::Form
        } else {
            Self::Other
        }
    }
}

/// Whether a `Content-Encoding` value leaves the body as it is.
pub fn is_identity(encoding: &str) -> bool {
    encoding
        .split(',')
        .all(|coding| coding.trim().is_empty() || coding.trim().eq_ignore_ascii_case("identity"))
}

impl Framing {
    pub fn content_length(&mut self, value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        let first = text.split(',').next().unwrap_or_default().trim();
        match first.parse::<u64>() {
            Ok(length) if self.content_length.is_none_or(|known| known == length) => {
                self.content_length = Some(length);
            }
            _ => self.bad_length = true,
        }
    }

    pub fn content_type(&mut self, value: &[u8]) {
        self.body = BodyType::of(&String::from_utf8_lossy(value));
    }

    pub fn content_encoding(&mut self, value: &[u8]) {
        if !is_identity(&String::from_utf8_lossy(value)) {
            self.encoded = true;
        }
    }

    pub fn transfer_encoding(&mut self, value: &[u8]) {
        let text = String::from_utf8_lossy(value).to_ascii_lowercase();
        let codings: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if codings.is_empty() {
            return;
        }
        self.chunked = codings.last() == Some(&"chunked");
        self.te_not_chunked = !self.chunked;
        if codings.iter().any(|c| *c != "chunked" && *c != "identity") {
            self.encoded = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(line: &[u8]) -> Option<StartLine> {
        let mut probe = Probe::new(true);
        line.iter()
            .fold(None, |found, byte| found.or(probe.byte(*byte)))
    }

    #[test]
    fn start_lines_are_recognised() {
        assert_eq!(
            probe(b"HEAD /x?y HTTP/1.1\r\n"),
            Some(StartLine::Request(Method::Head))
        );
        assert_eq!(
            probe(b"HTTP/1.0 204 No Content\r\n"),
            Some(StartLine::Response(204))
        );
        assert_eq!(probe(b"HTTP/1.1 200\n"), Some(StartLine::Response(200)));
        assert_eq!(probe(b"Cookie: a=b\r\n"), None);
        assert_eq!(probe(b"GET /x\r\n"), None);
        assert_eq!(
            probe(b"x\r\nPOST / HTTP/1.1\r\n"),
            Some(StartLine::Request(Method::Other))
        );
    }

    #[test]
    fn scheme_words() {
        let mut scheme = Scheme::new();
        let steps: Vec<SchemeStep> = b"Bearer ".iter().map(|b| scheme.step(*b)).collect();
        assert_eq!(steps.last(), Some(&SchemeStep::End));
        assert!(steps[..6].iter().all(|s| *s == SchemeStep::Word));
        let mut scheme = Scheme::new();
        assert_eq!(scheme.step(b's'), SchemeStep::Word, "scram-…");
        assert_eq!(scheme.step(b'k'), SchemeStep::Secret);
        let mut scheme = Scheme::new();
        assert_eq!(scheme.step(b'B'), SchemeStep::Word);
        assert_eq!(scheme.step(b' '), SchemeStep::Secret, "not a whole scheme");
    }

    #[test]
    fn framing_values() {
        let mut framing = Framing::default();
        framing.content_length(b" 12, 12");
        framing.transfer_encoding(b"gzip, chunked");
        framing.content_type(b"application/problem+json; charset=utf-8");
        assert_eq!(framing.content_length, Some(12));
        assert!(framing.chunked && framing.encoded && !framing.te_not_chunked);
        assert_eq!(framing.body, BodyType::Json);
        framing.content_length(b"13");
        assert!(framing.bad_length, "conflicting lengths");
        assert_eq!(
            BodyType::of("application/x-www-form-urlencoded"),
            BodyType::Form
        );
        assert!(is_identity("identity") && !is_identity("gzip"));
    }
}
