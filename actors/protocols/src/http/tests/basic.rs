use spider_model::ParseState;

use super::*;
use crate::http::looks_like_request;
use crate::{detect, Protocol};

#[test]
fn detects_request_lines() {
    for yes in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"POST /x HTTP/1.0\r\n",
        b"PUT ",
        b"DELETE /a",
        b"HEAD / HTTP",
        b"OPTIONS * HTTP/1.1",
        b"PATCH /p HTTP/1.1",
        b"CONNECT example.com:443 HTTP/1.1\r\n",
        b"TRACE / HTTP/1.1",
        b"PROPFIND /dav HTTP/1.1",
        b"M-SEARCH * HTTP/1.1",
    ] {
        assert!(looks_like_request(yes), "{}", String::from_utf8_lossy(yes));
    }
    for no in [
        &b""[..],
        b"GET",
        b"GET/ HTTP/1.1",
        b"get / HTTP/1.1",
        b" GET / HTTP/1.1",
        b"EHLO mail.example.com\r\n",
        b"PRI * HTTP/2.0\r\n",
        b"GET / FTP/1.0\r\n",
        b"\x16\x03\x01\x02\x00",
        b"HTTP/1.1 200 OK\r\n",
        b"VERYVERYVERYLONGMETHODNAMETHATISNOT / HTTP/1.1",
    ] {
        assert!(!looks_like_request(no), "{}", String::from_utf8_lossy(no));
    }
    assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Some(Protocol::Http1));
}

#[test]
fn parses_one_exchange_with_all_fields() {
    let mut run = Run::new();
    run.req(
        10,
        b"GET /a%20b/c?x=1&y=hello+world&flag&z=%E2%82%AC HTTP/1.1\r\nHost: Example.com:8080\r\nX-Case: V\r\nAccept: */*\r\n\r\n",
    );
    run.resp(
        20,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello",
    );
    assert!(run.taken().is_empty());
    run.resp(30, b" body");
    let ex = run.taken();
    assert_eq!(ex.len(), 1);
    let ex = &ex[0];
    assert_eq!((ex.session_id, ex.index), (7, 0));
    assert_eq!((ex.client, ex.server), (ctx().client, ctx().server));
    assert_eq!(ex.method, "GET");
    assert_eq!(ex.uri, "/a%20b/c?x=1&y=hello+world&flag&z=%E2%82%AC");
    assert_eq!(ex.path, "/a b/c");
    let query: Vec<(&str, &str)> = ex
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        query,
        [("x", "1"), ("y", "hello world"), ("flag", ""), ("z", "€")]
    );
    assert_eq!(ex.host.as_deref(), Some("Example.com:8080"));
    assert_eq!(ex.version, "HTTP/1.1");
    assert_eq!(ex.request_headers[1], ("X-Case".to_owned(), "V".to_owned()));
    assert_eq!(ex.request_headers.len(), 3);
    assert_eq!((ex.status, ex.reason.as_deref()), (Some(200), Some("OK")));
    let body = ex.response_body.as_ref().unwrap();
    assert_eq!(text(body), "hello body");
    assert_eq!(
        (body.announced_length, body.wire_length, body.decoded_length),
        (Some(10), 10, 10)
    );
    assert_eq!(body.content_type.as_deref(), Some("text/plain"));
    assert!(!body.truncated);
    assert_eq!(ex.request_body, BodyCapture::default());
    assert_eq!(ex.timing.request_start, 10);
    assert_eq!(ex.timing.request_end, Some(10));
    assert_eq!(ex.timing.response_start, Some(20));
    assert_eq!(ex.timing.response_end, Some(30));
    assert_eq!(ex.state, ParseState::Ok);
    assert!(ex.warnings.is_empty());
    assert_eq!(run.stats().exchanges, 1);
}

#[test]
fn decodes_absolute_form_and_missing_host() {
    let mut run = Run::new();
    run.req(
        1,
        b"GET http://proxy.example/p%2Fq?a=%zz&b=1+2#frag HTTP/1.0\r\n\r\n",
    );
    run.resp(2, &ok(200, ""));
    let ex = run.finish(3);
    assert_eq!(ex[0].path, "/p/q");
    assert_eq!(
        ex[0].query,
        [("a".into(), "%zz".into()), ("b".into(), "1 2".into())]
    );
    assert_eq!(ex[0].host, None);
    assert_eq!(ex[0].version, "HTTP/1.0");
}

#[test]
fn keeps_alive_across_many_exchanges() {
    let mut run = Run::new();
    for i in 0..5 {
        run.req(i * 10, &get(&format!("/{i}")));
        run.resp(i * 10 + 5, &ok(200, &format!("body {i}")));
    }
    let ex = run.finish(100);
    assert_eq!(ex.len(), 5);
    for (i, ex) in ex.iter().enumerate() {
        assert_eq!(ex.index, i as u32);
        assert_eq!(ex.uri, format!("/{i}"));
        assert_eq!(resp_text(ex), format!("body {i}"));
        assert_eq!(ex.state, ParseState::Ok);
    }
}

