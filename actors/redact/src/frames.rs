//! Masking the raw frames of one Whisperer's batches in place, before they are stored.
//!
//! Frames are decoded (link layer, IP, TCP; IP fragments reassembled) only to find each TCP
//! payload's place in its frame and in its stream; the payload bytes are then masked in place, the
//! same length, so lengths, sequence numbers and the checksums recorded stay as they were (a
//! masked frame's TCP checksum no longer matches its payload: nothing is recomputed).
//!
//! Within a batch, each direction's segments are taken in sequence order (reordering inside a
//! batch costs nothing); a segment past a hole that the batch does not fill is handled by
//! `stream.rs`. TCP carried in IP fragments is masked whole past the TCP header (the fragments are
//! stored before the datagram is whole); the reassembled datagram still moves its stream on.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use etherparse::{EtherType, NetSlice, SlicedPacket};
use spider_decode::{Decoder, DecoderConfig, LinkType, Transport};
use spider_model::PacketRecord;

use crate::out::MASK;
use crate::rules::Rules;
use crate::stream::{Applied, Place, Session};

/// Sessions followed per Whisperer; past it, the least recently seen half is forgotten (their
/// later bytes are then hunted through, masked until a start line).
const MAX_SESSIONS: usize = 100_000;

/// What the frame redactor did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedactStats {
    /// TCP frames with a payload looked at.
    pub segments: u64,
    /// Frames with at least one byte masked.
    pub frames_masked: u64,
    pub bytes_masked: u64,
    /// Frames whose payload was masked whole for want of knowing what it holds (past a hole,
    /// an IP fragment, a retransmission older than what is remembered).
    pub frames_masked_whole: u64,
    /// Sessions forgotten for the session bound.
    pub sessions_evicted: u64,
}

/// Where a segment's payload is.
#[derive(Debug)]
enum Payload {
    /// In its frame, which is masked in place.
    Frame(Range<usize>),
    /// Reassembled from IP fragments (already masked in their frames): scanned on a copy.
    Copy(Vec<u8>),
}

#[derive(Debug)]
struct Segment {
    frame: usize,
    session: u64,
    dir: usize,
    /// The sequence number of the payload's first byte.
    seq: u32,
    syn: bool,
    time: i64,
    payload: Payload,
}

/// Masks the frames of one Whisperer's sessions as its batches come in.
#[derive(Debug)]
pub struct FrameRedactor {
    rules: Arc<Rules>,
    decoder: Decoder,
    sessions: HashMap<u64, Session>,
    stats: RedactStats,
}

impl FrameRedactor {
    pub fn new(rules: Arc<Rules>) -> Self {
        Self {
            rules,
            decoder: Decoder::new(DecoderConfig::default()),
            sessions: HashMap::new(),
            stats: RedactStats::default(),
        }
    }

    pub fn stats(&self) -> RedactStats {
        self.stats
    }

    /// Sessions followed now.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Masks `frames` (one batch, in capture order) in place; `closed` are the sessions the
    /// Whisperer closed with this batch, forgotten afterwards.
    pub fn redact(&mut self, frames: &mut [PacketRecord], closed: &[u64]) {
        let mut segments = self.segments(frames);
        self.anchor(&segments);
        let mut pending: HashMap<(u64, usize), Vec<usize>> = HashMap::new();
        let mut touched = vec![false; frames.len()];
        for index in 0..segments.len() {
            let segment = &segments[index];
            let Some(session) = self.sessions.get_mut(&segment.session) else {
                continue;
            };
            session.last_seen = session.last_seen.max(segment.time);
            if session.dirs[segment.dir].place(segment.seq) == Place::Ahead {
                pending
                    .entry((segment.session, segment.dir))
                    .or_default()
                    .push(index);
                continue;
            }
            self.take(&mut segments, index, frames, &mut touched, false);
            let key = (segments[index].session, segments[index].dir);
            while let Some(next) = self.next_in_order(&segments, pending.get(&key)) {
                if let Some(list) = pending.get_mut(&key) {
                    list.retain(|i| *i != next);
                }
                self.take(&mut segments, next, frames, &mut touched, false);
            }
        }
        let mut left: Vec<((u64, usize), Vec<usize>)> = pending.into_iter().collect();
        left.sort_unstable_by_key(|(key, _)| *key);
        for (_, mut list) in left {
            let base = list.first().map(|i| segments[*i].seq).unwrap_or_default();
            list.sort_by_key(|i| segments[*i].seq.wrapping_sub(base) as i32);
            for index in list {
                self.take(&mut segments, index, frames, &mut touched, true);
            }
        }
        for id in closed {
            self.sessions.remove(id);
        }
        self.evict();
    }

