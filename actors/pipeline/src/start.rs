use std::collections::HashMap;

use spider_decode::{Side, TcpFlags, TcpSegment};
use spider_model::{Endpoint, EpochNanos};

/// Packets of a session seen without its handshake held before its streams are anchored.
const HOLD_PACKETS: usize = 8;

/// One held segment, owned.
#[derive(Debug)]
pub(crate) struct HeldSegment {
    pub src: Endpoint,
    pub time: EpochNanos,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: Vec<u8>,
}

impl HeldSegment {
    pub fn segment(&self) -> TcpSegment<'_> {
        TcpSegment {
            src_port: self.src.port,
            dst_port: 0,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: 0,
            payload: &self.payload,
        }
    }
}

/// The first packets of sessions whose SYN was not (yet) seen.
///
/// Captures reorder neighbouring frames: the first data of a session can come before its SYN, or
/// its second segment before its first. Holding a few packets lets the SYN arrive, or else lets
/// each stream start at the lowest sequence number among them.
#[derive(Debug, Default)]
pub(crate) struct StartBuffer {
    held: HashMap<u64, Vec<HeldSegment>>,
}

impl StartBuffer {
    /// Holds a packet; returns true once the session has held enough to start without a SYN.
    pub fn hold(
        &mut self,
        id: u64,
        src: Endpoint,
        time: EpochNanos,
        segment: &TcpSegment<'_>,
    ) -> bool {
        let held = self.held.entry(id).or_default();
        held.push(HeldSegment {
            src,
            time,
            seq: segment.seq,
            ack: segment.ack,
            flags: segment.flags,
            payload: segment.payload.to_vec(),
        });
        held.len() >= HOLD_PACKETS
    }

    pub fn contains(&self, id: u64) -> bool {
        self.held.contains_key(&id)
    }

    pub fn take(&mut self, id: u64) -> Vec<HeldSegment> {
        self.held.remove(&id).unwrap_or_default()
    }
}

/// Where each stream starts without a handshake: the lowest sequence number among its held data
/// and the acknowledgements its peer sent (the peer acknowledges the next byte it expects).
pub(crate) fn anchors_of(held: &[HeldSegment], client: Endpoint) -> [Option<u32>; 2] {
    let mut anchors: [Option<u32>; 2] = [None, None];
    let mut lower = |side: usize, seq: u32| {
        anchors[side] = Some(match anchors[side] {
            Some(lowest) if (seq.wrapping_sub(lowest) as i32) >= 0 => lowest,
            _ => seq,
        });
    };
    for segment in held {
        let side = side_of(segment.src, client).index();
        if !segment.payload.is_empty() {
            lower(side, segment.seq);
        }
        if segment.flags.ack() && !segment.flags.rst() {
            lower(1 - side, segment.ack);
        }
    }
    anchors
}

pub(crate) fn side_of(src: Endpoint, client: Endpoint) -> Side {
    if src == client {
        Side::Client
    } else {
        Side::Server
    }
}
