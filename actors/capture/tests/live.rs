//! Live capture in throwaway network namespaces (needs root; skipped otherwise).

mod common;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{capture_in, collect, payload, seq_of, udp_in, udp_of, veth_pair, wait_stats};
use spider_capture::{
    CaptureConfig, CaptureError, Direction, DirectionFilter, Fanout, FanoutMode, Interface,
    RingConfig, LINKTYPE_ETHERNET,
};

const PORT: u16 = 9999;

fn config(interface: &str) -> CaptureConfig {
    CaptureConfig::new(Interface::parse(interface))
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

#[test]
fn captures_every_datagram_once_in_order_with_equal_bytes() {
    require_root!();
    let net = veth_pair("order", 1);
    let mut capture = capture_in(&net.ns_b, &config("veth-b"));
    let _receiver = udp_in(&net.ns_b, net.addr_b(PORT));
    let sender = udp_in(&net.ns_a, any_port());
    const N: u32 = 500;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    for seq in 0..N {
        sender
            .send_to(&payload(seq), net.addr_b(PORT))
            .expect("send");
    }
    let seen = collect(&mut [&mut capture], N as usize, |f| {
        udp_of(f.data).is_some_and(|u| u.dst_port == PORT)
    });
    let frames = &seen[0];
    assert_eq!(frames.len(), N as usize, "each datagram exactly once");
    let mut last_ts = 0;
    for (i, frame) in frames.iter().enumerate() {
        let packet = etherparse::SlicedPacket::from_ethernet(&frame.data).expect("valid frame");
        let Some(etherparse::TransportSlice::Udp(udp)) = packet.transport else {
            panic!("frame {i} is not UDP");
        };
        assert_eq!(
            udp.payload(),
            payload(i as u32).as_slice(),
            "frame {i} in order"
        );
        assert_eq!(frame.data.len(), 14 + 20 + 8 + 64);
        assert_eq!(frame.original_len as usize, frame.data.len());
        assert_eq!(frame.link_type, Some(LINKTYPE_ETHERNET));
        assert_eq!(Some(frame.ifindex), capture.ifindex());
        assert_eq!(frame.direction, Direction::Host);
        assert!(frame.timestamp_ns >= last_ts, "timestamps never go back");
        assert!(
            frame.timestamp_ns + 1_000_000_000 >= before,
            "timestamp is wall-clock time"
        );
        last_ts = frame.timestamp_ns;
    }
    let stats = wait_stats(&mut capture, |s| s.packets >= u64::from(N));
    assert!(stats.packets >= u64::from(N), "{stats:?}");
    assert_eq!(stats.drops, 0, "{stats:?}");
}

#[test]
fn kernel_filter_keeps_only_matching_packets_and_counts_them() {
    require_root!();
    let net = veth_pair("filter", 2);
    let mut cfg = config("veth-b");
    cfg.filter = Some(format!("udp port {PORT}"));
    cfg.snap_len = 60;
    let mut capture = capture_in(&net.ns_b, &cfg);
    let _rx_match = udp_in(&net.ns_b, net.addr_b(PORT));
    let _rx_other = udp_in(&net.ns_b, net.addr_b(PORT - 1));
    let sender = udp_in(&net.ns_a, any_port());
    const N: u32 = 100;
    for seq in 0..N {
        sender
            .send_to(&payload(seq), net.addr_b(PORT - 1))
            .expect("send other");
        sender
            .send_to(&payload(seq), net.addr_b(PORT))
            .expect("send match");
    }
    let seen = collect(&mut [&mut capture], N as usize, |_| true);
    let frames = &seen[0];
    assert_eq!(frames.len(), N as usize);
    for (i, frame) in frames.iter().enumerate() {
        let udp = udp_of(&frame.data).expect("udp frame");
        assert_eq!(udp.dst_port, PORT);
        assert_eq!(frame.data.len(), 60, "cut at the snap length");
        assert_eq!(frame.original_len, 14 + 20 + 8 + 64, "original length kept");
        assert_eq!(udp.payload, &payload(i as u32)[..18]);
    }
    let stats = wait_stats(&mut capture, |s| s.packets >= u64::from(N));
    assert_eq!(
        stats.packets,
        u64::from(N),
        "only matching packets reach the socket"
    );
    assert_eq!(stats.drops, 0);
}

#[test]
fn statistics_count_drops_when_the_ring_is_full() {
    require_root!();
    let net = veth_pair("drops", 3);
    let mut cfg = config("veth-b");
    cfg.filter = Some(format!("udp dst port {PORT}"));
    cfg.snap_len = 256;
    cfg.ring = RingConfig {
        block_size: 4096,
        block_count: 2,
        frame_size: 2048,
        block_timeout_ms: 10,
    };
    let mut capture = capture_in(&net.ns_b, &cfg);
    let _receiver = udp_in(&net.ns_b, net.addr_b(PORT));
    let sender = udp_in(&net.ns_a, any_port());
    const N: u64 = 300;
    for seq in 0..N {
        sender
            .send_to(&payload(seq as u32), net.addr_b(PORT))
            .expect("send");
    }
    // Nothing is read while sending: two 4 KiB blocks hold a few dozen frames.
    let stats = wait_stats(&mut capture, |s| s.packets >= N);
    assert_eq!(
        stats.packets, N,
        "tp_packets counts dropped frames too: {stats:?}"
    );
    assert!(stats.drops > 0, "{stats:?}");
    assert!(stats.freeze_queue_count > 0, "{stats:?}");
    let kept = N - stats.drops;
    let seen = collect(&mut [&mut capture], kept as usize, |_| true);
    assert_eq!(seen[0].len() as u64, kept, "captured + dropped = sent");
    let seqs: Vec<u32> = seen[0]
        .iter()
        .map(|f| seq_of(udp_of(&f.data).expect("udp").payload).expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    assert_eq!(
        capture.stats().expect("stats").drops,
        stats.drops,
        "totals are cumulative"
    );
}

#[test]
fn fanout_group_of_two_sees_each_packet_once_in_total() {
    require_root!();
    let net = veth_pair("fanout", 4);
    let mut cfg = config("veth-b");
    cfg.filter = Some(format!("udp dst port {PORT}"));
    cfg.fanout = Some(Fanout {
        group_id: 4242,
        mode: FanoutMode::Hash,
    });
    let mut workers =
        spider_capture::netns::run_in(spider_capture::netns::named_path(&net.ns_b), || {
            spider_capture::Capture::open_fanout(&cfg, 2)
        })
        .expect("enter namespace")
        .expect("open fanout group");
    let _receiver = udp_in(&net.ns_b, net.addr_b(PORT));
    // 32 flows (source ports) so the hash spreads them over both workers.
    let senders: Vec<_> = (0..32).map(|_| udp_in(&net.ns_a, any_port())).collect();
    const N: u32 = 640;
    for seq in 0..N {
        let sender = &senders[seq as usize % senders.len()];
        sender
            .send_to(&payload(seq), net.addr_b(PORT))
            .expect("send");
    }
    let (first, second) = workers.split_at_mut(1);
    let seen = collect(&mut [&mut first[0], &mut second[0]], N as usize, |_| true);
    let mut seqs: Vec<u32> = seen
        .iter()
        .flatten()
        .map(|f| seq_of(udp_of(&f.data).expect("udp").payload).expect("seq"))
        .collect();
    let per_worker: Vec<usize> = seen.iter().map(Vec::len).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..N).collect::<Vec<_>>(),
        "each packet once in total"
    );
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "both workers got frames: {per_worker:?}"
    );
    // One flow stays on one worker.
    for worker in &seen {
        for frame in worker {
            let port = udp_of(&frame.data).expect("udp").src_port;
            let other = seen.iter().filter(|w| !std::ptr::eq(*w, worker)).flatten();
            assert!(other
                .into_iter()
                .all(|f| udp_of(&f.data).expect("udp").src_port != port));
        }
    }
}

