use std::collections::BTreeMap;

use spider_model::EpochNanos;

/// How far back a guessed anchor moves for earlier data (reordering, not a new stream).
const GUESS_MOVE_WINDOW: i64 = 1 << 20;

/// Bounds and tolerances of a [`StreamReassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Out-of-order bytes held per direction; beyond it the hole in front is declared a gap.
    pub max_buffered_bytes: usize,
    /// Once the peer acknowledged bytes the capture never showed, segments of the session that may
    /// still bring them (reordering) before the hole is declared a gap.
    pub acked_hole_patience: u32,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_buffered_bytes: 4 * 1024 * 1024,
            acked_hole_patience: 16,
        }
    }
}

/// Counters of one direction's reassembly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub delivered_bytes: u64,
    pub gaps: u64,
    /// Bytes skipped over by gaps.
    pub lost_bytes: u64,
    /// Bytes that arrived again after they had been delivered (retransmissions, duplicates).
    pub duplicate_bytes: u64,
    /// Segments held because a hole was in front of them.
    pub out_of_order_segments: u64,
    /// Gaps forced by `max_buffered_bytes` rather than by the peer's acknowledgement or the end.
    pub gaps_forced_by_limit: u64,
}

/// What a reassembler hands on, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    Data { time: EpochNanos, bytes: &'a [u8] },
    Gap { time: EpochNanos, len: u64 },
    End { time: EpochNanos },
}

#[derive(Debug)]
struct Held {
    time: EpochNanos,
    data: Vec<u8>,
}

/// One direction of a TCP session, put back in order.
///
/// Offsets are 64-bit positions in the stream, counted from the anchor (the byte after the SYN, or
/// the first byte seen), so sequence-number wrap-around is handled once, at the door.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    config: ReassemblyConfig,
    /// Sequence number of offset 0, once anchored.
    anchor_seq: Option<u32>,
    /// True when the anchor came from a handshake; a guessed one may still move back.
    anchor_firm: bool,
    /// Offset of the next byte to deliver.
    delivered: u64,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    fin_offset: Option<u64>,
    ended: bool,
    /// Highest acknowledgement from the peer, as an offset.
    peer_acked: Option<u64>,
    /// Segments seen since the peer acknowledged past a hole.
    patience_used: Option<u32>,
    stats: ReassemblyStats,
}

