//! pcapng export, read back with spider-pcap (and tshark when installed).

mod common;

use std::process::Command;

use common::{load, TestEnv};
use spider_pcap::CaptureReader;
use spider_query::{parse, RecordKind};
use spider_storage::{HttpQuery, PcapSource, TimeRange};

const W: &str = "w1";

fn frames(bytes: &[u8]) -> Vec<(i64, u32, Vec<u8>)> {
    let mut reader = CaptureReader::new(bytes).expect("pcapng");
    let mut out = Vec::new();
    while let Some(record) = reader.next_record().expect("record") {
        out.push((record.ts_nanos, record.orig_len, record.data.to_vec()));
    }
    out
}

fn tshark_count(bytes: &[u8], dir: &std::path::Path) -> Option<usize> {
    let path = dir.join("export.pcapng");
    std::fs::write(&path, bytes).expect("write");
    let output = Command::new("tshark").arg("-r").arg(&path).output().ok()?;
    assert!(
        output.status.success(),
        "tshark reads the export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).lines().count())
}

#[test]
fn exports_read_back_as_the_same_frames() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-basic.pcap", W);
    shard.ingest(capture.batch("a", 1, W)).expect("ingest");
    shard.commit_index().expect("commit");

    let session = capture.sessions[0].id;
    let export = shard
        .export_pcap(&PcapSource::Session {
            whisperer: W.into(),
            session_id: session,
        })
        .expect("export");
    let expected: Vec<_> = capture
        .packets
        .iter()
        .filter(|p| p.session_id == session)
        .map(|p| (p.time, p.wire_len, p.frame.clone()))
        .collect();
    assert!(!expected.is_empty());
    assert!(!export.truncated);
    assert_eq!(frames(&export.bytes), expected);
    if let Some(count) = tshark_count(&export.bytes, env.dir.path()) {
        assert_eq!(count, expected.len());
    }

    // The whole capture by time range: every frame, in time order.
    let export = shard
        .export_pcap(&PcapSource::Range {
            range: TimeRange::ALL,
            whisperers: vec![],
        })
        .expect("export");
    let mut expected: Vec<_> = capture
        .packets
        .iter()
        .map(|p| (p.time, p.wire_len, p.frame.clone()))
        .collect();
    expected.sort_by_key(|f| f.0);
    assert_eq!(export.packets as usize, expected.len());
    assert_eq!(frames(&export.bytes), expected);
    if let Some(count) = tshark_count(&export.bytes, env.dir.path()) {
        assert_eq!(count, expected.len());
    }

    // The sessions of the exchanges a query finds.
    let mut query = HttpQuery::new(TimeRange::ALL, 100);
    query.query = Some(parse("status:200", RecordKind::Http).expect("parses"));
    let export = shard.export_pcap(&PcapSource::Http(query)).expect("export");
    let sessions: std::collections::BTreeSet<u64> = capture
        .http
        .iter()
        .filter(|e| e.status == Some(200))
        .map(|e| e.session_id)
        .collect();
    let expected = capture
        .packets
        .iter()
        .filter(|p| sessions.contains(&p.session_id))
        .count();
    assert_eq!(export.packets as usize, expected);
    assert_eq!(frames(&export.bytes).len(), expected);
}

#[test]
fn exports_stop_at_the_size_limit() {
    let env = TestEnv::new();
    let mut shard = env.open_with(|config| config.max_export_bytes = 10_000);
    let capture = load("http-basic.pcap", W);
    shard.ingest(capture.batch("a", 1, W)).expect("ingest");
    let export = shard
        .export_pcap(&PcapSource::Range {
            range: TimeRange::ALL,
            whisperers: vec![],
        })
        .expect("export");
    assert!(export.truncated);
    assert!(export.packets > 0 && (export.packets as usize) < capture.packets.len());
    assert_eq!(frames(&export.bytes).len() as u64, export.packets);
}
