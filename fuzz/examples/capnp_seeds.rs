//! Writes the seeds of the `capnp_agent_messages` target into `seeds/capnp_agent_messages/`: real
//! records (from analysing the test captures with the pipeline) and an example of every other
//! message kind, each as a selector byte (the target's `KINDS` index) and the serialized message.
//!
//! Run once, when the schemas change: `cd fuzz && cargo run --example capnp_seeds`.

use std::collections::BTreeMap;
use std::path::Path;

use capnp::message::Builder;
use capnp::traits::{FromPointerBuilder, Owned};
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, AgentSummary,
    CaptureInterface, ConfigAck, WhispererSettings,
};
use spider_model::controller::{
    AgentPod, AgentRole, AttachRequest, AttachmentStatus, IpNames, PodAttachment,
    PodAttachmentState, Target,
};
use spider_model::inventory::{
    InventoryChange, InventoryDelta, InventoryRef, InventorySnapshot, InventoryUpdate,
    NamespaceView, NodeView, ObjectKind, PodView, ServiceView, WorkloadView,
};
use spider_model::{PacketRecord, Record, UsageRecord, WorkloadRef};
use spider_pcap::CaptureReader;
use spider_pipeline::{analyze_capture, Analyzer, PipelineConfig};
use spider_rpc_schema::schema::{agent_capnp, controller_capnp, ingest_capnp, inventory_capnp};
use spider_rpc_schema::*;

const CAPTURES: [&str; 5] = [
    "mixed",
    "dns-cname",
    "http-compressed",
    "http-chunked-trailers",
    "http-upgrade-101",
];

struct Out<'a> {
    dir: &'a Path,
    count: usize,
}

