//! Every construct of the grammar: what it parses to, and its canonical spelling.

use std::net::IpAddr;
use std::ops::Bound;

use spider_query::{
    parse, Expr, Field, IpFilter, Op, Pattern, Query, RecordKind, Value, ValueRange,
};

fn http(input: &str) -> Expr {
    parsed(input, RecordKind::Http)
}

fn parsed(input: &str, kind: RecordKind) -> Expr {
    match parse(input, kind) {
        Ok(Query {
            expr: Some(expr), ..
        }) => expr,
        Ok(_) => panic!("{input:?} parsed to the empty query"),
        Err(error) => panic!("{input:?} failed: {error}"),
    }
}

/// The canonical spelling of `input`, checked to parse back to the same tree.
fn canonical(input: &str, kind: RecordKind) -> String {
    let query = parse(input, kind).expect("parses");
    let printed = query.to_string();
    assert_eq!(
        parse(&printed, kind).as_ref(),
        Ok(&query),
        "{input:?} printed as {printed:?}"
    );
    printed
}

fn term(field: Field, op: Op, value: Value) -> Expr {
    Expr::Term { field, op, value }
}

fn eq(field: Field, value: Value) -> Expr {
    term(field, Op::Match, value)
}

fn keyword(text: &str) -> Value {
    Value::Keyword(Pattern::exact(text))
}

fn words(pieces: &[&str]) -> Pattern {
    Pattern::from_pieces(pieces.iter().map(|p| p.to_string()))
}

fn text(word: &str) -> Expr {
    Expr::FullText(Pattern::exact(word))
}

fn range(low: Bound<Value>, high: Bound<Value>) -> Value {
    Value::Range(Box::new(ValueRange { low, high }))
}

#[test]
fn field_terms() {
    assert_eq!(http("method:POST"), eq(Field::Method, keyword("POST")));
    assert_eq!(
        http("host:api.shop.test"),
        eq(Field::Host, keyword("api.shop.test"))
    );
    assert_eq!(http("status:404"), eq(Field::Status, Value::Integer(404)));
    assert_eq!(
        http("path:/api/v1/orders"),
        eq(Field::Path, keyword("/api/v1/orders"))
    );
    assert_eq!(http("uri:\"/a b\""), eq(Field::Uri, keyword("/a b")));
    assert_eq!(http("STATUS:404"), eq(Field::Status, Value::Integer(404)));
    assert_eq!(http("session:42"), eq(Field::Session, Value::Integer(42)));
    assert_eq!(http("port:8080"), eq(Field::Port, Value::Integer(8080)));
    assert_eq!(http("version:1.1"), eq(Field::Version, keyword("1.1")));
    assert_eq!(http("state:ok"), eq(Field::State, keyword("ok")));
    assert_eq!(http("state:ERROR"), eq(Field::State, keyword("ERROR")));
    assert_eq!(
        http("whisperer:edge-1"),
        eq(Field::Whisperer, keyword("edge-1"))
    );
    assert_eq!(
        http("body:timeout"),
        eq(Field::Body, Value::Text(Pattern::exact("timeout")))
    );
    assert_eq!(http("query:page"), eq(Field::Query, keyword("page")));
    assert_eq!(
        http("query.Page:2"),
        eq(Field::QueryParam("page".into()), keyword("2"))
    );
}

#[test]
fn wildcards() {
    assert_eq!(
        http("host:*.shop.test"),
        eq(Field::Host, Value::Keyword(words(&["", ".shop.test"])))
    );
    assert_eq!(
        http("path:/api/*"),
        eq(Field::Path, Value::Keyword(words(&["/api/", ""])))
    );
    assert_eq!(
        http("host:*"),
        eq(Field::Host, Value::Keyword(Pattern::any()))
    );
    assert_eq!(http("path:/a\\*b"), eq(Field::Path, keyword("/a*b")));
    assert_eq!(
        http("uri:\"/a *\""),
        eq(Field::Uri, Value::Keyword(words(&["/a ", ""])))
    );
    assert_eq!(http("time*out"), Expr::FullText(words(&["time", "out"])));
    assert_eq!(canonical("path:/a\\*b", RecordKind::Http), "path:/a\\*b");
    assert_eq!(canonical("host:**.test", RecordKind::Http), "host:*.test");
}

