//! The evaluator over records built here: every field, full text, absent values, kinds.

use spider_model::{
    BodyCapture, BodyData, CloseReason, DirectionStats, Endpoint, HostRecord, HostSource,
    HttpExchange, HttpTiming, ParseState, Record, TcpSessionRecord, TcpState,
};
use spider_query::{matches, matches_in, matches_record, parse, Origin, RecordKind, Searchable};

/// 2024-05-01T10:00:00Z.
const T0: i64 = 1_714_557_600_000_000_000;
const SECOND: i64 = 1_000_000_000;

fn body(text: &str, content_type: &str) -> BodyCapture {
    BodyCapture {
        announced_length: Some(text.len() as u64),
        wire_length: text.len() as u64,
        decoded_length: text.len() as u64,
        content_type: Some(content_type.into()),
        content_encoding: None,
        data: Some(BodyData::Utf8(text.into())),
        truncated: false,
    }
}

/// A POST answered 503 after 1.5 s, with JSON in and text out.
fn failed_order() -> HttpExchange {
    HttpExchange {
        session_id: 7,
        index: 0,
        client: Endpoint::new([10, 0, 0, 1].into(), 40_000),
        server: Endpoint::new([10, 1, 0, 2].into(), 8443),
        method: "POST".into(),
        host: Some("api.shop.test:8443".into()),
        uri: "/api/v1/orders?page=2&q=red%20shoes".into(),
        path: "/api/v1/orders".into(),
        query: vec![
            ("page".into(), "2".into()),
            ("q".into(), "red shoes".into()),
        ],
        version: "HTTP/1.1".into(),
        status: Some(503),
        reason: Some("Service Unavailable".into()),
        request_headers: vec![
            ("Host".into(), "api.shop.test:8443".into()),
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "curl/8.5".into()),
        ],
        response_headers: vec![("X-Request-Id".into(), "abc-123".into())],
        request_body: body(
            &format!("{{\"item\":\"shoe\",\"pad\":\"{}\"}}", "x".repeat(2000)),
            "application/json",
        ),
        response_body: Some(body("upstream Connection RESET by peer", "text/plain")),
        interim_statuses: Vec::new(),
        timing: HttpTiming {
            request_start: T0,
            request_end: Some(T0 + SECOND / 10),
            response_start: Some(T0 + SECOND),
            response_end: Some(T0 + SECOND * 3 / 2),
        },
        state: ParseState::Warning,
        warnings: vec!["body cut".into()],
    }
}

/// A GET on IPv6 without Host header and without response.
fn unanswered() -> HttpExchange {
    HttpExchange {
        session_id: 8,
        index: 3,
        client: Endpoint::new("fd00::5".parse().expect("ip"), 50_000),
        server: Endpoint::new("fd00::1".parse().expect("ip"), 80),
        method: "GET".into(),
        host: None,
        uri: "/health".into(),
        path: "/health".into(),
        query: Vec::new(),
        version: "HTTP/1.0".into(),
        status: None,
        reason: None,
        request_headers: Vec::new(),
        response_headers: Vec::new(),
        request_body: BodyCapture::default(),
        response_body: None,
        interim_statuses: Vec::new(),
        timing: HttpTiming {
            request_start: T0 + 60 * SECOND,
            ..HttpTiming::default()
        },
        state: ParseState::Incomplete,
        warnings: Vec::new(),
    }
}

fn session() -> TcpSessionRecord {
    let stats = |packets, bytes, retransmissions| DirectionStats {
        packets,
        bytes,
        retransmissions,
        ..DirectionStats::default()
    };
    TcpSessionRecord {
        id: 7,
        client: Endpoint::new([10, 0, 0, 1].into(), 40_000),
        server: Endpoint::new([10, 1, 0, 2].into(), 8443),
        state: TcpState::Reset,
        close_reason: Some(CloseReason::Rst),
        missed_syn: false,
        first_packet: T0,
        last_packet: T0 + 2 * SECOND,
        connected_at: Some(T0 + SECOND / 100),
        handshake_rtt_ns: Some(12_000_000),
        client_to_server: stats(10, 1024 * 1024, 1),
        server_to_client: stats(12, 512, 2),
    }
}

fn host() -> HostRecord {
    HostRecord {
        ip: [10, 1, 0, 2].into(),
        name: "api.shop.test".into(),
        source: HostSource::Dns,
        first_seen: T0,
        last_seen: T0 + 3600 * SECOND,
    }
}

fn query(input: &str, kind: RecordKind) -> spider_query::Query {
    parse(input, kind).unwrap_or_else(|error| panic!("{input:?}: {error}"))
}

