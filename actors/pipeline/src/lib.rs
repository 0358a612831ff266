//! The pipeline from captured frames to Spider records.
//!
//! [`Analyzer`] chains the pieces of `spider-decode` and `spider-protocols`: frames are decoded,
//! given their session by the tracker, reassembled per direction, recognised (HTTP/1.x, TLS) and
//! parsed; DNS responses, TLS server names and HTTP Host headers feed the host table. It is what
//! `spider analyze` runs over a file. [`SessionParser`] is the same without the tracker, for the
//! backend: packets arrive with the session ids their Whisperer gave them. The Whisperer uses the
//! decoder and tracker alone. Records go to a sink as they complete.
//!
//! This crate does no I/O of its own: callers read files or sockets and pass frames in.

mod analyzer;
mod capture;
mod config;
mod dns;
mod hosts;
mod packets;
mod session;
mod start;
mod streams;
mod tagger;

pub use analyzer::Analyzer;
pub use capture::{analyze_capture, analyze_file, CaptureSummary};
pub use config::{AnalyzerStats, PipelineConfig};
pub use packets::SessionParser;
pub use streams::{SessionHint, StreamStats};
pub use tagger::{FrameTagger, Tagged};
