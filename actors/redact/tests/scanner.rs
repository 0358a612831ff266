//! The streaming scanner on whole HTTP/1.x streams: what is masked, what stays.

use spider_redact::{HttpRedactor, RuleSet, Rules, SessionLink};

fn rules() -> Rules {
    Rules::new(&RuleSet::default())
}

/// Client bytes then server bytes of one session, each direction scanned whole.
fn session(client: &str, server: &str) -> (String, String) {
    let rules = rules();
    let mut link = SessionLink::default();
    let mut c = client.as_bytes().to_vec();
    let mut s = server.as_bytes().to_vec();
    HttpRedactor::new(true).redact(&rules, &mut c, &mut link);
    HttpRedactor::new(true).redact(&rules, &mut s, &mut link);
    (
        String::from_utf8(c).unwrap_or_default(),
        String::from_utf8(s).unwrap_or_default(),
    )
}

fn one(stream: &str, clean: bool) -> String {
    let mut bytes = stream.as_bytes().to_vec();
    HttpRedactor::new(clean).redact(&rules(), &mut bytes, &mut SessionLink::default());
    String::from_utf8(bytes).unwrap_or_default()
}

#[test]
fn request_headers_and_query() {
    let request = "GET /v1/items?page=2&api_key=K3Y&x=1 HTTP/1.1\r\n\
                   Host: api.test\r\n\
                   Authorization: Basic YWxpY2U6czNjcmV0\r\n\
                   Proxy-Authorization:Bearer eyJ.eyJ.sig\r\n\
                   Cookie: session=abc; theme=dark\r\n\
                   X-API-Key:   k-123 \r\n\
                   Referer: https://app.test/p?token=t0k#access_token=zz\r\n\
                   Accept: */*\r\n\r\n";
    let expected = "GET /v1/items?page=2&api_key=***&x=1 HTTP/1.1\r\n\
                    Host: api.test\r\n\
                    Authorization: Basic ****************\r\n\
                    Proxy-Authorization:Bearer ***********\r\n\
                    Cookie: ***********************\r\n\
                    X-API-Key:   ******\r\n\
                    Referer: https://app.test/p?token=***#access_token=**\r\n\
                    Accept: */*\r\n\r\n";
    assert_eq!(one(request, true), expected);
}

#[test]
fn authorization_without_a_known_scheme_is_masked_from_where_it_differs() {
    assert_eq!(
        one("GET / HTTP/1.1\r\nAuthorization: sk_live_123\r\n\r\n", true),
        "GET / HTTP/1.1\r\nAuthorization: s**********\r\n\r\n"
    );
    assert_eq!(
        one("GET / HTTP/1.1\r\nAuthorization: Basicabc\r\n\r\n", true),
        "GET / HTTP/1.1\r\nAuthorization: Basic***\r\n\r\n"
    );
    assert_eq!(
        one("GET / HTTP/1.1\r\nauthorization: token\r\n\r\n", true),
        "GET / HTTP/1.1\r\nauthorization: token\r\n\r\n",
        "a scheme word alone has no secret"
    );
}

#[test]
fn json_response_with_cookie_then_next_response() {
    let body = r#"{"access_token":"AT-1","token_type":"bearer","user":{"name":"ann"}}"#;
    let server = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: sid=xyz; Path=/\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}HTTP/1.1 204 No Content\r\nSet-Cookie: a=b\r\n\r\n",
        body.len()
    );
    let (_, server) = session("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", &server);
    assert!(server.contains("Set-Cookie: ***************\r\n"));
    assert!(
        server.contains(r#"{"access_token":"****","token_type":"bearer","user":{"name":"ann"}}"#)
    );
    assert!(server.ends_with("HTTP/1.1 204 No Content\r\nSet-Cookie: ***\r\n\r\n"));
}

#[test]
fn chunked_json_is_masked_across_chunks_and_trailers() {
    let request = "POST /login HTTP/1.1\r\nContent-Type: application/json\r\n\
                   Transfer-Encoding: chunked\r\n\r\n\
                   c;ext=1\r\n{\"user\":\"a\",\r\n10\r\n\"password\":\"s3cr\r\n5\r\net!\"}\r\n0\r\n\
                   X-Auth-Token: tt\r\nX-Other: o\r\n\r\n\
                   GET /next HTTP/1.1\r\nCookie: c=1\r\n\r\n";
    let expected = "POST /login HTTP/1.1\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n\
                    c;ext=1\r\n{\"user\":\"a\",\r\n10\r\n\"password\":\"****\r\n5\r\n***\"}\r\n0\r\n\
                    X-Auth-Token: **\r\nX-Other: o\r\n\r\n\
                    GET /next HTTP/1.1\r\nCookie: ***\r\n\r\n";
    assert_eq!(one(request, true), expected);
}

