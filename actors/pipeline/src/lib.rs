//! The pipeline from captured frames to Spider records.
//!
//! [`Analyzer`] chains the pieces of `spider-decode` and `spider-protocols`: frames are decoded,
//! given their session by the tracker, reassembled per direction, recognised (HTTP/1.x, TLS) and
//! parsed; DNS responses, TLS server names and HTTP Host headers feed the host table. It is what
//! `spider analyze` runs over a file and what the backend runs per shard; the Whisperer uses the
//! decoder and tracker alone. Records go to a sink as they complete.
//!
//! This crate does no I/O of its own: callers read files or sockets and pass frames in.

mod analyzer;
mod capture;
mod config;
mod dns;
mod hosts;
mod session;
mod start;

pub use analyzer::Analyzer;
pub use capture::{analyze_capture, analyze_file, CaptureSummary};
pub use config::{AnalyzerStats, PipelineConfig};
