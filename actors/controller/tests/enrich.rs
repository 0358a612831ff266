//! Usage records between pod IPs, pushed to the Controller's listener as a Gocipher sends them,
//! come out of the Controller with the namespace, workload and node of both ends, stored by a
//! real backend node and read back grouped by workload.
#![allow(clippy::unwrap_used)]

mod common;

use common::linked::{with_client, Linked};
use common::{minute, usage_record};
use spider_backend::client::{UsageGrouping, UsagePush, UsageRequest};
use spider_model::{UsageRecord, WorkloadRef};
use spider_rpc_schema::usage_shard;

fn workload(ns: &str, kind: &str, name: &str, pod: &str, node: &str) -> Option<WorkloadRef> {
    Some(WorkloadRef {
        namespace: Some(ns.into()),
        kind: Some(kind.into()),
        workload: Some(name.into()),
        pod: Some(pod.into()),
        node: Some(node.into()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_between_pods_is_enriched_and_stored_by_workload() {
    let linked = Linked::start().await;
    let at = minute(15);
    let records = vec![
        // web (node-a) → db-0 (node-b), web (node-b) → db-1 (node-c), report → web service.
        usage_record(at, "10.244.0.10", "10.244.1.20", 5432, 1000),
        usage_record(at, "10.244.1.10", "10.244.2.20", 5432, 500),
        usage_record(at, "10.244.2.30", "10.96.100.10", 80, 70),
        usage_record(at, "10.244.2.40", "1.1.1.1", 443, 9),
    ];
    with_client(linked.controller, move |client| async move {
        // Batches per usage shard, numbered per shard, as the Gocipher's sender makes them.
        let mut shards: std::collections::BTreeMap<u16, Vec<UsageRecord>> = Default::default();
        for record in records {
            shards
                .entry(usage_shard("gocipher-node-a", &record))
                .or_default()
                .push(record);
        }
        for (shard, records) in &shards {
            client
                .push_usage(UsagePush {
                    agent: "gocipher-node-a",
                    incarnation: 1,
                    sequence: 1,
                    shard: *shard,
                    records,
                })
                .await
                .expect("push");
        }
        let acks = client.flush().await.expect("flush");
        assert_eq!(acks.len(), shards.len(), "{acks:?}");
    })
    .await;
    let request = move |grouping| UsageRequest {
        from: at,
        to: at + 60_000_000_000,
        grouping,
        bucket: 0,
        limit: 0,
        cursor: None,
    };
    let (rows, workloads) = with_client(linked.backend, move |client| async move {
        let rows = client
            .usage(&request(UsageGrouping::Connection))
            .await
            .expect("usage")
            .0;
        let workloads = client
            .usage(&request(UsageGrouping::Workload))
            .await
            .expect("usage")
            .0;
        (rows, workloads)
    })
    .await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let row = |src: &str| {
        rows.iter()
            .find(|r| r.src == src)
            .unwrap_or_else(|| panic!("no row from {src}: {rows:#?}"))
    };
    let first = row("10.244.0.10");
    assert_eq!(
        first.src_workload,
        workload("shop", "Deployment", "web", "web-6b7f9c7d5-k2x8p", "node-a")
    );
    assert_eq!(
        first.dst_workload,
        workload("shop", "StatefulSet", "db", "db-0", "node-b")
    );
    assert_eq!(first.bytes, 1000);
    let second = row("10.244.1.10");
    assert_eq!(
        second.src_workload,
        workload("shop", "Deployment", "web", "web-6b7f9c7d5-q9z4m", "node-b")
    );
    assert_eq!(
        second.dst_workload,
        workload("shop", "StatefulSet", "db", "db-1", "node-c")
    );
    let third = row("10.244.2.30");
    assert_eq!(
        third.src_workload,
        workload(
            "batch",
            "CronJob",
            "report",
            "report-29091600-7xk2p",
            "node-c"
        )
    );
    assert_eq!(
        third
            .dst_workload
            .as_ref()
            .and_then(|w| w.workload.as_deref()),
        Some("web")
    );
    let fourth = row("10.244.2.40");
    assert_eq!(
        fourth.dst_workload.as_ref().and_then(|w| w.kind.as_deref()),
        Some("external")
    );
    // Grouped by workload: web → db carries both pods' bytes.
    let web_db: u64 = workloads
        .iter()
        .filter(|r| r.src.contains("web") && r.dst.contains("db"))
        .map(|r| r.bytes)
        .sum();
    assert_eq!(web_db, 1500, "{workloads:#?}");
}
