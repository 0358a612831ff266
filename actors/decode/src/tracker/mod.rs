//! The session tracker: where TCP sessions start and end, and which id every packet carries.

mod expiry;
mod session;
mod table;

use spider_model::{CloseReason, Endpoint, EpochNanos, TcpSessionRecord, TcpState};

use crate::flow::{FlowKey, FlowTable};
use crate::packet::{Packet, TcpSegment, Transport};
use expiry::ExpiryQueues;
use session::Session;
use table::SessionTable;

/// Which side of a session sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    /// 0 for the client, 1 for the server: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// Settings of a [`SessionTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerConfig {
    /// An open session with no packet for this long is closed (`idle_timeout`).
    pub idle_timeout_ns: i64,
    /// A closed session still takes late packets (retransmissions, last ACKs) for this long.
    pub closed_linger_ns: i64,
    /// Sessions held at once; beyond it the least recently active is closed (`evicted`).
    pub max_sessions: usize,
    /// A non-TCP flow idle for this long gets a new id for its next packet.
    pub flow_idle_timeout_ns: i64,
    pub max_flows: usize,
    /// The first id handed out; a Whisperer seeds it so ids stay unique across its restarts.
    pub first_id: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            idle_timeout_ns: 300_000_000_000,
            closed_linger_ns: 10_000_000_000,
            max_sessions: 500_000,
            flow_idle_timeout_ns: 60_000_000_000,
            max_flows: 500_000,
            first_id: 1,
        }
    }
}

/// Counters of a [`SessionTracker`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    /// Sessions closed early because `max_sessions` was reached.
    pub sessions_evicted: u64,
    pub sessions_idle: u64,
    pub port_reuses: u64,
    /// Non-TCP flows forgotten early because `max_flows` was reached.
    pub flows_evicted: u64,
    pub live_sessions: u64,
}

/// The identity the tracker gave a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackedPacket {
    /// The session id (TCP) or flow id (anything else).
    pub id: u64,
    /// The sender, relative to the session's client and server.
    pub from: Side,
    /// True for the first packet of a session or flow.
    pub new: bool,
    /// The initial sequence numbers seen in the handshake (TCP), client's and server's.
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
}

/// What the tracker tells its caller besides packet ids.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The session is over and will get no more packets: its final record.
    Closed(Box<TcpSessionRecord>),
}

/// Decides session boundaries and ids, keeps each TCP session's state and counters.
#[derive(Debug)]
pub struct SessionTracker {
    config: TrackerConfig,
    sessions: SessionTable,
    expiry: ExpiryQueues,
    flows: FlowTable,
    next_id: u64,
    now: EpochNanos,
    stats: TrackerStats,
}

