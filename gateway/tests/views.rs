//! The cluster views over REST: usage pushed as a Gocipher would push it, the network map of an
//! imported capture, the agents list; each equal to what the backend's client returns.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::Env;
use serde_json::Value;
use spider_backend::client::{ListRequest, UsageGrouping, UsagePush, UsageRequest};
use spider_model::{UsageRecord, WorkloadRef};
use spider_rpc_schema::usage_shard;

const MINUTE: i64 = 60_000_000_000;

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
        dst_workload: Some(WorkloadRef {
            kind: Some("external".into()),
            ..WorkloadRef::default()
        }),
        pid: None,
        command: None,
        container: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_rows_are_the_backends() {
    let env = Env::start();
    let minute = 1_790_000_000 * 1_000_000_000 / MINUTE * MINUTE;
    let records = vec![
        record(minute, "10.0.0.1", "1.1.1.1", 443, 100, "shop"),
        record(minute, "10.0.0.2", "1.1.1.1", 443, 7, "billing"),
        record(minute + MINUTE, "10.0.0.1", "1.1.1.1", 443, 1000, "shop"),
    ];
    let mut by_shard: BTreeMap<u16, Vec<UsageRecord>> = BTreeMap::new();
    for record in records {
        by_shard
            .entry(usage_shard("gocipher-a", &record))
            .or_default()
            .push(record);
    }
    let request = UsageRequest {
        from: minute,
        to: minute + 2 * MINUTE,
        grouping: UsageGrouping::Connection,
        bucket: MINUTE,
        limit: 1000,
        cursor: None,
    };
    let backend = env
        .state
        .bridge
        .call(move |client| async move {
            for (sequence, (shard, records)) in (1..).zip(&by_shard) {
                client
                    .push_usage(UsagePush {
                        agent: "gocipher-a",
                        incarnation: 1,
                        sequence,
                        shard: *shard,
                        records,
                    })
                    .await?;
            }
            client.flush().await?;
            client.usage(&request).await
        })
        .await
        .unwrap()
        .0;
    assert_eq!(backend.len(), 3);
    let path = format!(
        "/api/v1/usage?from={}&to={}",
        minute / 1_000_000,
        (minute + 2 * MINUTE) / 1_000_000
    );
    let (status, body) = env.get_json(&path).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), backend.len());
    for (rest, row) in items.iter().zip(&backend) {
        assert_eq!(rest["minute"], row.bucket);
        assert_eq!(rest["src"], row.src.as_str());
        assert_eq!(rest["dst"], row.dst.as_str());
        assert_eq!(rest["bytes"], row.bytes);
        assert_eq!(rest["port"], 443);
        assert_eq!(
            rest["src_workload"]["namespace"],
            row.src_workload
                .as_ref()
                .unwrap()
                .namespace
                .as_deref()
                .unwrap()
        );
        assert_eq!(rest["dst_workload"]["kind"], "external");
    }
    let (_, grouped) = env.get_json(&format!("{path}&group=namespace")).await;
    assert!(!grouped["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_map_and_agents_are_the_backends() {
    let env = Env::start();
    env.import("http-basic.pcap").await;
    let request = ListRequest {
        from: 0,
        to: i64::MAX,
        ..ListRequest::default()
    };
    let (map, agents) = env
        .state
        .bridge
        .call(move |client| async move {
            Ok((client.network_map(&request).await?, client.agents().await?))
        })
        .await
        .unwrap();
    let (status, body) = env.get_json("/api/v1/network-map").await;
    assert_eq!(status, 200, "{body}");
    let nodes = body["nodes"].as_array().unwrap();
    let edges = body["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), map.nodes.len());
    assert_eq!(edges.len(), map.edges.len());
    assert!(!edges.is_empty());
    for (rest, edge) in edges.iter().zip(&map.edges) {
        assert_eq!(rest["client"], edge.client.to_string());
        assert_eq!(rest["server"], edge.server.to_string());
        assert_eq!(rest["requests"], edge.requests);
        assert_eq!(rest["server_errors"], edge.server_errors);
    }
    let requests: u64 = edges.iter().map(|e| e["requests"].as_u64().unwrap()).sum();
    let (_, all) = env.get_json("/api/v1/http?limit=1000").await;
    assert_eq!(
        requests as usize,
        all["items"].as_array().unwrap().len(),
        "every exchange on an edge"
    );
    let (status, body) = env.get_json("/api/v1/agents").await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), agents.len());
    let (status, body) = env.get_json("/api/v1/whisperers/nobody/config").await;
    assert_eq!(status, 405, "GET on a PUT endpoint: {body}");
    let response = warp::test::request()
        .method("PUT")
        .path("/api/v1/whisperers/nobody/config")
        .header("authorization", format!("Bearer {}", common::TOKEN))
        .json(&serde_json::json!({"kind": "whisperer", "capture": true}))
        .reply(&env.filter())
        .await;
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(response.status(), 404, "an unknown agent: {body}");
    let response = warp::test::request()
        .method("PUT")
        .path("/api/v1/whisperers/nobody/config")
        .header("authorization", format!("Bearer {}", common::TOKEN))
        .json(&serde_json::json!({"kind": "spaceship"}))
        .reply(&env.filter())
        .await;
    assert_eq!(response.status(), 400);
}
