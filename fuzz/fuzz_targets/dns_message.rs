//! DNS messages as the pipeline meets them: a UDP payload (`parse_message`) and a DNS-over-TCP
//! stream of length-prefixed messages (`parse_tcp_message`), then what the pipeline does with a
//! parsed message (`resolve_addresses`, the names of types and codes, record data as text).
//!
//! Input: the bytes, taken both as one UDP payload and as a TCP stream.
//!
//! Checks besides "no panic": counts match the header, names stay within what 255 wire bytes can
//! print as, resolved pairs are distinct and name a question, and the TCP framing agrees with the
//! UDP parser on the same message bytes.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use spider_protocols::dns::{
    parse_message, parse_tcp_message, rcode_name, resolve_addresses, type_name, DnsError,
    DnsMessage,
};

/// A name of 255 wire bytes prints as at most 4 characters per byte (`\DDD`).
const MAX_NAME_TEXT: usize = 4 * 255;

fn check(bytes: &[u8], message: &DnsMessage) {
    let word = |i: usize| usize::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
    assert_eq!(message.questions.len(), word(4));
    assert_eq!(message.answers.len(), word(6));
    for question in &message.questions {
        assert!(!question.name.is_empty() && question.name.len() <= MAX_NAME_TEXT);
        let _ = type_name(question.qtype);
    }
    for answer in &message.answers {
        assert!(!answer.name.is_empty() && answer.name.len() <= MAX_NAME_TEXT);
        let _ = type_name(answer.rtype);
        let _ = answer.data.to_string();
    }
    let _ = rcode_name(message.rcode);
    let questions: HashSet<&str> = message.questions.iter().map(|q| q.name.as_str()).collect();
    let mut seen = HashSet::new();
    for (name, ip) in resolve_addresses(message) {
        assert!(questions.contains(name.as_str()));
        assert!(seen.insert((name, ip)), "a resolved pair twice");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse_message(data) {
        check(data, &message);
    }

    let mut stream = data;
    loop {
        match parse_tcp_message(stream) {
            Ok((message, used)) => {
                let len = usize::from(u16::from_be_bytes([stream[0], stream[1]]));
                assert_eq!(used, 2 + len);
                assert_eq!(parse_message(&stream[2..used]).as_ref(), Ok(&message));
                stream = &stream[used..];
            }
            Err(DnsError::Incomplete { needed, available }) => {
                assert_eq!(available, stream.len());
                assert!(needed > available);
                break;
            }
            Err(error) => {
                let len = usize::from(u16::from_be_bytes([stream[0], stream[1]]));
                assert_eq!(parse_message(&stream[2..2 + len]), Err(error));
                break;
            }
        }
    }
});
