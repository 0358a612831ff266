//! Hosts and usage rows are separated by team on a real node over real TCP: two teams'
//! Whisperers push captures that carry hosts, their Gociphers push usage; a viewer (and an API
//! token) of one team reads its own team's hosts and usage rows only, in every grouping; an
//! admin reads both; a user of a team without agents reads nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{batches_of, on_local, start_node, testdata, try_push, viewer, TOKEN};
use spider_backend::client::{
    BackendClient, CapturePush, ListRequest, UsageGrouping, UsagePush, UsageRequest,
};
use spider_model::{HostRecord, HostSource, UsageRecord, WorkloadRef};

const MINUTE: i64 = 60_000_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

/// A host only `team`'s Whisperer saw.
fn team_host(team: &str, last_octet: u8) -> HostRecord {
    HostRecord {
        ip: std::net::IpAddr::from([10, 77, 0, last_octet]),
        name: format!("{team}.example"),
        source: HostSource::Dns,
        first_seen: T0,
        last_seen: T0,
    }
}

/// One minute of usage from a pod of `team`'s namespace to `dst`.
fn team_usage(team: &str, src: [u8; 4], dst: [u8; 4], bytes: u64) -> UsageRecord {
    UsageRecord {
        minute: T0,
        src: src.into(),
        dst: dst.into(),
        proto: "tcp".into(),
        port: 443,
        bytes,
        messages: 1,
        wire_bytes: bytes,
        packets: 1,
        reporter: format!("{team}-g"),
        receive_side: false,
        src_workload: Some(WorkloadRef {
            namespace: Some(format!("{team}-ns")),
            kind: Some("Deployment".into()),
            workload: Some(format!("{team}-web")),
            pod: Some(format!("{team}-web-1")),
            node: Some(format!("{team}-node")),
        }),
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    }
}

/// Pushes a capture of `http-basic.pcap` (its HTTP hosts) and one batch of the team's own host
/// as the Whisperer `{team}-w`, and the team's usage as the Gocipher `{team}-g`.
async fn push_team(addr: std::net::SocketAddr, team: &str, whisperer: &str, gocipher: &str) {
    let name = format!("{team}-w");
    let agent = BackendClient::connect(addr, whisperer).await.unwrap();
    for batch in batches_of(&testdata("http-basic.pcap"), &name, 64) {
        try_push(&agent, &name, &batch).await.unwrap();
    }
    let hosts = [team_host(team, if team == "red" { 1 } else { 2 })];
    agent
        .push_capture(CapturePush {
            agent: &name,
            incarnation: 1,
            sequence: 1_000_000,
            shard: 0,
            whisperer: &name,
            hosts: &hosts,
            ..CapturePush::default()
        })
        .await
        .unwrap();
    agent.flush().await.unwrap();

    let name = format!("{team}-g");
    let agent = BackendClient::connect(addr, gocipher).await.unwrap();
    let octet = if team == "red" { 1 } else { 2 };
    let records = [
        team_usage(
            team,
            [10, octet, 0, 1],
            [10, octet, 0, 2],
            100 * u64::from(octet),
        ),
        // The same connection reported by both teams' Gociphers: two rows, one per team.
        team_usage(team, [10, 9, 0, 1], [10, 9, 0, 2], 7 * u64::from(octet)),
    ];
    for (sequence, record) in (1..).zip(&records) {
        let one = std::slice::from_ref(record);
        agent
            .push_usage(UsagePush {
                agent: &name,
                incarnation: 1,
                sequence,
                shard: spider_rpc_schema::usage_shard(&name, record),
                records: one,
            })
            .await
            .unwrap();
    }
    agent.flush().await.unwrap();
}

fn host_names(hosts: &[HostRecord]) -> BTreeSet<String> {
    hosts.iter().map(|host| host.name.clone()).collect()
}

const GROUPINGS: [UsageGrouping; 6] = [
    UsageGrouping::Connection,
    UsageGrouping::Ip,
    UsageGrouping::Workload,
    UsageGrouping::Namespace,
    UsageGrouping::Pod,
    UsageGrouping::Node,
];

