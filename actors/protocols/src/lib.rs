//! Application protocol parsers of Spider, behind one trait.
//!
//! A [`StreamParser`] takes the two reassembled byte streams of one TCP session (data in order, with
//! gaps where bytes were lost, and the end of each direction) and emits messages as they complete.
//! HTTP/1.x is the first; HTTP/2, gRPC, PostgreSQL, Redis or Kafka are one module each later.
//! Datagram and handshake parsers that need no stream state (DNS messages, the TLS ClientHello's
//! server name) are plain functions here too.
//!
//! This crate parses bytes it is given; it must not capture, reassemble TCP or store anything.

pub mod dns;
pub mod http;
mod stream;
pub mod tls;

pub use stream::{
    detect, Direction, ParsedMessage, ParserLimits, Protocol, StreamContext, StreamParser,
};
