//! The HTTP/1.x scanner of one direction of a session: it masks secret bytes in place as the
//! stream goes by.
//!
//! Every byte is decided when it is seen, from the bytes before it only: frames are stored as
//! they arrive, before the rest of a header line or body is known. So the bytes of one stream cut
//! into pieces anywhere come out the same as the stream whole, and what cannot be decided safely
//! is masked:
//!
//! - A message starts with its request or status line; the request target's configured query
//!   parameters are masked.
//! - Header values of configured names are masked whole, except, for `Authorization` and
//!   `Proxy-Authorization`, a known scheme word (`Bearer`, `Basic`, …) at the start; a value that
//!   does not start with one is masked from its first byte that is no prefix of a known scheme.
//!   `Referer`, `Location` and `Content-Location` get their URL parameters masked. CR and LF stay.
//! - Bodies are framed as HTTP frames them (Content-Length, chunked, until close; none for HEAD,
//!   1xx, 204, 304) and scanned by type: JSON fields and form fields are masked in uncompressed
//!   bodies (chunked ones included: the chunk framing stays); a compressed JSON or form body is
//!   masked whole. Other bodies pass.
//! - A stream that does not start with a request or status line when its first byte is known
//!   (SYN seen) is not HTTP and passes (TLS, databases, …); after `101 Switching Protocols` or a
//!   `2xx` to `CONNECT` the stream passes too (except to `h2c`, whose compressed headers are
//!   masked).
//! - Otherwise, when the position in the stream is not known (the session's start was not
//!   captured, bytes were lost, a message did not parse), the scanner *hunts*: every byte but CR
//!   and LF is masked until a whole line is a request or status line; the headers after it are
//!   read again.

mod body;

use std::collections::VecDeque;

use self::body::{Length, Scan};
use crate::head::{Framing, Method, Probe, Scheme, SchemeStep, StartLine};
use crate::out::{Out, Run, MASK};
use crate::params::UrlMasker;
use crate::rules::{is_tchar, HeaderKind, Rules};

/// Requests waiting for their response, remembered for framing (HEAD, CONNECT).
const MAX_PENDING: usize = 64;
/// Bytes of a framing header's value kept to read it.
const MAX_CAPTURE: usize = 256;

/// What the two directions of a session tell each other: the requests' methods, in order, and
/// whether the connection left HTTP.
#[derive(Debug, Default)]
pub struct SessionLink {
    requests: VecDeque<Method>,
    upgraded: bool,
}

impl SessionLink {
    fn request(&mut self, method: Method) {
        if self.requests.len() == MAX_PENDING {
            self.requests.pop_front();
        }
        self.requests.push_back(method);
    }
}

#[derive(Debug, Clone, Copy)]
enum Auth {
    Scheme(Scheme),
    Blank,
    Credentials,
}

#[derive(Debug)]
enum State {
    /// Between messages.
    Start,
    /// The first word of a start line (bytes in `token`).
    Token,
    Target(UrlMasker),
    Version,
    Status {
        code: u16,
        digits: u8,
    },
    Reason,
    LineStart {
        trailer: bool,
    },
    Name {
        trailer: bool,
    },
    Value {
        kind: HeaderKind,
        trailer: bool,
        leading: bool,
        auth: Auth,
        url: UrlMasker,
    },
    Body {
        length: Length,
        scan: Scan,
    },
    Opaque,
    Hunting(Probe),
}

/// The message being read.
#[derive(Debug, Default)]
struct Message {
    response: bool,
    method: Method,
    status: u16,
    framing: Framing,
    h2c: bool,
}

/// The scanner of one direction.
#[derive(Debug)]
pub struct HttpRedactor {
    state: State,
    /// The stream's first byte is the first byte seen (its SYN was captured).
    clean: bool,
    messages: u64,
    msg: Message,
    token: Vec<u8>,
    name: Vec<u8>,
    name_too_long: bool,
    capture: Vec<u8>,
    /// The kind of the last header, for folded continuation lines.
    last_kind: HeaderKind,
    runs: Vec<Run>,
}

impl HttpRedactor {
    /// `clean`: the first byte fed is the stream's first byte. Otherwise the scanner starts by
    /// hunting for a start line.
    pub fn new(clean: bool) -> Self {
        Self {
            state: if clean {
                State::Start
            } else {
                State::Hunting(Probe::new(true))
            },
            clean,
            messages: 0,
            msg: Message::default(),
            token: Vec::with_capacity(16),
            name: Vec::new(),
            name_too_long: false,
            capture: Vec::new(),
            last_kind: HeaderKind::Plain,
            runs: Vec::new(),
        }
    }

