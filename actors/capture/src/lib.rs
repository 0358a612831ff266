//! Live packet capture for the Whisperer: AF_PACKET with a TPACKET_V3 mmap ring.
//!
//! It owns the capture socket: ring geometry, kernel filter (pcap syntax compiled to classic BPF
//! by libpcap, with the snap length and direction folded in), promiscuous mode, PACKET_FANOUT
//! groups for worker threads, and the kernel counters. Frames come out borrowed from the ring
//! with their timestamp, interface, link type, lengths and direction.
//!
//! It must not decode frames (that is `spider-decode`), track sessions, or store anything.
//!
//! ```no_run
//! use std::time::Duration;
//! use spider_capture::{Capture, CaptureConfig, Interface};
//!
//! let mut config = CaptureConfig::new(Interface::parse("eth0"));
//! config.filter = Some("tcp port 80".to_owned());
//! let mut capture = Capture::open(&config)?;
//! while let Some(block) = capture.next_block(Duration::from_millis(100))? {
//!     for frame in block.frames() {
//!         println!("{} {} bytes", frame.timestamp_ns, frame.data.len());
//!     }
//! } // each block goes back to the kernel when dropped
//! # Ok::<(), spider_capture::CaptureError>(())
//! ```

mod capture;
mod config;
mod error;
mod filter;
mod frame;
pub mod netns;
mod ring;
mod sys;
pub mod testnet;

pub use capture::{Capture, CaptureStats};
pub use config::{CaptureConfig, DirectionFilter, Fanout, FanoutMode, Interface, RingConfig};
pub use error::CaptureError;
pub use frame::{
    link_type_for_arphrd, Direction, Frame, VlanTag, LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_RAW,
};
pub use ring::{Block, Frames};

/// Compiles a pcap filter expression (for Ethernet frames) without opening anything, to check
/// it early, e.g. when parsing a command line.
pub fn check_filter(expression: &str) -> Result<(), CaptureError> {
    filter::compile(expression).map(|_| ())
}
