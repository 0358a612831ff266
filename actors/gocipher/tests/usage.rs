//! Acceptance: known traffic between two test namespaces, counted by a Gocipher attached to the
//! test cgroup, pushed into a real backend node and read back with the usage query. Payload
//! bytes and message counts must match what the traffic processes made, exactly, per direction,
//! with the sending process; a flow across bucket boundaries is split, its sum exact.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use common::{kernel_ready, on_local, start_backend, TestNet, TOKEN};
use spider_backend::client::{BackendClient, UsageGrouping, UsageRequest, UsageRow};
use spider_gocipher::{Gocipher, GocipherConfig, Upstream};
use spider_model::UsageRecord;

fn gocipher(
    net: &TestNet,
    backend: std::net::SocketAddr,
    bucket: Duration,
) -> spider_gocipher::GocipherHandle {
    let mut config = GocipherConfig::new(
        format!("gocipher-{}", net.a),
        Upstream::Backend(backend),
        TOKEN,
    );
    config.bucket = bucket;
    config.cgroup = Some(net.cgroup.clone());
    Gocipher::start(config).unwrap()
}

/// Usage rows (one per direction, minute, protocol and port) involving `ips`.
fn usage(backend: std::net::SocketAddr, ips: &[&str]) -> Vec<UsageRow> {
    let now = spider_storage::now_ns();
    usage_in(
        backend,
        ips,
        now - 3_600_000_000_000,
        now + 3_600_000_000_000,
    )
}

/// The same, of the records whose bucket starts in `[from, to)`.
fn usage_in(backend: std::net::SocketAddr, ips: &[&str], from: i64, to: i64) -> Vec<UsageRow> {
    let ips: Vec<String> = ips.iter().map(|s| (*s).to_owned()).collect();
    on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.unwrap();
        let request = UsageRequest {
            from,
            to,
            grouping: UsageGrouping::Connection,
            bucket: 0,
            limit: 0,
            cursor: None,
        };
        let (rows, _) = client.usage(&request).await.unwrap();
        rows.into_iter()
            .filter(|r| ips.contains(&r.src) && ips.contains(&r.dst))
            .collect()
    })
}

/// Sums the rows of one direction over buckets: (bytes, messages, wire bytes, packets, ports).
fn direction(
    rows: &[UsageRow],
    src: &str,
    dst: &str,
    proto: &str,
) -> (u64, u64, u64, u64, Vec<u16>) {
    let mut out = (0, 0, 0, 0, Vec::new());
    for r in rows
        .iter()
        .filter(|r| r.src == src && r.dst == dst && r.proto.as_deref() == Some(proto))
    {
        out.0 += r.bytes;
        out.1 += r.messages;
        out.2 += r.wire_bytes;
        out.3 += r.packets;
        if let Some(port) = r.port {
            if !out.4.contains(&port) {
                out.4.push(port);
            }
        }
    }
    out
}

/// The (pid, command) that the records give for one direction.
fn senders(records: &[UsageRecord], src: &str, dst: &str) -> Vec<(Option<u32>, Option<String>)> {
    let (src, dst): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    let mut out: Vec<_> = records
        .iter()
        .filter(|r| r.src == src && r.dst == dst && r.bytes > 0)
        .map(|r| (r.pid, r.command.clone()))
        .collect();
    out.dedup();
    out
}

fn n(value: &serde_json::Value, field: &str) -> u64 {
    value[field].as_u64().unwrap()
}

