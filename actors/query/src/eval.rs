//! The evaluator: does a record match a query? The storage post-filters with it, and tests use
//! it as the oracle for the indexes.

use std::cmp::Ordering;
use std::ops::Bound;

use spider_model::{
    BodyCapture, BodyData, CloseReason, Endpoint, Header, HostRecord, HostSource, HttpExchange,
    ParseState, Record, TcpSessionRecord, TcpState,
};

use crate::ast::{Expr, Op, Query, Value, ValueRange};
use crate::fields::{Field, RecordKind};
use crate::pattern::Pattern;

/// What is known about a record besides its own fields: the Whisperer that captured it (records
/// do not carry it; a shard knows it from the batch). A `whisperer:` term is false without it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub whisperer: Option<&'a str>,
}

/// A record type a query can be evaluated on: `HttpExchange`, `TcpSessionRecord`, `HostRecord`.
pub trait Searchable: sealed::Fields {}

impl Searchable for HttpExchange {}
impl Searchable for TcpSessionRecord {}
impl Searchable for HostRecord {}

mod sealed {
    use super::*;

    pub trait Fields {
        const KIND: RecordKind;
        fn term(&self, field: &Field, op: Op, value: &Value, origin: &Origin<'_>) -> bool;
        fn full_text(&self, pattern: &Pattern) -> bool;
    }
}

/// True when `record` matches `query` (see [`matches_in`]; the record's Whisperer is unknown).
pub fn matches<R: Searchable>(query: &Query, record: &R) -> bool {
    matches_in(query, record, Origin::default())
}

/// True when `record`, captured as `origin` says, matches `query`.
///
/// A query for another kind of record matches nothing; the empty query matches everything.
/// A term on a field the record does not have a value for (no response, no handshake RTT) is
/// false, so `NOT status:*` finds exchanges without a response. Text compares without case;
/// full text looks in: for HTTP the host, path, query parameter values, header values and UTF-8
/// bodies; for TCP sessions the endpoints (`10.0.0.1:443`), state and close reason; for hosts the
/// name and the address.
pub fn matches_in<R: Searchable>(query: &Query, record: &R, origin: Origin<'_>) -> bool {
    query.kind == R::KIND
        && query
            .expr
            .as_ref()
            .is_none_or(|expr| eval(expr, record, &origin))
}

/// [`matches_in`] over any record; DNS records match nothing (no query kind has them yet).
pub fn matches_record(query: &Query, record: &Record, origin: Origin<'_>) -> bool {
    match record {
        Record::Http(exchange) => matches_in(query, exchange.as_ref(), origin),
        Record::TcpSession(session) => matches_in(query, session.as_ref(), origin),
        Record::Host(host) => matches_in(query, host, origin),
        Record::Dns(_) => false,
    }
}

fn eval<R: Searchable>(expr: &Expr, record: &R, origin: &Origin<'_>) -> bool {
    match expr {
        Expr::And(operands) => operands.iter().all(|e| eval(e, record, origin)),
        Expr::Or(operands) => operands.iter().any(|e| eval(e, record, origin)),
        Expr::Not(inner) => !eval(inner, record, origin),
        Expr::Term { field, op, value } => record.term(field, *op, value, origin),
        Expr::FullText(pattern) => record.full_text(pattern),
    }
}

impl sealed::Fields for HttpExchange {
    const KIND: RecordKind = RecordKind::Http;

    fn term(&self, field: &Field, op: Op, value: &Value, origin: &Origin<'_>) -> bool {
        let text = |s: &str| text(value, op, s);
        let number = |n: Num| number(value, op, n);
        match field {
            Field::Method => text(&self.method),
            Field::Host => self
                .host
                .as_deref()
                .is_some_and(|host| text(host) || without_port(host).is_some_and(text)),
            Field::Path => text(&self.path),
            Field::Uri => text(&self.uri),
            Field::Query => self.query.iter().any(|(n, v)| text(n) || text(v)),
            Field::QueryParam(name) => self
                .query
                .iter()
                .any(|(n, v)| n.to_lowercase() == *name && text(v)),
            Field::Status => self.status.is_some_and(|s| number(Num::integer(s))),
            Field::Duration => self.duration_ns().is_some_and(|d| number(Num::Duration(d))),
            Field::Size => number(Num::Size(
                self.request_body.wire_length.saturating_add(
                    self.response_body
                        .as_ref()
                        .map_or(0, |body| body.wire_length),
                ),
            )),
            Field::RequestSize => number(Num::Size(self.request_body.wire_length)),
            Field::ResponseSize => self
                .response_body
                .as_ref()
                .is_some_and(|body| number(Num::Size(body.wire_length))),
            Field::Client => ip(value, op, self.client),
            Field::Server => ip(value, op, self.server),
            Field::Port => number(Num::integer(self.server.port)),
            Field::Whisperer => origin.whisperer.is_some_and(text),
            Field::Session => number(Num::integer(self.session_id)),
            Field::Header(name) => {
                header(&self.request_headers, name, text)
                    || header(&self.response_headers, name, text)
            }
            Field::RequestHeader(name) => header(&self.request_headers, name, text),
            Field::ResponseHeader(name) => header(&self.response_headers, name, text),
            Field::Body => {
                body_text(Some(&self.request_body)).is_some_and(text)
                    || body_text(self.response_body.as_ref()).is_some_and(text)
            }
            Field::RequestBody => body_text(Some(&self.request_body)).is_some_and(text),
            Field::ResponseBody => body_text(self.response_body.as_ref()).is_some_and(text),
            Field::Version => {
                text(&self.version) || self.version.strip_prefix("HTTP/").is_some_and(text)
            }
            Field::State => text(parse_state_name(self.state)),
            Field::Time => number(Num::Time(self.timing.request_start)),
            _ => false,
        }
    }

