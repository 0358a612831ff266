//! The field registry: which fields each record kind has, their types and their values.

use std::fmt;

/// The kind of record a query searches; each has its own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Http,
    TcpSession,
    Host,
}

impl RecordKind {
    pub const ALL: [RecordKind; 3] = [Self::Http, Self::TcpSession, Self::Host];

    /// The name records of this kind carry in their `kind` (`http`, `tcp_session`, `host`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::TcpSession => "tcp_session",
            Self::Host => "host",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a field holds, which decides the values and operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Free text: the value may occur anywhere in it (`body:timeout`), ignoring case.
    Text,
    /// A whole value: `*` wildcards, ignoring case (`host:*.shop.test`).
    Keyword,
    /// A whole number; `:`, comparisons and ranges.
    Integer,
    /// Nanoseconds, written with a unit (`ns`, `us`, `ms`, `s`, `m`, `h`); comparisons and ranges.
    Duration,
    /// Bytes, written with an optional unit (`b`, `kb`, `mb`, `gb`, 1024-based); comparisons and ranges.
    Size,
    /// An IP address, a CIDR block, either with a port (`10.0.0.1:443`, `[::1]:443`).
    Ip,
    /// RFC 3339 (`2024-05-01T10:00:00Z`, `2024-05-01`) or epoch milliseconds; comparisons and ranges.
    Time,
    /// `true` or `false`.
    Bool,
}

impl FieldType {
    /// True for the types that take comparisons (`>`, `<=`, …) and ranges (`[a TO b]`).
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Self::Integer | Self::Duration | Self::Size | Self::Time
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Keyword => "keyword",
            Self::Integer => "integer",
            Self::Duration => "duration",
            Self::Size => "size",
            Self::Ip => "ip",
            Self::Time => "time",
            Self::Bool => "bool",
        }
    }
}

/// A field of a record. The ones with a `String` are families (`req.header.NAME`, `query.NAME`);
/// their name is held in lowercase (names compare without case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    // Shared by several kinds.
    Client,
    Server,
    Port,
    Whisperer,
    Session,
    Duration,
    Time,
    State,
    // HTTP exchanges.
    Method,
    Host,
    Path,
    Uri,
    Query,
    QueryParam(String),
    Status,
    Size,
    RequestSize,
    ResponseSize,
    Header(String),
    RequestHeader(String),
    ResponseHeader(String),
    Body,
    RequestBody,
    ResponseBody,
    Version,
    // TCP sessions.
    Bytes,
    Packets,
    Retransmissions,
    Rtt,
    MissedSyn,
    CloseReason,
    // Hosts.
    Ip,
    Name,
    Source,
    FirstSeen,
    LastSeen,
}

/// One entry of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The name as typed (`status`), or the family's prefix with a placeholder (`req.header.<name>`).
    pub name: &'static str,
    pub ty: FieldType,
    pub doc: &'static str,
    /// Values offered by completion.
    pub values: &'static [&'static str],
    /// True when only `values` are accepted (a value without wildcard outside them is an error).
    pub closed: bool,
    field: Field,
}

impl FieldSpec {
    /// The prefix of a family (`req.header.`), `None` for a plain field.
    pub fn prefix(&self) -> Option<&'static str> {
        self.name.strip_suffix("<name>")
    }
}

const fn spec(name: &'static str, field: Field, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        doc,
        values: &[],
        closed: false,
        field,
    }
}

const fn with_values(
    mut spec: FieldSpec,
    values: &'static [&'static str],
    closed: bool,
) -> FieldSpec {
    spec.values = values;
    spec.closed = closed;
    spec
}

use FieldType as T;

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];
const STATUS_CLASSES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx"];
const HTTP_STATES: &[&str] = &["ok", "warning", "incomplete", "error"];
const TCP_STATES: &[&str] = &[
    "syn_sent",
    "syn_received",
    "established",
    "fin_wait",
    "closed",
    "reset",
];
const CLOSE_REASONS: &[&str] = &[
    "fin",
    "rst",
    "idle_timeout",
    "port_reuse",
    "capture_end",
    "evicted",
];
const HOST_SOURCES: &[&str] = &["dns", "sni", "http", "kubernetes"];
const VERSIONS: &[&str] = &["HTTP/1.0", "HTTP/1.1"];
const BOOLS: &[&str] = &["true", "false"];