/// Each query matches the record exactly when its expectation says so.
fn expect<R: Searchable>(kind: RecordKind, record: &R, cases: &[(&str, bool)]) {
    for (input, expected) in cases {
        assert_eq!(matches(&query(input, kind), record), *expected, "{input}");
    }
}

#[test]
fn http_fields() {
    expect(
        RecordKind::Http,
        &failed_order(),
        &[
            ("method:POST", true),
            ("method:post", true),
            ("method:GET", false),
            ("method:P*", true),
            ("host:api.shop.test", true),
            ("host:api.shop.test:8443", true),
            ("host:*.shop.test", true),
            ("host:shop.test", false),
            ("host:*", true),
            ("path:/api/v1/orders", true),
            ("path:/api/*", true),
            ("path:/api", false),
            ("path:/API/V1/ORDERS", true),
            ("uri:*page=2*", true),
            ("uri:/api/v1/orders", false),
            ("query:page", true),
            ("query:\"red shoes\"", true),
            ("query:red", false),
            ("query.page:2", true),
            ("query.PAGE:2", true),
            ("query.page:3", false),
            ("query.q:red*", true),
            ("query.missing:*", false),
            ("status:503", true),
            ("status:5xx", true),
            ("status:4xx", false),
            ("status:>=500", true),
            ("status:<500", false),
            ("status:[500 TO 599]", true),
            ("status:{500 TO 503}", false),
            ("status:[503 TO *]", true),
            ("status:*", true),
            ("duration:>1s", true),
            ("duration:1500ms", true),
            ("duration:>=1.5s", true),
            ("duration:>1.5s", false),
            ("duration:[1s TO 2s]", true),
            ("request_size:>1kb", true),
            ("request_size:>1mb", false),
            ("response_size:33", true),
            ("response_size:33b", true),
            ("size:>2kb", true),
            ("client:10.0.0.1", true),
            ("client:10.0.0.0/8", true),
            ("client:10.0.0.1:40000", true),
            ("client:10.0.0.1:1", false),
            ("client:10.1.0.0/16", false),
            ("client:::1", false),
            ("server:10.1.0.2:8443", true),
            ("port:8443", true),
            ("port:80", false),
            ("session:7", true),
            ("session:8", false),
            ("req.header.content-type:json", true),
            ("req.header.Content-Type:JSON", true),
            ("req.header.content-type:xml", false),
            ("resp.header.content-type:*", false),
            ("resp.header.x-request-id:abc*", true),
            ("header.x-request-id:123", true),
            ("header.user-agent:curl", true),
            ("req.header.x-request-id:*", false),
            ("body:shoe", true),
            ("body:reset", true),
            ("req.body:reset", false),
            ("resp.body:\"connection reset\"", true),
            ("resp.body:upstream*peer", true),
            ("version:HTTP/1.1", true),
            ("version:1.1", true),
            ("version:1.0", false),
            ("state:warning", true),
            ("state:ok", false),
            ("state:WARNING", true),
            ("time:2024-05-01T10:00:00Z", true),
            ("time:>2024-05-01", true),
            ("time:[2024-05-01T09:00:00Z TO 2024-05-01T11:00:00Z]", true),
            ("time:<1714557600000", false),
            ("time:1714557600000", true),
        ],
    );
}

#[test]
fn absent_values_match_nothing() {
    expect(
        RecordKind::Http,
        &unanswered(),
        &[
            ("status:*", false),
            ("NOT status:*", true),
            ("-status:*", true),
            ("status:<1000", false),
            ("NOT status:5xx", true),
            ("duration:*", false),
            ("response_size:*", false),
            ("size:0", true),
            ("host:*", false),
            ("host:\"\"", false),
            ("resp.body:*", false),
            ("body:*", false),
            ("query:*", false),
            ("client:fd00::/16", true),
            ("client:[fd00::5]:50000", true),
            ("server:10.0.0.0/8", false),
            ("version:1.0", true),
            ("state:incomplete", true),
            ("time:>2024-05-01T10:00:30Z", true),
        ],
    );
}

#[test]
fn boolean_logic() {
    expect(
        RecordKind::Http,
        &failed_order(),
        &[
            ("method:POST status:5xx", true),
            ("method:POST AND status:2xx", false),
            ("method:GET OR status:5xx", true),
            ("method:GET OR status:2xx", false),
            ("NOT method:GET", true),
            ("-method:POST", false),
            ("method:GET status:5xx OR path:/api/*", true),
            ("method:GET (status:5xx OR path:/api/*)", false),
            ("NOT (method:GET OR status:2xx)", true),
            ("NOT NOT method:POST", true),
            ("", true),
        ],
    );
}