#[test]
fn headers_and_bodies() {
    let content_type = eq(
        Field::RequestHeader("content-type".into()),
        Value::Text(Pattern::exact("json")),
    );
    assert_eq!(http("req.header.Content-Type:json"), content_type);
    assert_eq!(
        http("resp.header.x-request-id:*"),
        eq(
            Field::ResponseHeader("x-request-id".into()),
            Value::Text(Pattern::any())
        )
    );
    assert_eq!(
        http("header.server:nginx"),
        eq(
            Field::Header("server".into()),
            Value::Text(Pattern::exact("nginx"))
        )
    );
    assert_eq!(
        http("req.body:x"),
        eq(Field::RequestBody, Value::Text(Pattern::exact("x")))
    );
    assert_eq!(
        http("resp.body:x"),
        eq(Field::ResponseBody, Value::Text(Pattern::exact("x")))
    );
    assert_eq!(
        canonical("req.header.Content-Type:json", RecordKind::Http),
        "req.header.content-type:json"
    );
}

#[test]
fn comparisons() {
    assert_eq!(
        http("status:>=500"),
        term(Field::Status, Op::Ge, Value::Integer(500))
    );
    assert_eq!(
        http("status:<400"),
        term(Field::Status, Op::Lt, Value::Integer(400))
    );
    assert_eq!(
        http("status:>399"),
        term(Field::Status, Op::Gt, Value::Integer(399))
    );
    assert_eq!(
        http("status:<=299"),
        term(Field::Status, Op::Le, Value::Integer(299))
    );
    assert_eq!(
        http("duration:>1s"),
        term(Field::Duration, Op::Gt, Value::Duration(1_000_000_000))
    );
    assert_eq!(
        http("size:>10kb"),
        term(Field::Size, Op::Gt, Value::Size(10 * 1024))
    );
}