    fn full_text(&self, pattern: &Pattern) -> bool {
        let found = |s: &str| pattern.occurs_in(s);
        self.host.as_deref().is_some_and(found)
            || found(&self.path)
            || self.query.iter().any(|(_, v)| found(v))
            || self.request_headers.iter().any(|(_, v)| found(v))
            || self.response_headers.iter().any(|(_, v)| found(v))
            || body_text(Some(&self.request_body)).is_some_and(found)
            || body_text(self.response_body.as_ref()).is_some_and(found)
    }
}

impl sealed::Fields for TcpSessionRecord {
    const KIND: RecordKind = RecordKind::TcpSession;

    fn term(&self, field: &Field, op: Op, value: &Value, origin: &Origin<'_>) -> bool {
        let text = |s: &str| text(value, op, s);
        let number = |n: Num| number(value, op, n);
        let (up, down) = (&self.client_to_server, &self.server_to_client);
        match field {
            Field::Client => ip(value, op, self.client),
            Field::Server => ip(value, op, self.server),
            Field::Port => number(Num::integer(self.server.port)),
            Field::State => text(tcp_state_name(self.state)),
            Field::CloseReason => self
                .close_reason
                .is_some_and(|r| text(close_reason_name(r))),
            Field::Duration => number(Num::Duration(
                self.last_packet.saturating_sub(self.first_packet),
            )),
            Field::Bytes => number(Num::Size(up.bytes.saturating_add(down.bytes))),
            Field::Packets => number(Num::integer(up.packets.saturating_add(down.packets))),
            Field::Retransmissions => number(Num::integer(
                up.retransmissions.saturating_add(down.retransmissions),
            )),
            Field::Rtt => self
                .handshake_rtt_ns
                .is_some_and(|rtt| number(Num::Duration(rtt))),
            Field::MissedSyn => op == Op::Match && *value == Value::Bool(self.missed_syn),
            Field::Whisperer => origin.whisperer.is_some_and(text),
            Field::Session => number(Num::integer(self.id)),
            Field::Time => number(Num::Time(self.first_packet)),
            _ => false,
        }
    }

    fn full_text(&self, pattern: &Pattern) -> bool {
        let found = |s: &str| pattern.occurs_in(s);
        found(&self.client.to_string())
            || found(&self.server.to_string())
            || found(tcp_state_name(self.state))
            || self
                .close_reason
                .is_some_and(|r| found(close_reason_name(r)))
    }
}

impl sealed::Fields for HostRecord {
    const KIND: RecordKind = RecordKind::Host;

    fn term(&self, field: &Field, op: Op, value: &Value, _origin: &Origin<'_>) -> bool {
        let text = |s: &str| text(value, op, s);
        match field {
            Field::Ip => {
                op == Op::Match
                    && matches!(value, Value::Ip(f) if f.port.is_none() && f.contains(self.ip, 0))
            }
            Field::Name => text(&self.name),
            Field::Source => text(host_source_name(self.source)),
            Field::FirstSeen => number(value, op, Num::Time(self.first_seen)),
            Field::LastSeen => number(value, op, Num::Time(self.last_seen)),
            _ => false,
        }
    }

    fn full_text(&self, pattern: &Pattern) -> bool {
        pattern.occurs_in(&self.name) || pattern.occurs_in(&self.ip.to_string())
    }
}

/// A text or keyword term on `s`.
fn text(value: &Value, op: Op, s: &str) -> bool {
    match (op, value) {
        (Op::Match, Value::Text(pattern)) => pattern.occurs_in(s),
        (Op::Match, Value::Keyword(pattern)) => pattern.matches(s),
        _ => false,
    }
}

fn ip(value: &Value, op: Op, endpoint: Endpoint) -> bool {
    op == Op::Match && matches!(value, Value::Ip(f) if f.contains(endpoint.ip, endpoint.port))
}

fn header(headers: &[Header], name: &str, test: impl Fn(&str) -> bool) -> bool {
    headers
        .iter()
        .any(|(n, v)| n.to_lowercase() == name && test(v))
}

fn body_text(body: Option<&BodyCapture>) -> Option<&str> {
    match body?.data.as_ref()? {
        BodyData::Utf8(text) => Some(text),
        BodyData::Base64(_) => None,
    }
}

/// `api.shop.test:8080` → `api.shop.test`; `None` without a port.
fn without_port(host: &str) -> Option<&str> {
    let (name, port) = host.rsplit_once(':')?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':'))
        .then_some(name)
}

