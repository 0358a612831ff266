use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Endpoint, EpochNanos};

/// The state of a TCP session as seen from the capture point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    /// A SYN was seen, no SYN-ACK yet.
    SynSent,
    /// SYN-ACK seen, the handshake's last ACK not yet.
    SynReceived,
    Established,
    /// One side has sent FIN.
    FinWait,
    /// Both sides have sent FIN (the last ACK may or may not have been seen).
    Closed,
    /// A RST ended it.
    Reset,
}

/// Why a session record was closed by the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Fin,
    Rst,
    IdleTimeout,
    /// A new SYN on the same 4-tuple started another session.
    PortReuse,
    /// The capture ended (or the tracker was flushed) while the session was open.
    CaptureEnd,
    /// The tracker's session limit evicted it.
    Evicted,
}

/// Counters for one direction of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DirectionStats {
    pub packets: u64,
    /// TCP payload bytes, retransmissions included.
    pub bytes: u64,
    /// Segments whose payload had been seen already (whole or in part).
    pub retransmissions: u64,
    /// Segments that arrived before a gap in front of them was filled.
    pub out_of_order: u64,
    /// Payload bytes never seen (capture or network loss).
    pub lost_bytes: u64,
}

/// One TCP session, as the Whisperer identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TcpSessionRecord {
    /// The session id, unique per Whisperer.
    pub id: u64,
    /// The side that sent the SYN (or, without one, the side judged to be the client).
    pub client: Endpoint,
    pub server: Endpoint,
    pub state: TcpState,
    pub close_reason: Option<CloseReason>,
    /// True when the capture did not see this session's SYN (it began before the capture).
    pub missed_syn: bool,
    pub first_packet: EpochNanos,
    pub last_packet: EpochNanos,
    /// When the handshake completed, if it was seen.
    pub connected_at: Option<EpochNanos>,
    /// SYN to SYN-ACK as seen at the capture point.
    pub handshake_rtt_ns: Option<i64>,
    pub client_to_server: DirectionStats,
    pub server_to_client: DirectionStats,
}
