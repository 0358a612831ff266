//! The backend's side of the pipeline: packets that a Whisperer already gave session ids.

use std::collections::HashMap;

use spider_decode::{Decoder, LinkType, Side, Transport};
use spider_model::{Endpoint, EpochNanos, PacketRecord, Record};

use crate::config::{AnalyzerStats, PipelineConfig};
use crate::dns::{DnsCorrelator, DNS_PORTS};
use crate::hosts::HostTable;
use crate::streams::{SessionHint, StreamStats, TcpStreams};

/// How often (in capture time) sessions are checked for idleness.
const SWEEP_EVERY_NS: i64 = 1_000_000_000;

/// Reassembles and parses the TCP sessions of one Whisperer's packets, as a shard receives them;
/// DNS responses (UDP and TCP) give DNS records and host names.
///
/// Session boundaries are the Whisperer's (its ids); this parser never re-derives them. A session
/// ends when the Whisperer says so ([`SessionParser::session_closed`]) or after the tracker's idle
/// timeout without packets.
#[derive(Debug)]
pub struct SessionParser {
    decoder: Decoder,
    streams: TcpStreams,
    hosts: HostTable,
    dns: DnsCorrelator,
    dns_stats: AnalyzerStats,
    last_seen: HashMap<u64, EpochNanos>,
    idle_timeout_ns: i64,
    now: EpochNanos,
    last_sweep: EpochNanos,
    http_exchanges: u64,
}

impl SessionParser {
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            decoder: Decoder::new(config.decoder),
            streams: TcpStreams::new(config),
            hosts: HostTable::new(config.max_hosts),
            dns: DnsCorrelator::new(config.max_pending_dns),
            dns_stats: AnalyzerStats::default(),
            last_seen: HashMap::new(),
            idle_timeout_ns: config.tracker.idle_timeout_ns,
            now: EpochNanos::MIN,
            last_sweep: EpochNanos::MIN,
            http_exchanges: 0,
        }
    }

    pub fn stream_stats(&self) -> StreamStats {
        self.streams.stats
    }

    /// Frames that did not decode (malformed) so far.
    pub fn malformed_frames(&self) -> u64 {
        self.decoder.stats().malformed
    }

    /// DNS messages that did not parse so far.
    pub fn dns_malformed(&self) -> u64 {
        self.dns_stats.dns_malformed
    }

    pub fn http_exchanges(&self) -> u64 {
        self.http_exchanges
    }

    /// One packet; HTTP exchanges that complete go to `sink`.
    pub fn packet(&mut self, record: &PacketRecord, sink: &mut impl FnMut(Record)) {
        self.now = self.now.max(record.time);
        let link = LinkType(record.link_type);
        if let Ok(Some(packet)) =
            self.decoder
                .decode(link, record.time, &record.frame, record.wire_len)
        {
            if let Transport::Udp {
                src_port,
                dst_port,
                payload,
            } = packet.transport
            {
                if DNS_PORTS.contains(&src_port) || DNS_PORTS.contains(&dst_port) {
                    let src = Endpoint::new(packet.src, src_port);
                    let dst = Endpoint::new(packet.dst, dst_port);
                    let (dns, hosts, stats) = (&mut self.dns, &mut self.hosts, &mut self.dns_stats);
                    dns_message(dns, hosts, stats, (record.time, src, dst, payload), sink);
                }
            }
            if let Transport::Tcp(segment) = packet.transport {
                self.last_seen.insert(record.session_id, record.time);
                let from = if record.from_client {
                    Side::Client
                } else {
                    Side::Server
                };
                self.streams.segment(
                    SessionHint {
                        id: record.session_id,
                        from,
                        isns: None,
                    },
                    Endpoint::new(packet.src, segment.src_port),
                    Endpoint::new(packet.dst, segment.dst_port),
                    &segment,
                    record.time,
                );
            }
        }
        if self.now.saturating_sub(self.last_sweep) > SWEEP_EVERY_NS {
            self.last_sweep = self.now;
            self.close_idle();
        }
        self.emit(sink);
    }

    /// The Whisperer closed the session: what it still holds is parsed and emitted.
    pub fn session_closed(&mut self, session_id: u64, sink: &mut impl FnMut(Record)) {
        if self.last_seen.remove(&session_id).is_some() {
            self.streams.close(session_id, self.now, None);
            self.emit(sink);
        }
    }

    /// Everything still open ends (shutdown, or a shard handing over).
    pub fn finish(&mut self, sink: &mut impl FnMut(Record)) {
        self.last_seen.clear();
        self.streams.close_all(self.now);
        self.emit(sink);
    }

    /// Host names learnt from HTTP Host headers and TLS server names since the last call.
    pub fn drain_hosts(&mut self) -> Vec<spider_model::HostRecord> {
        self.hosts.drain_records()
    }

    fn close_idle(&mut self) {
        let (now, timeout) = (self.now, self.idle_timeout_ns);
        let idle: Vec<u64> = self
            .last_seen
            .iter()
            .filter(|(_, last)| now.saturating_sub(**last) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.last_seen.remove(&id);
            self.streams.close(id, now, None);
        }
    }

    fn emit(&mut self, sink: &mut impl FnMut(Record)) {
        for (time, src, dst, message) in std::mem::take(&mut self.streams.output.dns_messages) {
            let (dns, hosts, stats) = (&mut self.dns, &mut self.hosts, &mut self.dns_stats);
            dns_message(dns, hosts, stats, (time, src, dst, &message), sink);
        }
        let output = &mut self.streams.output;
        self.http_exchanges += output.messages.len() as u64;
        output.drain(&mut self.hosts, sink);
    }
}

/// One DNS message: a record for responses, and the names it resolves.
fn dns_message(
    dns: &mut DnsCorrelator,
    hosts: &mut HostTable,
    stats: &mut AnalyzerStats,
    (time, src, dst, message): (EpochNanos, Endpoint, Endpoint, &[u8]),
    sink: &mut impl FnMut(Record),
) {
    if let Some((record, addresses)) = dns.message(time, src, dst, message, stats) {
        for (name, ip) in &addresses {
            hosts.observe(*ip, name, spider_model::HostSource::Dns, time);
        }
        sink(Record::Dns(record));
    }
}