/// Every usage row `client` reads in `grouping`: (src label, dst label, bytes).
async fn usage_of(
    client: &BackendClient,
    grouping: UsageGrouping,
) -> BTreeSet<(String, String, u64)> {
    let request = UsageRequest {
        from: T0 - MINUTE,
        to: T0 + MINUTE,
        grouping,
        bucket: 0,
        limit: 1000,
        cursor: None,
    };
    let (rows, next) = client.usage(&request).await.unwrap();
    assert!(next.is_none());
    rows.into_iter()
        .map(|row| (row.src, row.dst, row.bytes))
        .collect()
}

#[test]
fn hosts_and_usage_rows_are_separated_by_team() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let identities = admin.identities().await.unwrap();
        for team in ["red", "blue", "green"] {
            identities.create_team(team).await.unwrap();
        }
        for team in ["red", "blue"] {
            let (_, whisperer) = identities
                .create_agent(&format!("{team}-w"), team, "whisperer")
                .await
                .unwrap();
            let (_, gocipher) = identities
                .create_agent(&format!("{team}-g"), team, "gocipher")
                .await
                .unwrap();
            push_team(addr, team, &whisperer, &gocipher).await;
        }
        let rita = viewer(&admin, addr, "rita", &["red"]).await;
        let gil = viewer(&admin, addr, "gil", &["green"]).await;
        let (_, red_token) = identities
            .create_api_token("red-reader", &["query"], Some("red"))
            .await
            .unwrap();
        let red_token = BackendClient::connect(addr, &red_token).await.unwrap();

        // Hosts: the capture's names (both teams' Whisperers saw them) and each team's own.
        let everything = host_names(&admin.hosts(&common::everything()).await.unwrap());
        assert!(everything.contains("red.example") && everything.contains("blue.example"));
        let shared: BTreeSet<String> = everything
            .iter()
            .filter(|name| !name.ends_with(".example"))
            .cloned()
            .collect();
        assert!(!shared.is_empty(), "the capture carries hosts");
        for red in [&rita, &red_token] {
            let mut expected = shared.clone();
            expected.insert("red.example".into());
            assert_eq!(
                host_names(&red.hosts(&common::everything()).await.unwrap()),
                expected
            );
            let asked_other = red
                .hosts(&ListRequest {
                    whisperers: vec!["blue-w".into()],
                    ..common::everything()
                })
                .await
                .unwrap();
            assert!(asked_other.is_empty(), "another team's Whisperer: nothing");
        }
        assert!(gil.hosts(&common::everything()).await.unwrap().is_empty());

        // Usage: every grouping holds the red rows only for red, both for the admin.
        for grouping in GROUPINGS {
            let mine = usage_of(&rita, grouping).await;
            assert_eq!(mine, usage_of(&red_token, grouping).await, "{grouping:?}");
            let bytes: u64 = mine.iter().map(|row| row.2).sum();
            assert_eq!(bytes, 100 + 7, "{grouping:?}: {mine:?}");
            assert!(
                mine.iter()
                    .all(|(src, dst, _)| !src.contains("blue") && !dst.contains("10.2.")),
                "{grouping:?}: {mine:?}"
            );
            let every = usage_of(&admin, grouping).await;
            let bytes: u64 = every.iter().map(|row| row.2).sum();
            assert_eq!(bytes, 100 + 7 + 200 + 14, "{grouping:?}: {every:?}");
            assert!(
                every
                    .iter()
                    .any(|(src, dst, _)| src.contains("blue") || dst.contains("10.2.")),
                "{grouping:?}: {every:?}"
            );
            assert!(usage_of(&gil, grouping).await.is_empty(), "{grouping:?}");
        }
        let by_namespace = usage_of(&rita, UsageGrouping::Namespace).await;
        assert!(
            by_namespace.iter().all(|(src, _, _)| src == "red-ns"),
            "{by_namespace:?}"
        );
    });
}
