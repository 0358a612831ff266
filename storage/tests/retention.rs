//! Retention: data past its whisperer's TTL is deleted, disk space is freed, index partitions
//! are dropped; data within its TTL stays.

mod common;

use std::time::Duration;

use common::{load, TestEnv};
use spider_query::{parse, RecordKind};
use spider_storage::{now_ns, HttpQuery, PacketQuery, SessionQuery, Shard, ShardEvent, TimeRange};

const HOUR: i64 = 3_600_000_000_000;

fn http_count(shard: &Shard, whisperer: &str, query: Option<&str>) -> usize {
    let mut request = HttpQuery::new(TimeRange::ALL, 10_000);
    request.whisperers = vec![whisperer.into()];
    request.query = query.map(|q| parse(q, RecordKind::Http).expect("parses"));
    shard.query_http(&request).expect("query").items.len()
}

#[test]
fn purge_deletes_expired_data_and_frees_the_space() {
    let env = TestEnv::new();
    let mut shard = env.open_with(|config| {
        config
            .whisperer_ttl
            .insert("short".into(), Duration::from_secs(3600));
        config.default_ttl = Duration::from_secs(7 * 24 * 3600);
    });
    let mut events = shard.subscribe();
    let capture = load("http-load.pcap", "short");
    let now = now_ns();
    let first = capture.packets.first().map_or(0, |p| p.time);
    // Kept: recent data of a long-lived whisperer.
    let recent = load("http-basic.pcap", "long");
    let recent_first = recent.packets.first().map_or(0, |p| p.time);
    let recent = recent.shifted(now - HOUR / 2 - recent_first, 0);
    shard
        .ingest(recent.batch("agent", 1, "long"))
        .expect("ingest recent");
    shard.flush().expect("flush");
    let before_old = shard.disk_bytes();
    // Expired: 20 copies of a capture, 3 to 4 hours old, of the short-lived whisperer.
    for copy in 0..20u64 {
        let delta = now - 4 * HOUR + copy as i64 * 60_000_000_000 - first;
        let old = capture.shifted(delta, copy << 40);
        shard
            .ingest(old.batch("agent", 2 + copy, "short"))
            .expect("ingest old");
    }
    shard.flush().expect("flush");
    let with_old = shard.disk_bytes();
    let old_bytes = with_old - before_old;
    assert!(old_bytes > 2_000_000, "old data takes room: {old_bytes}");
    assert_eq!(http_count(&shard, "short", None), 20 * capture.http.len());
    assert_eq!(
        http_count(&shard, "short", Some("method:*")),
        20 * capture.http.len()
    );

    let report = shard.purge(now).expect("purge");
    let event = loop {
        match events.try_recv().expect("an event") {
            ShardEvent::PurgeComplete(report) => break report,
            ShardEvent::Searchable { .. } => continue,
        }
    };
    assert_eq!(event, report);
    assert!(report.partitions_dropped >= 1);
    assert!(report.sessions_deleted >= 20 * capture.sessions.len() as u64);

    assert_eq!(http_count(&shard, "short", None), 0);
    assert_eq!(http_count(&shard, "short", Some("method:*")), 0);
    let sessions = shard
        .query_sessions(&SessionQuery {
            range: TimeRange::ALL,
            whisperers: vec!["short".into()],
            query: None,
            limit: 100,
            cursor: None,
        })
        .expect("sessions");
    assert!(sessions.items.is_empty());
    assert!(shard
        .session("short", capture.sessions[0].id)
        .expect("get")
        .is_none());
    let packets = shard
        .query_packets(&PacketQuery::Range {
            range: TimeRange::ALL,
            whisperers: vec!["short".into()],
            limit: 100,
            cursor: None,
        })
        .expect("packets");
    assert!(packets.items.is_empty());
    // The recent data is still there.
    assert_eq!(http_count(&shard, "long", None), recent.http.len());
    assert_eq!(
        http_count(&shard, "long", Some("method:*")),
        recent.http.len()
    );

    let after = shard.disk_bytes();
    assert_eq!(after, report.bytes_after);
    let freed = with_old.saturating_sub(after);
    eprintln!("purge: old data {old_bytes} bytes, folder {with_old} -> {after}, freed {freed}");
    assert!(
        freed * 10 >= old_bytes * 8,
        "freed {freed} of {old_bytes} purged bytes ({with_old} → {after})"
    );
}