/// A record's number, tagged with its type so that only values of the same type compare.
#[derive(Debug, Clone, Copy)]
enum Num {
    Integer(i128),
    Duration(i64),
    Size(u64),
    Time(i64),
}

impl Num {
    fn integer(n: impl Into<i128>) -> Self {
        Self::Integer(n.into())
    }
}

fn number(value: &Value, op: Op, actual: Num) -> bool {
    match (op, value) {
        (Op::Match, Value::Range(range)) => in_range(range, actual),
        (Op::Match, Value::StatusClass(class)) => {
            matches!(actual, Num::Integer(n) if n.div_euclid(100) == i128::from(*class))
        }
        (op, value) => compare(actual, value).is_some_and(|order| match op {
            Op::Match => order == Ordering::Equal,
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
        }),
    }
}

fn in_range(range: &ValueRange, actual: Num) -> bool {
    let low = match &range.low {
        Bound::Unbounded => true,
        Bound::Included(v) => compare(actual, v).is_some_and(|o| o != Ordering::Less),
        Bound::Excluded(v) => compare(actual, v) == Some(Ordering::Greater),
    };
    let high = match &range.high {
        Bound::Unbounded => true,
        Bound::Included(v) => compare(actual, v).is_some_and(|o| o != Ordering::Greater),
        Bound::Excluded(v) => compare(actual, v) == Some(Ordering::Less),
    };
    low && high
}

/// How `actual` compares with `value`; `None` when their types differ.
fn compare(actual: Num, value: &Value) -> Option<Ordering> {
    match (actual, value) {
        (Num::Integer(a), Value::Integer(v)) => Some(a.cmp(&i128::from(*v))),
        (Num::Duration(a), Value::Duration(v)) | (Num::Time(a), Value::Time(v)) => Some(a.cmp(v)),
        (Num::Size(a), Value::Size(v)) => Some(a.cmp(v)),
        _ => None,
    }
}

fn parse_state_name(state: ParseState) -> &'static str {
    match state {
        ParseState::Ok => "ok",
        ParseState::Warning => "warning",
        ParseState::Incomplete => "incomplete",
        ParseState::Error => "error",
    }
}

fn tcp_state_name(state: TcpState) -> &'static str {
    match state {
        TcpState::SynSent => "syn_sent",
        TcpState::SynReceived => "syn_received",
        TcpState::Established => "established",
        TcpState::FinWait => "fin_wait",
        TcpState::Closed => "closed",
        TcpState::Reset => "reset",
    }
}

fn close_reason_name(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Fin => "fin",
        CloseReason::Rst => "rst",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::PortReuse => "port_reuse",
        CloseReason::CaptureEnd => "capture_end",
        CloseReason::Evicted => "evicted",
    }
}

fn host_source_name(source: HostSource) -> &'static str {
    match source {
        HostSource::Dns => "dns",
        HostSource::Sni => "sni",
        HostSource::Http => "http",
        HostSource::Kubernetes => "kubernetes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::fields;

    /// The names the evaluator compares with are the records' JSON names and the registry's values.
    fn check(kind: RecordKind, field: &str, pairs: &[(serde_json::Value, &str)]) {
        let spec = fields(kind)
            .iter()
            .find(|spec| spec.name == field)
            .expect("field in the registry");
        assert_eq!(spec.values.len(), pairs.len(), "{field}");
        for (json, name) in pairs {
            assert_eq!(json.as_str(), Some(*name), "{field}");
            assert!(spec.values.contains(name), "{field}: {name}");
        }
    }

    macro_rules! pairs {
        ($name:expr; $($value:expr),+) => {
            &[$((serde_json::to_value($value).expect("serialises"), $name($value))),+]
        };
    }

    #[test]
    fn enumerated_names_agree_with_the_model_and_the_registry() {
        use CloseReason as C;
        use ParseState as P;
        use TcpState as S;
        let http = pairs!(parse_state_name; P::Ok, P::Warning, P::Incomplete, P::Error);
        check(RecordKind::Http, "state", http);
        let tcp = pairs!(tcp_state_name;
            S::SynSent, S::SynReceived, S::Established, S::FinWait, S::Closed, S::Reset);
        check(RecordKind::TcpSession, "state", tcp);
        let reasons = pairs!(close_reason_name;
            C::Fin, C::Rst, C::IdleTimeout, C::PortReuse, C::CaptureEnd, C::Evicted);
        check(RecordKind::TcpSession, "close_reason", reasons);
        let sources = pairs!(host_source_name;
            HostSource::Dns, HostSource::Sni, HostSource::Http, HostSource::Kubernetes);
        check(RecordKind::Host, "source", sources);
    }

    #[test]
    fn hosts_without_a_port_of_their_own() {
        assert_eq!(without_port("a.test:8080"), Some("a.test"));
        assert_eq!(without_port("[::1]:8080"), Some("[::1]"));
        assert_eq!(without_port("a.test"), None);
        assert_eq!(without_port("a.test:"), None);
        assert_eq!(without_port("::1"), None);
    }
}
