//! Completion of field names, values and operators at the cursor.

use spider_query::{complete, Completion, CompletionKind, RecordKind};

fn texts(completions: &[Completion]) -> Vec<&str> {
    completions.iter().map(|c| c.text.as_str()).collect()
}

fn at_end(input: &str, kind: RecordKind) -> Vec<Completion> {
    complete(input, input.chars().count(), kind)
}

#[test]
fn field_names_by_prefix() {
    let found = at_end("sta", RecordKind::Http);
    assert_eq!(texts(&found), ["status:", "state:"]);
    assert!(found
        .iter()
        .all(|c| c.kind == CompletionKind::Field && c.replace == (0..3)));
    assert_eq!(found[0].detail, "final status code, or a class like 5xx");
    assert_eq!(
        texts(&at_end("method:GET re", RecordKind::Http)),
        [
            "request_size:",
            "response_size:",
            "req.header.",
            "resp.header.",
            "req.body:",
            "resp.body:"
        ]
    );
    assert_eq!(texts(&at_end("(-RT", RecordKind::TcpSession)), ["rtt:"]);
    assert_eq!(at_end("(-RT", RecordKind::TcpSession)[0].replace, 2..4);
    assert_eq!(texts(&at_end("so", RecordKind::Host)), ["source:"]);
}

#[test]
fn every_field_when_nothing_is_typed() {
    let all = at_end("", RecordKind::Host);
    assert_eq!(
        texts(&all),
        ["ip:", "name:", "source:", "first_seen:", "last_seen:"]
    );
    let after_space = at_end("name:x ", RecordKind::Host);
    assert_eq!(after_space.len(), 5);
    assert!(after_space.iter().all(|c| c.replace == (7..7)));
}

#[test]
fn header_names_after_a_family_prefix() {
    let found = at_end("req.header.content-t", RecordKind::Http);
    assert_eq!(texts(&found), ["req.header.content-type:"]);
    assert_eq!(found[0].detail, "request header content-type");
    assert!(texts(&at_end("resp.header.", RecordKind::Http)).contains(&"resp.header.set-cookie:"));
}

#[test]
fn enumerated_values() {
    let methods = at_end("method:P", RecordKind::Http);
    assert_eq!(texts(&methods), ["POST", "PUT", "PATCH"]);
    assert!(methods
        .iter()
        .all(|c| c.kind == CompletionKind::Value && c.replace == (7..8)));
    assert_eq!(
        texts(&at_end("status:", RecordKind::Http)),
        ["1xx", "2xx", "3xx", "4xx", "5xx"]
    );
    assert_eq!(
        texts(&at_end("a state:in", RecordKind::Http)),
        ["incomplete"]
    );
    assert_eq!(
        texts(&at_end("state:fin", RecordKind::TcpSession)),
        ["fin_wait"]
    );
    assert_eq!(
        texts(&at_end("missed_syn:", RecordKind::TcpSession)),
        ["true", "false"]
    );
    assert_eq!(
        texts(&at_end("source:", RecordKind::Host)),
        ["dns", "sni", "http", "kubernetes"]
    );
    assert!(at_end("host:", RecordKind::Http).is_empty());
    assert!(at_end("status:>=", RecordKind::Http).is_empty());
    assert!(at_end("nope:x", RecordKind::Http).is_empty());
}

#[test]
fn operators() {
    let found = at_end("method:GET O", RecordKind::Http);
    assert_eq!(texts(&found), ["OR"]);
    assert_eq!(found[0].kind, CompletionKind::Operator);
    assert_eq!(texts(&at_end("a N", RecordKind::Host)), ["name:", "NOT"]);
}

#[test]
fn the_cursor_decides_the_word() {
    // Cursor after "meth" in "meth status:5xx".
    let found = complete("meth status:5xx", 4, RecordKind::Http);
    assert_eq!(texts(&found), ["method:"]);
    assert_eq!(found[0].replace, 0..4);
    // Characters, not bytes: "é " is two characters.
    let found = complete("é sta", 5, RecordKind::Http);
    assert_eq!(found[0].replace, 2..5);
    // Past the end is the end.
    assert_eq!(
        texts(&complete("sta", 99, RecordKind::Http)),
        ["status:", "state:"]
    );
}

#[test]
fn nothing_inside_quotes() {
    assert!(at_end("\"sta", RecordKind::Http).is_empty());
    assert!(at_end("uri:\"/a b sta", RecordKind::Http).is_empty());
    assert_eq!(
        texts(&at_end("\"a \\\" b\" sta", RecordKind::Http)),
        ["status:", "state:"]
    );
}
