//! Synthetic but realistic traffic: HTTP/1.1 exchanges of a small microservice landscape, their
//! TCP sessions and packets (Ethernet/IPv4/TCP frames carrying the request and response bytes).

use std::net::{IpAddr, Ipv4Addr};

use spider_model::{
    BodyCapture, BodyData, DirectionStats, Endpoint, HttpExchange, HttpTiming, PacketRecord,
    ParseState, TcpSessionRecord, TcpState,
};
use spider_storage::IngestBatch;

/// A small, fast, deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Words of response bodies; the benchmark searches some of them.
pub const WORDS: &[&str] = &[
    "order",
    "invoice",
    "customer",
    "payment",
    "shipment",
    "basket",
    "catalog",
    "price",
    "stock",
    "warehouse",
    "refund",
    "coupon",
    "account",
    "session",
    "token",
    "profile",
    "review",
    "rating",
    "search",
    "timeout",
    "retry",
    "error",
    "success",
    "pending",
    "cancelled",
    "delivered",
    "express",
    "standard",
    "discount",
    "tax",
];
const SERVICES: &[&str] = &[
    "orders",
    "payments",
    "catalog",
    "users",
    "search",
    "cart",
    "shipping",
    "reviews",
    "auth",
    "inventory",
    "pricing",
    "notifications",
];
const METHODS: &[(&str, u64)] = &[
    ("GET", 70),
    ("POST", 18),
    ("PUT", 6),
    ("DELETE", 4),
    ("PATCH", 2),
];

/// Generates batches of one whisperer, `per_batch` exchanges each, their time spread evenly over
/// `[start, start + span)` across the whole run.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    whisperer: String,
    start: i64,
    step_ns: i64,
    produced: u64,
    session: u64,
    session_left: u32,
    session_client: Endpoint,
    session_server: Endpoint,
    session_index: u32,
    session_first: i64,
}

