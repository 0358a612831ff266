//! From captured frames to packets, sessions and ordered byte streams.
//!
//! - [`Decoder`]: link layers (Ethernet with 802.1Q/QinQ, Linux SLL and SLL2, raw IP, BSD loopback),
//!   IPv4/IPv6 with fragments reassembled, TCP, UDP, ICMP. Decoding uses etherparse.
//! - [`SessionTracker`]: the TCP state machine and the one place that decides where a session starts
//!   and ends (SYN, FIN/RST, port reuse, idle timeout) and gives every frame its `session_id`. Non-TCP
//!   frames get a flow id from their 5-tuple. The Whisperer runs it live, `spider analyze` offline.
//! - [`StreamReassembler`]: one direction of a session back into an ordered byte stream, with
//!   retransmissions, overlaps and out-of-order segments resolved and gaps reported.
//!
//! Every structure here is bounded by its configuration, and every limit hit is counted. This crate
//! does not parse application protocols and does no I/O.

mod decoder;
mod defrag;
mod flow;
mod link;
mod packet;
mod reassembly;
mod tracker;

pub use decoder::{DecodeError, DecodeStats, Decoder, DecoderConfig};
pub use defrag::{DefragConfig, DefragStats};
pub use flow::{FlowKey, FlowTable};
pub use link::LinkType;
pub use packet::{Packet, TcpFlags, TcpSegment, Transport};
pub use reassembly::{ReassemblyConfig, ReassemblyStats, StreamEvent, StreamReassembler};
pub use tracker::{SessionEvent, SessionTracker, Side, TrackedPacket, TrackerConfig, TrackerStats};
