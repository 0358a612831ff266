//! Usage counters pushed as a Gocipher would come back grouped (and a retried batch counts once);
//! capture data past its Whisperer's retention is gone after a purge, whose event fires, and the
//! shards' folders shrink by most of what was purged.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{batches_of, config, on_local, push, testdata, TOKEN};
use spider_backend::client::{
    BackendClient, CapturePush, ListRequest, UsageGrouping, UsagePush, UsageRequest,
};
use spider_backend::BackendNode;
use spider_model::{UsageRecord, WorkloadRef};
use spider_rpc_schema::usage_shard;
use spider_storage::{dir_size, now_ns, ShardEvent};

const MINUTE: i64 = 60_000_000_000;
const HOUR: i64 = 60 * MINUTE;

fn record(minute: i64, src: &str, dst: &str, port: u16, bytes: u64, ns: &str) -> UsageRecord {
    UsageRecord {
        minute,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        proto: "tcp".into(),
        port,
        bytes,
        messages: 1,
        wire_bytes: bytes + 40,
        packets: 1,
        reporter: "gocipher-a".into(),
        receive_side: false,
        src_workload: Some(WorkloadRef {
            namespace: Some(ns.into()),
            kind: Some("Deployment".into()),
            workload: Some(format!("{ns}-app")),
            pod: Some(format!("{ns}-app-1")),
            node: Some("node-1".into()),
        }),
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    }
}

#[test]
fn usage_is_grouped_and_a_retried_batch_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(config(dir.path())).unwrap();
    let addr = node.local_addr();
    let minute = 1_790_000_000 * 1_000_000_000 / (2 * MINUTE) * (2 * MINUTE);
    let records = vec![
        record(minute, "10.0.0.1", "10.0.0.9", 80, 100, "shop"),
        record(minute, "10.0.0.1", "10.0.0.9", 443, 50, "shop"),
        record(minute, "10.0.0.2", "10.0.0.9", 80, 7, "billing"),
        record(minute + MINUTE, "10.0.0.1", "10.0.0.9", 80, 1000, "shop"),
    ];
    let (by_connection, by_ip, by_namespace, hourly) = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let mut by_shard: BTreeMap<u16, Vec<UsageRecord>> = BTreeMap::new();
        for record in records {
            by_shard
                .entry(usage_shard("gocipher-a", &record))
                .or_default()
                .push(record);
        }
        for _attempt in 0..2 {
            for (shard, records) in &by_shard {
                client
                    .push_usage(UsagePush {
                        agent: "gocipher-a",
                        incarnation: 1,
                        sequence: 1,
                        shard: *shard,
                        records,
                    })
                    .await
                    .unwrap();
            }
        }
        let acked = client.flush().await.unwrap();
        assert_eq!(acked.len(), by_shard.len(), "{acked:?}");
        let request = |grouping, bucket| UsageRequest {
            from: minute,
            to: minute + 2 * MINUTE,
            grouping,
            bucket,
            limit: 0,
            cursor: None,
        };
        let get = |grouping, bucket| {
            let client = &client;
            async move { client.usage(&request(grouping, bucket)).await.unwrap().0 }
        };
        (
            get(UsageGrouping::Connection, 0).await,
            get(UsageGrouping::Ip, 0).await,
            get(UsageGrouping::Namespace, 0).await,
            get(UsageGrouping::Ip, 2 * MINUTE).await,
        )
    });
    assert_eq!(by_connection.len(), 4, "{by_connection:#?}");
    let https = by_connection
        .iter()
        .find(|row| row.port == Some(443))
        .unwrap();
    assert_eq!((https.bytes, https.proto.as_deref()), (50, Some("tcp")));
    assert_eq!(
        https.src_workload.as_ref().unwrap().workload.as_deref(),
        Some("shop-app")
    );
    let first_minute: Vec<(String, u64)> = by_ip
        .iter()
        .filter(|row| row.bucket == minute)
        .map(|row| (row.src.clone(), row.bytes))
        .collect();
    assert_eq!(
        first_minute,
        vec![("10.0.0.1".into(), 150), ("10.0.0.2".into(), 7)],
        "ports summed, a retried batch counted once"
    );
    let namespaces: Vec<(i64, String, String, u64)> = by_namespace
        .iter()
        .map(|row| (row.bucket, row.src.clone(), row.dst.clone(), row.bytes))
        .collect();
    assert_eq!(
        namespaces,
        vec![
            (minute, "billing".into(), "10.0.0.9".into(), 7),
            (minute, "shop".into(), "10.0.0.9".into(), 150),
            (minute + MINUTE, "shop".into(), "10.0.0.9".into(), 1000),
        ]
    );
    let shop: u64 = hourly
        .iter()
        .filter(|row| row.src == "10.0.0.1")
        .map(|row| row.bytes)
        .sum();
    assert_eq!((hourly.len(), shop), (2, 1150), "two-minute buckets");
    node.stop();
}