#[test]
fn loopback_frames_are_ethernet_and_seen_in_both_directions() {
    require_root!();
    let net = veth_pair("lo", 5);
    let mut cfg = config("lo");
    cfg.filter = Some(format!("udp dst port {PORT}"));
    let mut capture = capture_in(&net.ns_a, &cfg);
    let target = SocketAddr::from(([127, 0, 0, 1], PORT));
    let _receiver = udp_in(&net.ns_a, target);
    let sender = udp_in(&net.ns_a, SocketAddr::from(([127, 0, 0, 1], 0)));
    const N: u32 = 50;
    for seq in 0..N {
        sender.send_to(&payload(seq), target).expect("send");
    }
    let seen = collect(&mut [&mut capture], 2 * N as usize, |_| true);
    let frames = &seen[0];
    assert_eq!(frames.len(), 2 * N as usize);
    assert!(frames
        .iter()
        .all(|f| f.link_type == Some(LINKTYPE_ETHERNET)));
    assert!(frames.iter().all(|f| f.arphrd == libc::ARPHRD_LOOPBACK));
    let outgoing = frames
        .iter()
        .filter(|f| f.direction == Direction::Outgoing)
        .count();
    let host = frames
        .iter()
        .filter(|f| f.direction == Direction::Host)
        .count();
    assert_eq!((outgoing, host), (N as usize, N as usize));
}

