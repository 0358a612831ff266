//! The first bytes of a client's TCP stream through TLS recognition and ClientHello/SNI parsing
//! (`looks_like_handshake`, `client_hello_server_name`), as the pipeline calls them: on the whole
//! input and on a prefix of it, as if the rest had not arrived yet.
//!
//! Input: the stream. The prefix cut is derived from the input's length and last byte.
//!
//! Checks besides "no panic": `Incomplete` always asks for more bytes than it was given; an answer
//! that is not `Incomplete` does not change when more bytes follow; a prefix answers either
//! `Incomplete` or what the whole stream answers; a server name comes only from a stream at least
//! as long as every `Incomplete` of its prefixes asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spider_protocols::tls::{client_hello_server_name, looks_like_handshake, TlsError};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_handshake(data);
    let whole = client_hello_server_name(data);
    if let Err(TlsError::Incomplete { needed }) = whole {
        assert!(
            needed > data.len(),
            "incomplete at {} of {needed}",
            data.len()
        );
    }
    if let Ok(Some(name)) = &whole {
        assert!(!name.is_empty());
    }

    let cut = match data.last() {
        Some(&last) => (usize::from(last) * 131) % data.len(),
        None => 0,
    };
    let prefix = &data[..cut];
    let _ = looks_like_handshake(prefix);
    match client_hello_server_name(prefix) {
        Err(TlsError::Incomplete { needed }) => {
            assert!(needed > cut);
            if whole.is_ok() {
                assert!(needed <= data.len(), "asked for {needed} of {}", data.len());
            }
        }
        early => assert_eq!(early, whole, "prefix of {cut} bytes"),
    }

    // Bytes after a complete answer change nothing.
    if !matches!(whole, Err(TlsError::Incomplete { .. })) {
        let mut longer = data.to_vec();
        longer.extend_from_slice(&[0x16, 3, 3, 0, 1, 0]);
        assert_eq!(client_hello_server_name(&longer), whole);
    }
});
