//! Bytes from the wire never make a reader panic: damaged messages and invalid fields are errors.

mod common;

use common::{decode, encode};
use proptest::prelude::*;
use spider_model::{
    BodyCapture, BodyData, Endpoint, HostRecord, HostSource, HttpExchange, HttpTiming, ParseState,
};
use spider_rpc_schema::records_capnp::{host_record, http_exchange, usage_record};
use spider_rpc_schema::{read_host, read_http, read_usage, write_host, write_http, SchemaError};

/// A message with every kind of field set, to damage.
fn rich_http() -> Vec<u8> {
    let mut exchange = http_exchange();
    exchange.response_headers = vec![("Content-Type".into(), "application/octet-stream".into())];
    exchange.request_body = BodyCapture {
        announced_length: Some(5),
        wire_length: 5,
        decoded_length: 5,
        content_type: Some("text/plain".into()),
        content_encoding: None,
        data: Some(BodyData::Utf8("hello".into())),
        truncated: false,
    };
    exchange.response_body = Some(BodyCapture {
        data: Some(BodyData::from_bytes(&[0xff, 0, 1, 2])),
        content_encoding: Some("gzip".into()),
        ..exchange.request_body.clone()
    });
    exchange.interim_statuses = vec![100];
    exchange.timing = HttpTiming {
        request_start: 1,
        request_end: Some(2),
        response_start: Some(3),
        response_end: Some(4),
    };
    exchange.warnings = vec!["body cut".into()];
    encode::<http_exchange::Owned>(|b| write_http(b, &exchange))
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = rich_http();
    assert!(decode::<http_exchange::Owned, _>(&bytes, read_http).is_ok());
    for len in 0..bytes.len() {
        let result = decode::<http_exchange::Owned, _>(&bytes[..len], read_http);
        assert!(result.is_err(), "cut at {len} of {} read fine", bytes.len());
    }
}

#[test]
fn damaged_bytes_never_panic() {
    let bytes = rich_http();
    for position in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            // Any outcome but a panic is fine: some damage only changes a value.
            let _ = decode::<http_exchange::Owned, _>(&damaged, read_http);
        }
    }
}

proptest! {
    #[test]
    fn garbage_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<http_exchange::Owned, _>(&bytes, read_http);
        // The same garbage behind a valid one-segment header, so that it reaches the pointers.
        let words = u32::try_from(bytes.len() / 8).expect("small");
        bytes.truncate(bytes.len() / 8 * 8);
        let mut framed = vec![0, 0, 0, 0];
        framed.extend_from_slice(&words.to_le_bytes());
        framed.extend_from_slice(&bytes);
        let _ = decode::<http_exchange::Owned, _>(&framed, read_http);
        let _ = decode::<usage_record::Owned, _>(&framed, read_usage);
    }
}

#[test]
fn a_missing_endpoint_is_an_error() {
    let bytes = encode::<http_exchange::Owned>(|mut b| {
        b.set_method("GET");
        Ok(())
    });
    let result = decode::<http_exchange::Owned, _>(&bytes, read_http);
    assert!(
        matches!(
            result,
            Err(SchemaError::Missing {
                field: "http.client"
            })
        ),
        "{result:?}"
    );
}

#[test]
fn an_ip_of_the_wrong_length_is_an_error() {
    let bytes = encode::<host_record::Owned>(|mut b| {
        b.set_ip(&[10, 0, 0, 0, 1][..]);
        Ok(())
    });
    let result = decode::<host_record::Owned, _>(&bytes, read_host);
    assert!(
        matches!(
            result,
            Err(SchemaError::InvalidIp {
                field: "host.ip",
                len: 5
            })
        ),
        "{result:?}"
    );
}

#[test]
fn text_that_is_not_utf8_is_an_error() {
    let exchange = http_exchange();
    let bytes = encode::<http_exchange::Owned>(|mut b| {
        write_http(b.reborrow(), &exchange)?;
        b.init_method(2)
            .as_bytes_mut()
            .copy_from_slice(&[0xff, 0xfe]);
        Ok(())
    });
    let result = decode::<http_exchange::Owned, _>(&bytes, read_http);
    assert!(
        matches!(
            result,
            Err(SchemaError::InvalidUtf8 {
                field: "http.method"
            })
        ),
        "{result:?}"
    );
}

/// A newer writer's enum value is reported, not guessed.
#[test]
fn an_unknown_enum_value_is_an_error() {
    let host = HostRecord {
        ip: "192.0.2.1".parse().expect("address"),
        name: "example.com".into(),
        source: HostSource::Sni,
        first_seen: 1,
        last_seen: 2,
    };
    let mut bytes = encode::<host_record::Owned>(|b| write_host(b, &host));
    // One segment: 8 bytes of framing, the root pointer, then the root struct, whose data section
    // starts with `source` (a UInt16 at offset 0).
    let source = 8 + 8;
    assert_eq!(bytes[source..source + 2], [1, 0], "layout assumption");
    bytes[source] = 9;
    let result = decode::<host_record::Owned, _>(&bytes, read_host);
    assert!(
        matches!(
            result,
            Err(SchemaError::NotInSchema {
                field: "host.source",
                value: 9
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_body_with_malformed_base64_cannot_be_written() {
    let mut exchange = http_exchange();
    exchange.request_body = BodyCapture {
        data: Some(BodyData::Base64("not base64!".into())),
        ..BodyCapture::default()
    };
    let mut message = capnp::message::Builder::new_default();
    let result = write_http(message.init_root::<http_exchange::Builder<'_>>(), &exchange);
    assert!(
        matches!(
            result,
            Err(SchemaError::InvalidBase64 {
                field: "http.request_body"
            })
        ),
        "{result:?}"
    );
}

fn http_exchange() -> HttpExchange {
    let endpoint = Endpoint::new("192.0.2.1".parse().expect("address"), 80);
    HttpExchange {
        session_id: 1,
        index: 0,
        client: endpoint,
        server: endpoint,
        method: "GET".into(),
        host: Some("example.com".into()),
        uri: "/a?b=c".into(),
        path: "/a".into(),
        query: vec![("b".into(), "c".into())],
        version: "HTTP/1.1".into(),
        status: Some(200),
        reason: Some("OK".into()),
        request_headers: vec![("Host".into(), "example.com".into())],
        response_headers: Vec::new(),
        request_body: BodyCapture::default(),
        response_body: None,
        interim_statuses: Vec::new(),
        timing: HttpTiming::default(),
        state: ParseState::Ok,
        warnings: Vec::new(),
    }
}
