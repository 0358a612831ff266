use spider_model::{Endpoint, EpochNanos, HttpExchange};

/// The direction of bytes in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (requests).
    ToServer,
    /// Server to client (responses).
    ToClient,
}

impl Direction {
    pub fn reverse(self) -> Self {
        match self {
            Self::ToServer => Self::ToClient,
            Self::ToClient => Self::ToServer,
        }
    }

    /// 0 for `ToServer`, 1 for `ToClient`: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Self::ToServer => 0,
            Self::ToClient => 1,
        }
    }
}

/// The session a parser works on; parsers copy it into the messages they emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamContext {
    pub session_id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
}

/// Bounds that keep a parser's memory finite whatever the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// Bytes of each decoded body kept in the record.
    pub max_body_bytes: usize,
    /// Bytes a body may decode to (gzip, deflate, br) before decoding stops.
    pub max_decoded_bytes: usize,
    /// Bytes a message head (request or status line plus headers) may take.
    pub max_head_bytes: usize,
    /// Requests waiting for their response (pipelining) before the oldest is emitted unanswered.
    pub max_pending_requests: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_decoded_bytes: 1024 * 1024,
            max_head_bytes: 64 * 1024,
            max_pending_requests: 64,
        }
    }
}

/// What a stream parser emits.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedMessage {
    Http(Box<HttpExchange>),
}

/// A parser of one session's two byte streams.
///
/// Calls arrive in capture order across the two directions, and in stream order within one
/// direction. `time` is the capture time of the segment that carried the bytes.
pub trait StreamParser: Send {
    /// The protocol this parser speaks.
    fn protocol(&self) -> Protocol;

    /// Contiguous bytes of one direction, following what came before (or a gap).
    fn data(
        &mut self,
        dir: Direction,
        time: EpochNanos,
        bytes: &[u8],
        out: &mut Vec<ParsedMessage>,
    );

    /// `len` bytes of one direction were never seen; what follows is `data` after them.
    fn gap(&mut self, dir: Direction, time: EpochNanos, len: u64, out: &mut Vec<ParsedMessage>);

    /// One direction ended (FIN or RST): a body delimited by the close is complete.
    fn end(&mut self, dir: Direction, time: EpochNanos, out: &mut Vec<ParsedMessage>);

    /// The session is over: emit everything still pending (requests without a response included).
    fn finish(&mut self, time: EpochNanos, out: &mut Vec<ParsedMessage>);

    /// Bytes currently buffered, for the caller's memory accounting.
    fn buffered_bytes(&self) -> usize;
}

/// Application protocols Spider recognises on a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Http1,
    Tls,
}

/// Recognises the protocol from the first bytes a client sent; `None` when unknown (or too short).
pub fn detect(client_first_bytes: &[u8]) -> Option<Protocol> {
    if crate::http::looks_like_request(client_first_bytes) {
        Some(Protocol::Http1)
    } else if crate::tls::looks_like_handshake(client_first_bytes) {
        Some(Protocol::Tls)
    } else {
        None
    }
}