    /// The runs masked by the last [`Self::redact`], relative to its buffer.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// True once the stream is known not to be HTTP (or no longer): nothing more is masked.
    pub fn is_opaque(&self) -> bool {
        matches!(self.state, State::Opaque)
    }

    /// True while the scanner does not know where it is and masks everything.
    pub fn is_hunting(&self) -> bool {
        matches!(self.state, State::Hunting(_))
    }

    /// Masks the next bytes of the stream in place.
    pub fn redact(&mut self, rules: &Rules, buf: &mut [u8], link: &mut SessionLink) {
        let mut runs = std::mem::take(&mut self.runs);
        runs.clear();
        let mut out = Out {
            buf,
            runs: &mut runs,
        };
        let mut i = 0;
        while i < out.buf.len() {
            i = self.step(rules, &mut out, i, link);
        }
        self.runs = runs;
    }

    /// Bytes were lost for good: hunt for the next start line.
    pub fn lose(&mut self) {
        if !self.is_opaque() {
            self.state = State::Hunting(Probe::new(false));
        }
    }

    fn not_http(&mut self) {
        self.state = if self.clean && self.messages == 0 {
            State::Opaque
        } else {
            State::Hunting(Probe::new(false))
        };
    }

    fn end_message(&mut self) {
        self.messages += 1;
        self.msg = Message::default();
        self.state = State::Start;
    }

    /// Handles the byte at `i` (and maybe more); returns where to go on.
    fn step(
        &mut self,
        rules: &Rules,
        out: &mut Out<'_>,
        i: usize,
        link: &mut SessionLink,
    ) -> usize {
        let byte = out.buf[i];
        match &mut self.state {
            State::Opaque => out.buf.len(),
            State::Start => {
                if byte == b'\r' || byte == b'\n' {
                    return i + 1;
                }
                if link.upgraded {
                    self.state = State::Opaque;
                } else {
                    self.token.clear();
                    self.state = State::Token;
                }
                i
            }
            State::Token => {
                if byte == b' ' && !self.token.is_empty() {
                    self.msg = Message::default();
                    if self.token.starts_with(b"HTTP/") {
                        self.msg.response = true;
                        self.state = State::Status { code: 0, digits: 0 };
                    } else {
                        self.msg.method = Method::of(&self.token);
                        self.state = State::Target(UrlMasker::default());
                    }
                    i + 1
                } else if (is_tchar(byte) || byte == b'/') && self.token.len() < 16 {
                    self.token.push(byte);
                    i + 1
                } else {
                    self.not_http();
                    i
                }
            }
            State::Target(url) => match byte {
                b' ' => {
                    self.token.clear();
                    self.state = State::Version;
                    i + 1
                }
                b'\r' | b'\n' => {
                    self.not_http();
                    i
                }
                _ => {
                    if rules.has_params() {
                        url.byte(rules, out, i);
                    }
                    i + 1
                }
            },
            State::Version => match byte {
                b'\n' if self.token.starts_with(b"HTTP/") => {
                    link.request(self.msg.method);
                    self.state = State::LineStart { trailer: false };
                    i + 1
                }
                b'\r' | b' ' => i + 1,
                _ if byte != b'\n' && self.token.len() < 8 => {
                    self.token.push(byte);
                    i + 1
                }
                _ => {
                    self.not_http();
                    i
                }
            },
            State::Status { code, digits } => match byte {
                b'0'..=b'9' if *digits < 3 => {
                    *code = *code * 10 + u16::from(byte - b'0');
                    *digits += 1;
                    i + 1
                }
                b' ' | b'\r' | b'\n' if *digits == 3 => {
                    self.msg.status = *code;
                    self.state = State::Reason;
                    i
                }
                _ => {
                    self.not_http();
                    i
                }
            },
            State::Reason => match out.buf[i..].iter().position(|b| *b == b'\n') {
                Some(at) => {
                    self.state = State::LineStart { trailer: false };
                    i + at + 1
                }
                None => out.buf.len(),
            },
            State::LineStart { trailer } => {
                let trailer = *trailer;
                match byte {
                    b'\r' => i + 1,
                    b'\n' => {
                        self.end_head(rules, trailer, link);
                        i + 1
                    }
                    b' ' | b'\t' => {
                        // A folded line continues the last header's value.
                        let kind = match self.last_kind {
                            HeaderKind::Secret | HeaderKind::Authorization => HeaderKind::Secret,
                            _ => HeaderKind::Plain,
                        };
                        self.capture.clear();
                        self.state = value_state(kind, trailer);
                        i
                    }
                    _ => {
                        self.name.clear();
                        self.name_too_long = false;
                        self.state = State::Name { trailer };
                        i
                    }
                }
            }
            State::Name { trailer } => {
                let trailer = *trailer;
                match byte {
                    b':' => {
                        let mut kind = if self.name_too_long {
                            HeaderKind::Plain
                        } else {
                            rules.header_kind(&self.name)
                        };
                        if trailer
                            && !matches!(kind, HeaderKind::Secret | HeaderKind::Authorization)
                        {
                            kind = HeaderKind::Plain;
                        }
                        self.last_kind = kind;
                        self.capture.clear();
                        self.state = value_state(kind, trailer);
                    }
                    b'\n' => self.state = State::LineStart { trailer },
                    _ if self.name.len() < rules.max_header() => {
                        self.name.push(byte.to_ascii_lowercase());
                    }
                    _ => self.name_too_long = true,
                }
                i + 1
            }
            State::Value { .. } => self.value(rules, out, i),
            State::Body { .. } => self.body(rules, out, i),
            State::Hunting(probe) => {
                if byte != b'\r' && byte != b'\n' {
                    out.set(i, MASK);
                }
                match probe.byte(byte) {
                    Some(StartLine::Request(method)) => {
                        self.msg = Message {
                            method,
                            ..Message::default()
                        };
                        link.request(method);
                        self.state = State::LineStart { trailer: false };
                    }
                    Some(StartLine::Response(status)) => {
                        self.msg = Message {
                            response: true,
                            status,
                            ..Message::default()
                        };
                        self.state = State::LineStart { trailer: false };
                    }
                    None => {}
                }
                i + 1
            }
        }
    }