    /// The first pending segment of a direction that the stream has reached.
    fn next_in_order(&self, segments: &[Segment], list: Option<&Vec<usize>>) -> Option<usize> {
        let list = list?;
        list.iter().copied().find(|i| {
            let segment = &segments[*i];
            self.sessions
                .get(&segment.session)
                .is_some_and(|s| s.dirs[segment.dir].place(segment.seq) == Place::InOrder)
        })
    }

    /// Scans one segment (`end_of_batch`: a segment still past a hole may be held).
    fn take(
        &mut self,
        segments: &mut [Segment],
        index: usize,
        frames: &mut [PacketRecord],
        touched: &mut [bool],
        end_of_batch: bool,
    ) {
        let segment = &mut segments[index];
        let Some(session) = self.sessions.get_mut(&segment.session) else {
            return;
        };
        let rules = &self.rules;
        let link = &mut session.link;
        let dir = &mut session.dirs[segment.dir];
        dir.expire(rules, link, segment.time);
        let mut scratch;
        let (bytes, in_frame) = match &mut segment.payload {
            Payload::Frame(range) => match frames[segment.frame].frame.get_mut(range.clone()) {
                Some(bytes) => (bytes, true),
                None => return,
            },
            Payload::Copy(bytes) => {
                scratch = std::mem::take(bytes);
                (scratch.as_mut_slice(), false)
            }
        };
        let applied: Applied = if end_of_batch && dir.place(segment.seq) == Place::Ahead {
            dir.ahead(rules, segment.seq, bytes, link, segment.time)
        } else {
            dir.in_order(rules, segment.seq, bytes, link)
        };
        if in_frame {
            self.count(segment.frame, applied, touched);
        }
    }

    fn count(&mut self, frame: usize, applied: Applied, touched: &mut [bool]) {
        self.stats.bytes_masked += applied.masked;
        if applied.masked > 0 && !touched[frame] {
            touched[frame] = true;
            self.stats.frames_masked += 1;
        }
        if applied.whole {
            self.stats.frames_masked_whole += 1;
        }
    }

    /// Decodes the batch's frames down to their TCP segments; masks TCP fragments.
    fn segments(&mut self, frames: &mut [PacketRecord]) -> Vec<Segment> {
        let mut out = Vec::new();
        for (index, record) in frames.iter_mut().enumerate() {
            let link = LinkType(record.link_type);
            let decoded = self
                .decoder
                .decode(link, record.time, &record.frame, record.wire_len);
            let mut fragment = matches!(decoded, Ok(None));
            if let Ok(Some(packet)) = decoded {
                if let Transport::Tcp(tcp) = packet.transport {
                    let base = record.frame.as_ptr() as usize;
                    let at = tcp.payload.as_ptr() as usize;
                    let payload =
                        if at >= base && at + tcp.payload.len() <= base + record.frame.len() {
                            Payload::Frame(at - base..at - base + tcp.payload.len())
                        } else {
                            fragment = true;
                            Payload::Copy(tcp.payload.to_vec())
                        };
                    if tcp.flags.syn() || !tcp.payload.is_empty() {
                        out.push(Segment {
                            frame: index,
                            session: record.session_id,
                            dir: usize::from(!record.from_client),
                            // The payload's first byte (a SYN's data follows it).
                            seq: tcp.seq.wrapping_add(u32::from(tcp.flags.syn())),
                            syn: tcp.flags.syn(),
                            time: record.time,
                            payload,
                        });
                    }
                }
            }
            if fragment {
                if let Some(range) = tcp_fragment_data(link, &record.frame) {
                    record.frame[range.clone()].fill(MASK);
                    self.stats.bytes_masked += range.len() as u64;
                    self.stats.frames_masked += 1;
                    self.stats.frames_masked_whole += 1;
                }
            }
        }
        self.stats.segments += out.len() as u64;
        out
    }

