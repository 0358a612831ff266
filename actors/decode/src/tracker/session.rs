use spider_model::{CloseReason, DirectionStats, Endpoint, EpochNanos, TcpSessionRecord, TcpState};

use crate::packet::TcpSegment;
use crate::tracker::Side;

/// One TCP session in the tracker: identity, state machine and counters.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub state: TcpState,
    pub close_reason: Option<CloseReason>,
    pub missed_syn: bool,
    pub first: EpochNanos,
    pub last: EpochNanos,
    pub syn_time: Option<EpochNanos>,
    pub synack_time: Option<EpochNanos>,
    pub connected_at: Option<EpochNanos>,
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    pub fin_sent: [bool; 2],
    pub closed_at: Option<EpochNanos>,
    /// Highest sequence number end seen per direction (client→server, server→client).
    pub highest_end: [Option<u32>; 2],
    /// Sequence number of the first segment seen per direction.
    pub first_seq: [Option<u32>; 2],
    pub stats: [DirectionStats; 2],
    /// Bumped whenever the session gets a new expiry entry; older entries are stale.
    pub generation: u32,
}

impl Session {
    pub fn new(
        id: u64,
        client: Endpoint,
        server: Endpoint,
        state: TcpState,
        time: EpochNanos,
    ) -> Self {
        Self {
            id,
            client,
            server,
            state,
            close_reason: None,
            missed_syn: true,
            first: time,
            last: time,
            syn_time: None,
            synack_time: None,
            connected_at: None,
            client_isn: None,
            server_isn: None,
            fin_sent: [false; 2],
            closed_at: None,
            highest_end: [None; 2],
            first_seq: [None; 2],
            stats: [DirectionStats::default(); 2],
            generation: 0,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// Whether a SYN from the client with `seq` opens a new connection on this 4-tuple.
    pub fn is_new_connection(&self, src: Endpoint, seq: u32, time: EpochNanos) -> bool {
        if self.is_closed() {
            return self.client_isn != Some(seq);
        }
        match self.client_isn {
            Some(isn) => isn != seq,
            None => !self.is_late_syn(src, seq, time),
        }
    }

    /// A SYN that arrives just after the first packets of a session seen without one, and whose
    /// sequence number comes right before the data seen from its sender: the capture reordered
    /// the handshake, it is the same connection.
    fn is_late_syn(&self, src: Endpoint, seq: u32, time: EpochNanos) -> bool {
        let side = if src == self.client { 0 } else { 1 };
        let young = time.saturating_sub(self.first) <= LATE_SYN_WINDOW_NS;
        let precedes_data = self.first_seq[side]
            .is_some_and(|first| first.wrapping_sub(seq.wrapping_add(1)) < LATE_SYN_SEQ_WINDOW);
        let nothing_from_sender = self.first_seq[side].is_none() && self.stats[side].packets == 0;
        young && (precedes_data || nothing_from_sender)
    }

    /// Takes a late SYN's sender as the client (swapping roles if the guess was wrong).
    pub fn adopt_late_syn(&mut self, src: Endpoint) {
        if src != self.client {
            std::mem::swap(&mut self.client, &mut self.server);
            self.stats.swap(0, 1);
            self.highest_end.swap(0, 1);
            self.first_seq.swap(0, 1);
            self.fin_sent.swap(0, 1);
        }
        if self.state == TcpState::Established && self.connected_at.is_none() {
            self.state = TcpState::SynSent;
        }
    }

    /// Applies one segment sent by `from` to the state machine and the counters.
    pub fn apply(&mut self, from: Side, segment: &TcpSegment<'_>, time: EpochNanos) {
        self.last = self.last.max(time);
        let dir = from.index();
        let flags = segment.flags;
        self.count(dir, segment);

        if flags.rst() {
            self.state = TcpState::Reset;
            self.close(CloseReason::Rst, time);
            return;
        }
        if flags.syn() && !flags.ack() && from == Side::Client {
            self.missed_syn = false;
            self.client_isn.get_or_insert(segment.seq);
            self.syn_time.get_or_insert(time);
        } else if flags.syn() && flags.ack() && from == Side::Server {
            self.server_isn.get_or_insert(segment.seq);
            self.client_isn.get_or_insert(segment.ack.wrapping_sub(1));
            if self.synack_time.is_none() {
                self.synack_time = Some(time);
            }
            if matches!(self.state, TcpState::SynSent) {
                self.state = TcpState::SynReceived;
            }
        } else if matches!(self.state, TcpState::SynSent | TcpState::SynReceived)
            && flags.ack()
            && !flags.syn()
        {
            self.state = TcpState::Established;
            self.connected_at.get_or_insert(time);
        }
        if flags.fin() {
            self.fin_sent[dir] = true;
            if self.fin_sent == [true, true] {
                self.state = TcpState::Closed;
                self.close(CloseReason::Fin, time);
            } else if self.state != TcpState::Reset {
                self.state = TcpState::FinWait;
            }
        }
    }

    fn count(&mut self, dir: usize, segment: &TcpSegment<'_>) {
        self.first_seq[dir].get_or_insert(segment.seq);
        let stats = &mut self.stats[dir];
        stats.packets += 1;
        let len = segment.payload.len() as u32;
        stats.bytes += u64::from(len);
        let seq_len = segment.seq_len();
        if seq_len == 0 {
            return;
        }
        let end = segment.seq.wrapping_add(seq_len);
        match self.highest_end[dir] {
            None => self.highest_end[dir] = Some(end),
            Some(highest) => {
                if seq_before_or_eq(end, highest) {
                    if len > 0 {
                        stats.retransmissions += 1;
                    }
                } else {
                    if seq_before(highest, segment.seq) {
                        stats.out_of_order += 1;
                    }
                    self.highest_end[dir] = Some(end);
                }
            }
        }
    }

    pub fn close(&mut self, reason: CloseReason, time: EpochNanos) {
        if self.closed_at.is_none() {
            self.closed_at = Some(time);
            self.close_reason = Some(reason);
        }
    }

    pub fn record(&self) -> TcpSessionRecord {
        TcpSessionRecord {
            id: self.id,
            client: self.client,
            server: self.server,
            state: self.state,
            close_reason: self.close_reason,
            missed_syn: self.missed_syn,
            first_packet: self.first,
            last_packet: self.last,
            connected_at: self.connected_at,
            handshake_rtt_ns: self
                .syn_time
                .zip(self.synack_time)
                .map(|(syn, synack)| synack.saturating_sub(syn))
                .filter(|rtt| *rtt >= 0),
            client_to_server: self.stats[0],
            server_to_client: self.stats[1],
        }
    }
}

/// How soon after a session's first packet a SYN may still be its own, reordered.
const LATE_SYN_WINDOW_NS: i64 = 2_000_000_000;
/// How far before the first data seen a reordered SYN's sequence number may be.
const LATE_SYN_SEQ_WINDOW: u32 = 1 << 20;

/// `a` comes strictly before `b` in sequence space (RFC 1982 arithmetic).
pub(crate) fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

pub(crate) fn seq_before_or_eq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}
