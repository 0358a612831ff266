use std::collections::HashMap;

use spider_decode::{
    Decoder, LinkType, Packet, SessionEvent, SessionTracker, Side, TcpSegment, TrackedPacket,
    Transport,
};
use spider_model::{Endpoint, EpochNanos, HostSource, Record};
use spider_protocols::{ParsedMessage, StreamContext};

use crate::config::{AnalyzerStats, PipelineConfig};
use crate::dns::DnsCorrelator;
use crate::hosts::{host_without_port, HostTable};
use crate::session::{SessionOutput, TcpSessionState};
use crate::start::{anchors_of, side_of, StartBuffer};

/// Frames in, records out: decode, track, reassemble, parse.
#[derive(Debug)]
pub struct Analyzer {
    decoder: Decoder,
    core: Core,
}

/// Everything after decoding (kept apart because a packet borrows the decoder).
#[derive(Debug)]
struct Core {
    config: PipelineConfig,
    tracker: SessionTracker,
    sessions: HashMap<u64, TcpSessionState>,
    dns: DnsCorrelator,
    hosts: HostTable,
    events: Vec<SessionEvent>,
    output: SessionOutput,
    starting: StartBuffer,
    buffered_bytes: usize,
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
            config,
            tracker: SessionTracker::new(config.tracker),
            sessions: HashMap::new(),
            dns: DnsCorrelator::new(config.max_pending_dns),
            hosts: HostTable::new(config.max_hosts),
            events: Vec::new(),
            output: SessionOutput::default(),
            starting: StartBuffer::default(),
            buffered_bytes: 0,
            now: EpochNanos::MIN,
            stats: AnalyzerStats::default(),
        }
    }

    fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            tracker: self.tracker.stats(),
            hosts_dropped_by_limit: self.hosts.dropped,
            buffered_bytes: self.buffered_bytes as u64,
            ..self.stats
        }
    }

    fn packet(&mut self, packet: &Packet<'_>, sink: &mut impl FnMut(Record)) {
        let time = packet.time;
        let tracked = self.tracker.track(packet, &mut self.events);
        self.close_sessions(sink);
        match packet.transport {
            Transport::Tcp(segment) => self.tcp(packet, &segment, &tracked),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let src = Endpoint::new(packet.src, src_port);
                let dst = Endpoint::new(packet.dst, dst_port);
                if let Some(record) = self.dns.udp(time, src, dst, payload, &mut self.stats) {
                    for (name, ip) in &record.1 {
                        self.hosts.observe(*ip, name, HostSource::Dns, time);
                    }
                    sink(Record::Dns(record.0));
                }
            }
            _ => {}
        }
        self.emit(sink);
    }

    fn finish(&mut self, sink: &mut impl FnMut(Record)) {
        self.tracker.flush(&mut self.events);
        self.close_sessions(sink);
        let mut leftovers: Vec<u64> = self.sessions.keys().copied().collect();
        leftovers.sort_unstable();
        for id in leftovers {
            if let Some(mut state) = self.sessions.remove(&id) {
                state.finish(self.now, &mut self.output);
            }
        }
        self.emit(sink);
        for host in self.hosts.drain_records() {
            sink(Record::Host(host));
        }
    }

    fn tcp(&mut self, packet: &Packet<'_>, segment: &TcpSegment<'_>, tracked: &TrackedPacket) {
        let id = tracked.id;
        let src = Endpoint::new(packet.src, segment.src_port);
        let dst = Endpoint::new(packet.dst, segment.dst_port);
        let (client, server) = match tracked.from {
            Side::Client => (src, dst),
            Side::Server => (dst, src),
        };
        if !self.sessions.contains_key(&id) {
            let flags = segment.flags;
            let carries_stream = !segment.payload.is_empty() || flags.fin() || flags.rst();
            let isns = (tracked.client_isn, tracked.server_isn);
            let handshake_complete = tracked.client_isn.is_some() && tracked.server_isn.is_some();
            let holding = self.starting.contains(id);
            if !handshake_complete {
                // Without both sequence numbers a stream's start is a guess: hold a few packets
                // (their data and acknowledgements say where streams start) so that a reordered
                // handshake or first segment can still come.
                if carries_stream || holding || flags.ack() {
                    let held_enough = self.starting.hold(id, src, packet.time, segment);
                    if held_enough {
                        self.start_session(id, client, server, isns, packet.time);
                    }
                }
                return;
            }
            if !carries_stream && !holding {
                // Handshakes and bare ACKs need no stream state: SYN floods cost the tracker only.
                return;
            }
            self.start_session(id, client, server, isns, packet.time);
        }
        self.feed(id, tracked.from, segment, packet.time);
    }

    /// Creates a session's stream state and replays what was held for it.
    fn start_session(
        &mut self,
        id: u64,
        client: Endpoint,
        server: Endpoint,
        (client_isn, server_isn): (Option<u32>, Option<u32>),
        time: EpochNanos,
    ) {
        let held = self.starting.take(id);
        let from_data = anchors_of(&held, client);
        let firm = |isn: Option<u32>| isn.map(|isn| (isn.wrapping_add(1), true));
        let guess = |seq: Option<u32>| seq.map(|seq| (seq, false));
        let anchors = [
            firm(client_isn).or(guess(from_data[0])),
            firm(server_isn).or(guess(from_data[1])),
        ];
        let missed_syn = client_isn.is_none() && server_isn.is_none();
        let state = TcpSessionState::new(
            StreamContext {
                session_id: id,
                client,
                server,
            },
            missed_syn,
            anchors,
            self.config.reassembly,
            self.config.parser,
        );
        self.sessions.insert(id, state);
        for segment in &held {
            self.feed(
                id,
                side_of(segment.src, client),
                &segment.segment(),
                segment.time.min(time),
            );
        }
    }

    fn feed(&mut self, id: u64, from: Side, segment: &TcpSegment<'_>, time: EpochNanos) {
        let Some(state) = self.sessions.get_mut(&id) else {
            return;
        };
        let before = state.buffered_bytes();
        state.segment(from, segment, time, &mut self.output);
        let mut after = state.buffered_bytes();
        if self.buffered_bytes + after > self.config.max_total_buffered_bytes + before {
            state.release_held(time, &mut self.output);
            self.stats.gaps_forced_by_memory += 1;
            after = state.buffered_bytes();
        }
        self.buffered_bytes = (self.buffered_bytes + after).saturating_sub(before);
    }

    fn close_sessions(&mut self, sink: &mut impl FnMut(Record)) {
        for event in std::mem::take(&mut self.events) {
            let SessionEvent::Closed(mut record) = event;
            if self.starting.contains(record.id) {
                self.start_session(
                    record.id,
                    record.client,
                    record.server,
                    (None, None),
                    self.now,
                );
            }
            if let Some(mut state) = self.sessions.remove(&record.id) {
                self.buffered_bytes = self.buffered_bytes.saturating_sub(state.buffered_bytes());
                state.finish(record.last_packet.max(self.now), &mut self.output);
                state.complete_record(&mut record);
                let (gaps, lost) = state.gaps_and_losses();
                self.stats.tcp_gaps += gaps;
                self.stats.tcp_lost_bytes += lost;
            }
            self.emit(sink);
            sink(Record::TcpSession(record));
        }
    }

    fn emit(&mut self, sink: &mut impl FnMut(Record)) {
        for message in self.output.messages.drain(..) {
            match message {
                ParsedMessage::Http(exchange) => {
                    self.stats.http_exchanges += 1;
                    if let Some(host) = &exchange.host {
                        self.hosts.observe(
                            exchange.server.ip,
                            host_without_port(host),
                            HostSource::Http,
                            exchange.timing.request_start,
                        );
                    }
                    sink(Record::Http(exchange));
                }
            }
        }
        for (ip, name, time) in self.output.server_names.drain(..) {
            self.stats.tls_server_names += 1;
            self.hosts.observe(ip, &name, HostSource::Sni, time);
        }
    }
}
