//! Hosts and usage rows are kept per agent (a host per Whisperer that saw it, a usage row per
//! agent that reported it), so that a team's query reads its agents' only; entries of the
//! layout before teams, in a shard opened again by this code, are read by queries over every
//! agent only.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use spider_model::{HostRecord, HostSource, UsageRecord, WorkloadRef};

use super::handle_ingest::usage_key;
use super::Shard;
use crate::codec::encode;
use crate::config::ShardConfig;
use crate::db::{cf, CF_HOSTS, CF_USAGE};
use crate::keys::{ip16, name_hash, USAGE_KEY_LEN_UNATTRIBUTED};
use crate::merge::{HostValue, UsageValue};
use crate::types::{HostQuery, IngestBatch, TimeRange, UsageLevel, UsageRequest};

const T0: i64 = 1_700_000_000_000_000_000;
const MINUTE: i64 = 60_000_000_000;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn host(address: &str, name: &str, first_seen: i64, last_seen: i64) -> HostRecord {
    HostRecord {
        ip: ip(address),
        name: name.into(),
        source: HostSource::Http,
        first_seen,
        last_seen,
    }
}

fn usage(bytes: u64) -> UsageRecord {
    UsageRecord {
        minute: T0,
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.2"),
        proto: "tcp".into(),
        port: 443,
        bytes,
        messages: 1,
        wire_bytes: bytes,
        packets: 1,
        reporter: String::new(),
        receive_side: false,
        src_workload: Some(WorkloadRef {
            namespace: Some("shop".into()),
            workload: Some("web".into()),
            pod: Some("web-1".into()),
            node: Some("node-1".into()),
            kind: Some("Deployment".into()),
        }),
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    }
}

fn open(dir: &std::path::Path) -> Shard {
    let mut config = ShardConfig::new(dir.join("shard"));
    config.block_cache_bytes = 8 << 20;
    Shard::open(config).unwrap()
}

/// Writes one host and one usage row as the code before teams did (no agent in the keys).
fn write_old_layout(shard: &Shard) {
    let mut key = ip16(ip("10.0.0.3")).to_vec();
    key.push(2);
    key.extend_from_slice(b"old.example");
    let value = HostValue {
        first_seen: T0,
        last_seen: T0,
        ttl_ns: i64::MAX / 4,
    };
    let hosts = cf(&shard.db, CF_HOSTS).unwrap();
    shard
        .db
        .put_cf(hosts, key, encode("host", &value).unwrap())
        .unwrap();
    let record = usage(1000);
    let key = usage_key(&record, 0);
    let value = UsageValue {
        bytes: record.bytes,
        messages: record.messages,
        wire_bytes: record.wire_bytes,
        packets: record.packets,
        proto: record.proto.clone(),
        src_workload: record.src_workload.clone(),
        ..UsageValue::default()
    };
    let rows = cf(&shard.db, CF_USAGE).unwrap();
    shard
        .db
        .put_cf(
            rows,
            &key[..USAGE_KEY_LEN_UNATTRIBUTED],
            encode("usage", &value).unwrap(),
        )
        .unwrap();
}

fn hosts_of(shard: &Shard, whisperers: &[&str], limit: usize) -> Vec<(String, i64, i64)> {
    shard
        .query_hosts(&HostQuery {
            range: TimeRange::ALL,
            query: None,
            limit,
            whisperers: whisperers.iter().map(|w| (*w).to_owned()).collect(),
        })
        .unwrap()
        .into_iter()
        .map(|host| (host.name, host.first_seen, host.last_seen))
        .collect()
}

#[test]
fn hosts_are_read_per_whisperer_and_old_entries_by_every_whisperer_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut shard = open(dir.path());
    let mut a = IngestBatch::new("w-a#1#0", 1, "w-a");
    a.hosts = vec![host("10.0.0.9", "api.example", T0, T0 + 10)];
    shard.ingest(a).unwrap();
    let mut b = IngestBatch::new("w-b#1#0", 1, "w-b");
    b.hosts = vec![
        host("10.0.0.9", "api.example", T0 + 5, T0 + 20),
        host("10.0.0.8", "b.example", T0, T0),
    ];
    shard.ingest(b).unwrap();
    write_old_layout(&shard);
    drop(shard);
    let shard = open(dir.path());

    assert_eq!(
        hosts_of(&shard, &["w-a"], 100),
        [("api.example".to_owned(), T0, T0 + 10)],
        "a Whisperer's own sightings only"
    );
    assert_eq!(
        hosts_of(&shard, &["w-b"], 100),
        [
            ("b.example".to_owned(), T0, T0),
            ("api.example".to_owned(), T0 + 5, T0 + 20)
        ]
    );
    assert_eq!(
        hosts_of(&shard, &[], 100),
        [
            ("old.example".to_owned(), T0, T0),
            ("b.example".to_owned(), T0, T0),
            ("api.example".to_owned(), T0, T0 + 20)
        ],
        "every Whisperer: the entries before teams too, a host seen twice is one item"
    );
    assert!(hosts_of(&shard, &["w-c"], 100).is_empty());
    assert_eq!(
        hosts_of(&shard, &["w-a", "w-b"], 2),
        [
            ("b.example".to_owned(), T0, T0),
            ("api.example".to_owned(), T0, T0 + 20)
        ],
        "the limit counts hosts, not entries"
    );

    let names = shard
        .names_of([ip("10.0.0.9"), ip("10.0.0.3")], &[])
        .unwrap();
    assert_eq!(names.len(), 2);
    let names = shard
        .names_of([ip("10.0.0.9"), ip("10.0.0.3")], &["w-c".to_owned()])
        .unwrap();
    assert!(names.is_empty(), "another Whisperer's names stay out");
}

fn bytes_of(shard: &Shard, agents: &[&str], level: UsageLevel) -> u64 {
    shard
        .usage(&UsageRequest {
            range: TimeRange::new(T0, T0 + MINUTE),
            level,
            agents: agents.iter().map(|a| (*a).to_owned()).collect(),
        })
        .unwrap()
        .iter()
        .map(|row| row.bytes)
        .sum()
}

#[test]
fn usage_rows_are_read_per_agent_and_old_rows_by_every_agent_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut shard = open(dir.path());
    // The same counters from two agents stay two rows (the agent is in the key).
    for (agent, bytes) in [("g-a", 100), ("g-b", 20)] {
        let mut batch = IngestBatch::new(format!("usage:{agent}#1#0"), 1, agent);
        batch.usage = vec![usage(bytes)];
        shard.ingest(batch).unwrap();
    }
    write_old_layout(&shard);
    drop(shard);
    let shard = open(dir.path());
    for level in [
        UsageLevel::IpPair,
        UsageLevel::Namespace,
        UsageLevel::Workload,
        UsageLevel::Pod,
        UsageLevel::Node,
    ] {
        assert_eq!(bytes_of(&shard, &["g-a"], level), 100, "{level:?}");
        assert_eq!(bytes_of(&shard, &["g-b"], level), 20, "{level:?}");
        assert_eq!(bytes_of(&shard, &["g-a", "g-b"], level), 120, "{level:?}");
        assert_eq!(bytes_of(&shard, &["g-c"], level), 0, "{level:?}");
        assert_eq!(
            bytes_of(&shard, &[], level),
            1120,
            "{level:?}: old rows too"
        );
    }
    assert_ne!(name_hash("g-a"), name_hash("g-b"));
}
