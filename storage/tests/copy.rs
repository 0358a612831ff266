//! A whole shard copied to another in chunks (a shard group moving between nodes): the copy
//! answers every query as the source does, full-text search included, keeps the source's
//! exactly-once state, and goes on taking batches after it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{load, newest_first, TestEnv};
use spider_model::{HttpExchange, UsageRecord};
use spider_query::{parse, RecordKind};
use spider_storage::{
    CopyPosition, HttpQuery, IngestBatch, Shard, TimeRange, UsageLevel, UsageRequest,
};

const W: &str = "whisperer-a";

fn all_http(shard: &Shard, query: Option<&str>) -> Vec<HttpExchange> {
    let mut request = HttpQuery::new(TimeRange::ALL, 10_000);
    request.query = query.map(|q| parse(q, RecordKind::Http).unwrap());
    shard
        .query_http(&request)
        .unwrap()
        .items
        .into_iter()
        .map(|stored| stored.record)
        .collect()
}

fn usage_batch(seq: u64, bytes: u64) -> IngestBatch {
    let mut batch = IngestBatch::new("usage:gocipher-1", seq, "gocipher-1");
    batch.usage = vec![UsageRecord {
        minute: 1_700_000_000_000_000_000,
        src: "10.0.0.1".parse().unwrap(),
        dst: "10.0.0.2".parse().unwrap(),
        proto: "tcp".into(),
        port: 80,
        bytes,
        messages: 1,
        wire_bytes: bytes,
        packets: 1,
        reporter: "gocipher-1".into(),
        receive_side: false,
        src_workload: None,
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    }];
    batch
}

fn usage_bytes(shard: &Shard) -> u64 {
    shard
        .usage(&UsageRequest {
            range: TimeRange::ALL,
            level: UsageLevel::IpPair,
            agents: vec![],
        })
        .unwrap()
        .iter()
        .map(|row| row.bytes)
        .sum()
}

/// Copies `from` into `to` in chunks of about `chunk` bytes; returns how many chunks.
fn copy(from: &Shard, to: &mut Shard, chunk: usize) -> usize {
    to.clear().unwrap();
    let mut after: Option<CopyPosition> = None;
    let mut chunks = 0;
    loop {
        let part = from.export_chunk(after.as_ref(), chunk).unwrap();
        to.import_chunk(&part.entries).unwrap();
        chunks += 1;
        match part.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    to.finish_import().unwrap();
    chunks
}

#[test]
fn a_copied_shard_answers_as_its_source_and_keeps_taking_batches() {
    let (source_env, target_env) = (TestEnv::new(), TestEnv::new());
    let mut source = source_env.open();
    let capture = load("http-load.pcap", W);
    source.ingest(capture.batch("agent-1", 1, W)).unwrap();
    source.ingest(usage_batch(1, 100)).unwrap();
    source.ingest(usage_batch(2, 20)).unwrap();
    source.commit_index().unwrap();

    // The target held other data before: none of it may survive the copy.
    let mut target = target_env.open();
    let other = load("http-basic.pcap", "whisperer-b");
    target
        .ingest(other.batch("agent-9", 1, "whisperer-b"))
        .unwrap();
    target.commit_index().unwrap();

    let chunks = copy(&source, &mut target, 64 * 1024);
    assert!(chunks > 3, "several chunks: {chunks}");

    let mut expected = capture.http.clone();
    newest_first(&mut expected);
    assert_eq!(all_http(&target, None), expected);
    assert_eq!(all_http(&target, None), all_http(&source, None));
    for q in ["status:200", "method:GET", "path:*"] {
        assert_eq!(
            all_http(&target, Some(q)),
            all_http(&source, Some(q)),
            "{q}"
        );
    }
    assert!(!all_http(&target, Some("status:200")).is_empty());
    assert_eq!(usage_bytes(&target), 120);
    assert_eq!(target.last_seq(), source.last_seq());
    assert_eq!(
        target.last_batch("agent-9").unwrap(),
        None,
        "the old data is gone"
    );

    // Exactly-once state came along: a resent batch is a duplicate, the next one is taken.
    assert!(target.ingest(usage_batch(2, 20)).unwrap().duplicate);
    assert!(!target.ingest(usage_batch(3, 5)).unwrap().duplicate);
    assert_eq!(usage_bytes(&target), 125);

    // And the copy survives a restart as any shard does.
    drop(target);
    let target = target_env.open();
    assert_eq!(all_http(&target, None), expected);
    assert_eq!(usage_bytes(&target), 125);
}

#[test]
fn an_empty_shard_copies_in_one_chunk_and_a_bad_family_is_refused() {
    let (source_env, target_env) = (TestEnv::new(), TestEnv::new());
    let source = source_env.open();
    let mut target = target_env.open();
    assert_eq!(copy(&source, &mut target, 1024), 1);
    assert!(all_http(&target, None).is_empty());
    let bad = spider_storage::RawEntry {
        family: 200,
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    };
    assert!(target.import_chunk(&[bad]).is_err());
    let position = CopyPosition {
        family: 200,
        key: Vec::new(),
    };
    assert!(source.export_chunk(Some(&position), 10).is_err());
}

#[test]
fn the_frames_of_open_sessions_are_handed_out_in_order() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let capture = load("http-pipelining.pcap", W);
    let mut batch = capture.batch("agent-1", 1, W);
    // The last session closed: the others are left open (no closed record).
    let closed = batch.sessions.iter().max_by_key(|s| s.id).unwrap().id;
    batch.sessions.retain(|s| s.id == closed);
    shard.ingest(batch).unwrap();
    let frames = shard.open_session_frames(i64::MAX / 2).unwrap();
    let expected: Vec<_> = capture
        .packets
        .iter()
        .filter(|p| p.session_id != closed)
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(frames.len(), expected.len());
    assert!(frames.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(frames.iter().all(|p| p.session_id != closed));
    let empty = TestEnv::new();
    assert!(empty.open().open_session_frames(1).unwrap().is_empty());
}
