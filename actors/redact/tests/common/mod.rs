//! Real Ethernet/IPv4/TCP frames of one session, cut where a test says, and streams with secrets.
#![allow(dead_code)]

use etherparse::PacketBuilder;
use spider_model::PacketRecord;

pub const CLIENT_ISN: u32 = 4_000_000_000;
pub const SERVER_ISN: u32 = 1_000;

/// A request stream full of secrets, and the words that must not survive.
pub fn request_stream() -> Vec<u8> {
    let body = r#"{"user":"alice","password":"s3cret-PW","nested":{"client_secret":"CS-77"}}"#;
    format!(
        "POST /login?api_key=QK-123&next=%2Fhome HTTP/1.1\r\nHost: auth.test\r\n\
         Authorization: Basic YWxpY2U6czNjcmV0LVBX\r\nCookie: session=SESS-abc; theme=dark\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}\
         GET /me HTTP/1.1\r\nAuthorization: Bearer TOKEN-xyz-789\r\nX-API-Key: AK-456\r\n\r\n",
        body.len()
    )
    .into_bytes()
}

pub fn response_stream() -> Vec<u8> {
    let body = r#"{"access_token":"AT-7hQ2x","refresh_token":"RT-3kL9y","expires":3600}"#;
    format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: sid=SID-999; HttpOnly\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        20,
        &body[..20],
        body.len() - 20,
        &body[20..]
    )
    .into_bytes()
}

pub const SECRETS: &[&str] = &[
    "QK-123",
    "YWxpY2U6czNjcmV0LVBX",
    "SESS-abc",
    "s3cret-PW",
    "CS-77",
    "TOKEN-xyz-789",
    "AK-456",
    "SID-999",
    "AT-7hQ2x",
    "RT-3kL9y",
];

/// Whether any secret (or a 5-byte piece of one) is in `bytes`.
pub fn leaks(bytes: &[u8]) -> Option<&'static str> {
    SECRETS.iter().copied().find(|secret| {
        secret
            .as_bytes()
            .windows(5)
            .any(|piece| bytes.windows(5).any(|w| w == piece))
    })
}

/// Builds the frames of session `id`.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub time: i64,
}

impl Session {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            time: 1_700_000_000_000_000_000,
        }
    }

    /// One TCP frame; `seq` relative to the sender's ISN + 1 (the SYN has -1).
    pub fn frame(
        &mut self,
        from_client: bool,
        rel_seq: i64,
        syn: bool,
        payload: &[u8],
    ) -> PacketRecord {
        let (src, dst, sport, dport, isn, peer_isn) = if from_client {
            (
                [10, 86, 0, 1],
                [10, 86, 0, 2],
                40000,
                8080,
                CLIENT_ISN,
                SERVER_ISN,
            )
        } else {
            (
                [10, 86, 0, 2],
                [10, 86, 0, 1],
                8080,
                40000,
                SERVER_ISN,
                CLIENT_ISN,
            )
        };
        let seq = isn.wrapping_add(1).wrapping_add(rel_seq as u32);
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 64240);
        let builder = if syn {
            builder.syn()
        } else {
            builder.ack(peer_isn.wrapping_add(1)).psh()
        };
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, payload)
            .expect("writing to a vector");
        self.time += 1_000;
        PacketRecord {
            whisperer: "w".into(),
            session_id: self.id,
            time: self.time,
            interface: 1,
            link_type: 1,
            wire_len: frame.len() as u32,
            from_client,
            frame,
        }
    }

    /// The SYN of each side.
    pub fn handshake(&mut self) -> Vec<PacketRecord> {
        vec![
            self.frame(true, -1, true, &[]),
            self.frame(false, -1, true, &[]),
        ]
    }

    /// `stream` cut at `cuts` (sorted offsets), one frame per piece.
    pub fn segments(
        &mut self,
        from_client: bool,
        stream: &[u8],
        cuts: &[usize],
    ) -> Vec<PacketRecord> {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|c| *c > 0 && *c < stream.len()));
        bounds.push(stream.len());
        bounds.dedup();
        bounds
            .windows(2)
            .map(|w| self.frame(from_client, w[0] as i64, false, &stream[w[0]..w[1]]))
            .collect()
    }
}

/// The TCP payload of a frame built here (Ethernet + 20-byte IPv4 + 20-byte TCP).
pub fn payload(record: &PacketRecord) -> &[u8] {
    &record.frame[54..]
}

/// The relative sequence number of a data frame built here.
pub fn rel_seq(record: &PacketRecord) -> u32 {
    let seq = u32::from_be_bytes([
        record.frame[38],
        record.frame[39],
        record.frame[40],
        record.frame[41],
    ]);
    let isn = if record.from_client {
        CLIENT_ISN
    } else {
        SERVER_ISN
    };
    seq.wrapping_sub(isn.wrapping_add(1))
}

/// Puts the payloads of one direction back into a stream (later frames win on overlap).
pub fn reassemble(frames: &[PacketRecord], from_client: bool, len: usize) -> Vec<u8> {
    let mut stream = vec![0u8; len];
    for frame in frames
        .iter()
        .filter(|f| f.from_client == from_client && f.frame.len() > 54)
    {
        let at = rel_seq(frame) as usize;
        let bytes = payload(frame);
        stream[at..at + bytes.len()].copy_from_slice(bytes);
    }
    stream
}