#[test]
fn full_text() {
    expect(
        RecordKind::Http,
        &failed_order(),
        &[
            ("shop", true),
            ("SHOP.test", true),
            ("/v1/", true),
            ("\"red shoes\"", true),
            ("application/json", true),
            ("\"application/json\"", true),
            ("curl", true),
            ("abc-123", true),
            ("\"connection reset\"", true),
            ("timeout", false),
            ("conn*peer", true),
            ("POST", false),
            ("page", false),
            ("Unavailable", false),
            ("shoe timeout", false),
            ("shoe OR timeout", true),
        ],
    );
    expect(
        RecordKind::Http,
        &unanswered(),
        &[("health", true), ("shop", false)],
    );
}

#[test]
fn tcp_sessions() {
    expect(
        RecordKind::TcpSession,
        &session(),
        &[
            ("client:10.0.0.1", true),
            ("server:10.1.0.2:8443", true),
            ("port:8443", true),
            ("state:reset", true),
            ("state:established", false),
            ("close_reason:rst", true),
            ("duration:2s", true),
            ("duration:>2s", false),
            ("bytes:>1mb", true),
            ("bytes:1049088", true),
            ("packets:22", true),
            ("retransmissions:3", true),
            ("retransmissions:>3", false),
            ("rtt:12ms", true),
            ("rtt:>10ms", true),
            ("rtt:*", true),
            ("missed_syn:false", true),
            ("missed_syn:true", false),
            ("session:7", true),
            ("time:2024-05-01", true),
            ("time:2024-04-30", false),
            ("time:>=2024-05-01", true),
            ("10.0.0.1:40000", true),
            ("reset", true),
            ("rst", true),
            ("shop", false),
        ],
    );
    let mut no_handshake = session();
    no_handshake.handshake_rtt_ns = None;
    no_handshake.close_reason = None;
    no_handshake.missed_syn = true;
    expect(
        RecordKind::TcpSession,
        &no_handshake,
        &[
            ("rtt:*", false),
            ("NOT rtt:*", true),
            ("close_reason:*", false),
            ("missed_syn:TRUE", true),
        ],
    );
}

#[test]
fn hosts() {
    expect(
        RecordKind::Host,
        &host(),
        &[
            ("ip:10.1.0.2", true),
            ("ip:10.0.0.0/8", true),
            ("ip:10.1.0.2:80", false),
            ("ip:::1", false),
            ("name:api.shop.test", true),
            ("name:*.test", true),
            ("name:api", false),
            ("source:dns", true),
            ("source:sni", false),
            ("first_seen:2024-05-01", true),
            ("first_seen:2024-05-02", false),
            ("last_seen:>2024-05-01T10:30:00Z", true),
            ("shop", true),
            ("10.1.0", true),
            ("other", false),
        ],
    );
}

#[test]
fn whisperer_comes_from_the_origin() {
    let q = query("whisperer:edge-*", RecordKind::Http);
    let exchange = failed_order();
    assert!(!matches(&q, &exchange));
    assert!(matches_in(
        &q,
        &exchange,
        Origin {
            whisperer: Some("edge-1")
        }
    ));
    assert!(!matches_in(
        &q,
        &exchange,
        Origin {
            whisperer: Some("core-1")
        }
    ));
    let tcp = query("whisperer:edge-1", RecordKind::TcpSession);
    assert!(matches_in(
        &tcp,
        &session(),
        Origin {
            whisperer: Some("EDGE-1")
        }
    ));
}

#[test]
fn a_query_matches_only_its_own_kind() {
    let everything = query("", RecordKind::Http);
    assert!(matches(&everything, &failed_order()));
    assert!(!matches(&everything, &session()));
    assert!(!matches(&everything, &host()));
    let client = query("client:10.0.0.1", RecordKind::TcpSession);
    assert!(matches(&client, &session()));
    assert!(!matches(&client, &failed_order()));
    let origin = Origin::default();
    assert!(matches_record(
        &client,
        &Record::TcpSession(Box::new(session())),
        origin
    ));
    assert!(!matches_record(
        &client,
        &Record::Http(Box::new(failed_order())),
        origin
    ));
    assert!(matches_record(
        &query("shop", RecordKind::Host),
        &Record::Host(host()),
        origin
    ));
}

#[test]
fn binary_bodies_are_not_searched() {
    let mut exchange = failed_order();
    exchange.response_body = Some(BodyCapture {
        data: Some(BodyData::Base64("cmVzZXQ=".into())),
        ..BodyCapture::default()
    });
    assert!(!matches(&query("reset", RecordKind::Http), &exchange));
    assert!(!matches(&query("body:cmVz*", RecordKind::Http), &exchange));
}