#[test]
fn pairs_pipelined_responses_in_order() {
    let mut run = Run::new();
    let mut requests = get("/a");
    requests.extend(b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n");
    requests.extend(b"POST /c HTTP/1.1\r\nContent-Length: 3\r\nContent-Type: text/x\r\n\r\nabc");
    run.req(1, &requests);
    let mut responses = ok(200, "A");
    responses.extend(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n");
    responses.extend(ok(201, "C"));
    run.resp(2, &responses);
    let ex = run.finish(3);
    assert_eq!(ex.len(), 3);
    assert_eq!(
        (ex[0].uri.as_str(), ex[0].status, resp_text(&ex[0])),
        ("/a", Some(200), "A".into())
    );
    assert_eq!((ex[1].method.as_str(), ex[1].status), ("HEAD", Some(200)));
    let head_body = ex[1].response_body.as_ref().unwrap();
    assert_eq!(
        (head_body.announced_length, head_body.wire_length),
        (Some(999), 0)
    );
    assert_eq!((ex[2].status, resp_text(&ex[2])), (Some(201), "C".into()));
    assert_eq!(text(&ex[2].request_body), "abc");
    assert_eq!(ex[2].request_body.content_type.as_deref(), Some("text/x"));
    assert!(ex.iter().all(|e| e.state == ParseState::Ok));
}

#[test]
fn no_body_for_204_and_304() {
    let mut run = Run::new();
    run.req(1, &[get("/1"), get("/2"), get("/3")].concat());
    run.resp(
        2,
        b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
    );
    run.resp(3, &ok(200, "x"));
    let ex = run.finish(4);
    let statuses: Vec<_> = ex.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(204), Some(304), Some(200)]);
    assert_eq!(ex[1].response_body.as_ref().unwrap().wire_length, 0);
    assert_eq!(resp_text(&ex[2]), "x");
}

#[test]
fn records_interim_responses() {
    let mut run = Run::new();
    run.req(
        1,
        b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    run.resp(2, b"HTTP/1.1 100 Continue\r\n\r\n");
    run.req(3, b"data");
    run.resp(4, b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    run.resp(5, &ok(201, "done"));
    let ex = run.finish(6);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].interim_statuses, [100, 103]);
    assert_eq!(ex[0].status, Some(201));
    assert_eq!(ex[0].timing.response_start, Some(2));
    assert_eq!(ex[0].timing.request_end, Some(3));
    assert_eq!(text(&ex[0].request_body), "data");
    assert_eq!(ex[0].state, ParseState::Ok);
}

#[test]
fn stops_after_switching_protocols() {
    let mut run = Run::new();
    run.req(
        1,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
    );
    run.resp(
        2,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
    );
    let later = b"GET /not-http HTTP/1.1\r\n\r\n";
    run.req(3, later);
    let ex = run.finish(4);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].status, Some(101));
    assert_eq!(ex[0].state, ParseState::Ok);
    assert_eq!(run.stats().bytes_after_upgrade, 7 + 4 + later.len() as u64);
}

/// Found by fuzzing (`http_stream`): a 101 to a request that asked for no upgrade switched the
/// session, so whether the client's later requests were parsed depended on whether they arrived
/// before that response. It is not followed now, whatever the order.
#[test]
fn a_switch_no_request_asked_for_is_not_followed() {
    for response_first in [false, true] {
        let mut run = Run::new();
        run.req(1, &get("/a"));
        let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        if response_first {
            run.resp(2, switch);
            run.req(3, &get("/b"));
        } else {
            run.req(2, &get("/b"));
            run.resp(3, switch);
        }
        run.resp(4, &ok(200, "a"));
        run.resp(5, &ok(200, "b"));
        let ex = run.finish(6);
        let uris: Vec<&str> = ex.iter().map(|e| e.uri.as_str()).collect();
        assert_eq!(uris, ["/a", "/b"], "response first: {response_first}");
        assert_eq!((ex[0].status, ex[1].status), (Some(200), Some(200)));
        assert!(ex[0]
            .warnings
            .iter()
            .any(|w| w.contains("101 Switching Protocols to a request without Upgrade")));
        assert_eq!(run.stats().bytes_after_upgrade, 0);
    }
}

#[test]
fn continues_when_upgrade_is_refused() {
    let mut run = Run::new();
    run.req(1, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    run.req(2, &get("/next"));
    run.resp(3, &ok(400, "no"));
    run.resp(4, &ok(200, "yes"));
    let ex = run.finish(5);
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].status, ex[1].status), (Some(400), Some(200)));
    assert_eq!(ex[1].uri, "/next");
    assert_eq!(ex[1].timing.request_start, 2);
}