impl Out<'_> {
    fn save(&mut self, selector: u8, name: &str, message: &Builder<capnp::message::HeapAllocator>) {
        let mut bytes = vec![selector];
        capnp::serialize::write_message(&mut bytes, message).expect("a vector takes it");
        let path = self.dir.join(format!("{selector:02}-{name}"));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.count += 1;
    }

    fn one<O: Owned>(
        &mut self,
        selector: u8,
        name: &str,
        write: impl FnOnce(O::Builder<'_>) -> Result<(), SchemaError>,
    ) where
        for<'b> O::Builder<'b>: FromPointerBuilder<'b>,
    {
        let mut message = Builder::new_default();
        write(message.init_root::<O::Builder<'_>>()).expect("a seed writes");
        self.save(selector, name, &message);
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ip(text: &str) -> std::net::IpAddr {
    text.parse().expect("an address")
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("seeds/capnp_agent_messages");
    std::fs::create_dir_all(&dir).expect("the seed folder");
    let mut out = Out {
        dir: &dir,
        count: 0,
    };

    for capture in CAPTURES {
        let path = root.join(format!("../testdata/{capture}.pcap"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut frames = Vec::new();
        let mut reader = CaptureReader::new(&bytes[..]).expect("a capture");
        while let Ok(Some(record)) = reader.next_record() {
            frames.push(PacketRecord {
                whisperer: "node-a".into(),
                session_id: frames.len() as u64 % 4,
                time: record.ts_nanos,
                interface: record.interface,
                link_type: record.link_type.0,
                wire_len: record.orig_len,
                from_client: frames.len() % 2 == 0,
                frame: record.data.to_vec(),
            });
        }
        let mut records = Vec::new();
        let mut reader = CaptureReader::new(&bytes[..]).expect("a capture");
        let mut analyzer = Analyzer::new(PipelineConfig::default());
        analyze_capture(
            &mut reader,
            &mut analyzer,
            &mut |r| records.push(r),
            &mut |_| {},
        );

        let sessions: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::TcpSession(s) => Some(s.as_ref().clone()),
                _ => None,
            })
            .collect();
        let hosts: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Host(h) => Some(h.clone()),
                _ => None,
            })
            .collect();
        let dns: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Dns(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let http: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Http(h) => Some(h.as_ref().clone()),
                _ => None,
            })
            .collect();

        // A capture batch as a Whisperer sends it (a few of each, to stay small).
        out.one::<ingest_capnp::capture_batch::Owned>(0, &format!("batch-{capture}"), |mut b| {
            let mut id = b.reborrow().init_id();
            id.set_agent("node-a");
            id.set_incarnation(7);
            id.set_sequence(1);
            b.set_shard(3);
            b.set_map_epoch(1);
            b.set_whisperer("node-a");
            let take = frames.len().min(8);
            let mut list = b.reborrow().init_frames(take as u32);
            for (i, frame) in frames[..take].iter().enumerate() {
                write_frame(list.reborrow().get(i as u32), frame)?;
            }
            let take = sessions.len().min(3);
            let mut list = b.reborrow().init_sessions(take as u32);
            for (i, s) in sessions[..take].iter().enumerate() {
                write_tcp_session(list.reborrow().get(i as u32), s)?;
            }
            let take = hosts.len().min(3);
            let mut list = b.reborrow().init_hosts(take as u32);
            for (i, h) in hosts[..take].iter().enumerate() {
                write_host(list.reborrow().get(i as u32), h)?;
            }
            let take = dns.len().min(3);
            let mut list = b.reborrow().init_dns(take as u32);
            for (i, d) in dns[..take].iter().enumerate() {
                write_dns(list.reborrow().get(i as u32), d)?;
            }
            Ok(())
        });
        for (i, frame) in frames.iter().take(2).enumerate() {
            out.one::<records_capnp::packet_record::Owned>(2, &format!("{capture}-{i}"), |b| {
                write_frame(b, frame)
            });
            out.one::<records_capnp::packet_record::Owned>(3, &format!("{capture}-{i}"), |b| {
                write_packet(b, frame)
            });
        }
        for (i, s) in sessions.iter().take(2).enumerate() {
            out.one::<records_capnp::tcp_session_record::Owned>(
                4,
                &format!("{capture}-{i}"),
                |b| write_tcp_session(b, s),
            );
        }
        for (i, h) in hosts.iter().take(2).enumerate() {
            out.one::<records_capnp::host_record::Owned>(5, &format!("{capture}-{i}"), |b| {
                write_host(b, h)
            });
        }
        for (i, d) in dns.iter().take(2).enumerate() {
            out.one::<records_capnp::dns_record::Owned>(6, &format!("{capture}-{i}"), |b| {
                write_dns(b, d)
            });
        }
        for (i, h) in http.iter().take(3).enumerate() {
            out.one::<records_capnp::http_exchange::Owned>(9, &format!("{capture}-{i}"), |b| {
                write_http(b, h)
            });
        }
    }

    let workload = WorkloadRef {
        namespace: Some("shop".into()),
        kind: Some("Deployment".into()),
        workload: Some("web".into()),
        pod: Some("web-1".into()),
        node: Some("n1".into()),
    };
    let usage = UsageRecord {
        minute: 1_700_000_040_000_000_000,
        src: ip("10.1.0.7"),
        dst: ip("fd00::10"),
        proto: "tcp".into(),
        port: 443,
        bytes: 12_345,
        messages: 17,
        wire_bytes: 14_000,
        packets: 30,
        reporter: "controller".into(),
        receive_side: false,
        src_workload: Some(workload.clone()),
        dst_workload: Some(WorkloadRef {
            kind: Some("external".into()),
            ..WorkloadRef::default()
        }),
        pid: Some(4242),
        command: Some("curl".into()),
        container: Some("app".into()),
    };
    out.one::<ingest_capnp::usage_batch::Owned>(1, "usage", |mut b| {
        let mut id = b.reborrow().init_id();
        id.set_agent("gocipher-x");
        id.set_incarnation(9);
        id.set_sequence(4);
        b.set_shard(1);
        let mut list = b.init_records(2);
        write_usage(list.reborrow().get(0), &usage)?;
        write_usage(list.get(1), &usage)
    });
    out.one::<records_capnp::usage_record::Owned>(7, "usage", |b| write_usage(b, &usage));
    out.one::<records_capnp::workload_ref::Owned>(8, "workload", |b| {
        write_workload_ref(b, &workload)
    });

    let objects = InventorySnapshot {
        nodes: vec![NodeView {
            name: "n1".into(),
            addresses: vec![ip("192.168.1.10"), ip("fd00::10")],
            labels: labels(&[("zone", "a")]),
            ready: true,
        }],
        namespaces: vec![NamespaceView {
            name: "shop".into(),
            labels: labels(&[("team", "web")]),
        }],
        workloads: vec![WorkloadView {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "shop".into(),
            labels: labels(&[("app", "web")]),
            replicas: 3,
        }],
        pods: vec![PodView {
            name: "web-1".into(),
            namespace: "shop".into(),
            ips: vec![ip("10.1.0.7")],
            node: Some("n1".into()),
            workload_kind: "Deployment".into(),
            workload: "web".into(),
            host_network: false,
            phase: "Running".into(),
            labels: labels(&[("app", "web")]),
        }],
        services: vec![ServiceView {
            name: "web".into(),
            namespace: "shop".into(),
            cluster_ips: vec![ip("10.96.0.9")],
            type_: "ClusterIP".into(),
        }],
    };
    let snapshot = InventoryUpdate {
        controller: "controller".into(),
        cluster: "prod".into(),
        time: 1_700_000_000_000_000_000,
        change: InventoryChange::Snapshot(objects.clone()),
    };
    let delta = InventoryUpdate {
        change: InventoryChange::Delta(InventoryDelta {
            upserted: InventorySnapshot {
                pods: objects.pods.clone(),
                ..InventorySnapshot::default()
            },
            removed: vec![InventoryRef {
                kind: ObjectKind::Workload,
                namespace: Some("shop".into()),
                name: "old".into(),
                workload_kind: Some("StatefulSet".into()),
            }],
        }),
        ..snapshot.clone()
    };
    out.one::<inventory_capnp::inventory_update::Owned>(10, "snapshot", |b| {
        write_inventory_update(b, &snapshot)
    });
    out.one::<inventory_capnp::inventory_update::Owned>(10, "delta", |b| {
        write_inventory_update(b, &delta)
    });
    out.one::<inventory_capnp::inventory_objects::Owned>(11, "objects", |b| {
        write_inventory_objects(b, &objects)
    });

    let info = AgentInfo {
        kind: AgentKind::Whisperer,
        name: "node-a".into(),
        host: "node-a.example".into(),
        version: "0.1.0".into(),
        interfaces: vec![CaptureInterface {
            index: 2,
            name: "eth0".into(),
            link_type: 1,
            addresses: vec![ip("10.0.0.5"), ip("fe80::1")],
        }],
        incarnation: 7,
        started_at: 1_700_000_000_000_000_000,
        namespace: Some("spider".into()),
        pod: Some("whisperer-x".into()),
        node: Some("n1".into()),
        cluster: Some("prod".into()),
    };
    let status = AgentStatus {
        state: AgentState::Recording,
        message: Some("capturing on eth0".into()),
        time: 1_700_000_010_000_000_000,
        state_since: 1_700_000_000_000_000_000,
        packets_seen: 1000,
        bytes_seen: 1_000_000,
        kernel_drops: 1,
        own_drops: 2,
        limit_drops: 3,
        skipped_empty_acks: 4,
        queue_depth: 4096,
        cpu_percent: 12.5,
        rss_bytes: 50_000_000,
        last_sent_at: Some(1_700_000_009_000_000_000),
        last_ack_at: Some(1_700_000_009_500_000_000),
        batches_sent: 10,
        batches_acked: 9,
        config_generation: 2,
    };
    let config = AgentConfig {
        generation: 2,
        settings: AgentSettings::Whisperer(WhispererSettings {
            filter: Some("tcp port 80 and host 10.0.0.5".into()),
            throughput_limit: 1 << 20,
            cpu_budget: 25.0,
            retention_ttl: 3_600_000_000_000,
            interfaces: vec!["eth0".into()],
            ..WhispererSettings::default()
        }),
    };
    let ack = ConfigAck {
        generation: 2,
        accepted: false,
        error: Some("filter: syntax error".into()),
    };
    out.one::<agent_capnp::agent_info::Owned>(12, "info", |b| write_agent_info(b, &info));
    out.one::<agent_capnp::agent_status::Owned>(13, "status", |b| write_agent_status(b, &status));
    out.one::<agent_capnp::agent_config::Owned>(14, "whisperer", |b| {
        write_agent_config(b, &config)
    });
    for kind in [AgentKind::Gocipher, AgentKind::Controller] {
        let other = AgentConfig {
            generation: 1,
            settings: AgentSettings::default_for(kind),
        };
        out.one::<agent_capnp::agent_config::Owned>(14, &format!("{kind:?}"), |b| {
            write_agent_config(b, &other)
        });
    }
    out.one::<agent_capnp::config_ack::Owned>(15, "ack", |b| write_config_ack(b, &ack));
    let summary = AgentSummary {
        info: info.clone(),
        status: status.clone(),
        connected: true,
        last_seen: 1_700_000_010_000_000_000,
        config: config.clone(),
    };
    out.one::<agent_capnp::agent_summary::Owned>(16, "summary", |b| {
        write_agent_summary(b, &summary)
    });

    let request = AttachRequest {
        id: "a1".into(),
        target: Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
        image: "spider:0.1".into(),
        command: vec!["spider".into()],
        args: vec!["whisperer".into(), "--backend".into(), "b:7000".into()],
        ttl_seconds: Some(600),
    };
    out.one::<controller_capnp::attach_request::Owned>(17, "workload", |b| {
        write_attach_request(b, &request)
    });
    let pod_request = AttachRequest {
        target: Target::Pod {
            namespace: "shop".into(),
            name: "web-1".into(),
        },
        ttl_seconds: None,
        ..request.clone()
    };
    out.one::<controller_capnp::attach_request::Owned>(17, "pod", |b| {
        write_attach_request(b, &pod_request)
    });
    let attachment = AttachmentStatus {
        request,
        created: 5,
        expires: Some(600_000_000_005),
        expired: false,
        detached: None,
        pods: vec![PodAttachment {
            namespace: "shop".into(),
            pod: "web-1".into(),
            node: Some("n1".into()),
            containers: vec!["spider-whisperer-a1".into()],
            state: PodAttachmentState::CrashLoop,
            failures: 2,
        }],
    };
    out.one::<controller_capnp::attachment_status::Owned>(18, "status", |b| {
        write_attachment_status(b, &attachment)
    });
    let pod = AgentPod {
        role: AgentRole::Gocipher,
        namespace: "spider".into(),
        pod: "gocipher-x".into(),
        container: "gocipher".into(),
        sidecar: false,
        node: Some("n1".into()),
        ips: vec![ip("192.168.1.10")],
        phase: "Running".into(),
        running: true,
        workload_kind: "DaemonSet".into(),
        workload: "gocipher".into(),
        recognised_by: "image".into(),
    };
    out.one::<controller_capnp::agent_pod::Owned>(19, "gocipher", |b| write_agent_pod(b, &pod));
    let names = IpNames {
        ip: ip("10.1.0.7"),
        names: vec!["web-1.shop.pod".into(), "web.shop.svc.cluster.local".into()],
    };
    out.one::<controller_capnp::ip_names::Owned>(20, "names", |b| write_ip_names(b, &names));

    println!("{} seeds in {}", out.count, dir.display());
}
