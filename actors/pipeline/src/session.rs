use std::net::IpAddr;

use spider_decode::{ReassemblyConfig, Side, StreamEvent, StreamReassembler, TcpSegment};
use spider_model::{Endpoint, EpochNanos, HostSource, Record, TcpSessionRecord};

use crate::dns::DNS_PORTS;
use crate::hosts::{host_without_port, HostTable};
use spider_protocols::http::{looks_like_request, HttpParser};
use spider_protocols::tls::{client_hello_server_name, TlsError};
use spider_protocols::{
    detect, Direction, ParsedMessage, ParserLimits, Protocol, StreamContext, StreamParser,
};

/// Bytes of a client's first data needed to tell protocols apart.
const DETECT_BYTES: usize = 8;
/// Bytes of a session begun before the capture scanned for an HTTP request line.
const RESYNC_SCAN_BYTES: usize = 64 * 1024;
/// Server bytes held while the client's protocol is not known yet.
const EARLY_SERVER_BYTES: usize = 64 * 1024;
/// A TLS ClientHello larger than this is not waited for.
const MAX_CLIENT_HELLO: usize = 16 * 1024 + 5;

/// What a session's streams produced for the analyzer.
#[derive(Debug, Default)]
pub(crate) struct SessionOutput {
    pub messages: Vec<ParsedMessage>,
    /// (server ip, name, time) from TLS ClientHellos.
    pub server_names: Vec<(IpAddr, String, EpochNanos)>,
    /// DNS messages carried over TCP: (time, sender, receiver, message without its prefix).
    pub dns_messages: Vec<(EpochNanos, Endpoint, Endpoint, Vec<u8>)>,
}

