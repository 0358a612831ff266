use std::io;

/// What went wrong reading or writing a capture file; offsets are bytes from the file's start.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("i/o error at byte offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },

    #[error("bad magic {magic:#010x} at byte offset {offset}: not a pcap or pcapng file")]
    BadMagic { offset: u64, magic: u32 },

    #[error(
        "truncated {what} at byte offset {offset}: it needs {needed} bytes, only {available} remain"
    )]
    Truncated {
        offset: u64,
        what: &'static str,
        needed: u64,
        available: u64,
    },

    #[error("captured length {caplen} of the record at byte offset {offset} exceeds the limit of {limit} bytes")]
    CaptureTooLong {
        offset: u64,
        caplen: u32,
        limit: u32,
    },

    #[error("bad length {len} of the {what} at byte offset {offset}: {reason}")]
    BadBlockLength {
        offset: u64,
        what: &'static str,
        len: u32,
        reason: &'static str,
    },

    #[error(
        "the {what} at byte offset {offset} ends with length {trailer}, its header says {len}"
    )]
    LengthMismatch {
        offset: u64,
        what: &'static str,
        len: u32,
        trailer: u32,
    },

    #[error(
        "bad byte-order magic {magic:#010x} in the section header block at byte offset {offset}"
    )]
    BadByteOrder { offset: u64, magic: u32 },

    #[error("unsupported {format} version {major}.{minor} at byte offset {offset}")]
    UnsupportedVersion {
        offset: u64,
        format: &'static str,
        major: u16,
        minor: u16,
    },

    #[error("the {what} at byte offset {offset} refers to interface {interface}, but its section describes {known}")]
    UnknownInterface {
        offset: u64,
        what: &'static str,
        interface: u32,
        known: usize,
    },

    #[error("malformed {what} at byte offset {offset}: {reason}")]
    Malformed {
        offset: u64,
        what: &'static str,
        reason: &'static str,
    },

    #[error("cannot write {what}: {reason}")]
    Unwritable {
        what: &'static str,
        reason: &'static str,
    },
}

impl PcapError {
    /// The byte offset of the problem in the file, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Io { offset, .. }
            | Self::BadMagic { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::CaptureTooLong { offset, .. }
            | Self::BadBlockLength { offset, .. }
            | Self::LengthMismatch { offset, .. }
            | Self::BadByteOrder { offset, .. }
            | Self::UnsupportedVersion { offset, .. }
            | Self::UnknownInterface { offset, .. }
            | Self::Malformed { offset, .. } => Some(*offset),
            Self::Unwritable { .. } => None,
        }
    }
}
