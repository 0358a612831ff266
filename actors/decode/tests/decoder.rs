//! Link layers, IP versions and fragment reassembly, on frames built in the test.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, VlanId};
use spider_decode::{DecodeError, Decoder, DecoderConfig, LinkType, Transport};

const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

fn ipv4_tcp() -> Vec<u8> {
    let builder = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(40000, 80, 7, 1000);
    let mut out = Vec::new();
    builder.write(&mut out, PAYLOAD).unwrap();
    out
}

fn assert_tcp_payload(decoder: &mut Decoder, link: LinkType, frame: &[u8]) -> Option<u16> {
    let packet = decoder
        .decode(link, 5, frame, frame.len() as u32)
        .unwrap()
        .unwrap();
    let Transport::Tcp(segment) = packet.transport else {
        panic!("tcp expected, got {:?}", packet.transport);
    };
    assert_eq!(segment.payload, PAYLOAD);
    assert_eq!(
        (segment.src_port, segment.dst_port, segment.seq),
        (40000, 80, 7)
    );
    assert_eq!(packet.src, "10.0.0.1".parse::<IpAddr>().unwrap());
    packet.vlan
}

#[test]
fn ethernet_with_and_without_vlan_tags() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mac = [0u8; 6];
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(mac, mac)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 7, 1000)
        .write(&mut frame, PAYLOAD)
        .unwrap();
    assert_eq!(
        assert_tcp_payload(&mut decoder, LinkType::ETHERNET, &frame),
        None
    );

    let mut tagged = Vec::new();
    PacketBuilder::ethernet2(mac, mac)
        .single_vlan(VlanId::try_new(100).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 7, 1000)
        .write(&mut tagged, PAYLOAD)
        .unwrap();
    assert_eq!(
        assert_tcp_payload(&mut decoder, LinkType::ETHERNET, &tagged),
        Some(100)
    );

    let mut qinq = Vec::new();
    PacketBuilder::ethernet2(mac, mac)
        .double_vlan(VlanId::try_new(200).unwrap(), VlanId::try_new(100).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 7, 1000)
        .write(&mut qinq, PAYLOAD)
        .unwrap();
    assert_eq!(
        assert_tcp_payload(&mut decoder, LinkType::ETHERNET, &qinq),
        Some(200)
    );
}

#[test]
fn linux_cooked_v1_and_v2_raw_ip_and_loopback() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let ip = ipv4_tcp();

    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    assert_tcp_payload(&mut decoder, LinkType::LINUX_SLL, &sll);

    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    assert_tcp_payload(&mut decoder, LinkType::LINUX_SLL2, &sll2);

    assert_tcp_payload(&mut decoder, LinkType::RAW, &ip);
    assert_tcp_payload(&mut decoder, LinkType::IPV4, &ip);

    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    assert_tcp_payload(&mut decoder, LinkType::NULL, &null);
}

#[test]
fn ipv6_udp() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut frame = Vec::new();
    let src = "fd79::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
    let dst = "fd79::2".parse::<std::net::Ipv6Addr>().unwrap().octets();
    PacketBuilder::ipv6(src, dst, 64)
        .udp(5353, 53)
        .write(&mut frame, b"query")
        .unwrap();
    let packet = decoder
        .decode(LinkType::RAW, 1, &frame, 0)
        .unwrap()
        .unwrap();
    assert_eq!(packet.dst, "fd79::2".parse::<IpAddr>().unwrap());
    let Transport::Udp {
        dst_port, payload, ..
    } = packet.transport
    else {
        panic!("udp expected");
    };
    assert_eq!((dst_port, payload), (53, &b"query"[..]));
}

fn fragments(datagram_payload: &[u8], id: u16, chunk: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < datagram_payload.len() {
        let end = (offset + chunk).min(datagram_payload.len());
        let mut header = Ipv4Header::new(
            (end - offset) as u16,
            64,
            IpNumber::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        )
        .unwrap();
        header.identification = id;
        header.more_fragments = end < datagram_payload.len();
        header.fragment_offset = IpFragOffset::try_new((offset / 8) as u16).unwrap();
        header.header_checksum = header.calc_header_checksum();
        let mut frame = header.to_bytes().to_vec();
        frame.extend_from_slice(&datagram_payload[offset..end]);
        out.push(frame);
        offset = end;
    }
    out
}

fn udp_datagram(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(4000, 53)
        .write(&mut out, body)
        .unwrap();
    out[20..].to_vec()
}

#[test]
fn ipv4_fragments_are_reassembled_in_any_order() {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut frames = fragments(&udp_datagram(&body), 42, 1480);
    frames.reverse();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let last = frames.len() - 1;
    for (i, frame) in frames.iter().enumerate() {
        let result = decoder.decode(LinkType::RAW, i as i64, frame, 0).unwrap();
        if i < last {
            assert!(result.is_none(), "fragment {i} alone is no packet");
            continue;
        }
        let packet = result.unwrap();
        let Transport::Udp {
            payload, dst_port, ..
        } = packet.transport
        else {
            panic!("udp expected");
        };
        assert_eq!(dst_port, 53);
        assert_eq!(payload, &body[..]);
    }
    assert_eq!(decoder.stats().defrag.reassembled, 1);
    assert_eq!(decoder.held_bytes(), 0);
}

#[test]
fn fragments_beyond_the_limits_are_dropped_and_counted() {
    let config = DecoderConfig {
        defrag: spider_decode::DefragConfig {
            max_datagrams: 2,
            max_bytes: 1 << 20,
            timeout_ns: 1_000,
        },
    };
    let mut decoder = Decoder::new(config);
    for id in 0..5u16 {
        let first = fragments(&udp_datagram(&[0u8; 2000]), id, 1480).remove(0);
        assert!(decoder
            .decode(LinkType::RAW, 0, &first, 0)
            .unwrap()
            .is_none());
    }
    assert_eq!(decoder.stats().defrag.dropped_by_limit, 3);
    let late = fragments(&udp_datagram(&[0u8; 2000]), 99, 1480).remove(0);
    decoder.decode(LinkType::RAW, 10_000, &late, 0).unwrap();
    assert_eq!(decoder.stats().defrag.timed_out, 2);
}

#[test]
fn damaged_frames_are_errors_not_panics() {
    let mut decoder = Decoder::new(DecoderConfig::default());
    assert!(matches!(
        decoder.decode(LinkType::LINUX_SLL2, 0, &[0x08, 0], 0),
        Err(DecodeError::TooShort { .. })
    ));
    assert!(matches!(
        decoder.decode(LinkType(9999), 0, &[0; 40], 0),
        Err(DecodeError::UnsupportedLink(9999))
    ));
    let arp = {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x06]);
        frame.extend_from_slice(&[0u8; 28]);
        frame
    };
    assert!(decoder.decode(LinkType::ETHERNET, 0, &arp, 0).is_err());
    let mut ip = ipv4_tcp();
    ip.truncate(30);
    assert!(decoder.decode(LinkType::RAW, 0, &ip, 0).is_err());
    let stats = decoder.stats();
    assert_eq!(stats.frames, 4);
    assert_eq!(stats.packets, 0);
}