#[test]
fn units() {
    let nanos = |input: &str| match http(input) {
        Expr::Term {
            value: Value::Duration(n),
            ..
        } => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(nanos("duration:5ns"), 5);
    assert_eq!(nanos("duration:5us"), 5_000);
    assert_eq!(nanos("duration:5ms"), 5_000_000);
    assert_eq!(nanos("duration:1.5s"), 1_500_000_000);
    assert_eq!(nanos("duration:2m"), 120_000_000_000);
    assert_eq!(nanos("duration:1h"), 3_600_000_000_000);
    let bytes = |input: &str| match http(input) {
        Expr::Term {
            value: Value::Size(n),
            ..
        } => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(bytes("response_size:>10kb"), 10 * 1024);
    assert_eq!(bytes("request_size:300"), 300);
    assert_eq!(bytes("request_size:300b"), 300);
    assert_eq!(bytes("request_size:2MB"), 2 << 20);
    assert_eq!(bytes("request_size:1gb"), 1 << 30);
    assert_eq!(
        canonical("duration:>1.5s", RecordKind::Http),
        "duration:>1500ms"
    );
    assert_eq!(canonical("duration:>60s", RecordKind::Http), "duration:>1m");
    assert_eq!(
        canonical("response_size:>10240", RecordKind::Http),
        "response_size:>10kb"
    );
}

#[test]
fn ranges_and_classes() {
    let inclusive = range(
        Bound::Included(Value::Integer(400)),
        Bound::Included(Value::Integer(499)),
    );
    assert_eq!(http("status:[400 TO 499]"), eq(Field::Status, inclusive));
    let mixed = range(
        Bound::Excluded(Value::Integer(400)),
        Bound::Excluded(Value::Integer(499)),
    );
    assert_eq!(http("status:{400 TO 499}"), eq(Field::Status, mixed));
    let open = range(Bound::Included(Value::Integer(500)), Bound::Unbounded);
    assert_eq!(http("status:[500 TO *]"), eq(Field::Status, open));
    let half = range(
        Bound::Unbounded,
        Bound::Excluded(Value::Duration(1_000_000)),
    );
    assert_eq!(http("duration:[* TO 1ms}"), eq(Field::Duration, half));
    assert_eq!(
        http("status:*"),
        eq(Field::Status, range(Bound::Unbounded, Bound::Unbounded))
    );
    assert_eq!(http("status:[ 400  TO  499 ]"), http("status:[400 TO 499]"));
    assert_eq!(http("status:5xx"), eq(Field::Status, Value::StatusClass(5)));
    assert_eq!(http("status:4XX"), eq(Field::Status, Value::StatusClass(4)));
    assert_eq!(canonical("status:[* TO *]", RecordKind::Http), "status:*");
    assert_eq!(
        canonical("status:[400 TO 499}", RecordKind::Http),
        "status:[400 TO 499}"
    );
    assert_eq!(
        canonical(
            "time:[2024-05-01 TO 2024-05-02T00:00:00+02:00]",
            RecordKind::Http
        ),
        "time:[2024-05-01T00:00:00Z TO 2024-05-01T22:00:00Z]"
    );
}

#[test]
fn times() {
    let at = |input: &str| match http(input) {
        Expr::Term {
            value: Value::Time(t),
            ..
        } => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(at("time:>2024-05-01T10:00:00Z"), 1_714_557_600_000_000_000);
    assert_eq!(at("time:>1714557600000"), 1_714_557_600_000_000_000);
    assert_eq!(at("time:2024-05-01T10:00:00.5Z"), 1_714_557_600_500_000_000);
    assert_eq!(
        canonical("time:<1714557600000", RecordKind::Http),
        "time:<2024-05-01T10:00:00Z"
    );
}

#[test]
fn addresses() {
    let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
    assert_eq!(
        http("client:10.0.0.1"),
        eq(Field::Client, Value::Ip(IpFilter::addr(ip("10.0.0.1"))))
    );
    let block = IpFilter {
        addr: ip("10.0.0.0"),
        prefix: 8,
        port: None,
    };
    assert_eq!(
        http("server:10.0.0.0/8"),
        eq(Field::Server, Value::Ip(block))
    );
    let with_port = IpFilter {
        addr: ip("10.0.0.1"),
        prefix: 32,
        port: Some(443),
    };
    assert_eq!(
        http("server:10.0.0.1:443"),
        eq(Field::Server, Value::Ip(with_port))
    );
    let v6 = IpFilter {
        addr: ip("::1"),
        prefix: 128,
        port: Some(8080),
    };
    assert_eq!(http("client:[::1]:8080"), eq(Field::Client, Value::Ip(v6)));
    assert_eq!(
        http("client:fe80::1"),
        eq(Field::Client, Value::Ip(IpFilter::addr(ip("fe80::1"))))
    );
    assert_eq!(
        canonical("client:[0:0::1]:80", RecordKind::Http),
        "client:[::1]:80"
    );
}

#[test]
fn boolean_operators_and_precedence() {
    let (a, b, c) = (text("a"), text("b"), text("c"));
    assert_eq!(
        http("a b c"),
        Expr::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        http("a AND b c"),
        Expr::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        http("a OR b OR c"),
        Expr::Or(vec![a.clone(), b.clone(), c.clone()])
    );
    // NOT > AND > OR.
    assert_eq!(
        http("a OR b c"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        http("a b OR c"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        http("NOT a b"),
        Expr::And(vec![Expr::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(
        http("(a OR b) c"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(http("-a"), Expr::Not(Box::new(a.clone())));
    assert_eq!(
        http("--a"),
        Expr::Not(Box::new(Expr::Not(Box::new(a.clone()))))
    );
    assert_eq!(http("NOT(a)"), Expr::Not(Box::new(a.clone())));
    assert_eq!(
        http("-(a OR b)"),
        Expr::Not(Box::new(Expr::Or(vec![a.clone(), b.clone()])))
    );
    assert_eq!(http("((a))"), a.clone());
    // A group stays a node of its own.
    assert_eq!(
        http("a (b c)"),
        Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    // Operators only in capitals; a dash inside a word is part of it.
    assert_eq!(
        http("a and b"),
        Expr::And(vec![a.clone(), text("and"), b.clone()])
    );
    assert_eq!(http("a-b"), text("a-b"));
    assert_eq!(http("NOTE"), text("NOTE"));
    assert_eq!(
        http("-status:5xx"),
        Expr::Not(Box::new(eq(Field::Status, Value::StatusClass(5))))
    );
}

#[test]
fn full_text() {
    assert_eq!(http("\"connection reset\""), text("connection reset"));
    assert_eq!(http("timeout"), text("timeout"));
    assert_eq!(http("\"AND\""), text("AND"));
    assert_eq!(http("\"a \\\"b\\\" \\\\ c\""), text("a \"b\" \\ c"));
    assert_eq!(http("10:30"), text("10:30"));
    assert_eq!(http("café"), text("café"));
    assert_eq!(http("\"\""), text(""));
}

#[test]
fn empty_and_whitespace() {
    for input in ["", "   ", "\t\n"] {
        assert_eq!(parse(input, RecordKind::Http).map(|q| q.expr), Ok(None));
        assert_eq!(
            parse(input, RecordKind::Http)
                .map(|q| q.to_string())
                .as_deref(),
            Ok("")
        );
    }
    assert_eq!(
        http("  a\u{3000}b  "),
        Expr::And(vec![text("a"), text("b")])
    );
}

#[test]
fn other_kinds() {
    let tcp = RecordKind::TcpSession;
    assert_eq!(
        parsed("missed_syn:true", tcp),
        eq(Field::MissedSyn, Value::Bool(true))
    );
    assert_eq!(
        parsed("rtt:>10ms", tcp),
        term(Field::Rtt, Op::Gt, Value::Duration(10_000_000))
    );
    assert_eq!(
        parsed("bytes:>1mb", tcp),
        term(Field::Bytes, Op::Gt, Value::Size(1 << 20))
    );
    assert_eq!(
        parsed("state:reset", tcp),
        eq(Field::State, keyword("reset"))
    );
    assert_eq!(
        parsed("retransmissions:>0", tcp),
        term(Field::Retransmissions, Op::Gt, Value::Integer(0))
    );
    assert_eq!(
        parsed("packets:[10 TO 20]", tcp).to_string(),
        "packets:[10 TO 20]"
    );
    assert_eq!(
        parsed("close_reason:rst", tcp),
        eq(Field::CloseReason, keyword("rst"))
    );
    let host = RecordKind::Host;
    assert_eq!(
        parsed("source:dns", host),
        eq(Field::Source, keyword("dns"))
    );
    assert_eq!(
        parsed("name:*.svc", host),
        eq(Field::Name, Value::Keyword(words(&["", ".svc"])))
    );
    assert_eq!(parsed("ip:10.0.0.0/8", host).to_string(), "ip:10.0.0.0/8");
    assert_eq!(
        parsed("last_seen:>2024-05-01", host).to_string(),
        "last_seen:>2024-05-01T00:00:00Z"
    );
}

#[test]
fn canonical_spellings() {
    let cases = [
        ("a  AND  b", "a b"),
        ("(a OR b) AND c", "(a OR b) c"),
        ("a OR (b OR c)", "a OR (b OR c)"),
        ("-a", "NOT a"),
        ("NOT (a b)", "NOT (a b)"),
        ("NOT NOT a", "NOT NOT a"),
        ("method:post", "method:post"),
        ("uri:\"/a b\"", "uri:\"/a b\""),
        ("path:\"/plain\"", "path:/plain"),
        ("\"timeout\"", "timeout"),
        ("\"-x\"", "\"-x\""),
        ("\"a:b\"", "\"a:b\""),
        ("\"OR\"", "\"OR\""),
        ("host:\">x\"", "host:\">x\""),
        ("path:a\\(b", "path:\"a(b\""),
        ("status:4xx", "status:4xx"),
        ("duration:[1s TO 2s]", "duration:[1s TO 2s]"),
        ("client:10.0.0.1:443", "client:10.0.0.1:443"),
        (
            "status:>=500 OR duration:>1s",
            "status:>=500 OR duration:>1s",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input, RecordKind::Http), expected, "{input}");
    }
}

#[test]
fn the_ast_of_a_realistic_query() {
    let query = parse(
        "method:POST host:*.shop.test (status:5xx OR duration:>2s) -path:/health \"reset\"",
        RecordKind::Http,
    )
    .expect("parses");
    assert_eq!(query.kind, RecordKind::Http);
    assert_eq!(
        query.to_string(),
        "method:POST host:*.shop.test (status:5xx OR duration:>2s) NOT path:/health reset"
    );
}
