//! `exportPcapng`: the packets of a session or of a query as one pcapng file, merged in time
//! order across shards, streamed to the caller's `ByteSink`.

use spider_model::PacketRecord;
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{export_request, query_service};
use spider_rpc_schema::shard_of;
use spider_storage::{
    write_pcapng, HttpQuery, PacketExport, PcapSource, ShardRequest, ShardResponse, TimeRange,
};

use crate::stats::Clamp;

use super::super::failed;
use super::{parsed_q, write_missing, Query};

/// Bytes per `ByteSink.write` call.
const EXPORT_CHUNK: usize = 64 * 1024;

/// The largest export when the request names no smaller one.
const MAX_EXPORT_BYTES: u64 = 256 * 1024 * 1024;

/// HTTP exchanges (per shard) whose sessions an export by query takes, when it names no limit.
const DEFAULT_EXPORT_EXCHANGES: usize = 10_000;

/// The pcapng record overhead counted per packet against the byte budget.
const PACKET_OVERHEAD: u64 = 32;

impl Query {
    pub(super) async fn export(
        &self,
        params: query_service::ExportPcapngParams,
        mut results: query_service::ExportPcapngResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let sink = params.get_sink()?;
        let request = params.get_request()?;
        let budget = match request.get_max_bytes() {
            0 => MAX_EXPORT_BYTES,
            bytes => {
                if bytes > MAX_EXPORT_BYTES {
                    self.router.stats.clamped(Clamp::ExportBytes);
                }
                bytes.min(MAX_EXPORT_BYTES)
            }
        };
        let (exports, missing) = match request.which()? {
            export_request::Session(session) => {
                let session = session?;
                let whisperer = session.get_whisperer()?.to_str()?.to_owned();
                if !self.guard.visible().shows(&whisperer) {
                    return Err(super::super::access::permission_denied(&format!(
                        "whisperer {whisperer:?} is not in this session's teams"
                    )));
                }
                let session_id = session.get_session_id();
                let shard =
                    &self.router.shards[self.router.local(shard_of(&whisperer, session_id))];
                match shard
                    .send(ShardRequest::ExportPackets(PcapSource::Session {
                        whisperer,
                        session_id,
                    }))
                    .await
                {
                    Ok(Ok(ShardResponse::ExportedPackets(export))) => (vec![export], Vec::new()),
                    Ok(Err(error)) => return Err(failed(error)),
                    _ => return Err(failed("the shard holding this session did not answer")),
                }
            }
            export_request::Query(query) => {
                let query = query?;
                let range = query.get_range()?;
                let range = TimeRange::new(range.get_from(), range.get_to());
                let whisperers = self.whisperers_of(query)?;
                let source = match parsed_q(query, RecordKind::Http)? {
                    None => PcapSource::Range { range, whisperers },
                    Some(parsed) => {
                        let limit = match query.get_limit() {
                            0 => DEFAULT_EXPORT_EXCHANGES,
                            limit => limit as usize,
                        };
                        let mut http = HttpQuery::new(range, limit);
                        http.whisperers = whisperers;
                        http.query = Some(parsed);
                        PcapSource::Http(http)
                    }
                };
                self.ask_all(
                    || ShardRequest::ExportPackets(source.clone()),
                    |response| match response {
                        ShardResponse::ExportedPackets(export) => Some(export),
                        _ => None,
                    },
                )
                .await?
            }
        };
        let (packets, names, truncated) = merge_exports(exports, budget);
        let file = write_pcapng(&packets, &names).map_err(failed)?;
        for chunk in file.chunks(EXPORT_CHUNK) {
            let mut write = sink.write_request();
            write.get().set_chunk(chunk);
            write.send().await?;
        }
        let mut summary = results.get().init_summary();
        summary.set_packets(packets.len() as u64);
        summary.set_bytes(file.len() as u64);
        summary.set_truncated(truncated);
        write_missing!(|len| summary.init_missing_shards(len), missing);
        Ok(())
    }
}

/// The shards' packets in time order, cut at `budget` bytes, and every name once.
fn merge_exports(
    exports: Vec<PacketExport>,
    budget: u64,
) -> (Vec<PacketRecord>, Vec<(std::net::IpAddr, String)>, bool) {
    let mut truncated = exports.iter().any(|export| export.truncated);
    let mut names = Vec::new();
    let mut packets = Vec::new();
    for export in exports {
        packets.extend(export.packets);
        names.extend(export.names);
    }
    names.sort();
    names.dedup();
    packets.sort_by_key(|packet| packet.time);
    let mut used = 0u64;
    let mut keep = packets.len();
    for (index, packet) in packets.iter().enumerate() {
        used += packet.frame.len() as u64 + PACKET_OVERHEAD;
        if used > budget {
            keep = index;
            truncated = true;
            break;
        }
    }
    packets.truncate(keep);
    (packets, names, truncated)
}