impl Generator {
    pub fn new(whisperer: &str, seed: u64, start: i64, span_ns: i64, total: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            whisperer: whisperer.to_owned(),
            start,
            step_ns: (span_ns / total.max(1) as i64).max(1),
            produced: 0,
            session: 0,
            session_left: 0,
            session_client: Endpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            session_server: Endpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            session_index: 0,
            session_first: 0,
        }
    }

    /// One batch: exchanges, their packets (4 per exchange) and session updates.
    pub fn batch(&mut self, agent: &str, seq: u64, per_batch: usize) -> (IngestBatch, u64) {
        let mut batch = IngestBatch::new(agent, seq, self.whisperer.clone());
        let mut raw_bytes = 0u64;
        for _ in 0..per_batch {
            let time = self.start + self.produced as i64 * self.step_ns;
            self.produced += 1;
            if self.session_left == 0 {
                self.new_session(time);
            }
            let exchange = self.exchange(time);
            for packet in self.packets(&exchange) {
                raw_bytes += packet.frame.len() as u64;
                batch.packets.push(packet);
            }
            raw_bytes += 400 + exchange.response_body.as_ref().map_or(0, |b| b.wire_length);
            self.session_left -= 1;
            self.session_index += 1;
            if self.session_left == 0 {
                batch.sessions.push(self.session_record(&exchange));
            }
            batch.http.push(exchange);
        }
        (batch, raw_bytes)
    }

    fn new_session(&mut self, time: i64) {
        self.session += 1;
        self.session_left = 1 + self.rng.below(20) as u32;
        self.session_index = 0;
        self.session_first = time;
        let client = 1 + self.rng.below(250) as u8;
        let server = 1 + self.rng.below(SERVICES.len() as u64) as u8;
        self.session_client = Endpoint::new(
            IpAddr::V4(Ipv4Addr::new(10, 1, self.rng.below(4) as u8, client)),
            32_768 + self.rng.below(28_000) as u16,
        );
        self.session_server = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 2, 0, server)), 8080);
    }

    fn exchange(&mut self, time: i64) -> HttpExchange {
        let rng = &mut self.rng;
        let service = SERVICES[(u32::from(match self.session_server.ip {
            IpAddr::V4(v4) => v4.octets()[3],
            IpAddr::V6(_) => 1,
        }) as usize
            - 1)
            % SERVICES.len()];
        let roll = rng.below(100);
        let mut acc = 0;
        let method = METHODS
            .iter()
            .find(|(_, weight)| {
                acc += weight;
                roll < acc
            })
            .map_or("GET", |(m, _)| *m);
        let id = rng.below(100_000);
        let path = match rng.below(10) {
            0 => format!("/static/{service}/app.{}.js", rng.below(50)),
            1..=3 => format!("/api/v1/{service}"),
            _ => format!("/api/v1/{service}/{id}"),
        };
        let query: Vec<(String, String)> = if method == "GET" && rng.below(2) == 0 {
            vec![
                ("page".into(), rng.below(20).to_string()),
                ("q".into(), (*rng.pick(WORDS)).to_owned()),
            ]
        } else {
            Vec::new()
        };
        let uri = if query.is_empty() {
            path.clone()
        } else {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{path}?{}", pairs.join("&"))
        };
        let status = match rng.below(1000) {
            0..=4 => None,
            5..=14 => Some(503),
            15..=24 => Some(500),
            25..=74 => Some(404),
            75..=84 => Some(401),
            85..=134 => Some(304),
            135..=164 => Some(201),
            _ => Some(200),
        };
        let body: Vec<&str> = (0..(8 + rng.below(40))).map(|_| *rng.pick(WORDS)).collect();
        let body_text = format!(
            "{{\"id\":{id},\"service\":\"{service}\",\"items\":[\"{}\"],\"total\":{}}}",
            body.join("\",\""),
            rng.below(100_000)
        );
        let latency = 200_000 + rng.below(50_000_000) as i64;
        let host = format!("{service}.shop.svc:8080");
        let request_headers = vec![
            ("Host".into(), host.clone()),
            (
                "User-Agent".into(),
                format!("shop-{}/{}", rng.pick(SERVICES), rng.below(9)),
            ),
            ("Accept".into(), "application/json".into()),
            ("X-Request-Id".into(), format!("{:016x}", rng.next())),
            (
                "Authorization".into(),
                format!("Bearer eyJ{:x}", rng.next()),
            ),
        ];
        let response_body = status.map(|_| BodyCapture {
            announced_length: Some(body_text.len() as u64),
            wire_length: body_text.len() as u64,
            decoded_length: body_text.len() as u64,
            content_type: Some("application/json".into()),
            content_encoding: None,
            data: Some(BodyData::Utf8(body_text.clone())),
            truncated: false,
        });
        HttpExchange {
            session_id: self.session,
            index: self.session_index,
            client: self.session_client,
            server: self.session_server,
            method: method.into(),
            host: Some(host),
            uri,
            path,
            query,
            version: "HTTP/1.1".into(),
            status,
            reason: status.map(|s| if s < 400 { "OK".into() } else { "Error".into() }),
            request_headers,
            response_headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Length".into(), body_text.len().to_string()),
                ("Server".into(), "envoy".into()),
            ],
            request_body: BodyCapture::default(),
            response_body,
            interim_statuses: vec![],
            timing: HttpTiming {
                request_start: time,
                request_end: Some(time + 20_000),
                response_start: status.map(|_| time + latency),
                response_end: status.map(|_| time + latency + 30_000),
            },
            state: if status.is_some() {
                ParseState::Ok
            } else {
                ParseState::Incomplete
            },
            warnings: vec![],
        }
    }

    /// Request, its ACK, response, its ACK: Ethernet + IPv4 + TCP frames with the HTTP bytes.
    fn packets(&self, exchange: &HttpExchange) -> Vec<PacketRecord> {
        let mut request = format!("{} {} HTTP/1.1\r\n", exchange.method, exchange.uri);
        for (name, value) in &exchange.request_headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut response = format!("HTTP/1.1 {} OK\r\n", exchange.status.unwrap_or(200));
        for (name, value) in &exchange.response_headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        if let Some(BodyData::Utf8(body)) = exchange
            .response_body
            .as_ref()
            .and_then(|b| b.data.as_ref())
        {
            response.push_str(body);
        }
        let t = exchange.timing.request_start;
        let response_time = exchange.timing.response_start.unwrap_or(t + 1_000_000);
        let mut out = vec![
            self.frame(t, true, request.as_bytes()),
            self.frame(t + 50_000, false, &[]),
        ];
        if exchange.status.is_some() {
            out.push(self.frame(response_time, false, response.as_bytes()));
            out.push(self.frame(response_time + 50_000, true, &[]));
        }
        out
    }

    fn frame(&self, time: i64, from_client: bool, payload: &[u8]) -> PacketRecord {
        let (src, dst) = if from_client {
            (self.session_client, self.session_server)
        } else {
            (self.session_server, self.session_client)
        };
        let mut frame = Vec::with_capacity(54 + payload.len());
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (40 + payload.len()) as u16;
        frame.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        for ip in [src.ip, dst.ip] {
            if let IpAddr::V4(v4) = ip {
                frame.extend_from_slice(&v4.octets());
            }
        }
        frame.extend_from_slice(&src.port.to_be_bytes());
        frame.extend_from_slice(&dst.port.to_be_bytes());
        frame.extend_from_slice(&(time as u32).to_be_bytes());
        frame.extend_from_slice(&((time >> 8) as u32).to_be_bytes());
        frame.extend_from_slice(&[0x50, 0x18, 0x01, 0xf5, 0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        PacketRecord {
            whisperer: self.whisperer.clone(),
            session_id: self.session,
            time,
            interface: 0,
            link_type: 1,
            wire_len: frame.len() as u32,
            from_client,
            frame,
        }
    }

    fn session_record(&self, last: &HttpExchange) -> TcpSessionRecord {
        let end = last
            .timing
            .response_end
            .unwrap_or(last.timing.request_start);
        let packets = u64::from(self.session_index) * 2;
        TcpSessionRecord {
            id: self.session,
            client: self.session_client,
            server: self.session_server,
            state: TcpState::Closed,
            close_reason: Some(spider_model::CloseReason::Fin),
            missed_syn: false,
            first_packet: self.session_first,
            last_packet: end,
            connected_at: Some(self.session_first),
            handshake_rtt_ns: Some(150_000),
            client_to_server: DirectionStats {
                packets,
                bytes: packets * 200,
                ..DirectionStats::default()
            },
            server_to_client: DirectionStats {
                packets,
                bytes: packets * 600,
                ..DirectionStats::default()
            },
        }
    }
}