#[test]
fn stops_after_connect_tunnel() {
    let mut run = Run::new();
    run.req(
        1,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01",
    );
    run.resp(
        2,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03",
    );
    let ex = run.finish(3);
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].method.as_str(), ex[0].status),
        ("CONNECT", Some(200))
    );
    assert_eq!(ex[0].uri, "example.com:443");
    assert_eq!(run.stats().bytes_after_upgrade, 6);
}

#[test]
fn close_delimited_body_ends_with_the_stream() {
    let mut run = Run::new();
    run.req(1, b"GET / HTTP/1.0\r\n\r\n");
    run.resp(2, b"HTTP/1.0 200 OK\r\n\r\npart one, ");
    run.resp(3, b"part two");
    assert!(run.taken().is_empty());
    run.end(S, 9);
    let ex = run.taken();
    assert_eq!(ex.len(), 1);
    assert_eq!(resp_text(&ex[0]), "part one, part two");
    assert_eq!(ex[0].response_body.as_ref().unwrap().announced_length, None);
    assert_eq!(ex[0].timing.response_end, Some(3));
    assert_eq!(ex[0].state, ParseState::Ok);
}

#[test]
fn close_delimited_body_without_close_is_incomplete() {
    let mut run = Run::new();
    run.req(1, &get("/"));
    run.resp(2, b"HTTP/1.1 200 OK\r\n\r\nsome");
    let ex = run.finish(3);
    assert_eq!(resp_text(&ex[0]), "some");
    assert_eq!(ex[0].state, ParseState::Incomplete);
}

#[test]
fn request_without_response_is_incomplete() {
    let mut run = Run::new();
    run.req(1, &get("/a"));
    run.resp(2, &ok(200, "x"));
    run.req(3, &get("/b"));
    let ex = run.finish(4);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].state, ParseState::Ok);
    assert_eq!((ex[1].status, ex[1].state), (None, ParseState::Incomplete));
    assert_eq!(ex[1].response_body, None);
}

#[test]
fn response_without_request_is_counted_not_emitted() {
    let mut run = Run::new();
    run.resp(1, &ok(200, "mid-session"));
    run.resp(2, &ok(404, "more"));
    assert!(run.taken().is_empty());
    run.end(C, 3);
    let ex = run.finish(4);
    assert!(ex.is_empty());
    assert_eq!(run.stats().orphan_responses, 2);
}

#[test]
fn server_timeout_response_before_close_is_orphan() {
    let mut run = Run::new();
    run.req(1, &get("/"));
    run.resp(2, &ok(200, "x"));
    run.resp(
        3,
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    run.end(S, 4);
    run.end(C, 5);
    let ex = run.finish(6);
    assert_eq!(ex.len(), 1);
    assert_eq!(run.stats().orphan_responses, 1);
}

#[test]
fn malformed_request_head_is_an_error_then_resyncs() {
    let mut run = Run::new();
    run.req(1, b"GET /bad\x01path HTTP/1.1\r\nHost: h\r\n\r\n");
    run.resp(2, &ok(400, "bad request"));
    run.req(3, &get("/good"));
    run.resp(4, &ok(200, "fine"));
    let ex = run.finish(5);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].state, ParseState::Error);
    assert_eq!(ex[0].method, "GET");
    assert_eq!(ex[0].status, Some(400));
    assert!(!ex[0].warnings.is_empty());
    assert_eq!((ex[1].uri.as_str(), ex[1].state), ("/good", ParseState::Ok));
}

#[test]
fn malformed_response_head_is_an_error() {
    let mut run = Run::new();
    run.req(1, &get("/a"));
    run.resp(2, b"HTTP/1.1 2x0 Broken\r\nX: y\r\n\r\n");
    run.req(3, &get("/b"));
    run.resp(4, &ok(200, "fine"));
    let ex = run.finish(5);
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].status, ex[0].state), (None, ParseState::Error));
    assert_eq!((ex[1].status, ex[1].state), (Some(200), ParseState::Ok));
}

#[test]
fn oversized_head_is_an_error() {
    let limits = ParserLimits {
        max_head_bytes: 64,
        ..ParserLimits::default()
    };
    let mut run = Run::with_limits(limits);
    run.req(
        1,
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100)).as_bytes(),
    );
    run.req(2, b"\r\n");
    run.req(3, &get("/ok"));
    run.resp(4, &ok(200, ""));
    let ex = run.finish(5);
    assert_eq!(ex.last().unwrap().uri, "/ok");
    assert_eq!(ex.last().unwrap().status, Some(200));
    assert!(run.parser.buffered_bytes() == 0);
}

#[test]
fn headers_and_trailing_blank_lines_are_tolerated() {
    let mut run = Run::new();
    run.req(1, b"POST /f HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi\r\n");
    run.req(2, b"GET /n HTTP/1.1\nHost: lf-only\n\n");
    run.resp(3, &[ok(200, "1"), ok(200, "2")].concat());
    let ex = run.finish(4);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[1].host.as_deref(), Some("lf-only"));
    assert!(ex.iter().all(|e| e.state == ParseState::Ok));
}
