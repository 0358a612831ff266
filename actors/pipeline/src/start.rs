use std::collections::{HashMap, VecDeque};

use spider_decode::{Side, TcpFlags, TcpSegment};
use spider_model::{Endpoint, EpochNanos};

/// Packets of a session seen without its handshake held before its streams are anchored.
const HOLD_PACKETS: usize = 8;

/// One held segment, owned.
#[derive(Debug)]
pub(crate) struct HeldSegment {
    pub src: Endpoint,
    pub dst: Endpoint,
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

/// Handshake sequence numbers learnt from held packets: (client's, server's).
type Isns = (Option<u32>, Option<u32>);

/// The first packets of sessions whose SYN was not (yet) seen.
///
/// Captures reorder neighbouring frames: the first data of a session can come before its SYN, or
/// its second segment before its first. Holding a few packets lets the SYN arrive, or else lets
/// each stream start at the lowest sequence number among them.
#[derive(Debug)]
pub(crate) struct StartBuffer {
    max_sessions: usize,
    held: HashMap<u64, (Vec<HeldSegment>, Isns), foldhash::fast::RandomState>,
    /// Session ids in arrival order, for eviction (stale ids are skipped).
    order: VecDeque<u64>,
}

impl StartBuffer {
    pub fn new(max_sessions: usize) -> Self {
        Self {
            max_sessions: max_sessions.max(1),
            held: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Holds a packet. Returns whether the session has held enough to start without a SYN, and
    /// a session that had to give up its place (the buffer was full) and must start now.
    pub fn hold(
        &mut self,
        id: u64,
        (src, dst): (Endpoint, Endpoint),
        time: EpochNanos,
        segment: &TcpSegment<'_>,
    ) -> (bool, Option<u64>) {
        let mut evicted = None;
        if !self.held.contains_key(&id) {
            while self.held.len() >= self.max_sessions {
                let Some(oldest) = self.order.pop_front() else {
                    break;
                };
                if self.held.contains_key(&oldest) {
                    evicted = Some(oldest);
                    break;
                }
            }
            self.order.push_back(id);
        }
        let (held, _) = self.held.entry(id).or_default();
        held.push(HeldSegment {
            src,
            dst,
            time,
            seq: segment.seq,
            ack: segment.ack,
            flags: segment.flags,
            payload: segment.payload.to_vec(),
        });
        (held.len() >= HOLD_PACKETS, evicted)
    }

    pub fn contains(&self, id: u64) -> bool {
        self.held.contains_key(&id)
    }

    /// The handshake's sequence numbers as far as the held packets and `segment` tell.
    pub fn isns(
        &mut self,
        id: u64,
        client: Endpoint,
        src: Endpoint,
        segment: &TcpSegment<'_>,
    ) -> Isns {
        let learn = |isns: &mut Isns, from_client: bool, seq: u32, ack: u32, flags: TcpFlags| {
            if flags.syn() && !flags.ack() && from_client {
                isns.0 = Some(seq);
            } else if flags.syn() && flags.ack() && !from_client {
                isns.1 = Some(seq);
                isns.0.get_or_insert(ack.wrapping_sub(1));
            }
        };
        let mut isns = self
            .held
            .get(&id)
            .map(|(_, isns)| *isns)
            .unwrap_or_default();
        learn(
            &mut isns,
            src == client,
            segment.seq,
            segment.ack,
            segment.flags,
        );
        if let Some((_, stored)) = self.held.get_mut(&id) {
            *stored = isns;
        }
        isns
    }

    pub fn take(&mut self, id: u64) -> Vec<HeldSegment> {
        self.held
            .remove(&id)
            .map(|(held, _)| held)
            .unwrap_or_default()
    }

    pub fn ids(&self) -> Vec<u64> {
        self.held.keys().copied().collect()
    }

    /// The endpoints of a held session as its first packet had them (sender, receiver).
    pub fn first_endpoints(&self, id: u64) -> (Endpoint, Endpoint) {
        let first = self.held.get(&id).and_then(|(held, _)| held.first());
        match first {
            Some(segment) => (segment.src, segment.dst),
            None => (
                Endpoint::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
                Endpoint::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
            ),
        }
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
