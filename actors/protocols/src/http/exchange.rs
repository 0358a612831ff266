//! Exchanges under construction: parsed heads, the request slots waiting for their response, and
//! the response being parsed.

use spider_model::{BodyCapture, EpochNanos, Header, HttpExchange, HttpTiming, ParseState};

use super::query::split_target;
use crate::StreamContext;

/// Headers httparse gets on the stack; heads with more are parsed again with room for all.
pub(super) const STACK_HEADERS: usize = 64;

/// A request head as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestHead {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<Header>,
}

/// A response head as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
}

pub(super) fn version_name(minor: Option<u8>) -> String {
    match minor {
        Some(0) => "HTTP/1.0".to_owned(),
        _ => "HTTP/1.1".to_owned(),
    }
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(super) fn convert_headers(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| (h.name.to_owned(), lossy(h.value)))
        .collect()
}

/// The first value of a header (names compare case-insensitively).
pub(super) fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How a message declares its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Declared {
    Unspecified,
    Length(u64),
    Chunked,
    /// A transfer coding other than chunked last: only the close delimits the body.
    OtherCoding,
    Invalid(&'static str),
}

/// The framing headers declare (Transfer-Encoding over Content-Length), and the announced
/// Content-Length when it is valid.
pub(super) fn declared(headers: &[Header]) -> (Declared, Option<u64>) {
    let mut coding: Option<&str> = None;
    let mut length: Option<Result<u64, ()>> = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if let Some(last) = value.rsplit(',').map(str::trim).find(|c| !c.is_empty()) {
                coding = Some(last);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            for item in value.split(',') {
                let parsed = item.trim().parse::<u64>().map_err(|_| ());
                length = match (length, parsed) {
                    (None, parsed) => Some(parsed),
                    (Some(Ok(a)), Ok(b)) if a == b => Some(Ok(a)),
                    _ => Some(Err(())),
                };
            }
        }
    }
    let announced = length.and_then(Result::ok);
    let declared = match (coding, length) {
        (Some(c), _) if c.eq_ignore_ascii_case("chunked") => Declared::Chunked,
        (Some(_), _) => Declared::OtherCoding,
        (None, Some(Ok(n))) => Declared::Length(n),
        (None, Some(Err(()))) => Declared::Invalid("invalid content-length"),
        (None, None) => Declared::Unspecified,
    };
    (declared, announced)
}

/// Where the response being parsed goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The slot whose `resp` is `Started`.
    Slot,
    /// Its request was not seen: counted and dropped.
    Orphan,
    /// Parsed before its request head arrived: attached to the next request.
    Early,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RespState {
    Waiting,
    Started,
    Done,
}

/// Whether a request asks to leave HTTP on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tunnel {
    No,
    Upgrade,
    Connect,
}

/// A request whose exchange is not emitted yet.
#[derive(Debug)]
pub(super) struct Slot {
    pub ex: HttpExchange,
    pub req_done: bool,
    pub resp: RespState,
    /// The final response head was parsed (the response may still be in progress).
    pub final_seen: bool,
    pub is_head: bool,
    pub tunnel: Tunnel,
    pub incomplete: bool,
    pub error: bool,
    /// The request was found by resynchronising after a gap: requests before it may be lost,
    /// so responses that started before it answer those, not this one.
    pub after_resync: bool,
}

impl Slot {
    pub(super) fn new(
        ctx: &StreamContext,
        index: u32,
        head: RequestHead,
        start: EpochNanos,
    ) -> Self {
        let (path, query) = split_target(&head.uri);
        let host = header(&head.headers, "host").map(str::to_owned);
        let is_head = head.method == "HEAD";
        let tunnel = if head.method == "CONNECT" {
            Tunnel::Connect
        } else if header(&head.headers, "upgrade").is_some() {
            Tunnel::Upgrade
        } else {
            Tunnel::No
        };
        let ex = HttpExchange {
            session_id: ctx.session_id,
            index,
            client: ctx.client,
            server: ctx.server,
            method: head.method,
            host,
            uri: head.uri,
            path,
            query,
            version: head.version,
            status: None,
            reason: None,
            request_headers: head.headers,
            response_headers: Vec::new(),
            request_body: BodyCapture::default(),
            response_body: None,
            interim_statuses: Vec::new(),
            timing: HttpTiming {
                request_start: start,
                ..HttpTiming::default()
            },
            state: ParseState::Ok,
            warnings: Vec::new(),
        };
        Self {
            ex,
            req_done: false,
            resp: RespState::Waiting,
            final_seen: false,
            is_head,
            tunnel,
            incomplete: false,
            error: false,
            after_resync: false,
        }
    }

    pub(super) fn attach(&mut self, part: ResponsePart) {
        self.ex.status = part.status;
        self.ex.reason = part.reason;
        self.ex.response_headers = part.headers;
        self.ex.response_body = part.body;
        self.ex.interim_statuses = part.interim;
        self.ex.timing.response_start = Some(part.start);
        self.ex.timing.response_end = part.end;
        self.ex.warnings.extend(part.warnings);
        self.incomplete |= part.incomplete;
        self.error |= part.error;
        self.resp = RespState::Done;
    }

    /// Bytes of body data held.
    pub(super) fn held(&self) -> usize {
        body_len(Some(&self.ex.request_body)) + body_len(self.ex.response_body.as_ref())
    }

    pub(super) fn into_exchange(mut self) -> HttpExchange {
        if self.ex.status.is_none() {
            self.incomplete = true;
            if self.resp == RespState::Waiting {
                self.ex.warnings.push("no response seen".to_owned());
            }
        }
        if !self.req_done {
            self.incomplete = true;
        }
        self.ex.state = if self.error {
            ParseState::Error
        } else if self.incomplete {
            ParseState::Incomplete
        } else if !self.ex.warnings.is_empty() {
            ParseState::Warning
        } else {
            ParseState::Ok
        };
        self.ex
    }
}

pub(super) fn body_len(body: Option<&BodyCapture>) -> usize {
    match body.and_then(|b| b.data.as_ref()) {
        Some(spider_model::BodyData::Utf8(s) | spider_model::BodyData::Base64(s)) => s.len(),
        None => 0,
    }
}

/// The response being parsed (interim heads included) or parsed ahead of its request.
#[derive(Debug)]
pub(super) struct ResponsePart {
    pub target: Target,
    pub start: EpochNanos,
    pub end: Option<EpochNanos>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub headers: Vec<Header>,
    pub interim: Vec<u16>,
    pub body: Option<BodyCapture>,
    pub warnings: Vec<String>,
    pub incomplete: bool,
    pub error: bool,
}

impl ResponsePart {
    pub(super) fn new(target: Target, start: EpochNanos) -> Self {
        Self {
            target,
            start,
            end: None,
            status: None,
            reason: None,
            headers: Vec::new(),
            interim: Vec::new(),
            body: None,
            warnings: Vec::new(),
            incomplete: false,
            error: false,
        }
    }
}
