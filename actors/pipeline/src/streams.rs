//! The TCP side of the pipeline: per-session stream state, started once anchors are known.

use std::collections::{HashMap, VecDeque};

use spider_decode::{Side, TcpSegment};
use spider_model::{Endpoint, EpochNanos, TcpSessionRecord};
use spider_protocols::StreamContext;

use crate::config::PipelineConfig;
use crate::session::{SessionOutput, TcpSessionState};
use crate::start::{anchors_of, side_of, StartBuffer};

/// What is known of a packet's session: from the tracker (offline) or from the Whisperer that
/// captured it (backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHint {
    pub id: u64,
    /// The sender, relative to the session's client and server.
    pub from: Side,
    /// Initial sequence numbers when the tracker knows them; `None` lets the streams learn them
    /// from the SYN and SYN-ACK they see.
    pub isns: Option<(Option<u32>, Option<u32>)>,
}

/// Counters of the TCP streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub tcp_gaps: u64,
    pub tcp_lost_bytes: u64,
    /// Holes declared early because `max_total_buffered_bytes` was reached.
    pub gaps_forced_by_memory: u64,
    /// Sessions ended early because `max_sessions` stream states were open.
    pub streams_evicted: u64,
}

/// Every TCP session's streams and parser.
#[derive(Debug)]
pub(crate) struct TcpStreams {
    config: PipelineConfig,
    sessions: HashMap<u64, TcpSessionState, foldhash::fast::RandomState>,
    /// Session ids in the order their state was created, for eviction (stale ids are skipped).
    order: VecDeque<u64>,
    starting: StartBuffer,
    pub output: SessionOutput,
    buffered_bytes: usize,
    pub stats: StreamStats,
}

impl TcpStreams {
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            config,
            sessions: HashMap::default(),
            order: VecDeque::new(),
            starting: StartBuffer::new(config.tracker.max_sessions),
            output: SessionOutput::default(),
            buffered_bytes: 0,
            stats: StreamStats::default(),
        }
    }

    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// One TCP segment from `src` to `dst` of the session `hint` names.
    pub fn segment(
        &mut self,
        hint: SessionHint,
        src: Endpoint,
        dst: Endpoint,
        segment: &TcpSegment<'_>,
        time: EpochNanos,
    ) {
        let id = hint.id;
        let (client, server) = match hint.from {
            Side::Client => (src, dst),
            Side::Server => (dst, src),
        };
        if !self.sessions.contains_key(&id) {
            let flags = segment.flags;
            let carries_stream = !segment.payload.is_empty() || flags.fin() || flags.rst();
            let holding = self.starting.contains(id);
            let learns_isns = hint.isns.is_none() && flags.syn();
            let isns = hint
                .isns
                .unwrap_or_else(|| self.starting.isns(id, client, src, segment));
            let handshake_complete = isns.0.is_some() && isns.1.is_some();
            if !handshake_complete {
                // Without both sequence numbers a stream's start is a guess: hold a few packets
                // (their data and acknowledgements say where streams start) so that a reordered
                // handshake or first segment can still come.
                if carries_stream || holding || flags.ack() || learns_isns {
                    let (held_enough, evicted) = self.starting.hold(id, (src, dst), time, segment);
                    if let Some(evicted) = evicted {
                        self.start_evicted(evicted, time);
                    }
                    if held_enough {
                        self.start(id, client, server, isns, time);
                    }
                }
                return;
            }
            if !carries_stream && !holding {
                // Handshakes and bare ACKs need no stream state: SYN floods cost the tracker only.
                return;
            }
            self.start(id, client, server, isns, time);
        }
        self.feed(id, hint.from, segment, time);
    }

    /// The session is over: its streams end and its parser emits what it holds. The record, when
    /// given, gets the roles and losses the streams learnt.
    pub fn close(&mut self, id: u64, time: EpochNanos, record: Option<&mut TcpSessionRecord>) {
        if self.starting.contains(id) {
            let (client, server) = match &record {
                Some(record) => (record.client, record.server),
                None => self.starting.first_endpoints(id),
            };
            self.start(id, client, server, (None, None), time);
        }
        if let Some(mut state) = self.sessions.remove(&id) {
            self.buffered_bytes = self.buffered_bytes.saturating_sub(state.buffered_bytes());
            state.finish(time, &mut self.output);
            if let Some(record) = record {
                state.complete_record(record);
            }
            let (gaps, lost) = state.gaps_and_losses();
            self.stats.tcp_gaps += gaps;
            self.stats.tcp_lost_bytes += lost;
        }
    }

    /// Ends every session still open, in id order.
    pub fn close_all(&mut self, time: EpochNanos) {
        let mut ids: Vec<u64> = self.sessions.keys().copied().collect();
        ids.extend(self.starting.ids());
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.close(id, time, None);
        }
    }

    fn start_evicted(&mut self, id: u64, time: EpochNanos) {
        let (client, server) = self.starting.first_endpoints(id);
        self.start(id, client, server, (None, None), time);
    }

    /// Creates a session's stream state and replays what was held for it.
    fn start(
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
        self.make_room(time);
        self.sessions.insert(id, state);
        self.order.push_back(id);
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

    fn make_room(&mut self, time: EpochNanos) {
        while self.sessions.len() >= self.config.tracker.max_sessions.max(1) {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if self.sessions.contains_key(&oldest) {
                self.stats.streams_evicted += 1;
                self.close(oldest, time, None);
            }
        }
        if self.order.len() > 2 * self.sessions.len() + 1024 {
            let sessions = &self.sessions;
            self.order.retain(|id| sessions.contains_key(id));
        }
    }
}
