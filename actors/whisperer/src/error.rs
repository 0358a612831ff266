//! The Whisperer's error type: what stops it from starting or ends it.

use std::path::PathBuf;

/// Why a Whisperer did not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WhispererError {
    /// Opening a capture failed: not root, no such interface, a filter that does not compile…
    #[error(transparent)]
    Capture(#[from] spider_capture::CaptureError),
    /// The capture file cannot be opened or read.
    #[error("capture file {path}: {source}")]
    Pcap {
        path: PathBuf,
        source: spider_pcap::PcapError,
    },
    /// The configuration is inconsistent.
    #[error("invalid whisperer configuration: {0}")]
    InvalidConfig(String),
    /// The spill folder cannot be used.
    #[error("spill folder {path}: {source}")]
    Spill {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A thread or runtime could not be started.
    #[error("cannot start a whisperer thread: {0}")]
    Thread(std::io::Error),
    /// A whisperer thread panicked.
    #[error("the whisperer's {0} thread panicked")]
    Panicked(&'static str),
}