    /// Sessions new to this batch get their state; directions not anchored yet are anchored at
    /// their SYN, or else at their lowest sequence number in the batch (joined mid-stream).
    fn anchor(&mut self, segments: &[Segment]) {
        let mut lowest: HashMap<(u64, usize), u32> = HashMap::new();
        for segment in segments {
            let session = self
                .sessions
                .entry(segment.session)
                .or_insert_with(Session::new);
            let dir = &mut session.dirs[segment.dir];
            if segment.syn {
                dir.syn(segment.seq.wrapping_sub(1));
            } else if !dir.is_anchored() {
                let low = lowest
                    .entry((segment.session, segment.dir))
                    .or_insert(segment.seq);
                if (segment.seq.wrapping_sub(*low) as i32) < 0 {
                    *low = segment.seq;
                }
            }
        }
        for ((session, dir), seq) in lowest {
            if let Some(session) = self.sessions.get_mut(&session) {
                session.dirs[dir].join(seq);
            }
        }
    }

    fn evict(&mut self) {
        if self.sessions.len() <= MAX_SESSIONS {
            return;
        }
        let mut seen: Vec<i64> = self.sessions.values().map(|s| s.last_seen).collect();
        let half = seen.len() / 2;
        let (_, cut, _) = seen.select_nth_unstable(half);
        let cut = *cut;
        let before = self.sessions.len();
        self.sessions.retain(|_, session| session.last_seen > cut);
        self.stats.sessions_evicted += (before - self.sessions.len()) as u64;
    }
}

/// The bytes of a TCP-carrying IP fragment to mask: the fragment's data past the TCP header in
/// the first fragment, all of it in the others.
fn tcp_fragment_data(link: LinkType, frame: &[u8]) -> Option<Range<usize>> {
    let ether = |header: usize, at: usize| -> Option<SlicedPacket<'_>> {
        let kind = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
        SlicedPacket::from_ether_type(EtherType(kind), frame.get(header..)?).ok()
    };
    let sliced = match link.0 {
        1 => SlicedPacket::from_ethernet(frame).ok()?,
        12 | 14 | 101 | 228 | 229 => SlicedPacket::from_ip(frame).ok()?,
        113 => ether(16, 14)?,
        276 => ether(20, 0)?,
        0 => SlicedPacket::from_ip(frame.get(4..)?).ok()?,
        _ => return None,
    };
    let (payload, first) = match &sliced.net {
        Some(NetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            (ipv4.payload(), header.fragments_offset().value() == 0)
        }
        Some(NetSlice::Ipv6(ipv6)) => {
            let first = ipv6
                .extensions()
                .clone()
                .into_iter()
                .all(|extension| match extension {
                    etherparse::Ipv6ExtensionSlice::Fragment(fragment) => {
                        fragment.fragment_offset().value() == 0
                    }
                    _ => true,
                });
            (ipv6.payload(), first)
        }
        _ => return None,
    };
    if !payload.fragmented || payload.ip_number.0 != 6 {
        return None;
    }
    let data = payload.payload;
    let start = data.as_ptr() as usize - frame.as_ptr() as usize;
    let skip = if first {
        data.get(12)
            .map_or(data.len(), |offset| usize::from(offset >> 4) * 4)
            .min(data.len())
    } else {
        0
    };
    Some(start + skip..start + data.len())
}
