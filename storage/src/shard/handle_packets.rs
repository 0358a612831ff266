//! Packets: of one session in capture order, or of a time range newest block first.

use spider_model::PacketRecord;

use super::handle_http::check_limit;
use super::handle_ingest::BLOCK_MAX_SPAN_NS;
use super::scan::{Direction, MergedScan, ScanSpec};
use super::Shard;
use crate::codec::decode_packet_block;
use crate::db::{cf, CF_PACKETS};
use crate::error::Result;
use crate::keys::{name_hash, session_of};
use crate::types::{Cursor, PacketQuery, Page, TimeRange};

/// How far past a session's last packet its packets are looked for.
const SESSION_SLACK_NS: i64 = 60_000_000_000;

impl Shard {
    /// Packets. For a session, its packets in time order (found through its session record:
    /// without one, none), at most `limit`. For a range, whole blocks (a session's packets of
    /// one batch) newest block first: a page may end up to one block past `limit`.
    pub fn query_packets(&self, request: &PacketQuery) -> Result<Page<PacketRecord>> {
        match request {
            PacketQuery::Session {
                whisperer,
                session_id,
                limit,
            } => {
                let limit = check_limit(*limit)?;
                let mut items = Vec::new();
                self.session_packets(whisperer, *session_id, &mut |packet| {
                    items.push(packet);
                    items.len() < limit
                })?;
                Ok(Page { items, next: None })
            }
            PacketQuery::Range {
                range,
                whisperers,
                limit,
                cursor,
            } => {
                let limit = check_limit(*limit)?;
                let mut items = Vec::new();
                let mut next = None;
                let mut scan =
                    self.packet_scan(*range, whisperers, cursor.as_ref(), Direction::NewestFirst)?;
                while let Some((key, value)) = scan.next_entry()? {
                    let mut block = decode_packet_block(&value)?;
                    block.retain(|p| p.time >= range.from && p.time < range.to);
                    block.reverse();
                    items.extend(block);
                    if items.len() >= limit {
                        next = Some(Cursor(key));
                        break;
                    }
                }
                Ok(Page { items, next })
            }
        }
    }

    pub(crate) fn packet_scan<'a>(
        &'a self,
        range: TimeRange,
        whisperers: &[String],
        cursor: Option<&'a Cursor>,
        direction: Direction,
    ) -> Result<MergedScan<'a>> {
        let packets = cf(&self.db, CF_PACKETS)?;
        let hashes =
            (!whisperers.is_empty()).then(|| whisperers.iter().map(|w| name_hash(w)).collect());
        Ok(MergedScan::new(
            &self.db,
            packets,
            ScanSpec {
                // A block starts at most `BLOCK_MAX_SPAN_NS` before its last packet.
                from: range.from.saturating_sub(BLOCK_MAX_SPAN_NS),
                to: range.to,
                classes: self.classes.ids(),
                whisperers: hashes,
                cursor: cursor.map(|c| c.0.as_slice()),
                direction,
            },
        ))
    }

    /// Calls `visit` with the packets of a session in time order until it returns false.
    pub(crate) fn session_packets(
        &self,
        whisperer: &str,
        session_id: u64,
        visit: &mut dyn FnMut(PacketRecord) -> bool,
    ) -> Result<()> {
        let Some(session) = self.session(whisperer, session_id)? else {
            return Ok(());
        };
        // Packets stored after the latest session update may be a little newer than it says.
        let range = TimeRange::new(
            session.record.first_packet,
            session.record.last_packet.saturating_add(SESSION_SLACK_NS),
        );
        let names = [whisperer.to_owned()];
        let mut scan = self.packet_scan(range, &names, None, Direction::OldestFirst)?;
        let mut packets = Vec::new();
        while let Some((key, value)) = scan.next_entry()? {
            if session_of(&key).map(|(_, id)| id) != Some(session_id) {
                continue;
            }
            let block = decode_packet_block(&value)?;
            packets.extend(block.into_iter().filter(|p| p.whisperer == whisperer));
        }
        // Blocks of different batches may interleave in time.
        packets.sort_by_key(|p| p.time);
        for packet in packets {
            if !visit(packet) {
                break;
            }
        }
        Ok(())
    }
}
