//! Session identity and state, on packets built in the test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use spider_decode::{
    Packet, SessionEvent, SessionTracker, Side, TcpFlags, TcpSegment, TrackerConfig, Transport,
};
use spider_model::{CloseReason, TcpState};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;

fn tcp(time: i64, from_client: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Packet<'_> {
    let (src, dst, src_port, dst_port) = if from_client {
        (CLIENT, SERVER, 40000, 80)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    Packet {
        time,
        src,
        dst,
        vlan: None,
        wire_len: 60 + payload.len() as u32,
        transport: Transport::Tcp(TcpSegment {
            src_port,
            dst_port,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 1000,
            payload,
        }),
    }
}

fn closed(events: &[SessionEvent]) -> Vec<(u64, Option<CloseReason>, TcpState)> {
    events
        .iter()
        .map(|SessionEvent::Closed(r)| (r.id, r.close_reason, r.state))
        .collect()
}

#[test]
fn handshake_data_and_fin_make_one_closed_session() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let syn = tracker.track(&tcp(1_000, true, SYN, 100, 0, b""), &mut events);
    let synack = tracker.track(&tcp(3_000, false, SYN | ACK, 500, 101, b""), &mut events);
    let ack = tracker.track(&tcp(4_000, true, ACK, 101, 501, b""), &mut events);
    tracker.track(
        &tcp(5_000, true, ACK, 101, 501, b"GET / HTTP/1.1\r\n\r\n"),
        &mut events,
    );
    tracker.track(
        &tcp(6_000, false, ACK, 501, 119, b"HTTP/1.1 200 OK\r\n\r\n"),
        &mut events,
    );
    tracker.track(
        &tcp(6_000, false, ACK, 501, 119, b"HTTP/1.1 200 OK\r\n\r\n"),
        &mut events,
    );
    tracker.track(&tcp(7_000, true, FIN | ACK, 119, 520, b""), &mut events);
    tracker.track(&tcp(8_000, false, FIN | ACK, 520, 120, b""), &mut events);
    assert!(syn.new && !synack.new && !ack.new);
    assert_eq!((syn.from, synack.from), (Side::Client, Side::Server));
    assert_eq!(syn.id, ack.id);
    assert!(
        events.is_empty(),
        "a closed session lingers for late packets"
    );
    tracker.flush(&mut events);
    let [SessionEvent::Closed(record)] = &events[..] else {
        panic!("one session expected, got {events:?}");
    };
    assert_eq!(record.state, TcpState::Closed);
    assert_eq!(record.close_reason, Some(CloseReason::Fin));
    assert_eq!(record.client.port, 40000);
    assert!(!record.missed_syn);
    assert_eq!(record.handshake_rtt_ns, Some(2_000));
    assert_eq!(record.connected_at, Some(4_000));
    assert_eq!(record.client_to_server.packets, 4);
    assert_eq!(record.client_to_server.bytes, 18);
    assert_eq!(record.server_to_client.retransmissions, 1);
    assert_eq!((record.first_packet, record.last_packet), (1_000, 8_000));
}

#[test]
fn synack_before_syn_keeps_roles_and_session() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let synack = tracker.track(&tcp(2, false, SYN | ACK, 500, 101, b""), &mut events);
    let syn = tracker.track(&tcp(3, true, SYN, 100, 0, b""), &mut events);
    assert_eq!(synack.id, syn.id);
    assert_eq!((synack.from, syn.from), (Side::Server, Side::Client));
    tracker.flush(&mut events);
    let SessionEvent::Closed(record) = &events[0];
    assert!(!record.missed_syn);
}

#[test]
fn retransmitted_syn_is_the_same_session_and_new_isn_is_port_reuse() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let first = tracker.track(&tcp(1, true, SYN, 100, 0, b""), &mut events);
    let again = tracker.track(&tcp(2, true, SYN, 100, 0, b""), &mut events);
    assert_eq!(first.id, again.id);
    let reused = tracker.track(&tcp(3, true, SYN, 9_999, 0, b""), &mut events);
    assert_ne!(first.id, reused.id);
    assert!(reused.new);
    assert_eq!(
        closed(&events),
        vec![(first.id, Some(CloseReason::PortReuse), TcpState::SynSent)]
    );
    assert_eq!(tracker.stats().port_reuses, 1);
}