#[rustfmt::skip]
static HTTP: &[FieldSpec] = &[
    with_values(spec("method", Field::Method, T::Keyword, "request method"), METHODS, false),
    spec("host", Field::Host, T::Keyword, "Host header, with or without its port"),
    spec("path", Field::Path, T::Keyword, "path of the target, percent-decoded"),
    spec("uri", Field::Uri, T::Keyword, "request target as sent"),
    spec("query", Field::Query, T::Keyword, "any query parameter name or value"),
    spec("query.<name>", Field::QueryParam(String::new()), T::Keyword, "value of query parameter <name>"),
    with_values(spec("status", Field::Status, T::Integer, "final status code, or a class like 5xx"), STATUS_CLASSES, false),
    spec("duration", Field::Duration, T::Duration, "request start to response end"),
    spec("size", Field::Size, T::Size, "request and response body bytes on the wire"),
    spec("request_size", Field::RequestSize, T::Size, "request body bytes on the wire"),
    spec("response_size", Field::ResponseSize, T::Size, "response body bytes on the wire"),
    spec("client", Field::Client, T::Ip, "client address (ip, ip:port or cidr)"),
    spec("server", Field::Server, T::Ip, "server address (ip, ip:port or cidr)"),
    spec("port", Field::Port, T::Integer, "server port"),
    spec("whisperer", Field::Whisperer, T::Keyword, "the whisperer that captured it"),
    spec("session", Field::Session, T::Integer, "TCP session id"),
    spec("header.<name>", Field::Header(String::new()), T::Text, "request or response header <name>"),
    spec("req.header.<name>", Field::RequestHeader(String::new()), T::Text, "request header <name>"),
    spec("resp.header.<name>", Field::ResponseHeader(String::new()), T::Text, "response header <name>"),
    spec("body", Field::Body, T::Text, "request or response body text"),
    spec("req.body", Field::RequestBody, T::Text, "request body text"),
    spec("resp.body", Field::ResponseBody, T::Text, "response body text"),
    with_values(spec("version", Field::Version, T::Keyword, "HTTP version (HTTP/1.1 or 1.1)"), VERSIONS, false),
    with_values(spec("state", Field::State, T::Keyword, "parse state"), HTTP_STATES, true),
    spec("time", Field::Time, T::Time, "request start"),
];

#[rustfmt::skip]
static TCP: &[FieldSpec] = &[
    spec("client", Field::Client, T::Ip, "client address (ip, ip:port or cidr)"),
    spec("server", Field::Server, T::Ip, "server address (ip, ip:port or cidr)"),
    spec("port", Field::Port, T::Integer, "server port"),
    with_values(spec("state", Field::State, T::Keyword, "TCP state"), TCP_STATES, true),
    with_values(spec("close_reason", Field::CloseReason, T::Keyword, "why the session ended"), CLOSE_REASONS, true),
    spec("duration", Field::Duration, T::Duration, "first packet to last packet"),
    spec("bytes", Field::Bytes, T::Size, "payload bytes, both directions"),
    spec("packets", Field::Packets, T::Integer, "packets, both directions"),
    spec("retransmissions", Field::Retransmissions, T::Integer, "retransmitted segments, both directions"),
    spec("rtt", Field::Rtt, T::Duration, "handshake round trip (SYN to SYN-ACK)"),
    with_values(spec("missed_syn", Field::MissedSyn, T::Bool, "began before the capture"), BOOLS, true),
    spec("whisperer", Field::Whisperer, T::Keyword, "the whisperer that captured it"),
    spec("session", Field::Session, T::Integer, "TCP session id"),
    spec("time", Field::Time, T::Time, "first packet"),
];

#[rustfmt::skip]
static HOST: &[FieldSpec] = &[
    spec("ip", Field::Ip, T::Ip, "address (ip or cidr)"),
    spec("name", Field::Name, T::Keyword, "host name"),
    with_values(spec("source", Field::Source, T::Keyword, "where the name was learnt"), HOST_SOURCES, true),
    spec("first_seen", Field::FirstSeen, T::Time, "first time the name was seen for the ip"),
    spec("last_seen", Field::LastSeen, T::Time, "last time the name was seen for the ip"),
];

/// The fields of a record kind, in the order they are documented and offered.
pub fn fields(kind: RecordKind) -> &'static [FieldSpec] {
    match kind {
        RecordKind::Http => HTTP,
        RecordKind::TcpSession => TCP,
        RecordKind::Host => HOST,
    }
}

impl Field {
    /// The field named `name` (any case) in `kind`: `status`, `req.header.Content-Type`.
    pub fn named(name: &str, kind: RecordKind) -> Option<Field> {
        resolve(name, kind).map(|(field, _)| field)
    }

    /// The name as written in a query (`status`, `req.header.content-type`).
    pub fn name(&self) -> String {
        let Some(spec) = self.spec() else {
            return String::new();
        };
        match (spec.prefix(), self.param()) {
            (Some(prefix), Some(param)) => format!("{prefix}{param}"),
            _ => spec.name.to_owned(),
        }
    }

    /// The field's type (the same in every kind that has the field).
    pub fn ty(&self) -> FieldType {
        self.spec().map_or(FieldType::Keyword, |spec| spec.ty)
    }