impl SessionOutput {
    /// Hands the records on, noting the host names they reveal (HTTP Host, TLS server name).
    pub fn drain(&mut self, hosts: &mut HostTable, sink: &mut impl FnMut(Record)) {
        for message in self.messages.drain(..) {
            match message {
                ParsedMessage::Http(exchange) => {
                    if let Some(host) = &exchange.host {
                        hosts.observe(
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
        for (ip, name, time) in self.server_names.drain(..) {
            hosts.observe(ip, &name, HostSource::Sni, time);
        }
    }
}

#[derive(Debug)]
enum OwnedEvent {
    Data(EpochNanos, Vec<u8>),
    Gap(EpochNanos, u64),
    End(EpochNanos),
}

enum App {
    Detecting {
        client: Vec<u8>,
        client_time: EpochNanos,
        client_gap: bool,
        scanned: usize,
        early_server: Vec<OwnedEvent>,
        early_server_bytes: usize,
    },
    Http(Box<HttpParser>),
    Tls(Vec<u8>),
    /// DNS over TCP: each direction's bytes until a whole length-prefixed message is in.
    Dns([Vec<u8>; 2]),
    Opaque,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Detecting { .. } => "Detecting",
            Self::Http(_) => "Http",
            Self::Tls(_) => "Tls",
            Self::Dns(_) => "Dns",
            Self::Opaque => "Opaque",
        })
    }
}

/// One TCP session in the pipeline: its two reassembled streams and its protocol parser.
#[derive(Debug)]
pub(crate) struct TcpSessionState {
    context: StreamContext,
    missed_syn: bool,
    /// True once the tracker's client turned out to be the server (a session seen mid-way).
    swapped: bool,
    /// Indexed by the tracker's side: the client's stream, the server's stream.
    streams: [StreamReassembler; 2],
    app: App,
    limits: ParserLimits,
}

impl TcpSessionState {
    pub fn new(
        context: StreamContext,
        missed_syn: bool,
        anchors: [Option<(u32, bool)>; 2],
        reassembly: ReassemblyConfig,
        limits: ParserLimits,
    ) -> Self {
        let mut streams = [
            StreamReassembler::new(reassembly),
            StreamReassembler::new(reassembly),
        ];
        for (stream, anchor) in streams.iter_mut().zip(anchors) {
            match anchor {
                Some((first_seq, true)) => stream.anchor(first_seq),
                Some((first_seq, false)) => stream.anchor_guess(first_seq),
                None => {}
            }
        }
        Self {
            context,
            missed_syn,
            swapped: false,
            streams,
            app: if DNS_PORTS.contains(&context.server.port) {
                App::Dns([Vec::new(), Vec::new()])
            } else {
                App::Detecting {
                    client: Vec::new(),
                    client_time: 0,
                    client_gap: false,
                    scanned: 0,
                    early_server: Vec::new(),
                    early_server_bytes: 0,
                }
            },
            limits,
        }
    }

    pub fn buffered_bytes(&self) -> usize {
        let app = match &self.app {
            App::Http(parser) => parser.buffered_bytes(),
            App::Tls(hello) => hello.len(),
            App::Dns([a, b]) => a.len() + b.len(),
            App::Detecting {
                client,
                early_server_bytes,
                ..
            } => client.len() + early_server_bytes,
            App::Opaque => 0,
        };
        self.streams[0].buffered_bytes() + self.streams[1].buffered_bytes() + app
    }

    /// One segment sent by `from`.
    pub fn segment(
        &mut self,
        from: Side,
        segment: &TcpSegment<'_>,
        time: EpochNanos,
        out: &mut SessionOutput,
    ) {
        let flags = segment.flags;
        let sender = from.index();
        let receiver = from.other().index();
        if flags.syn() {
            self.streams[sender].anchor(segment.seq.wrapping_add(1));
            if flags.ack() {
                self.streams[receiver].anchor(segment.ack);
            }
        } else if flags.ack() && !self.streams[receiver].is_anchored() && self.missed_syn {
            self.streams[receiver].anchor_guess(segment.ack);
        }
        let payload_seq = if flags.syn() {
            segment.seq.wrapping_add(1)
        } else {
            segment.seq
        };
        let (streams, mut dispatch) = self.split(out);
        streams[sender].segment(
            time,
            payload_seq,
            segment.payload,
            flags.fin(),
            flags.rst(),
            &mut |event| dispatch.event(from, event),
        );
        if flags.ack() && !flags.rst() {
            streams[receiver].peer_ack(time, segment.ack, &mut |event| {
                dispatch.event(from.other(), event)
            });
        }
        // A RST ends its sender's stream only: data the peer had already sent, in sequence,
        // still arrives and is real; the peer's stream ends when the session closes.
    }

    /// Declares the holes of both streams as gaps, to free memory.
    pub fn release_held(&mut self, time: EpochNanos, out: &mut SessionOutput) {
        self.drive_streams(out, |stream, emit| stream.release_held(time, emit));
    }

    /// The session is over: both streams end and the parser emits what it still holds.
    pub fn finish(&mut self, time: EpochNanos, out: &mut SessionOutput) {
        self.drive_streams(out, |stream, emit| stream.finish(time, emit));
        self.split(out).1.conclude_detection(time);
        if let App::Http(parser) = &mut self.app {
            parser.finish(time, &mut out.messages);
        }
    }

    /// The streams, and the dispatcher their events go to (disjoint borrows of the session).
    fn split<'a>(
        &'a mut self,
        out: &'a mut SessionOutput,
    ) -> (&'a mut [StreamReassembler; 2], Dispatch<'a>) {
        let dispatch = Dispatch {
            app: &mut self.app,
            context: &mut self.context,
            swapped: &mut self.swapped,
            missed_syn: self.missed_syn,
            limits: self.limits,
            out,
        };
        (&mut self.streams, dispatch)
    }

    fn drive_streams(
        &mut self,
        out: &mut SessionOutput,
        mut action: impl FnMut(&mut StreamReassembler, &mut dyn FnMut(StreamEvent<'_>)),
    ) {
        let (streams, mut dispatch) = self.split(out);
        for side in [Side::Client, Side::Server] {
            action(&mut streams[side.index()], &mut |event| {
                dispatch.event(side, event)
            });
        }
    }

    /// The tracker's final record, with roles and losses as the pipeline learnt them.
    pub fn complete_record(&self, record: &mut TcpSessionRecord) {
        record.client_to_server.lost_bytes = self.streams[0].stats().lost_bytes;
        record.server_to_client.lost_bytes = self.streams[1].stats().lost_bytes;
        if self.swapped {
            std::mem::swap(&mut record.client, &mut record.server);
            std::mem::swap(&mut record.client_to_server, &mut record.server_to_client);
        }
    }

    pub fn gaps_and_losses(&self) -> (u64, u64) {
        let [a, b] = [self.streams[0].stats(), self.streams[1].stats()];
        (a.gaps + b.gaps, a.lost_bytes + b.lost_bytes)
    }
}

/// Routes stream events to the session's application parser.
struct Dispatch<'a> {
    app: &'a mut App,
    context: &'a mut StreamContext,
    swapped: &'a mut bool,
    missed_syn: bool,
    limits: ParserLimits,
    out: &'a mut SessionOutput,
}

impl Dispatch<'_> {
    fn direction(&self, side: Side) -> Direction {
        match (side, *self.swapped) {
            (Side::Client, false) | (Side::Server, true) => Direction::ToServer,
            _ => Direction::ToClient,
        }
    }

    fn event(&mut self, side: Side, event: StreamEvent<'_>) {
        let dir = self.direction(side);
        match self.app {
            App::Http(parser) => forward(parser.as_mut(), dir, event, &mut self.out.messages),
            App::Tls(hello) => {
                if let (Direction::ToServer, StreamEvent::Data { time, bytes }) = (dir, event) {
                    hello.extend_from_slice(bytes);
                    match client_hello_server_name(hello) {
                        Err(TlsError::Incomplete { .. }) if hello.len() <= MAX_CLIENT_HELLO => {}
                        Ok(Some(name)) => {
                            self.out
                                .server_names
                                .push((self.context.server.ip, name, time));
                            *self.app = App::Opaque;
                        }
                        _ => *self.app = App::Opaque,
                    }
                } else if dir == Direction::ToServer {
                    *self.app = App::Opaque;
                }
            }
            App::Dns(buffers) => {
                let StreamEvent::Data { time, bytes } = event else {
                    *self.app = App::Opaque;
                    return;
                };
                let buffer = &mut buffers[dir.index()];
                buffer.extend_from_slice(bytes);
                while let Some(&[hi, lo]) = buffer.get(..2) {
                    let total = 2 + usize::from(u16::from_be_bytes([hi, lo]));
                    let Some(message) = buffer.get(2..total) else {
                        break;
                    };
                    let (src, dst) = match dir {
                        Direction::ToServer => (self.context.client, self.context.server),
                        Direction::ToClient => (self.context.server, self.context.client),
                    };
                    self.out
                        .dns_messages
                        .push((time, src, dst, message.to_vec()));
                    buffer.drain(..total);
                }
            }
            App::Opaque => {}
            App::Detecting { .. } => self.detecting(dir, event),
        }
    }

    fn detecting(&mut self, dir: Direction, event: StreamEvent<'_>) {
        let App::Detecting {
            client,
            client_time,
            client_gap,
            early_server,
            early_server_bytes,
            ..
        } = &mut *self.app
        else {
            return;
        };
        match (dir, event) {
            (Direction::ToClient, StreamEvent::Data { time, bytes }) => {
                let nothing_from_client = client.is_empty() && !*client_gap;
                if nothing_from_client
                    && self.missed_syn
                    && early_server.is_empty()
                    && looks_like_request(bytes)
                {
                    // The tracker guessed the roles from ports and guessed wrong.
                    *self.swapped = !*self.swapped;
                    std::mem::swap(&mut self.context.client, &mut self.context.server);
                    self.detecting(Direction::ToServer, StreamEvent::Data { time, bytes });
                    return;
                }
                if *early_server_bytes + bytes.len() <= EARLY_SERVER_BYTES {
                    *early_server_bytes += bytes.len();
                    early_server.push(OwnedEvent::Data(time, bytes.to_vec()));
                } else {
                    *self.app = App::Opaque;
                }
            }
            (Direction::ToClient, StreamEvent::Gap { time, len }) => {
                early_server.push(OwnedEvent::Gap(time, len));
            }
            (Direction::ToClient, StreamEvent::End { time }) => {
                early_server.push(OwnedEvent::End(time));
            }
            (Direction::ToServer, StreamEvent::Data { time, bytes }) => {
                if client.is_empty() {
                    *client_time = time;
                }
                if *client_gap || (self.missed_syn && client.is_empty() && !starts_known(bytes)) {
                    self.resync_scan(time, bytes);
                    return;
                }
                client.extend_from_slice(bytes);
                if client.len() >= DETECT_BYTES || client.contains(&b' ') {
                    self.conclude_detection(time);
                }
            }
            (Direction::ToServer, StreamEvent::Gap { .. }) => {
                *client_gap = true;
                client.clear();
            }
            (Direction::ToServer, StreamEvent::End { time }) => self.conclude_detection(time),
        }
    }

    /// In a stream whose beginning was not seen, looks for a request line to start HTTP at.
    fn resync_scan(&mut self, time: EpochNanos, bytes: &[u8]) {
        let start = std::iter::once(0)
            .chain(memchr_newlines(bytes))
            .find(|&at| looks_like_request(&bytes[at..]));
        match start {
            Some(at) => {
                self.start_http(true);
                if let App::Http(parser) = self.app {
                    parser.data(
                        Direction::ToServer,
                        time,
                        &bytes[at..],
                        &mut self.out.messages,
                    );
                }
            }
            None => {
                if let App::Detecting { scanned, .. } = &mut *self.app {
                    *scanned += bytes.len();
                    if *scanned > RESYNC_SCAN_BYTES {
                        *self.app = App::Opaque;
                    }
                }
            }
        }
    }

    /// Chooses the protocol from the client bytes gathered so far.
    fn conclude_detection(&mut self, _time: EpochNanos) {
        let App::Detecting {
            client,
            client_time,
            ..
        } = &mut *self.app
        else {
            return;
        };
        let first = std::mem::take(client);
        let first_time = *client_time;
        match detect(&first) {
            Some(Protocol::Http1) => {
                self.start_http(false);
                if let App::Http(parser) = &mut *self.app {
                    parser.data(
                        Direction::ToServer,
                        first_time,
                        &first,
                        &mut self.out.messages,
                    );
                }
            }
            Some(Protocol::Tls) => {
                self.replay_early(None);
                *self.app = App::Tls(Vec::new());
                self.event_tls(first_time, &first);
            }
            None => *self.app = App::Opaque,
        }
    }

    fn event_tls(&mut self, time: EpochNanos, bytes: &[u8]) {
        let side = if *self.swapped {
            Side::Server
        } else {
            Side::Client
        };
        self.event(side, StreamEvent::Data { time, bytes });
    }

    /// Switches to HTTP and replays the server bytes held meanwhile (after the client's first).
    fn start_http(&mut self, after_gap: bool) {
        let mut parser = Box::new(HttpParser::new(*self.context, self.limits));
        let App::Detecting { client_time, .. } = &*self.app else {
            return;
        };
        if after_gap || self.missed_syn {
            // The streams' beginnings were not seen: the parser looks for message boundaries.
            parser.gap(Direction::ToServer, *client_time, 0, &mut self.out.messages);
            parser.gap(Direction::ToClient, *client_time, 0, &mut self.out.messages);
        }
        self.replay_early(Some(parser));
    }

    fn replay_early(&mut self, parser: Option<Box<HttpParser>>) {
        let early = match &mut *self.app {
            App::Detecting { early_server, .. } => std::mem::take(early_server),
            _ => Vec::new(),
        };
        let Some(mut parser) = parser else {
            return;
        };
        // Held server bytes are replayed after the client's first bytes are in, by the caller:
        // the parser holds responses until their request's head is parsed.
        for event in early {
            let messages = &mut self.out.messages;
            match event {
                OwnedEvent::Data(time, bytes) => {
                    parser.data(Direction::ToClient, time, &bytes, messages)
                }
                OwnedEvent::Gap(time, len) => parser.gap(Direction::ToClient, time, len, messages),
                OwnedEvent::End(time) => parser.end(Direction::ToClient, time, messages),
            }
        }
        *self.app = App::Http(parser);
    }
}

fn forward(
    parser: &mut dyn StreamParser,
    dir: Direction,
    event: StreamEvent<'_>,
    out: &mut Vec<ParsedMessage>,
) {
    match event {
        StreamEvent::Data { time, bytes } => parser.data(dir, time, bytes, out),
        StreamEvent::Gap { time, len } => parser.gap(dir, time, len, out),
        StreamEvent::End { time } => parser.end(dir, time, out),
    }
}

fn starts_known(bytes: &[u8]) -> bool {
    detect(bytes).is_some()
}

/// Offsets just past each "\n" in `bytes`.
fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(at, _)| at + 1)
        .filter(move |&at| at < bytes.len())
}
