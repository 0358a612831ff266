use spider_decode::{Decoder, LinkType, Packet, SessionEvent, SessionTracker, Transport};
use spider_model::{Endpoint, EpochNanos, HostSource, Record};

use crate::config::{AnalyzerStats, PipelineConfig};
use crate::dns::{DnsCorrelator, DNS_PORTS};
use crate::hosts::HostTable;
use crate::streams::{SessionHint, TcpStreams};

/// Frames in, records out: decode, track, reassemble, parse.
#[derive(Debug)]
pub struct Analyzer {
    decoder: Decoder,
    core: Core,
}

/// Everything after decoding (kept apart because a packet borrows the decoder).
#[derive(Debug)]
struct Core {
    tracker: SessionTracker,
    streams: TcpStreams,
    dns: DnsCorrelator,
    hosts: HostTable,
    events: Vec<SessionEvent>,
    now: EpochNanos,
    stats: AnalyzerStats,
}

impl Analyzer {
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            decoder: Decoder::new(config.decoder),
            core: Core::new(config),
        }
    }

    pub fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            decode: self.decoder.stats(),
            ..self.core.stats()
        }
    }

    /// One captured frame. Frames that are not IP, or are damaged, are counted and skipped.
    pub fn process_frame(
        &mut self,
        link: LinkType,
        time: EpochNanos,
        frame: &[u8],
        wire_len: u32,
        sink: &mut impl FnMut(Record),
    ) {
        self.core.now = self.core.now.max(time);
        if let Ok(Some(packet)) = self.decoder.decode(link, time, frame, wire_len) {
            self.core.packet(&packet, sink);
        }
    }

    /// The capture is over: every session ends, and the hosts are reported.
    pub fn finish(&mut self, sink: &mut impl FnMut(Record)) {
        self.core.finish(sink);
    }
}

impl Core {
    fn new(config: PipelineConfig) -> Self {
        Self {
            tracker: SessionTracker::new(config.tracker),
            streams: TcpStreams::new(config),
            dns: DnsCorrelator::new(config.max_pending_dns),
            hosts: HostTable::new(config.max_hosts),
            events: Vec::new(),
            now: EpochNanos::MIN,
            stats: AnalyzerStats::default(),
        }
    }

    fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            tracker: self.tracker.stats(),
            hosts_dropped_by_limit: self.hosts.dropped,
            buffered_bytes: self.streams.buffered_bytes() as u64,
            tcp_gaps: self.streams.stats.tcp_gaps,
            tcp_lost_bytes: self.streams.stats.tcp_lost_bytes,
            gaps_forced_by_memory: self.streams.stats.gaps_forced_by_memory,
            ..self.stats
        }
    }

    fn packet(&mut self, packet: &Packet<'_>, sink: &mut impl FnMut(Record)) {
        let time = packet.time;
        let tracked = self.tracker.track(packet, &mut self.events);
        self.close_sessions(sink);
        match packet.transport {
            Transport::Tcp(segment) => self.streams.segment(
                SessionHint {
                    id: tracked.id,
                    from: tracked.from,
                    isns: Some((tracked.client_isn, tracked.server_isn)),
                },
                Endpoint::new(packet.src, segment.src_port),
                Endpoint::new(packet.dst, segment.dst_port),
                &segment,
                time,
            ),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let src = Endpoint::new(packet.src, src_port);
                let dst = Endpoint::new(packet.dst, dst_port);
                if DNS_PORTS.contains(&src_port) || DNS_PORTS.contains(&dst_port) {
                    self.dns_message(time, src, dst, payload, sink);
                }
            }
            _ => {}
        }
        self.emit(sink);
    }

    fn finish(&mut self, sink: &mut impl FnMut(Record)) {
        self.tracker.flush(&mut self.events);
        self.close_sessions(sink);
        self.streams.close_all(self.now);
        self.emit(sink);
        for host in self.hosts.drain_records() {
            sink(Record::Host(host));
        }
    }

    fn close_sessions(&mut self, sink: &mut impl FnMut(Record)) {
        for event in std::mem::take(&mut self.events) {
            let SessionEvent::Closed(mut record) = event;
            let time = record.last_packet.max(self.now);
            self.streams.close(record.id, time, Some(&mut record));
            self.emit(sink);
            sink(Record::TcpSession(record));
        }
    }

    fn dns_message(
        &mut self,
        time: EpochNanos,
        src: Endpoint,
        dst: Endpoint,
        message: &[u8],
        sink: &mut impl FnMut(Record),
    ) {
        if let Some((record, addresses)) =
            self.dns.message(time, src, dst, message, &mut self.stats)
        {
            for (name, ip) in &addresses {
                self.hosts.observe(*ip, name, HostSource::Dns, time);
            }
            sink(Record::Dns(record));
        }
    }

    fn emit(&mut self, sink: &mut impl FnMut(Record)) {
        for (time, src, dst, message) in std::mem::take(&mut self.streams.output.dns_messages) {
            self.dns_message(time, src, dst, &message, sink);
        }
        let output = &mut self.streams.output;
        self.stats.http_exchanges += output.messages.len() as u64;
        self.stats.tls_server_names += output.server_names.len() as u64;
        output.drain(&mut self.hosts, sink);
    }
}