#[test]
fn direction_filter_keeps_one_way_only() {
    require_root!();
    let net = veth_pair("dir", 6);
    let mut out_cfg = config("veth-a");
    out_cfg.filter = Some(format!("udp port {PORT}"));
    out_cfg.direction = DirectionFilter::Outgoing;
    let mut in_cfg = out_cfg.clone();
    in_cfg.direction = DirectionFilter::Incoming;
    let mut outgoing = capture_in(&net.ns_a, &out_cfg);
    let mut incoming = capture_in(&net.ns_a, &in_cfg);
    let a = udp_in(&net.ns_a, net.addr_a(PORT));
    let b = udp_in(&net.ns_b, net.addr_b(PORT));
    for seq in 0..50 {
        a.send_to(&payload(seq), net.addr_b(PORT))
            .expect("send a→b");
    }
    for seq in 0..30 {
        b.send_to(&payload(seq), net.addr_a(PORT))
            .expect("send b→a");
    }
    let sent = collect(&mut [&mut outgoing], 50, |_| true);
    assert_eq!(sent[0].len(), 50);
    assert!(sent[0].iter().all(|f| f.direction == Direction::Outgoing));
    assert!(sent[0]
        .iter()
        .all(|f| udp_of(&f.data).expect("udp").src == net.ip_a.octets()));
    let received = collect(&mut [&mut incoming], 30, |_| true);
    assert_eq!(received[0].len(), 30);
    assert!(received[0].iter().all(|f| f.direction == Direction::Host));
    assert!(received[0]
        .iter()
        .all(|f| udp_of(&f.data).expect("udp").src == net.ip_b.octets()));
}

#[test]
fn missing_interface_is_reported_by_name() {
    let err = spider_capture::Capture::open(&config("spcap-nope0")).expect_err("no such device");
    assert!(
        matches!(&err, CaptureError::NoSuchInterface { interface, .. } if interface == "spcap-nope0"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("spcap-nope0 does not exist"),
        "{err}"
    );
}

#[test]
fn bad_filter_gives_pcap_message() {
    let mut cfg = config("lo");
    cfg.filter = Some("udp port nine".to_owned());
    let err = spider_capture::Capture::open(&cfg).expect_err("bad filter");
    let CaptureError::FilterCompile {
        expression,
        message,
    } = &err
    else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(expression, "udp port nine");
    assert!(
        message.contains("syntax error") || message.contains("nine"),
        "{message}"
    );
    assert!(spider_capture::check_filter("tcp port 80 and host 10.0.0.1").is_ok());
}

#[test]
fn without_cap_net_raw_the_error_says_so() {
    require_root!();
    let result = std::thread::spawn(|| {
        // setresuid(2) through the raw syscall changes this thread only (glibc's wrapper would
        // change every thread of the test process). Leaving uid 0 clears the capabilities.
        // SAFETY: plain syscall with integer arguments.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
        assert_eq!(rc, 0, "setresuid");
        spider_capture::Capture::open(&config("lo"))
    })
    .join()
    .expect("thread");
    let err = result.expect_err("must be refused");
    assert!(
        matches!(err, CaptureError::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CAP_NET_RAW"), "{err}");
}
