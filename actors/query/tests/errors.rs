//! Every error: its message, its column and its span.

use spider_query::{parse, QueryError, RecordKind, MAX_DEPTH, MAX_QUERY_BYTES};

fn error(input: &str, kind: RecordKind) -> QueryError {
    match parse(input, kind) {
        Ok(query) => panic!("{input:?} parsed as {query:?}"),
        Err(error) => {
            let chars = input.chars().count();
            assert!(
                error.column >= 1 && error.column <= chars + 1,
                "{input:?}: {error:?}"
            );
            assert_eq!(error.span.start + 1, error.column, "{input:?}: {error:?}");
            assert!(error.span.end <= chars, "{input:?}: {error:?}");
            assert_eq!(error.to_string(), error.message);
            error
        }
    }
}

/// The error of `input` (HTTP fields) has this message and column.
fn check(input: &str, column: usize, message: &str) {
    check_kind(input, RecordKind::Http, column, message);
}

fn check_kind(input: &str, kind: RecordKind, column: usize, message: &str) {
    let error = error(input, kind);
    assert_eq!(error.column, column, "{input:?}: {}", error.message);
    assert!(
        error.message.contains(message),
        "{input:?}: {:?} does not contain {message:?}",
        error.message
    );
    assert!(
        error.message.contains(&format!("column {column}")),
        "{input:?}: {:?} does not name its column",
        error.message
    );
}

#[test]
fn the_examples_of_the_brief() {
    assert_eq!(
        error("status:", RecordKind::Http).message,
        "expected a value after \"status:\" at column 8"
    );
    assert_eq!(
        error("a (b OR c", RecordKind::Http).message,
        "unclosed parenthesis opened at column 3"
    );
    let not_a_number = error("status:abc", RecordKind::Http);
    assert_eq!(
        not_a_number.message,
        "\"abc\" is not a number for status at column 8"
    );
    assert_eq!(not_a_number.span, 7..10);
}

#[test]
fn missing_values() {
    check("status: 404", 8, "expected a value after \"status:\"");
    check("(status:)", 9, "expected a value after \"status:\"");
    check("status:>=", 10, "expected a value after \"status:>=\"");
    check("status:< 5", 9, "expected a value after \"status:<\"");
}

#[test]
fn parentheses() {
    check("(", 1, "unclosed parenthesis opened");
    check("((a) b", 1, "unclosed parenthesis opened");
    check("()", 2, "empty parentheses");
    check(")", 1, "unexpected \")\"");
    check("a b)", 4, "no parenthesis is open");
    let unclosed = error("x (a", RecordKind::Http);
    assert_eq!(unclosed.span, 2..3);
}

#[test]
fn operators_without_terms() {
    check("a OR", 5, "expected a term after \"OR\"");
    check("a AND", 6, "expected a term after \"AND\"");
    check("NOT", 4, "expected a term after \"NOT\"");
    check("a AND )", 7, "expected a term after \"AND\"");
    check("(a OR)", 6, "expected a term after \"OR\"");
    check("AND a", 1, "\"AND\" at column 1 needs a term on each side");
    check(
        "a OR OR b",
        6,
        "\"OR\" at column 6 needs a term on each side",
    );
    check("a -", 4, "expected a term right after \"-\"");
    check("a - b", 4, "expected a term right after \"-\"");
}

#[test]
fn quotes_and_escapes() {
    check("\"abc", 1, "unclosed quote opened");
    check("uri:\"/a b", 5, "unclosed quote opened");
    check("ab\"c\"", 3, "unexpected quote");
    check("a\\", 2, "nothing to escape after the backslash");
    let unclosed = error("x \"abc", RecordKind::Http);
    assert_eq!(unclosed.span, 2..6);
}

#[test]
fn unknown_fields() {
    let typo = error("stauts:500", RecordKind::Http);
    assert_eq!(typo.column, 1);
    assert_eq!(typo.span, 0..6);
    assert!(
        typo.message.starts_with(
            "unknown field \"stauts\" for http records at column 1; did you mean \"status\"?"
        ),
        "{}",
        typo.message
    );
    assert!(
        typo.message.contains("method, host, path"),
        "{}",
        typo.message
    );
    check(
        "a req.heder.accept:json",
        3,
        "did you mean \"req.header.accept\"?",
    );
    check(
        "http://example.test",
        1,
        "quote it: \"http://example.test\"",
    );
    check_kind(
        "status:200",
        RecordKind::TcpSession,
        1,
        "unknown field \"status\" for tcp_session records",
    );
    check_kind(
        "rtt:1ms",
        RecordKind::Host,
        1,
        "(fields: ip, name, source, first_seen, last_seen)",
    );
    check("req.header.:x", 1, "unknown field \"req.header.\"");
}