impl SessionTracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            sessions: SessionTable::with_capacity(config.max_sessions),
            expiry: ExpiryQueues::default(),
            flows: FlowTable::new(config.flow_idle_timeout_ns, config.max_flows),
            next_id: config.first_id,
            now: EpochNanos::MIN,
            stats: TrackerStats::default(),
        }
    }

    pub fn stats(&self) -> TrackerStats {
        TrackerStats {
            flows_evicted: self.flows.evicted,
            live_sessions: self.sessions.len() as u64,
            ..self.stats
        }
    }

    /// The current state of an open (or lingering) session.
    pub fn session(&self, key: &FlowKey) -> Option<TcpSessionRecord> {
        self.sessions.get(key).map(Session::record)
    }

    /// Gives `packet` its session or flow id; closed sessions are reported in `events`.
    pub fn track(&mut self, packet: &Packet<'_>, events: &mut Vec<SessionEvent>) -> TrackedPacket {
        self.now = self.now.max(packet.time);
        self.expire(events);
        let (src_port, dst_port) = packet.transport.ports();
        let (key, src_is_low) = FlowKey::of(
            packet.transport.protocol(),
            packet.vlan,
            (packet.src, src_port),
            (packet.dst, dst_port),
        );
        match &packet.transport {
            Transport::Tcp(segment) => self.track_tcp(key, packet, segment, events),
            _ => {
                let next_id = &mut self.next_id;
                let id = self.flows.flow_id(key, packet.time, || {
                    let id = *next_id;
                    *next_id += 1;
                    id
                });
                TrackedPacket {
                    id,
                    from: if src_is_low {
                        Side::Client
                    } else {
                        Side::Server
                    },
                    new: false,
                    client_isn: None,
                    server_isn: None,
                }
            }
        }
    }

    /// Closes every session (the capture ended): their final records go to `events`.
    pub fn flush(&mut self, events: &mut Vec<SessionEvent>) {
        let mut keys = self.sessions.keys();
        // In id order, so that the same capture always gives the same output.
        keys.sort_by_key(|key| self.sessions.get(key).map(|session| session.id));
        for key in keys {
            self.finish(key, CloseReason::CaptureEnd, events);
        }
        self.expiry = ExpiryQueues::default();
    }

    fn track_tcp(
        &mut self,
        key: FlowKey,
        packet: &Packet<'_>,
        segment: &TcpSegment<'_>,
        events: &mut Vec<SessionEvent>,
    ) -> TrackedPacket {
        let src = Endpoint::new(packet.src, segment.src_port);
        let dst = Endpoint::new(packet.dst, segment.dst_port);
        let opening_syn = segment.flags.syn() && !segment.flags.ack();
        let mut slot = self.sessions.slot_of(&key);
        if let Some(session) = slot.and_then(|slot| self.sessions.by_slot(slot)) {
            let idle = packet.time.saturating_sub(session.last) > self.config.idle_timeout_ns;
            let lingered_out = session.closed_at.is_some_and(|closed| {
                packet.time.saturating_sub(closed) > self.config.closed_linger_ns
            });
            let reused = opening_syn && session.is_new_connection(src, segment.seq, packet.time);
            let reason = if idle && !session.is_closed() {
                Some(CloseReason::IdleTimeout)
            } else if reused {
                if !session.is_closed() {
                    self.stats.port_reuses += 1;
                }
                Some(CloseReason::PortReuse)
            } else if lingered_out || idle {
                Some(CloseReason::Fin)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.finish(key, reason, events);
                slot = None;
            }
        }
        let new = slot.is_none();
        let slot = match slot {
            Some(slot) => slot,
            None => {
                self.make_room(events);
                let session = open(self.next_id, src, dst, segment, packet.time);
                self.next_id += 1;
                self.stats.sessions_opened += 1;
                self.expiry.schedule_open(
                    key,
                    session.id,
                    session.generation,
                    packet.time.saturating_add(self.config.idle_timeout_ns),
                );
                self.sessions.insert_new(key, session)
            }
        };
        let Some(session) = self.sessions.by_slot_mut(slot) else {
            return TrackedPacket {
                id: 0,
                from: Side::Client,
                new,
                client_isn: None,
                server_isn: None,
            };
        };
        if opening_syn && session.missed_syn && session.client_isn.is_none() {
            session.adopt_late_syn(src);
        }
        let from = if src == session.client {
            Side::Client
        } else {
            Side::Server
        };
        let was_closed = session.is_closed();
        session.apply(from, segment, packet.time);
        if !was_closed && session.is_closed() {
            session.generation += 1;
            self.expiry.schedule_closed(
                key,
                session.id,
                session.generation,
                packet.time.saturating_add(self.config.closed_linger_ns),
            );
        }
        TrackedPacket {
            id: session.id,
            from,
            new,
            client_isn: session.client_isn,
            server_isn: session.server_isn,
        }
    }

    fn finish(&mut self, key: FlowKey, reason: CloseReason, events: &mut Vec<SessionEvent>) {
        if let Some(mut session) = self.sessions.remove(&key) {
            session.close(reason, self.now);
            self.stats.sessions_closed += 1;
            events.push(SessionEvent::Closed(Box::new(session.record())));
        }
    }

    fn expire(&mut self, events: &mut Vec<SessionEvent>) {
        while let Some(entry) = self.expiry.pop_due(self.now) {
            let Some(session) = self.sessions.get_mut(&entry.key) else {
                continue;
            };
            if session.id != entry.id || session.generation != entry.generation {
                continue;
            }
            if session.is_closed() {
                self.finish(entry.key, CloseReason::Fin, events);
            } else if self.now.saturating_sub(session.last) > self.config.idle_timeout_ns {
                self.stats.sessions_idle += 1;
                self.finish(entry.key, CloseReason::IdleTimeout, events);
            } else {
                session.generation += 1;
                let deadline = session
                    .last
                    .saturating_add(self.config.idle_timeout_ns)
                    .max(self.now.saturating_add(1));
                self.expiry
                    .schedule_open(entry.key, session.id, session.generation, deadline);
            }
        }
    }

    fn make_room(&mut self, events: &mut Vec<SessionEvent>) {
        while self.sessions.len() >= self.config.max_sessions.max(1) {
            let Some(entry) = self.expiry.pop_oldest() else {
                break;
            };
            let Some(session) = self.sessions.get_mut(&entry.key) else {
                continue;
            };
            if session.id != entry.id || session.generation != entry.generation {
                continue;
            }
            let active_since = !session.is_closed()
                && session.last.saturating_add(self.config.idle_timeout_ns) > entry.deadline;
            if active_since {
                // Second chance: active since it was scheduled, so others are older.
                session.generation += 1;
                let deadline = session.last.saturating_add(self.config.idle_timeout_ns);
                self.expiry
                    .schedule_open(entry.key, session.id, session.generation, deadline);
            } else {
                self.stats.sessions_evicted += 1;
                self.finish(entry.key, CloseReason::Evicted, events);
            }
        }
    }
}

/// A new session, its roles taken from the handshake packet when it is one.
fn open(
    id: u64,
    src: Endpoint,
    dst: Endpoint,
    segment: &TcpSegment<'_>,
    time: EpochNanos,
) -> Session {
    let flags = segment.flags;
    if flags.syn() && !flags.ack() {
        Session::new(id, src, dst, TcpState::SynSent, time)
    } else if flags.syn() && flags.ack() {
        Session::new(id, dst, src, TcpState::SynReceived, time)
    } else {
        let (client, server) = guess_roles(src, dst);
        Session::new(id, client, server, TcpState::Established, time)
    }
}

/// Without a handshake, the server is the side on the well-known (lower) port.
fn guess_roles(src: Endpoint, dst: Endpoint) -> (Endpoint, Endpoint) {
    if src.port < dst.port {
        (dst, src)
    } else {
        (src, dst)
    }
}
