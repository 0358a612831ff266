//! `TestEnv`: a shard in a temporary directory, and real captures turned into batches.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use spider_decode::{Decoder, DecoderConfig, SessionTracker, Side, TrackerConfig};
use spider_model::{DnsRecord, HostRecord, HttpExchange, PacketRecord, Record, TcpSessionRecord};
use spider_pipeline::PipelineConfig;
use spider_storage::{IngestBatch, Shard, ShardConfig, TextIndexing};

/// A shard folder that disappears with the test.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("shard")
    }

    /// A configuration for tests: commits only when asked (or by `commit_docs`), every body
    /// indexed whole so that the index agrees with `matches`.
    pub fn config(&self) -> ShardConfig {
        let mut config = ShardConfig::new(self.path());
        config.index.commit_interval = Duration::from_secs(3600);
        config.index.commit_docs = 1_000_000;
        config.index.writer_memory_bytes = 15_000_000;
        config.index.text = TextIndexing {
            headers: true,
            bodies: true,
            body_bytes: 1 << 20,
        };
        config.block_cache_bytes = 8 << 20;
        config
    }

    pub fn open(&self) -> Shard {
        Shard::open(self.config()).expect("shard opens")
    }

    pub fn open_with(&self, adjust: impl FnOnce(&mut ShardConfig)) -> Shard {
        let mut config = self.config();
        adjust(&mut config);
        Shard::open(config).expect("shard opens")
    }
}

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// Everything a capture gives: the records of `spider analyze` and the frames, tagged with
/// session ids as a Whisperer would.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub http: Vec<HttpExchange>,
    pub sessions: Vec<TcpSessionRecord>,
    pub hosts: Vec<HostRecord>,
    pub dns: Vec<DnsRecord>,
    pub packets: Vec<PacketRecord>,
}

pub fn load(name: &str, whisperer: &str) -> Capture {
    let path = testdata(name);
    let mut capture = Capture::default();
    spider_pipeline::analyze_file(
        &path,
        PipelineConfig::default(),
        &mut |record| match record {
            Record::Http(exchange) => capture.http.push(*exchange),
            Record::TcpSession(session) => capture.sessions.push(*session),
            Record::Host(host) => capture.hosts.push(host),
            Record::Dns(dns) => capture.dns.push(dns),
        },
    )
    .expect("capture opens");
    let mut reader = spider_pcap::CaptureReader::open(&path).expect("capture opens");
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    while let Some(frame) = reader.next_record().expect("frame") {
        let (session_id, from_client) =
            match decoder.decode(frame.link_type, frame.ts_nanos, frame.data, frame.orig_len) {
                Ok(Some(packet)) => {
                    let tracked = tracker.track(&packet, &mut events);
                    (tracked.id, tracked.from == Side::Client)
                }
                _ => (0, true),
            };
        capture.packets.push(PacketRecord {
            whisperer: whisperer.to_owned(),
            session_id,
            time: frame.ts_nanos,
            interface: frame.interface,
            link_type: frame.link_type.0,
            wire_len: frame.orig_len,
            from_client,
            frame: frame.data.to_vec(),
        });
    }
    capture
}

impl Capture {
    pub fn batch(&self, agent: &str, seq: u64, whisperer: &str) -> IngestBatch {
        IngestBatch {
            agent: agent.to_owned(),
            seq,
            whisperer: whisperer.to_owned(),
            packets: self.packets.clone(),
            sessions: self.sessions.clone(),
            http: self.http.clone(),
            hosts: self.hosts.clone(),
            dns: self.dns.clone(),
            usage: Vec::new(),
            inventory: None,
        }
    }

    /// The same capture moved in time by `delta` ns (and with session ids offset, so that the
    /// copies are different sessions).
    pub fn shifted(&self, delta: i64, id_offset: u64) -> Capture {
        let mut copy = self.clone();
        for exchange in &mut copy.http {
            exchange.session_id += id_offset;
            let timing = &mut exchange.timing;
            timing.request_start += delta;
            for t in [
                &mut timing.request_end,
                &mut timing.response_start,
                &mut timing.response_end,
            ]
            .into_iter()
            .flatten()
            {
                *t += delta;
            }
        }
        for session in &mut copy.sessions {
            session.id += id_offset;
            session.first_packet += delta;
            session.last_packet += delta;
            if let Some(t) = session.connected_at.as_mut() {
                *t += delta;
            }
        }
        for host in &mut copy.hosts {
            host.first_seen += delta;
            host.last_seen += delta;
        }
        for dns in &mut copy.dns {
            dns.time += delta;
        }
        for packet in &mut copy.packets {
            packet.time += delta;
            if packet.session_id != 0 {
                packet.session_id += id_offset;
            }
        }
        copy
    }
}

/// Sorts exchanges newest first as the shard lists them (request start, then session, index).
pub fn newest_first(exchanges: &mut [HttpExchange]) {
    exchanges.sort_by(|a, b| {
        (b.timing.request_start, b.session_id, b.index).cmp(&(
            a.timing.request_start,
            a.session_id,
            a.index,
        ))
    });
}