#[test]
fn operators_on_the_wrong_type() {
    check(
        "host:>a",
        6,
        "\">\" at column 6 needs a number, duration, size or time, and host is a keyword field",
    );
    check("path:[a TO b]", 6, "a range at column 6 needs a number");
    check(
        "missed_syn:>=1",
        1,
        "missed_syn is a field of tcp_session records",
    );
    check_kind(
        "missed_syn:<true",
        RecordKind::TcpSession,
        12,
        "missed_syn is a bool field",
    );
    check("method:(GET OR POST)", 8, "write method:a OR method:b");
    check(
        "status:>=5xx",
        10,
        "\"5xx\" at column 10 is a status class, which takes no comparison or range",
    );
    check("status:[4xx TO 5xx]", 9, "is a status class");
}

#[test]
fn ranges() {
    check(
        "status:[400 499]",
        13,
        "expected \"TO\" between the ends of the range",
    );
    check("status:[400 TO 499", 8, "unclosed range opened");
    check("status:[400", 8, "unclosed range opened");
    check("status:[400 TO", 8, "unclosed range opened");
    check("status:[]", 9, "expected a value in the range");
    check("status:[1 TO]", 13, "expected a value in the range");
    check(
        "status:[1 TO 2 3]",
        16,
        "expected \"]\" or \"}\" to close the range",
    );
    check("status:[a TO 2]", 9, "\"a\" is not a number for status");
    check(
        "duration:[1s TO 2]",
        17,
        "\"2\" needs a unit for duration at column 17: ns",
    );
}

#[test]
fn values_of_each_type() {
    check(
        "duration:>500",
        11,
        "\"500\" needs a unit for duration at column 11: ns, us, ms, s, m or h",
    );
    check(
        "duration:5d",
        10,
        "\"5d\" has an unknown unit for duration at column 10; use ns, us, ms, s, m or h",
    );
    check(
        "duration:abc",
        10,
        "\"abc\" is not a duration for duration at column 10 (e.g. 250ms or 1.5s)",
    );
    check("duration:99999999999h", 10, "is too large a duration");
    check(
        "response_size:1tb",
        15,
        "has an unknown unit for response_size at column 15; use b, kb, mb or gb",
    );
    check(
        "response_size:-1",
        15,
        "\"-1\" is not a size for response_size",
    );
    check(
        "time:yesterday",
        6,
        "\"yesterday\" is not a time for time at column 6; use 2024-05-01T10:00:00Z",
    );
    check("time:2024-02-30", 6, "is not a time");
    check(
        "client:10.0.0",
        8,
        "\"10.0.0\" is not an IP address for client at column 8; use 10.0.0.1",
    );
    check("server:10.0.0.1/33", 8, "is not an IP address");
    check("status:40*", 8, "\"40*\" is not a number for status");
    check(
        "status:99999999999999999999",
        8,
        "is not a number for status",
    );
    check(
        "state:done",
        7,
        "\"done\" is not a valid value for state at column 7; expected ok, warning, incomplete, error",
    );
    check_kind(
        "missed_syn:maybe",
        RecordKind::TcpSession,
        12,
        "\"maybe\" is not true or false for missed_syn",
    );
    check_kind(
        "state:ok",
        RecordKind::TcpSession,
        7,
        "expected syn_sent, syn_received",
    );
    check_kind(
        "source:mdns",
        RecordKind::Host,
        8,
        "expected dns, sni, http",
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let error = error("é ü status:abc", RecordKind::Http);
    assert_eq!(error.column, 12);
    assert_eq!(error.span, 11..14);
    assert!(error.message.ends_with("at column 12"));
}

#[test]
fn long_values_are_shortened_in_messages() {
    let input = format!("status:{}", "x".repeat(200));
    let error = error(&input, RecordKind::Http);
    assert!(error.message.len() < 120, "{}", error.message);
    assert!(error.message.contains("…"));
}

#[test]
fn limits() {
    let deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    check(&deep, MAX_DEPTH + 1, "the query nests too deeply");
    let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&ok, RecordKind::Http).is_ok());
    let nots = "NOT ".repeat(MAX_DEPTH + 1) + "a";
    check(&nots, MAX_DEPTH * 4 + 1, "the query nests too deeply");
    let dashes = "-".repeat(10_000) + "a";
    check(&dashes, MAX_DEPTH + 1, "the query nests too deeply");
    let long = "a ".repeat(MAX_QUERY_BYTES);
    check(&long, MAX_QUERY_BYTES + 1, "the query is too long");
    // Long flat queries are fine: they do not nest.
    let flat = "a OR ".repeat(2000) + "b";
    assert!(parse(&flat, RecordKind::Http).is_ok());
}
