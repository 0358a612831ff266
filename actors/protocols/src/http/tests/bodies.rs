use spider_model::ParseState;

use super::*;

fn one_response(limits: ParserLimits, response: &[u8]) -> (HttpExchange, HttpParserStats) {
    let mut run = Run::with_limits(limits);
    run.req(1, &get("/"));
    run.resp(2, response);
    let mut ex = run.finish(3);
    assert_eq!(ex.len(), 1);
    (ex.remove(0), run.stats())
}

#[test]
fn dechunks_with_extensions_and_trailers() {
    let mut run = Run::new();
    run.req(1, &get("/"));
    run.resp(
        2,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\nA \r\n, chunked!\r\n0\r\nX-Sum: 42\r\n\r\n",
    );
    run.req(3, &get("/next"));
    run.resp(4, &ok(200, "n"));
    let ex = run.finish(5);
    assert_eq!(ex.len(), 2);
    let body = ex[0].response_body.as_ref().unwrap();
    assert_eq!(text(body), "hello, chunked!");
    assert_eq!((body.announced_length, body.wire_length), (None, 15));
    let last = ex[0].response_headers.last().unwrap();
    assert_eq!(last, &("X-Sum".to_owned(), "42".to_owned()));
    assert_eq!(ex[0].state, ParseState::Ok);
    assert_eq!(resp_text(&ex[1]), "n");
}

#[test]
fn chunked_request_body() {
    let mut run = Run::new();
    let mut request = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend(chunked(b"0123456789abcdef", 3));
    request.extend(get("/after"));
    for byte in &request {
        run.req(1, std::slice::from_ref(byte));
    }
    run.resp(2, &[ok(200, "a"), ok(200, "b")].concat());
    let ex = run.finish(3);
    assert_eq!(ex.len(), 2);
    assert_eq!(text(&ex[0].request_body), "0123456789abcdef");
    assert_eq!(ex[1].uri, "/after");
}

#[test]
fn invalid_chunk_size_resyncs() {
    let mut run = Run::new();
    run.req(1, &[get("/a"), get("/b")].concat());
    run.resp(
        2,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n",
    );
    run.resp(3, &ok(200, "b"));
    let ex = run.finish(4);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].state, ParseState::Incomplete);
    assert_eq!((ex[1].status, resp_text(&ex[1])), (Some(200), "b".into()));
    assert_eq!(run.stats().resyncs, 1);
}

#[test]
fn decodes_gzip_deflate_and_brotli() {
    let plain = "the quick brown fox jumps over the lazy dog ".repeat(50);
    for (name, encoded) in [
        ("gzip", gzip(plain.as_bytes())),
        ("x-gzip", gzip(plain.as_bytes())),
        ("deflate", zlib(plain.as_bytes())),
        ("deflate", raw_deflate(plain.as_bytes())),
        ("br", brotli(plain.as_bytes())),
    ] {
        let (ex, stats) = one_response(ParserLimits::default(), &encoded_response(name, &encoded));
        let body = ex.response_body.as_ref().unwrap();
        assert_eq!(text(body), plain, "{name}");
        assert_eq!(body.wire_length, encoded.len() as u64);
        assert_eq!(body.decoded_length, plain.len() as u64);
        assert_eq!(body.content_encoding.as_deref(), Some(name));
        assert_eq!(body.content_type.as_deref(), Some("text/plain"));
        assert!(!body.truncated);
        assert_eq!(ex.state, ParseState::Ok, "{name}: {:?}", ex.warnings);
        assert_eq!(stats.decode_errors, 0);
    }
}

#[test]
fn decodes_gzip_fed_byte_by_byte() {
    let plain = b"streamed decoding keeps state across calls".repeat(20);
    let response = encoded_response("gzip", &gzip(&plain));
    let mut run = Run::new();
    run.req(1, &get("/"));
    for byte in &response {
        run.resp(2, std::slice::from_ref(byte));
    }
    let ex = run.finish(3);
    assert_eq!(resp_text(&ex[0]).as_bytes(), plain);
}

#[test]
fn keeps_only_max_body_bytes() {
    let limits = ParserLimits {
        max_body_bytes: 8,
        ..ParserLimits::default()
    };
    let (ex, stats) = one_response(limits, &ok(200, "0123456789abcdef"));
    let body = ex.response_body.as_ref().unwrap();
    assert_eq!(text(body), "01234567");
    assert_eq!((body.wire_length, body.decoded_length), (16, 16));
    assert!(body.truncated);
    assert_eq!(ex.state, ParseState::Warning);
    assert!(ex.warnings[0].contains("truncated"));
    assert_eq!(stats.bodies_truncated, 1);
}

#[test]
fn stops_decoding_at_max_decoded_bytes() {
    let limits = ParserLimits {
        max_body_bytes: 100,
        max_decoded_bytes: 1000,
        ..ParserLimits::default()
    };
    let zeros = vec![0_u8; 1 << 20];
    let (ex, _) = one_response(limits, &encoded_response("gzip", &gzip(&zeros)));
    let body = ex.response_body.as_ref().unwrap();
    assert_eq!(body.decoded_length, 1000);
    assert_eq!(
        body.data.as_ref().unwrap().to_bytes().unwrap(),
        vec![0_u8; 100]
    );
    assert!(body.truncated);
    assert_eq!(ex.state, ParseState::Warning);
    assert!(ex
        .warnings
        .iter()
        .any(|w| w.contains("decoded body exceeds 1000")));
}

