//! Packets: of one session in capture order, or of a time range newest block first.

use spider_model::PacketRecord;

use super::handle_http::check_limit;
use super::handle_ingest::BLOCK_MAX_SPAN_NS;
use super::scan::{Direction, MergedScan, ScanSpec};
use super::Shard;
use crate::codec::decode_packet_block;
use crate::db::{cf, CF_PACKETS};
use crate::error::Result;
use crate::keys::{class_and_time, name_hash, session_of};
use crate::types::{Cursor, PacketQuery, Page, TimeRange};

/// How far past a session's last packet its packets are looked for.
const SESSION_SLACK_NS: i64 = 60_000_000_000;

/// The time of the `k`-th newest packet (`k` ≥ 1, at most `items.len()`); reorders `items`.
fn kth_newest_time(items: &mut [PacketRecord], k: usize) -> i64 {
    let index = k.saturating_sub(1).min(items.len().saturating_sub(1));
    match items.get(index) {
        Some(_) => {
            items.select_nth_unstable_by(index, |a, b| b.time.cmp(&a.time));
            items[index].time
        }
        None => i64::MIN,
    }
}

impl Shard {
    /// Packets. For a session, its packets in time order (found through its session record:
    /// without one, none), at most `limit`. For a range, newest first: whole blocks (a session's
    /// packets of one batch) are read until no unread block can hold a packet newer than the
    /// `limit`-th newest read, so the first `limit` packets of the page are exactly the newest
    /// (the page may hold more, older ones, which the next page, from its cursor, does not
    /// repeat).
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
                let mut last_key: Option<Vec<u8>> = None;
                while let Some((key, value)) = scan.next_entry()? {
                    if items.len() >= limit {
                        let first = class_and_time(&key).map_or(i64::MIN, |(_, time)| time);
                        let kth_newest = kth_newest_time(&mut items, limit);
                        if first.saturating_add(BLOCK_MAX_SPAN_NS) < kth_newest {
                            next = last_key;
                            break;
                        }
                    }
                    let block = decode_packet_block(&value)?;
                    items.extend(
                        block
                            .into_iter()
                            .filter(|p| p.time >= range.from && p.time < range.to),
                    );
                    last_key = Some(key);
                }
                // Packets of one time are in a fixed order whatever order blocks were read in,
                // so that paging over them (which skips those already returned) is exact.
                items.sort_by(|a, b| {
                    b.time
                        .cmp(&a.time)
                        .then_with(|| a.whisperer.cmp(&b.whisperer))
                        .then_with(|| a.session_id.cmp(&b.session_id))
                        .then_with(|| a.frame.cmp(&b.frame))
                });
                Ok(Page {
                    items,
                    next: next.map(Cursor),
                })
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