    /// The parameter of a family (the header or query parameter name).
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::QueryParam(name)
            | Self::Header(name)
            | Self::RequestHeader(name)
            | Self::ResponseHeader(name) => Some(name),
            _ => None,
        }
    }

    /// The spec of this field in `kind`, if `kind` has it.
    pub fn spec_in(&self, kind: RecordKind) -> Option<&'static FieldSpec> {
        let wanted = std::mem::discriminant(self);
        fields(kind)
            .iter()
            .find(|spec| std::mem::discriminant(&spec.field) == wanted)
    }

    fn spec(&self) -> Option<&'static FieldSpec> {
        RecordKind::ALL.iter().find_map(|kind| self.spec_in(*kind))
    }

    fn with_param(&self, param: String) -> Self {
        match self {
            Self::QueryParam(_) => Self::QueryParam(param),
            Self::Header(_) => Self::Header(param),
            Self::RequestHeader(_) => Self::RequestHeader(param),
            Self::ResponseHeader(_) => Self::ResponseHeader(param),
            other => other.clone(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The field named `name` (any case) in `kind`, with its spec.
pub(crate) fn resolve(name: &str, kind: RecordKind) -> Option<(Field, &'static FieldSpec)> {
    let lower = name.to_lowercase();
    let specs = fields(kind);
    if let Some(spec) = specs
        .iter()
        .find(|spec| spec.prefix().is_none() && spec.name == lower)
    {
        return Some((spec.field.clone(), spec));
    }
    specs.iter().find_map(|spec| {
        let param = lower.strip_prefix(spec.prefix()?)?;
        (!param.is_empty()).then(|| (spec.field.with_param(param.to_owned()), spec))
    })
}

/// A close field name for a misspelt one (`stauts` → `status`, `req.heder.x` → `req.header.x`).
pub(crate) fn suggest(name: &str, kind: RecordKind) -> Option<String> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, String)> = None;
    for spec in fields(kind) {
        let candidate = match spec.prefix() {
            None => Some((distance(&lower, spec.name), spec.name.to_owned())),
            Some(prefix) => {
                // Compare as many dot-separated parts as the prefix has, keep the rest as the name.
                let parts = prefix.matches('.').count();
                let mut split = lower.splitn(parts + 1, '.');
                let head: Vec<&str> = split.by_ref().take(parts).collect();
                let rest = split.next().filter(|rest| !rest.is_empty());
                rest.filter(|_| head.len() == parts).map(|rest| {
                    let typed = head.join(".") + ".";
                    (distance(&typed, prefix), format!("{prefix}{rest}"))
                })
            }
        };
        if let Some((cost, suggestion)) = candidate {
            let limit = if lower.chars().count() <= 4 { 1 } else { 2 };
            if cost <= limit && best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
                best = Some((cost, suggestion));
            }
        }
    }
    best.map(|(_, suggestion)| suggestion)
}

/// The field names of `kind` as a readable list.
pub(crate) fn list(kind: RecordKind) -> String {
    let names: Vec<&str> = fields(kind).iter().map(|spec| spec.name).collect();
    names.join(", ")
}

/// Levenshtein distance with transpositions counted as one edit, over characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 {
        return usize::MAX;
    }
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            table[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let substitution = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (table[(i - 1) * width + j] + 1)
                    .min(table[i * width + j - 1] + 1)
                    .min(table[(i - 1) * width + j - 1] + substitution);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(table[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_any_case() {
        let (field, spec) = resolve("Status", RecordKind::Http).expect("status");
        assert_eq!((field, spec.ty), (Field::Status, FieldType::Integer));
        let (field, _) = resolve("req.header.Content-Type", RecordKind::Http).expect("header");
        assert_eq!(field, Field::RequestHeader("content-type".into()));
        assert_eq!(field.name(), "req.header.content-type");
        assert!(resolve("req.header.", RecordKind::Http).is_none());
        assert!(resolve("status", RecordKind::Host).is_none());
        assert!(resolve("rtt", RecordKind::TcpSession).is_some());
    }

    #[test]
    fn every_field_has_one_spec_per_kind_and_a_name() {
        for kind in RecordKind::ALL {
            for spec in fields(kind) {
                let field = spec.field.with_param("x".into());
                assert_eq!(field.spec_in(kind), Some(spec));
                assert_eq!(field.ty(), spec.ty, "{} differs between kinds", spec.name);
                let (resolved, _) = resolve(&field.name(), kind).expect("resolves");
                assert_eq!(resolved, field);
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("stauts", RecordKind::Http).as_deref(),
            Some("status")
        );
        assert_eq!(
            suggest("metod", RecordKind::Http).as_deref(),
            Some("method")
        );
        assert_eq!(
            suggest("req.heder.accept", RecordKind::Http).as_deref(),
            Some("req.header.accept")
        );
        assert_eq!(suggest("zzzzzz", RecordKind::Http), None);
        assert_eq!(
            suggest("rtl", RecordKind::TcpSession).as_deref(),
            Some("rtt")
        );
    }
}
