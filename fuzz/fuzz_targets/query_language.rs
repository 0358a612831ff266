//! The search box's query language: any UTF-8 text through the parser; what parses prints in its
//! canonical form, which parses back to the same query and prints the same; completion and the
//! evaluator take whatever comes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spider_model::{BodyCapture, Endpoint, HttpExchange, HttpTiming, ParseState};
use spider_query::{complete, matches, parse, RecordKind, MAX_QUERY_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [RecordKind::Http, RecordKind::TcpSession, RecordKind::Host] {
        let chars = input.chars().count();
        match parse(input, kind) {
            Ok(query) => {
                let printed = query.to_string();
                // The canonical form may be longer than the input (`-a` is `NOT a`); beyond the
                // length limit it is rejected for its length, which says nothing.
                if printed.len() <= MAX_QUERY_BYTES {
                    let again = parse(&printed, kind)
                        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}: {e}"));
                    assert_eq!(again, query, "{input:?} printed as {printed:?}");
                    assert_eq!(again.to_string(), printed);
                }
                if kind == RecordKind::Http {
                    let _ = matches(&query, &exchange());
                }
            }
            Err(error) => {
                assert!(error.column >= 1 && error.column <= chars + 1, "{input:?}: {error:?}");
                assert!(error.span.start <= error.span.end && error.span.end <= chars);
            }
        }
        for completion in complete(input, chars / 2, kind) {
            assert!(completion.replace.end <= chars);
        }
    }
});

fn exchange() -> HttpExchange {
    HttpExchange {
        session_id: 1,
        index: 0,
        client: Endpoint::new([10, 0, 0, 1].into(), 40000),
        server: Endpoint::new([10, 0, 0, 2].into(), 80),
        method: "GET".into(),
        host: Some("api.shop.test:80".into()),
        uri: "/a?b=c".into(),
        path: "/a".into(),
        query: vec![("b".into(), "c".into())],
        version: "HTTP/1.1".into(),
        status: Some(200),
        reason: Some("OK".into()),
        request_headers: vec![("Host".into(), "api.shop.test:80".into())],
        response_headers: Vec::new(),
        request_body: BodyCapture::default(),
        response_body: None,
        interim_statuses: Vec::new(),
        timing: HttpTiming::default(),
        state: ParseState::Ok,
        warnings: Vec::new(),
    }
}