fn tcp_both_directions(v6: bool) {
    let mut net = TestNet::new();
    let dir = tempfile::tempdir().unwrap();
    let node = start_backend(dir.path());
    let handle = gocipher(&net, node.local_addr(), Duration::from_secs(60));
    let (client_ip, server_ip) = if v6 {
        (net.a6.clone(), net.b6.clone())
    } else {
        (net.a4.clone(), net.b4.clone())
    };
    let (b, a) = (net.b.clone(), net.a.clone());
    let server = net.spawn(&b, &["tcp-server", &server_ip, "8080", "300000", "7000"]);
    let client = net.spawn(&a, &["tcp-client", &server_ip, "8080", "1000000", "10000"]);
    let (client_pid, client_out) = net.wait(client);
    let (server_pid, server_out) = net.wait(server);
    assert_eq!(n(&server_out, "received"), 1_000_000);
    assert_eq!(n(&client_out, "received"), 300_000);
    let records = handle.stop().unwrap();
    let rows = usage(node.local_addr(), &[&client_ip, &server_ip]);
    let up = direction(&rows, &client_ip, &server_ip, "tcp");
    assert_eq!(
        (up.0, up.1, up.4.clone()),
        (1_000_000, n(&client_out, "calls"), vec![8080]),
        "{rows:#?}"
    );
    assert!(up.2 > up.0 && up.3 > 0, "wire bytes and packets: {up:?}");
    let down = direction(&rows, &server_ip, &client_ip, "tcp");
    assert_eq!(
        (down.0, down.1, down.4.clone()),
        (300_000, n(&server_out, "calls"), vec![8080]),
        "{rows:#?}"
    );
    assert!(
        down.2 > down.0 && down.3 > 0,
        "wire bytes and packets: {down:?}"
    );
    assert_eq!(
        senders(&records, &client_ip, &server_ip),
        vec![(Some(client_pid), Some("python3".into()))]
    );
    assert_eq!(
        senders(&records, &server_ip, &client_ip),
        vec![(Some(server_pid), Some("python3".into()))]
    );
    assert!(
        records.iter().all(|r| !r.receive_side),
        "both ends are counted at their send side"
    );
    node.stop();
}

fn udp_both_directions(v6: bool, mode: &str) {
    let mut net = TestNet::new();
    let dir = tempfile::tempdir().unwrap();
    let node = start_backend(dir.path());
    let handle = gocipher(&net, node.local_addr(), Duration::from_secs(60));
    let (client_ip, server_ip) = if v6 {
        (net.a6.clone(), net.b6.clone())
    } else {
        (net.a4.clone(), net.b4.clone())
    };
    let (b, a) = (net.b.clone(), net.a.clone());
    let (count, size, reply) = (40u64, 700u64, 90u64);
    let server = net.spawn(
        &b,
        &[
            "udp-server",
            &server_ip,
            "5353",
            &count.to_string(),
            &reply.to_string(),
        ],
    );
    let client = net.spawn(
        &a,
        &[
            "udp-client",
            &server_ip,
            "5353",
            &count.to_string(),
            &size.to_string(),
            mode,
            "0",
        ],
    );
    let (client_pid, client_out) = net.wait(client);
    let (server_pid, server_out) = net.wait(server);
    assert_eq!(n(&server_out, "received"), count * size);
    let records = handle.stop().unwrap();
    let rows = usage(node.local_addr(), &[&client_ip, &server_ip]);
    let up = direction(&rows, &client_ip, &server_ip, "udp");
    assert_eq!(
        (up.0, up.1, up.3, up.4.clone()),
        (count * size, count, count, vec![5353]),
        "{rows:#?}"
    );
    let header = if v6 { 48 } else { 28 };
    assert_eq!(
        up.2,
        count * (size + header),
        "wire bytes: IP + UDP headers per datagram"
    );
    let down = direction(&rows, &server_ip, &client_ip, "udp");
    assert_eq!(
        (down.0, down.1, down.3, down.4.clone()),
        (count * reply, n(&server_out, "calls"), count, vec![5353]),
        "{rows:#?}"
    );
    assert_eq!(
        senders(&records, &client_ip, &server_ip),
        vec![(Some(client_pid), Some("python3".into()))]
    );
    assert_eq!(
        senders(&records, &server_ip, &client_ip),
        vec![(Some(server_pid), Some("python3".into()))]
    );
    assert_eq!(n(&client_out, "calls"), count);
    node.stop();
}