#[test]
fn expired_capture_data_is_purged_and_its_space_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.retention.default = Duration::from_secs(10 * 365 * 24 * 3600);
    settings
        .retention
        .whisperers
        .insert("short".into(), Duration::from_secs(3600));
    let node = BackendNode::start(settings).unwrap();
    let addr = node.local_addr();
    let shards = dir.path().join("shards");
    let now = now_ns();
    let load = batches_of(&testdata("http-load.pcap"), "short", 64);
    let first = load[0].frames[0].time;
    let kept = batches_of(&testdata("http-basic.pcap"), "long", 64);
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &kept {
            push(&client, "long", batch).await;
        }
        client.flush().await.unwrap();
    });
    node.flush().unwrap();
    let before_old = dir_size(&shards);
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        // Twenty copies of the load, three to four hours old: past "short"'s hour.
        for copy in 0..20i64 {
            let shift = now - 4 * HOUR + copy * MINUTE - first;
            for batch in &load {
                let mut frames = batch.frames.clone();
                for frame in &mut frames {
                    frame.time += shift;
                    frame.session_id += (copy as u64) << 40;
                }
                let mut sessions = batch.sessions.clone();
                for session in &mut sessions {
                    session.first_packet += shift;
                    session.last_packet += shift;
                    session.id += (copy as u64) << 40;
                }
                client
                    .push_capture(CapturePush {
                        agent: "short",
                        incarnation: copy as u64 + 1,
                        sequence: batch.sequence,
                        shard: batch.shard,
                        whisperer: "short",
                        frames: &frames,
                        sessions: &sessions,
                        ..CapturePush::default()
                    })
                    .await
                    .unwrap();
            }
        }
        // A Whisperer that asks for an hour's retention itself (its batches carry it).
        let shift = now - 4 * HOUR - first;
        for batch in &load {
            let mut frames = batch.frames.clone();
            for frame in &mut frames {
                frame.time += shift;
            }
            let mut sessions = batch.sessions.clone();
            for session in &mut sessions {
                session.first_packet += shift;
                session.last_packet += shift;
            }
            client
                .push_capture(CapturePush {
                    agent: "own-ttl",
                    incarnation: 1,
                    sequence: batch.sequence,
                    shard: batch.shard,
                    whisperer: "own-ttl",
                    frames: &frames,
                    sessions: &sessions,
                    retention_ttl: HOUR,
                    ..CapturePush::default()
                })
                .await
                .unwrap();
        }
        client.flush().await.unwrap();
    });
    node.flush().unwrap();
    let with_old = dir_size(&shards);
    let old_bytes = with_old - before_old;
    assert!(old_bytes > 2_000_000, "old data takes room: {old_bytes}");

    let mut events = node.subscribe().unwrap();
    let reports = node.purge(now).unwrap();
    for (events, report) in events.iter_mut().zip(&reports) {
        let event = loop {
            match events.try_recv().unwrap() {
                ShardEvent::PurgeComplete(report) => break report,
                ShardEvent::Searchable { .. } => continue,
            }
        };
        assert_eq!(&event, report, "the purge-complete event reports the purge");
    }
    assert!(reports.iter().map(|r| r.sessions_deleted).sum::<u64>() > 0);

    let (short, long) = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let of = |whisperer: &str| ListRequest {
            from: i64::MIN,
            to: i64::MAX,
            whisperers: vec![whisperer.into()],
            ..ListRequest::default()
        };
        let short = client.http_all(of("short")).await.unwrap().len()
            + client.sessions_all(of("short")).await.unwrap().len()
            + client.packets(&of("short")).await.unwrap().items.len();
        let short = short + client.http_all(of("own-ttl")).await.unwrap().len();
        let long = client.http_all(of("long")).await.unwrap().len();
        (short, long)
    });
    assert_eq!(short, 0, "nothing of the expired whisperer is left");
    assert!(long > 0, "the other whisperer's data is kept");
    let after = dir_size(&shards);
    let freed = with_old.saturating_sub(after);
    eprintln!("purge: old data {old_bytes} bytes, shards {with_old} -> {after}, freed {freed}");
    assert!(
        freed * 10 >= old_bytes * 8,
        "freed {freed} of {old_bytes} purged bytes ({with_old} -> {after})"
    );
    node.stop();
}
