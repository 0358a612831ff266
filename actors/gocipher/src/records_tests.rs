#![allow(clippy::unwrap_used)]

use spider_ebpf_common::{mapped_v4, FlowKey, DIR_RECV, ROLE_UNKNOWN};

use super::*;

const CLIENT: [u8; 4] = [10, 84, 1, 1];
const SERVER: [u8; 4] = [10, 84, 1, 2];

fn context() -> RecordContext {
    RecordContext {
        reporter: "g".into(),
        bucket_ns: 1_000_000_000,
        host: None,
        ephemeral: (32768, 60999),
    }
}

fn sock(pid: u32, role: u8, comm: &str) -> SockInfo {
    let mut info = SockInfo {
        pid,
        role,
        cgroup_id: 7,
        ..SockInfo::default()
    };
    info.comm[..comm.len()].copy_from_slice(comm.as_bytes());
    info
}

#[allow(clippy::too_many_arguments)]
fn flow(
    cookie: u64,
    dir: u8,
    local: [u8; 4],
    lport: u16,
    remote: [u8; 4],
    rport: u16,
    value: (u64, u64, u64, u64),
    info: Option<SockInfo>,
) -> RawFlow {
    RawFlow {
        key: FlowKey {
            bucket: 5,
            cookie,
            local_ip: mapped_v4(local),
            remote_ip: mapped_v4(remote),
            local_port: lport,
            remote_port: rport,
            proto: PROTO_TCP,
            dir,
            pad: [0; 2],
        },
        value: FlowValue {
            bytes: value.0,
            calls: value.1,
            wire_bytes: value.2,
            packets: value.3,
        },
        sock: info,
    }
}

#[test]
fn both_ends_counted_here_give_one_record_per_direction_from_the_senders() {
    let c = Some(sock(100, ROLE_CLIENT, "curl"));
    let s = Some(sock(200, ROLE_SERVER, "nginx"));
    let flows = vec![
        flow(1, DIR_SEND, CLIENT, 40000, SERVER, 80, (100, 2, 300, 4), c),
        flow(
            1,
            DIR_RECV,
            CLIENT,
            40000,
            SERVER,
            80,
            (5000, 3, 5200, 5),
            c,
        ),
        flow(
            2,
            DIR_SEND,
            SERVER,
            80,
            CLIENT,
            40000,
            (5000, 1, 5200, 5),
            s,
        ),
        flow(2, DIR_RECV, SERVER, 80, CLIENT, 40000, (100, 1, 300, 4), s),
        // The SYN-ACK left from the listener's request socket.
        flow(3, DIR_SEND, SERVER, 80, CLIENT, 40000, (0, 0, 60, 1), None),
    ];
    let records = build(flows, &context(), &mut Senders::default(), &mut |_| None);
    assert_eq!(records.len(), 2, "{records:#?}");
    let up = records
        .iter()
        .find(|r| r.src == IpAddr::from(CLIENT))
        .unwrap();
    assert_eq!(
        (
            up.bytes,
            up.messages,
            up.port,
            up.pid,
            up.command.as_deref()
        ),
        (100, 2, 80, Some(100), Some("curl"))
    );
    let down = records
        .iter()
        .find(|r| r.src == IpAddr::from(SERVER))
        .unwrap();
    assert_eq!(
        (
            down.bytes,
            down.messages,
            down.wire_bytes,
            down.packets,
            down.port
        ),
        (5000, 1, 5260, 6, 80)
    );
    assert!(!up.receive_side && !down.receive_side);
    assert_eq!(up.minute, 5_000_000_000);
}

#[test]
fn an_external_sender_is_counted_at_the_receiver_and_says_so() {
    let s = Some(sock(200, ROLE_SERVER, "nginx"));
    let flows = vec![flow(
        2,
        DIR_RECV,
        SERVER,
        80,
        CLIENT,
        40000,
        (100, 1, 300, 4),
        s,
    )];
    let records = build(flows, &context(), &mut Senders::default(), &mut |_| None);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert!(r.receive_side);
    assert_eq!(
        (r.src, r.dst, r.port, r.pid),
        (IpAddr::from(CLIENT), IpAddr::from(SERVER), 80, None)
    );
}

#[test]
fn an_unbound_udp_sender_gets_its_address_from_its_packets() {
    let c = Some(sock(100, ROLE_UNKNOWN, "dig"));
    let mut payload = flow(
        1,
        DIR_SEND,
        [0, 0, 0, 0],
        41000,
        SERVER,
        53,
        (40, 1, 0, 0),
        c,
    );
    payload.key.proto = PROTO_UDP;
    let mut wire = flow(1, DIR_SEND, CLIENT, 41000, SERVER, 53, (0, 0, 68, 1), c);
    wire.key.proto = PROTO_UDP;
    let records = build(
        vec![payload, wire],
        &context(),
        &mut Senders::default(),
        &mut |_| None,
    );
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(
        (r.src, r.port, r.bytes, r.wire_bytes, r.proto.as_str()),
        (IpAddr::from(CLIENT), 53, 40, 68, "udp")
    );
}

#[test]
fn roles_not_seen_fall_back_on_the_ephemeral_range() {
    assert_eq!(server_port(ROLE_UNKNOWN, 45000, 8080, (32768, 60999)), 8080);
    assert_eq!(server_port(ROLE_UNKNOWN, 8080, 45000, (32768, 60999)), 8080);
    assert_eq!(server_port(ROLE_UNKNOWN, 1000, 2000, (32768, 60999)), 1000);
    assert_eq!(
        server_port(ROLE_SERVER, 45000, 50000, (32768, 60999)),
        45000
    );
}

#[test]
fn host_mode_names_the_process_and_container() {
    let c = Some(sock(100, ROLE_CLIENT, "curl"));
    let flows = vec![flow(
        1,
        DIR_SEND,
        CLIENT,
        40000,
        SERVER,
        80,
        (100, 2, 300, 4),
        c,
    )];
    let mut ctx = context();
    ctx.host = Some("node-a".into());
    let records = build(flows, &ctx, &mut Senders::default(), &mut |id| {
        (id == 7).then(|| "abc123".to_owned())
    });
    let w = records[0].src_workload.clone().unwrap();
    assert_eq!(
        (w.kind.as_deref(), w.workload.as_deref(), w.node.as_deref()),
        (Some("Container"), Some("abc123"), Some("node-a"))
    );
    assert_eq!(records[0].container.as_deref(), Some("abc123"));
}

#[test]
fn a_sender_with_its_own_gocipher_is_not_counted_at_the_receiver() {
    let s = Some(sock(200, ROLE_SERVER, "nginx"));
    let flows = vec![flow(
        2,
        DIR_RECV,
        SERVER,
        80,
        CLIENT,
        40000,
        (100, 1, 300, 4),
        s,
    )];
    let mut senders = Senders::default();
    senders.hosts.insert(IpAddr::from(CLIENT));
    assert!(build(flows, &context(), &mut senders, &mut |_| None).is_empty());
}