#[test]
fn reports_decode_errors() {
    let (ex, stats) = one_response(
        ParserLimits::default(),
        &encoded_response("gzip", b"this is not gzip at all"),
    );
    let body = ex.response_body.as_ref().unwrap();
    assert_eq!(body.wire_length, 23);
    assert!(body.truncated);
    assert_eq!(ex.state, ParseState::Warning);
    assert!(ex.warnings[0].contains("gzip decoding failed"));
    assert_eq!(stats.decode_errors, 1);

    let mut cut = gzip(b"a body whose gzip trailer is missing");
    cut.truncate(cut.len() - 8);
    let (ex, stats) = one_response(ParserLimits::default(), &encoded_response("gzip", &cut));
    assert_eq!(resp_text(&ex), "a body whose gzip trailer is missing");
    assert_eq!(stats.decode_errors, 1);
}

#[test]
fn unsupported_encoding_is_kept_raw_with_a_warning() {
    let (ex, _) = one_response(
        ParserLimits::default(),
        &encoded_response("zstd", b"\x28\xb5"),
    );
    let body = ex.response_body.as_ref().unwrap();
    assert_eq!(body.data.as_ref().unwrap().to_bytes().unwrap(), b"\x28\xb5");
    assert_eq!(ex.state, ParseState::Warning);
}

#[test]
fn binary_bodies_are_base64() {
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec();
    response.extend([0xff, 0x00, 0x80]);
    let (ex, _) = one_response(ParserLimits::default(), &response);
    let data = ex.response_body.unwrap().data.unwrap();
    assert!(matches!(data, BodyData::Base64(_)));
    assert_eq!(data.to_bytes().unwrap(), [0xff, 0x00, 0x80]);
}

#[test]
fn huge_body_is_counted_not_buffered() {
    let mut run = Run::new();
    run.req(1, &get("/big"));
    let total: u64 = 1 << 30;
    run.resp(
        2,
        format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n").as_bytes(),
    );
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0_u64;
    for _ in 0..256 {
        run.resp(3, &chunk);
        sent += chunk.len() as u64;
        assert!(run.parser.buffered_bytes() <= 64 * 1024 + 1024);
    }
    run.gap(S, 4, total - sent - 10);
    run.resp(5, &chunk[..10]);
    run.req(6, &get("/next"));
    run.resp(7, &ok(200, "in sync"));
    let ex = run.finish(8);
    let body = ex[0].response_body.as_ref().unwrap();
    assert_eq!(body.wire_length, sent + 10);
    assert_eq!(body.announced_length, Some(total));
    assert!(body.truncated);
    assert_eq!(ex[0].state, ParseState::Incomplete);
    assert_eq!(resp_text(&ex[1]), "in sync");
}

/// Found by the `http_stream` fuzz target: the brotli decoder writes out what it decoded where its
/// input ends, so a damaged brotli body fed in one piece kept nothing, and fed in pieces kept what
/// was decoded before the damage. Encoded bytes now reach the decoder in blocks at fixed offsets
/// of the body: what is kept does not depend on how the body was cut, with or without a loss.
#[test]
fn a_damaged_brotli_body_decodes_the_same_however_it_is_cut() {
    let words = [
        "alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let plain: String = (0..3000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            words[(seed % 7) as usize]
        })
        .collect();
    let mut encoded = brotli(plain.as_bytes());
    assert!(encoded.len() > 2 * 1024, "{}", encoded.len());
    let middle = encoded.len() * 2 / 3;
    encoded[middle..middle + 40].fill(0xff);
    let response = encoded_response("br", &encoded);
    let body_at = response.len() - encoded.len();
    let cut_into = |piece: usize, lost: Option<(usize, usize)>| {
        let mut run = Run::new();
        run.req(1, &get("/"));
        let (lost_at, lost_len) = lost.unwrap_or((response.len(), 0));
        for chunk in response[..lost_at].chunks(piece) {
            run.resp(2, chunk);
        }
        if lost_len > 0 {
            run.gap(S, 2, lost_len as u64);
        }
        for chunk in response[lost_at + lost_len..].chunks(piece) {
            run.resp(2, chunk);
        }
        let ex = run.finish(3);
        assert_eq!(ex.len(), 1);
        ex[0].response_body.clone().unwrap()
    };
    let whole = cut_into(response.len(), None);
    assert!(whole.truncated);
    assert!(
        whole.decoded_length > 0,
        "nothing decoded before the damage"
    );
    // What precedes the damage decodes (what follows it may decode to garbage before the error).
    assert!(text(&whole).starts_with(&plain[..1000]));
    for piece in [1, 7, 100, 1000, 1500] {
        assert_eq!(cut_into(piece, None), whole, "pieces of {piece}");
    }
    let lost = Some((body_at + 1500, 10));
    let whole = cut_into(response.len(), lost);
    assert!(whole.truncated && whole.decoded_length > 0);
    for piece in [1, 7, 100, 1000] {
        assert_eq!(
            cut_into(piece, lost),
            whole,
            "pieces of {piece} with a loss"
        );
    }
}
