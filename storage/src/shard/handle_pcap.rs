//! pcapng export of a session's packets, a time range's, or those of an HTTP query's sessions,
//! with the known host names as a Name Resolution Block.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use spider_model::PacketRecord;
use spider_pcap::{InterfaceDescription, LinkType, PcapngWriter};

use super::scan::Direction;
use super::Shard;
use crate::codec::decode_packet_block;
use crate::error::Result;
use crate::types::{PacketExport, PcapExport, PcapSource};

/// At most this many sessions are looked up for names in one export.
const MAX_NAME_SESSIONS: usize = 10_000;

impl Shard {
    /// The export as a pcapng file.
    pub fn export_pcap(&self, source: &PcapSource) -> Result<PcapExport> {
        let export = self.export_packets(source)?;
        Ok(PcapExport {
            bytes: write_pcapng(&export.packets, &export.names)?,
            packets: export.packets.len() as u64,
            truncated: export.truncated,
        })
    }

    /// The packets of an export in time order, with the names of their endpoints, for a caller
    /// that merges several shards' exports into one file (see [`write_pcapng`]).
    pub fn export_packets(&self, source: &PcapSource) -> Result<PacketExport> {
        let budget = self.config.max_export_bytes;
        let mut bytes = 0usize;
        let mut truncated = false;
        let mut packets: Vec<PacketRecord> = Vec::new();
        let mut keep = |packet: PacketRecord, packets: &mut Vec<PacketRecord>| -> bool {
            bytes += packet.frame.len() + 32;
            if bytes > budget {
                truncated = true;
                return false;
            }
            packets.push(packet);
            true
        };
        match source {
            PcapSource::Session {
                whisperer,
                session_id,
            } => {
                self.session_packets(whisperer, *session_id, &mut |p| keep(p, &mut packets))?;
            }
            PcapSource::Range { range, whisperers } => {
                let mut scan =
                    self.packet_scan(*range, whisperers, None, Direction::OldestFirst)?;
                'blocks: while let Some((_, value)) = scan.next_entry()? {
                    for packet in decode_packet_block(&value)? {
                        if packet.time >= range.from
                            && packet.time < range.to
                            && !keep(packet, &mut packets)
                        {
                            break 'blocks;
                        }
                    }
                }
                packets.sort_by_key(|p| p.time);
            }
            PcapSource::Http(query) => {
                let mut sessions = BTreeSet::new();
                let mut seen = 0usize;
                self.for_each_http(query, &mut |_, stored| {
                    sessions.insert((stored.whisperer, stored.record.session_id));
                    seen += 1;
                    seen < query.limit
                })?;
                'sessions: for (whisperer, session_id) in sessions {
                    let mut full = false;
                    self.session_packets(&whisperer, session_id, &mut |p| {
                        full = !keep(p, &mut packets);
                        !full
                    })?;
                    if full {
                        break 'sessions;
                    }
                }
                packets.sort_by_key(|p| p.time);
            }
        }
        let names = self.export_names(&packets)?;
        Ok(PacketExport {
            packets,
            names,
            truncated,
        })
    }

    /// Names for the endpoints of the sessions the packets belong to, as the Whisperers that
    /// captured them saw them (another team's Whisperer's names stay out of the file).
    fn export_names(&self, packets: &[PacketRecord]) -> Result<Vec<(IpAddr, String)>> {
        let sessions: BTreeSet<(&str, u64)> = packets
            .iter()
            .map(|p| (p.whisperer.as_str(), p.session_id))
            .take(MAX_NAME_SESSIONS)
            .collect();
        let mut ips = BTreeSet::new();
        let mut whisperers = BTreeSet::new();
        for (whisperer, id) in sessions {
            if let Some(session) = self.session(whisperer, id)? {
                ips.insert(session.record.client.ip);
                ips.insert(session.record.server.ip);
                whisperers.insert(whisperer.to_owned());
            }
        }
        if whisperers.is_empty() {
            return Ok(Vec::new());
        }
        let whisperers: Vec<String> = whisperers.into_iter().collect();
        let names = self.names_of(ips, &whisperers)?;
        let mut entries: Vec<(IpAddr, String)> = names
            .into_iter()
            .flat_map(|(ip, names)| names.into_iter().map(move |name| (ip, name)))
            .filter(|(_, name)| !name.as_bytes().contains(&0) && name.len() <= 4096)
            .collect();
        entries.sort();
        Ok(entries)
    }
}

/// A pcapng file of `packets` (in the order given) and a Name Resolution Block of `names`: one
/// interface per (whisperer, interface, link type), in order of first appearance.
pub fn write_pcapng(packets: &[PacketRecord], names: &[(IpAddr, String)]) -> Result<Vec<u8>> {
    let mut interfaces: HashMap<(&str, u32, u16), u32> = HashMap::new();
    let mut descriptions = Vec::new();
    for packet in packets {
        let key = (
            packet.whisperer.as_str(),
            packet.interface,
            packet.link_type,
        );
        if let std::collections::hash_map::Entry::Vacant(entry) = interfaces.entry(key) {
            entry.insert(descriptions.len() as u32);
            descriptions.push(InterfaceDescription {
                link_type: LinkType(packet.link_type),
                snaplen: 0,
                name: format!("{}:{}", packet.whisperer, packet.interface),
            });
        }
    }
    let mut writer = PcapngWriter::new(Vec::new(), &descriptions)?;
    if !names.is_empty() {
        writer.write_name_resolution(names)?;
    }
    for packet in packets {
        let key = (
            packet.whisperer.as_str(),
            packet.interface,
            packet.link_type,
        );
        let interface = interfaces.get(&key).copied().unwrap_or(0);
        writer.write_packet(interface, packet.time, &packet.frame, packet.wire_len)?;
    }
    Ok(writer.into_inner()?)
}