#[test]
fn syn_after_close_opens_a_new_session() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let first = tracker.track(&tcp(1, true, SYN, 100, 0, b""), &mut events);
    tracker.track(&tcp(2, false, RST | ACK, 0, 101, b""), &mut events);
    let late = tracker.track(&tcp(3, true, ACK, 101, 1, b""), &mut events);
    assert_eq!(late.id, first.id, "late packets go to the closed session");
    let second = tracker.track(&tcp(4, true, SYN, 100_000, 0, b""), &mut events);
    assert_ne!(second.id, first.id);
    assert_eq!(
        closed(&events),
        vec![(first.id, Some(CloseReason::Rst), TcpState::Reset)]
    );
}

#[test]
fn idle_session_times_out_and_the_next_packet_starts_another() {
    let config = TrackerConfig {
        idle_timeout_ns: 1_000,
        ..TrackerConfig::default()
    };
    let mut tracker = SessionTracker::new(config);
    let mut events = Vec::new();
    let first = tracker.track(&tcp(0, true, ACK, 1, 1, b"x"), &mut events);
    let second = tracker.track(&tcp(5_000, true, ACK, 2, 1, b"y"), &mut events);
    assert_ne!(first.id, second.id);
    assert_eq!(closed(&events)[0].1, Some(CloseReason::IdleTimeout));
}

#[test]
fn session_without_syn_is_marked_and_the_lower_port_is_the_server() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let from_server = tracker.track(&tcp(0, false, ACK, 1, 1, b"data"), &mut events);
    assert_eq!(from_server.from, Side::Server);
    tracker.flush(&mut events);
    let SessionEvent::Closed(record) = &events[0];
    assert!(record.missed_syn);
    assert_eq!(record.server.port, 80);
    assert_eq!(record.close_reason, Some(CloseReason::CaptureEnd));
}

#[test]
fn session_limit_evicts_the_oldest_and_counts_it() {
    let config = TrackerConfig {
        max_sessions: 10,
        ..TrackerConfig::default()
    };
    let mut tracker = SessionTracker::new(config);
    let mut events = Vec::new();
    for port in 0..25u16 {
        let mut packet = tcp(i64::from(port), true, SYN, 1, 0, b"");
        if let Transport::Tcp(segment) = &mut packet.transport {
            segment.src_port = 10_000 + port;
        }
        tracker.track(&packet, &mut events);
    }
    let stats = tracker.stats();
    assert_eq!(stats.sessions_evicted, 15);
    assert_eq!(stats.live_sessions, 10);
    assert!(closed(&events)
        .iter()
        .all(|(_, reason, _)| *reason == Some(CloseReason::Evicted)));
}

#[test]
fn udp_flows_share_an_id_both_ways() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let udp = |time, from_client: bool| Packet {
        time,
        src: if from_client { CLIENT } else { SERVER },
        dst: if from_client { SERVER } else { CLIENT },
        vlan: None,
        wire_len: 80,
        transport: Transport::Udp {
            src_port: if from_client { 5000 } else { 53 },
            dst_port: if from_client { 53 } else { 5000 },
            payload: b"",
        },
    };
    let query = tracker.track(&udp(0, true), &mut events);
    let answer = tracker.track(&udp(1, false), &mut events);
    assert_eq!(query.id, answer.id);
    let later = tracker.track(&udp(120_000_000_000, true), &mut events);
    assert_ne!(later.id, query.id, "an idle flow gets a new id");
}

/// Found by fuzzing: a timestamp at the end of time saturated every deadline, and expiry spun.
#[test]
fn extreme_timestamps_neither_overflow_nor_spin() {
    let mut tracker = SessionTracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    let first = tracker.track(&tcp(i64::MIN, true, SYN, 1, 0, b""), &mut events);
    let late = tracker.track(&tcp(i64::MAX, true, ACK, 2, 1, b"x"), &mut events);
    let again = tracker.track(&tcp(i64::MAX, true, ACK, 3, 1, b"y"), &mut events);
    assert_ne!(first.id, late.id, "the first session timed out");
    assert_eq!(late.id, again.id);
}
