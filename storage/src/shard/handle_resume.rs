//! The frames of the sessions a shard's newest data leaves open: a node that starts taking a
//! moved group's batches feeds them to fresh parsers first, so that the exchanges of sessions
//! in progress across the move are parsed whole.

use std::collections::{BTreeMap, BTreeSet};

use spider_model::PacketRecord;

use super::scan::Direction;
use super::Shard;
use crate::codec::decode_packet_block;
use crate::error::Result;
use crate::types::TimeRange;

/// At most this many bytes of frames are handed out (the newest sessions are dropped first).
pub const RESUME_MAX_BYTES: usize = 64 << 20;

impl Shard {
    /// The frames, oldest first, of the sessions with packets in the last `window_ns` before
    /// the shard's newest packet that have no closed session record.
    pub fn open_session_frames(&self, window_ns: i64) -> Result<Vec<PacketRecord>> {
        let mut newest = self.packet_scan(TimeRange::ALL, &[], None, Direction::NewestFirst)?;
        let Some((_, block)) = newest.next_entry()? else {
            return Ok(Vec::new());
        };
        let Some(last) = decode_packet_block(&block)?.iter().map(|p| p.time).max() else {
            return Ok(Vec::new());
        };
        let range = TimeRange::new(last.saturating_sub(window_ns), i64::MAX);
        let mut scan = self.packet_scan(range, &[], None, Direction::OldestFirst)?;
        let mut by_session: BTreeMap<(String, u64), Vec<PacketRecord>> = BTreeMap::new();
        let mut closed: BTreeSet<(String, u64)> = BTreeSet::new();
        let mut bytes = 0usize;
        while let Some((_, value)) = scan.next_entry()? {
            for packet in decode_packet_block(&value)? {
                if packet.time < range.from {
                    continue;
                }
                let session = (packet.whisperer.clone(), packet.session_id);
                if closed.contains(&session) {
                    continue;
                }
                if !by_session.contains_key(&session) {
                    let done = self
                        .session(&session.0, session.1)?
                        .is_some_and(|s| s.record.close_reason.is_some());
                    if done || bytes >= RESUME_MAX_BYTES {
                        closed.insert(session);
                        continue;
                    }
                }
                bytes += packet.frame.len();
                by_session.entry(session).or_default().push(packet);
            }
        }
        let mut frames: Vec<PacketRecord> = by_session.into_values().flatten().collect();
        frames.sort_by_key(|p| p.time);
        Ok(frames)
    }
}
