//! The scanner decides each byte from the bytes before it: a stream cut into pieces anywhere is
//! masked exactly as the whole stream, for generated HTTP/1.x streams with garbage mixed in.

use proptest::prelude::*;
use spider_redact::{HttpRedactor, RuleSet, Rules, SessionLink};

/// Pieces streams are made of: heads, header lines, bodies, and bytes that are none of these.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET /a?b=1&token=xyz&c HTTP/1.1\r\n".to_vec()),
        Just(b"POST /login HTTP/1.1\r\n".to_vec()),
        Just(b"HEAD / HTTP/1.0\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 101 Switching Protocols\r\n".to_vec()),
        Just(b"Authorization: Basic YWxpY2U6cHc=\r\n".to_vec()),
        Just(b"Authorization: bEaReR abc.def.ghi\r\n".to_vec()),
        Just(b"Cookie: a=1; b=2\r\n".to_vec()),
        Just(b"Set-Cookie: s=3\r\n  folded\r\n".to_vec()),
        Just(b"Content-Type: application/json\r\n".to_vec()),
        Just(b"Content-Type: application/x-www-form-urlencoded\r\n".to_vec()),
        Just(b"Content-Length: 24\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Content-Encoding: gzip\r\n".to_vec()),
        Just(b"Location: /x?access_token=q#secret=r\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(br#"{"password":"p","a":[1,{"token":2}]}"#.to_vec()),
        Just(b"password=p&x=y&api_key=k".to_vec()),
        Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 1..24).prop_map(|pieces| pieces.concat())
}

fn masked(rules: &Rules, stream: &[u8], clean: bool, cuts: &[usize]) -> Vec<u8> {
    let mut bytes = stream.to_vec();
    let mut scanner = HttpRedactor::new(clean);
    let mut link = SessionLink::default();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    bounds.push(0);
    bounds.push(bytes.len());
    bounds.sort_unstable();
    for pair in bounds.windows(2) {
        scanner.redact(rules, &mut bytes[pair[0]..pair[1]], &mut link);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn pieces_are_masked_as_the_whole(
        stream in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        clean in any::<bool>(),
    ) {
        let rules = Rules::new(&RuleSet::default());
        let whole = masked(&rules, &stream, clean, &[]);
        prop_assert_eq!(&masked(&rules, &stream, clean, &cuts), &whole);
        // Masking only ever writes mask bytes, never anything else, and keeps the length.
        prop_assert_eq!(whole.len(), stream.len());
        for (out, original) in whole.iter().zip(&stream) {
            prop_assert!(out == original || matches!(*out, b'*' | b'0' | b' '));
        }
    }
}

#[test]
fn a_request_cut_at_every_byte_is_masked_as_the_whole() {
    let rules = Rules::new(&RuleSet::default());
    let request = b"POST /p?api_key=abc HTTP/1.1\r\nAuthorization: Bearer t.o.k\r\n\
                    Content-Type: application/json\r\nContent-Length: 20\r\n\r\n\
                    {\"token\":\"s3cret!\"}\n";
    let whole = masked(&rules, request, true, &[]);
    assert!(!whole.windows(6).any(|w| w == b"s3cret"));
    for cut in 0..=request.len() {
        assert_eq!(masked(&rules, request, true, &[cut]), whole, "cut at {cut}");
    }
}
