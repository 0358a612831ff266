use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::EpochNanos;

/// One captured frame as a Whisperer sends it and a shard stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PacketRecord {
    /// The Whisperer that captured it.
    pub whisperer: String,
    /// The TCP session id, or the flow id for other protocols (the Whisperer's tracker decides).
    pub session_id: u64,
    pub time: EpochNanos,
    /// The capture interface's index at the Whisperer.
    pub interface: u32,
    /// The `LINKTYPE_*` of `frame`.
    pub link_type: u16,
    /// Length on the wire (`frame` may be shorter: snap length).
    pub wire_len: u32,
    /// True when sent by the session's client (false: by its server; for flows, by the second side).
    pub from_client: bool,
    /// The frame's bytes, base64 in JSON.
    #[serde(with = "crate::body::base64_bytes")]
    #[schemars(with = "String")]
    pub frame: Vec<u8>,
}
