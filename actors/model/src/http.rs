use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BodyCapture, Endpoint, EpochNanos, Header};

/// How complete the parse of an exchange is, as Spider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParseState {
    /// Request and final response parsed whole.
    Ok,
    /// Parsed, with something odd noted in `warnings` (a body cut by the bound, an undecodable encoding).
    Warning,
    /// Some of the exchange was lost (capture gap, connection closed early, no response).
    Incomplete,
    /// The bytes could not be parsed as HTTP past some point.
    Error,
}

/// Request and response timestamps of one exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpTiming {
    pub request_start: EpochNanos,
    pub request_end: Option<EpochNanos>,
    pub response_start: Option<EpochNanos>,
    pub response_end: Option<EpochNanos>,
}

/// One HTTP/1.x request with its final response, if one was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpExchange {
    /// The TCP session it travelled on (the Whisperer's session id).
    pub session_id: u64,
    /// Position of the exchange in its session, from 0.
    pub index: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    pub method: String,
    /// The `Host` header verbatim (port included); `None` when absent.
    pub host: Option<String>,
    /// The request-line target as sent (not decoded).
    pub uri: String,
    /// The path part of `uri`, percent-decoded.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// The final status (not a `1xx` interim one); `None` when no response was seen.
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub request_headers: Vec<Header>,
    pub response_headers: Vec<Header>,
    pub request_body: BodyCapture,
    pub response_body: Option<BodyCapture>,
    /// Status codes of interim `1xx` responses before the final one.
    pub interim_statuses: Vec<u16>,
    pub timing: HttpTiming,
    pub state: ParseState,
    pub warnings: Vec<String>,
}

impl HttpExchange {
    /// Status class for grouping: `1xx` … `5xx`, or `none` without a response.
    pub fn status_class(&self) -> &'static str {
        match self.status {
            None => "none",
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(_) => "5xx",
        }
    }

    /// Response time: request start to response end, when both are known.
    pub fn duration_ns(&self) -> Option<i64> {
        self.timing
            .response_end
            .map(|end| end.saturating_sub(self.timing.request_start))
    }
}