impl StreamReassembler {
    pub fn new(config: ReassemblyConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    pub fn buffered_bytes(&self) -> usize {
        self.held_bytes
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Anchors the stream at its first byte (the SYN's sequence number plus one). It replaces a
    /// guessed anchor as long as nothing has been delivered or held.
    pub fn anchor(&mut self, first_seq: u32) {
        if self.anchor_seq.is_none() || (!self.anchor_firm && self.untouched()) {
            self.anchor_seq = Some(first_seq);
            self.anchor_firm = true;
        }
    }

    /// Anchors the stream where its first byte probably is (first data seen, or the peer's
    /// acknowledgement); earlier data arriving before anything is delivered moves it back.
    pub fn anchor_guess(&mut self, first_seq: u32) {
        if self.anchor_seq.is_none() {
            self.anchor_seq = Some(first_seq);
            self.anchor_firm = false;
        }
    }

    fn untouched(&self) -> bool {
        self.delivered == 0 && self.held.is_empty() && !self.ended
    }

    pub fn is_anchored(&self) -> bool {
        self.anchor_seq.is_some()
    }

    fn offset_of(&self, seq: u32) -> Option<i64> {
        let next = self.anchor_seq?.wrapping_add(self.delivered as u32);
        Some(self.delivered as i64 + i64::from(seq.wrapping_sub(next) as i32))
    }

    /// A segment of this direction: its payload, and whether it carries FIN or RST.
    pub fn segment(
        &mut self,
        time: EpochNanos,
        seq: u32,
        payload: &[u8],
        fin: bool,
        rst: bool,
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if self.ended {
            self.stats.duplicate_bytes += payload.len() as u64;
            return;
        }
        if !payload.is_empty() || fin {
            self.anchor_guess(seq);
            let earlier = self
                .offset_of(seq)
                .is_some_and(|offset| offset < 0 && offset > -GUESS_MOVE_WINDOW);
            if earlier && !self.anchor_firm && self.untouched() {
                self.anchor_seq = Some(seq);
            }
        }
        if let Some(offset) = self.offset_of(seq) {
            if fin {
                let end = offset + payload.len() as i64;
                if end >= 0 {
                    self.fin_offset.get_or_insert(end as u64);
                }
            }
            if !payload.is_empty() {
                self.accept(time, offset, payload, emit);
            }
        }
        if let Some(used) = self.patience_used.as_mut() {
            *used += 1;
        }
        if rst {
            self.finish(time, emit);
            return;
        }
        self.settle(time, emit);
    }

    /// An acknowledgement sent by the peer of this direction.
    pub fn peer_ack(&mut self, time: EpochNanos, ack: u32, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        let Some(offset) = self.offset_of(ack) else {
            return;
        };
        if offset <= 0 {
            return;
        }
        let offset = offset as u64;
        if self.peer_acked.is_none_or(|acked| offset > acked) {
            self.peer_acked = Some(offset);
        }
        if let Some(used) = self.patience_used.as_mut() {
            *used += 1;
        }
        self.settle(time, emit);
    }

    /// Delivers everything held, with gaps for the holes (memory pressure or the end).
    pub fn release_held(&mut self, time: EpochNanos, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(first) = self.held.keys().next().copied() {
            self.skip_to(first, time, emit);
            self.drain(emit);
        }
    }

    /// Delivers everything held, with gaps for the holes, then the end.
    pub fn finish(&mut self, time: EpochNanos, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        self.release_held(time, emit);
        if !self.ended {
            self.ended = true;
            emit(StreamEvent::End { time });
        }
    }

    fn accept(
        &mut self,
        time: EpochNanos,
        offset: i64,
        payload: &[u8],
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let delivered = self.delivered as i64;
        let end = offset + payload.len() as i64;
        if end <= delivered {
            self.stats.duplicate_bytes += payload.len() as u64;
            return;
        }
        if offset <= delivered {
            let skip = (delivered - offset) as usize;
            self.stats.duplicate_bytes += skip as u64;
            let fresh = &payload[skip..];
            self.delivered += fresh.len() as u64;
            self.stats.delivered_bytes += fresh.len() as u64;
            emit(StreamEvent::Data { time, bytes: fresh });
            self.drain(emit);
            return;
        }
        self.stats.out_of_order_segments += 1;
        let offset = offset as u64;
        let keep = match self.held.get(&offset) {
            Some(existing) => existing.data.len() < payload.len(),
            None => true,
        };
        if keep {
            if let Some(old) = self.held.insert(
                offset,
                Held {
                    time,
                    data: payload.to_vec(),
                },
            ) {
                self.held_bytes -= old.data.len();
            }
            self.held_bytes += payload.len();
        } else {
            self.stats.duplicate_bytes += payload.len() as u64;
        }
    }

    /// Hands on held segments that have become contiguous.
    fn drain(&mut self, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.held.first_entry() {
            let offset = *entry.key();
            if offset > self.delivered {
                break;
            }
            let held = entry.remove();
            self.held_bytes -= held.data.len();
            let end = offset + held.data.len() as u64;
            if end <= self.delivered {
                self.stats.duplicate_bytes += held.data.len() as u64;
                continue;
            }
            let skip = (self.delivered - offset) as usize;
            self.stats.duplicate_bytes += skip as u64;
            let fresh = &held.data[skip..];
            self.delivered = end;
            self.stats.delivered_bytes += fresh.len() as u64;
            emit(StreamEvent::Data {
                time: held.time,
                bytes: fresh,
            });
        }
        if self.held.is_empty() {
            self.patience_used = None;
        }
    }

    /// Declares gaps where waiting longer cannot help, and the end once FIN's byte is reached.
    fn settle(&mut self, time: EpochNanos, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(first) = self.held.keys().next().copied() {
            let acked_past_hole = self.peer_acked.is_some_and(|acked| acked > self.delivered);
            if acked_past_hole && self.patience_used.is_none() {
                self.patience_used = Some(0);
            }
            let patience_out = self
                .patience_used
                .is_some_and(|used| used >= self.config.acked_hole_patience);
            let over_limit = self.held_bytes > self.config.max_buffered_bytes;
            if !(patience_out || over_limit) {
                break;
            }
            if over_limit && !patience_out {
                self.stats.gaps_forced_by_limit += 1;
            }
            self.skip_to(first, time, emit);
            self.drain(emit);
        }
        if self.fin_offset.is_some_and(|fin| self.delivered >= fin) && !self.ended {
            self.ended = true;
            emit(StreamEvent::End { time });
        }
    }

    fn skip_to(&mut self, offset: u64, time: EpochNanos, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        if offset <= self.delivered {
            return;
        }
        let len = offset - self.delivered;
        self.stats.gaps += 1;
        self.stats.lost_bytes += len;
        self.delivered = offset;
        self.patience_used = None;
        emit(StreamEvent::Gap { time, len });
    }
}