#[test]
fn tcp_ipv4_both_directions_exact() {
    if kernel_ready("tcp_ipv4_both_directions_exact") {
        tcp_both_directions(false);
    }
}

#[test]
fn tcp_ipv6_both_directions_exact() {
    if kernel_ready("tcp_ipv6_both_directions_exact") {
        tcp_both_directions(true);
    }
}

#[test]
fn udp_ipv4_unconnected_exact() {
    if kernel_ready("udp_ipv4_unconnected_exact") {
        udp_both_directions(false, "unconnected");
    }
}

#[test]
fn udp_ipv4_connected_exact() {
    if kernel_ready("udp_ipv4_connected_exact") {
        udp_both_directions(false, "connected");
    }
}

#[test]
fn udp_ipv6_unconnected_exact() {
    if kernel_ready("udp_ipv6_unconnected_exact") {
        udp_both_directions(true, "unconnected");
    }
}

#[test]
fn udp_ipv6_connected_exact() {
    if kernel_ready("udp_ipv6_connected_exact") {
        udp_both_directions(true, "connected");
    }
}

/// Datagrams sent over several 1-second buckets: the actor's own drains split them by bucket,
/// no bucket counts one twice, and the sum is exact.
#[test]
fn a_flow_across_bucket_boundaries_is_split_not_lost_or_doubled() {
    if !kernel_ready("a_flow_across_bucket_boundaries_is_split_not_lost_or_doubled") {
        return;
    }
    let mut net = TestNet::new();
    let dir = tempfile::tempdir().unwrap();
    let node = start_backend(dir.path());
    let handle = gocipher(&net, node.local_addr(), Duration::from_secs(1));
    let start = spider_storage::now_ns();
    let (client_ip, server_ip) = (net.a4.clone(), net.b4.clone());
    let (b, a) = (net.b.clone(), net.a.clone());
    let (count, size) = (60u64, 100u64);
    let server = net.spawn(
        &b,
        &["udp-server", &server_ip, "6000", &count.to_string(), "10"],
    );
    // 60 datagrams 50 ms apart: about three seconds, so at least two boundaries.
    let client = net.spawn(
        &a,
        &[
            "udp-client",
            &server_ip,
            "6000",
            &count.to_string(),
            &size.to_string(),
            "unconnected",
            "50",
        ],
    );
    net.wait(client);
    net.wait(server);
    let last = handle.stop().unwrap();
    let end = spider_storage::now_ns();
    // The query answers in minutes: ask for each second's bucket on its own.
    const SECOND: i64 = 1_000_000_000;
    let mut per_bucket: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for bucket in (start / SECOND..=end / SECOND).map(|s| s * SECOND) {
        let rows = usage_in(
            node.local_addr(),
            &[&client_ip, &server_ip],
            bucket,
            bucket + SECOND,
        );
        let (bytes, messages, ..) = direction(&rows, &client_ip, &server_ip, "udp");
        if messages > 0 {
            per_bucket.insert(bucket, (bytes, messages));
        }
    }
    assert!(
        per_bucket.len() >= 3,
        "split over the buckets: {per_bucket:?}"
    );
    for (bucket, (bytes, messages)) in &per_bucket {
        assert_eq!(
            *bytes,
            messages * size,
            "bucket {bucket}: whole datagrams only"
        );
    }
    let total: (u64, u64) = per_bucket
        .values()
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(total, (count * size, count), "{per_bucket:?}");
    // The final flush held only the last buckets: the others were sent as they ended.
    let flushed: Vec<i64> = last
        .iter()
        .filter(|r| r.src.to_string() == client_ip)
        .map(|r| r.minute)
        .collect();
    assert!(
        flushed.iter().all(|m| m % SECOND == 0),
        "buckets start on a second: {flushed:?}"
    );
    assert!(
        flushed.len() < per_bucket.len(),
        "buckets were drained as they ended: {flushed:?}"
    );
    node.stop();
}
