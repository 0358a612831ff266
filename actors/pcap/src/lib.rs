//! Capture files: reading pcap and pcapng, writing pcapng.
//!
//! Owns the file formats only: records come out as (interface, link type, timestamp, bytes); what
//! the bytes mean is `spider-decode`'s business.
//!
//! Reading: [`CaptureReader`] streams over any [`std::io::Read`], detects the format from the magic
//! (pcap in both byte orders with micro- or nanosecond timestamps, pcapng with any number of
//! sections and interfaces) and hands out [`RecordRef`]s borrowed from its buffer. Damaged input
//! ends the stream with a [`PcapError`] naming the byte offset; records read before stay delivered.
//! Nothing is allocated from a length field beyond fixed limits ([`MAX_CAPLEN`], [`MAX_BLOCK_LEN`]).
//!
//! Writing: [`PcapngWriter`] writes pcapng with nanosecond timestamps.

mod error;
mod input;
mod pcapng;
mod reader;
mod writer;

pub use error::PcapError;
pub use pcapng::Interface;
pub use reader::{CaptureReader, Format, Records};
pub use writer::{InterfaceDescription, PcapngWriter};

/// The largest captured length accepted for one record (256 KiB, the usual tcpdump snaplen).
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// The largest pcapng block the reader buffers (packets with their options, interface and section
/// headers). Blocks the reader does not interpret are skipped whatever their length.
pub const MAX_BLOCK_LEN: u32 = MAX_CAPLEN + 64 * 1024;

/// A link-layer header type, as in the file (LINKTYPE_* of tcpdump.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in host byte order, then the packet.
    pub const NULL: Self = Self(0);
    /// Ethernet II (and 802.3).
    pub const ETHERNET: Self = Self(1);
    /// Raw IP, version in the first nibble.
    pub const RAW: Self = Self(101);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: Self = Self(113);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: Self = Self(276);
}

impl std::fmt::Display for LinkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match *self {
            Self::NULL => "null",
            Self::ETHERNET => "ethernet",
            Self::RAW => "raw",
            Self::LINUX_SLL => "linux_sll",
            Self::IPV4 => "ipv4",
            Self::IPV6 => "ipv6",
            Self::LINUX_SLL2 => "linux_sll2",
            Self(n) => return write!(f, "linktype{n}"),
        };
        f.write_str(name)
    }
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// The interface index in its pcapng section (always 0 in pcap files).
    pub interface: u32,
    pub link_type: LinkType,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// The frame's length on the wire (may exceed `data.len()` when the capture was cut short).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl RecordRef<'_> {
    /// Copies the record out of the reader's buffer.
    pub fn to_record(&self) -> Record {
        Record {
            interface: self.interface,
            link_type: self.link_type,
            ts_nanos: self.ts_nanos,
            orig_len: self.orig_len,
            data: self.data.to_vec(),
        }
    }
}

/// One captured frame that owns its bytes (see [`RecordRef`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub interface: u32,
    pub link_type: LinkType,
    pub ts_nanos: i64,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

impl Record {
    /// Borrows the record in the reader's form.
    pub fn borrowed(&self) -> RecordRef<'_> {
        RecordRef {
            interface: self.interface,
            link_type: self.link_type,
            ts_nanos: self.ts_nanos,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }
}