#[test]
fn compressed_json_is_masked_whole_and_framing_stays() {
    let request =
        "POST /a HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n\
                   Transfer-Encoding: chunked\r\n\r\n4\r\n\x1f\x0b\x08\x00\r\n2\r\nzz\r\n0\r\n\r\n";
    let expected =
        "POST /a HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n\
                    Transfer-Encoding: chunked\r\n\r\n4\r\n****\r\n2\r\n**\r\n0\r\n\r\n";
    assert_eq!(one(request, true), expected);
    // Compressed bodies of other types pass.
    let image = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Encoding: gzip\r\n\
                 Content-Length: 3\r\n\r\nabc";
    assert_eq!(one(image, true), image);
}

#[test]
fn form_bodies_and_folded_headers() {
    let request = "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                   Cookie: a=1;\r\n b=2\r\nContent-Length: 29\r\n\r\nuser=al&password=p%40ss&rem=1";
    let expected = "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                    Cookie: ****\r\n ***\r\nContent-Length: 29\r\n\r\nuser=al&password=******&rem=1";
    assert_eq!(one(request, true), expected);
}

#[test]
fn bodiless_responses_follow_their_requests() {
    let client = "HEAD /big HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    let server = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n\
                  HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\nSet-Cookie: q=1\r\n\r\n\
                  HTTP/1.1 200 OK\r\nSet-Cookie: r=2\r\nContent-Length: 0\r\n\r\n";
    let (_, server) = session(client, server);
    assert_eq!(server.matches("Set-Cookie: ***\r\n").count(), 2, "{server}");
}

#[test]
fn tunnels_and_upgrades_leave_http() {
    let client = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\u{81}\u{85}Cookie: a=b\r\n";
    let server = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nCookie: c=d\r\n";
    let (client_out, server_out) = {
        let rules = rules();
        let mut link = SessionLink::default();
        let (head, frames) = client.split_at(client.find("\r\n\r\n").unwrap_or(0) + 4);
        let mut head = head.as_bytes().to_vec();
        let mut c = HttpRedactor::new(true);
        c.redact(&rules, &mut head, &mut link);
        let mut s = server.as_bytes().to_vec();
        HttpRedactor::new(true).redact(&rules, &mut s, &mut link);
        let mut frames = frames.as_bytes().to_vec();
        c.redact(&rules, &mut frames, &mut link);
        assert!(c.is_opaque());
        (frames, s)
    };
    assert!(String::from_utf8_lossy(&client_out).contains("Cookie: a=b"));
    assert!(String::from_utf8_lossy(&server_out).ends_with("Cookie: c=d\r\n"));
    // h2c after 101: HPACK can carry headers in the clear, so it is masked.
    let (_, h2c) = session(
        "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04secret",
    );
    assert!(h2c.ends_with("**********"), "{h2c:?}");
}

#[test]
fn streams_that_are_not_http_pass_when_their_start_was_seen() {
    let tls = "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03Cookie: x";
    assert_eq!(one(tls, true), tls);
    let smtp = "EHLO mail.test\r\nAUTH PLAIN abc\r\n";
    assert_eq!(one(smtp, true), smtp);
}

#[test]
fn a_stream_joined_midway_is_hunted_until_a_start_line() {
    let tail = "ion=abc\r\nX-Trace: 1\r\n\r\nbody-bytes\r\nGET /next?token=q HTTP/1.1\r\n\
                Cookie: n=1\r\nAccept: */*\r\n\r\n";
    let out = one(tail, false);
    assert_eq!(
        out,
        "*******\r\n**********\r\n\r\n**********\r\n**************************\r\n\
         Cookie: ***\r\nAccept: */*\r\n\r\n"
    );
    // A session joined midway that starts with TLS records is hunted too (it might be a body).
    assert!(one("\x17\x03\x03abc", false).bytes().all(|b| b == b'*'));
}

#[test]
fn pipelined_requests_and_a_bad_length_are_handled() {
    let stream = "GET /a HTTP/1.1\r\nCookie: 1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz\
                  GET /c HTTP/1.1\r\nCookie: 2\r\n\r\n\
                  POST /d HTTP/1.1\r\nContent-Length: nope\r\n\r\nsecret-ish\r\nGET /e HTTP/1.1\r\nCookie: 3\r\n\r\n";
    let out = one(stream, true);
    assert_eq!(out.matches("Cookie: *\r\n").count(), 3, "{out}");
    assert!(out.contains("xyz"));
    assert!(
        !out.contains("secret-ish"),
        "a body that cannot be framed is hunted through"
    );
}

#[test]
fn empty_rules_mask_nothing() {
    let rules = Rules::new(&RuleSet {
        headers: Vec::new(),
        json_fields: Vec::new(),
        query_params: Vec::new(),
        ..RuleSet::default()
    });
    let stream = "POST /a?token=1 HTTP/1.1\r\nCookie: a\r\nContent-Type: application/json\r\n\
                  Content-Length: 15\r\n\r\n{\"token\":\"abc\"}";
    let mut bytes = stream.as_bytes().to_vec();
    HttpRedactor::new(true).redact(&rules, &mut bytes, &mut SessionLink::default());
    assert_eq!(bytes, stream.as_bytes());
}