    fn value(&mut self, rules: &Rules, out: &mut Out<'_>, i: usize) -> usize {
        let State::Value {
            kind,
            trailer,
            leading,
            auth,
            url,
        } = &mut self.state
        else {
            return i;
        };
        let byte = out.buf[i];
        if byte == b'\n' {
            let (kind, trailer) = (*kind, *trailer);
            self.end_value(kind);
            self.state = State::LineStart { trailer };
            return i + 1;
        }
        if *leading && (byte == b' ' || byte == b'\t') {
            return i + 1;
        }
        *leading = false;
        let line_end = out.buf[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(out.buf.len(), |at| i + at);
        match kind {
            HeaderKind::Plain => line_end,
            HeaderKind::Secret => {
                mask_line(out, i, line_end);
                line_end
            }
            HeaderKind::Authorization => {
                let mut j = i;
                while j < line_end {
                    match auth {
                        Auth::Credentials => {
                            mask_line(out, j, line_end);
                            return line_end;
                        }
                        Auth::Scheme(scheme) => match scheme.step(out.buf[j]) {
                            SchemeStep::Word => j += 1,
                            SchemeStep::End => {
                                *auth = Auth::Blank;
                                j += 1;
                            }
                            SchemeStep::Secret => *auth = Auth::Credentials,
                        },
                        Auth::Blank if out.buf[j] == b' ' || out.buf[j] == b'\t' => j += 1,
                        Auth::Blank => *auth = Auth::Credentials,
                    }
                }
                line_end
            }
            HeaderKind::Url => {
                for j in i..line_end {
                    if out.buf[j] != b'\r' {
                        url.byte(rules, out, j);
                    }
                }
                line_end
            }
            HeaderKind::ContentLength
            | HeaderKind::ContentType
            | HeaderKind::ContentEncoding
            | HeaderKind::TransferEncoding
            | HeaderKind::Upgrade => {
                let room = MAX_CAPTURE.saturating_sub(self.capture.len());
                let take = (line_end - i).min(room);
                self.capture.extend_from_slice(&out.buf[i..i + take]);
                line_end
            }
        }
    }

    fn end_value(&mut self, kind: HeaderKind) {
        let value = std::mem::take(&mut self.capture);
        let framing = &mut self.msg.framing;
        match kind {
            HeaderKind::ContentLength => framing.content_length(&value),
            HeaderKind::Upgrade => {
                self.msg.h2c = String::from_utf8_lossy(&value)
                    .split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("h2c"));
            }
            HeaderKind::ContentType => framing.content_type(&value),
            HeaderKind::ContentEncoding => framing.content_encoding(&value),
            HeaderKind::TransferEncoding => framing.transfer_encoding(&value),
            _ => {}
        }
        self.capture = value;
        self.capture.clear();
    }
}

fn value_state(kind: HeaderKind, trailer: bool) -> State {
    State::Value {
        kind,
        trailer,
        leading: true,
        auth: Auth::Scheme(Scheme::new()),
        url: UrlMasker::default(),
    }
}

/// Masks `buf[from..to]` but CR bytes.
fn mask_line(out: &mut Out<'_>, from: usize, to: usize) {
    let mut start = from;
    for j in from..to {
        if out.buf[j] == b'\r' {
            out.fill(start, j);
            start = j + 1;
        }
    }
    out.fill(start, to);
}
