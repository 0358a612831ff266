//! Small byte-level facts about frames that the Whisperer needs before tagging: putting back a
//! VLAN tag the kernel stripped, recognising an empty ACK (for `skip_empty_acks`), and the two
//! addresses of a TCP segment (whose names the Controller is asked for).
//!
//! Decoding proper is `spider-decode`'s; these look at a few header fields only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use spider_capture::{VlanTag, LINKTYPE_ETHERNET, LINKTYPE_RAW};

/// The frame as it was on the wire: a tag stripped by VLAN offload is inserted back after the
/// MAC addresses (as libpcap does), so that session keys and the stored frame keep the VLAN.
pub fn with_vlan<'a>(
    link_type: u32,
    data: &'a [u8],
    vlan: Option<VlanTag>,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    match vlan {
        Some(tag) if link_type == LINKTYPE_ETHERNET && data.len() >= 12 => {
            scratch.clear();
            scratch.extend_from_slice(&data[..12]);
            scratch.extend_from_slice(&tag.tpid.to_be_bytes());
            scratch.extend_from_slice(&tag.tci.to_be_bytes());
            scratch.extend_from_slice(&data[12..]);
            scratch
        }
        _ => data,
    }
}

const TCP: u8 = 6;
const ACK_ONLY: u8 = 0x10;
/// The flags that make a segment more than an ACK: FIN, SYN, RST (PSH, URG, ECE, CWR do not).
const CONTROL: u8 = 0x07;

/// Where the IP header starts: after the Ethernet header and its VLAN tags, or at once for raw
/// IP; `None` for other link types and for frames that are not IP.
fn ip_start(link_type: u32, frame: &[u8]) -> Option<usize> {
    match link_type {
        LINKTYPE_ETHERNET => {
            let mut offset = 12;
            loop {
                match frame.get(offset..offset + 2)? {
                    [0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00] => offset += 4,
                    [0x08, 0x00] | [0x86, 0xdd] => return Some(offset + 2),
                    _ => return None,
                }
            }
        }
        LINKTYPE_RAW => Some(0),
        _ => None,
    }
}

/// The source and destination addresses of a TCP segment (IPv4 or IPv6 without extension
/// headers); `None` for anything else.
pub fn tcp_endpoints(link_type: u32, frame: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let ip = ip_start(link_type, frame)?;
    match frame.get(ip)? >> 4 {
        4 => {
            let header = frame.get(ip..ip + 20)?;
            let octets = |at: usize| [header[at], header[at + 1], header[at + 2], header[at + 3]];
            (header[9] == TCP).then(|| {
                (
                    IpAddr::V4(Ipv4Addr::from(octets(12))),
                    IpAddr::V4(Ipv4Addr::from(octets(16))),
                )
            })
        }
        6 => {
            let header = frame.get(ip..ip + 40)?;
            let address = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&header[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            (header[6] == TCP).then(|| (address(8), address(24)))
        }
        _ => None,
    }
}

/// True for a TCP segment with the ACK flag, none of SYN/FIN/RST, and no payload.
pub fn is_empty_ack(link_type: u32, frame: &[u8]) -> bool {
    let Some(ip) = ip_start(link_type, frame) else {
        return false;
    };
    let Some(&first) = frame.get(ip) else {
        return false;
    };
    let (tcp, ip_end) = match first >> 4 {
        4 => {
            let header = usize::from(first & 0x0f) * 4;
            let (Some(total), Some(&protocol), Some(fragment)) = (
                frame.get(ip + 2..ip + 4),
                frame.get(ip + 9),
                frame.get(ip + 6..ip + 8),
            ) else {
                return false;
            };
            let fragment = u16::from_be_bytes([fragment[0], fragment[1]]);
            // A fragment (offset or more-fragments) is not judged.
            if protocol != TCP || fragment & 0x3fff != 0 || header < 20 {
                return false;
            }
            let total = usize::from(u16::from_be_bytes([total[0], total[1]]));
            (ip + header, ip + total)
        }
        6 => {
            let (Some(payload), Some(&next)) = (frame.get(ip + 4..ip + 6), frame.get(ip + 6))
            else {
                return false;
            };
            if next != TCP {
                return false;
            }
            let payload = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
            (ip + 40, ip + 40 + payload)
        }
        _ => return false,
    };
    let (Some(&offset), Some(&flags)) = (frame.get(tcp + 12), frame.get(tcp + 13)) else {
        return false;
    };
    let tcp_end = tcp + usize::from(offset >> 4) * 4;
    flags & ACK_ONLY != 0 && flags & CONTROL == 0 && ip_end <= tcp_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(flags: u8, payload: &[u8], vlan: bool) -> Vec<u8> {
        let mut frame = vec![0u8; 12];
        if vlan {
            frame.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        frame.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, TCP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&ip);
        let mut tcp = vec![0u8; 20];
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        frame.extend_from_slice(&tcp);
        frame.extend_from_slice(payload);
        // Ethernet padding must not count as payload.
        frame.resize(frame.len().max(60), 0);
        frame
    }

    #[test]
    fn empty_acks_are_recognised() {
        assert!(is_empty_ack(LINKTYPE_ETHERNET, &ipv4_tcp(0x10, b"", false)));
        assert!(is_empty_ack(LINKTYPE_ETHERNET, &ipv4_tcp(0x10, b"", true)));
        assert!(!is_empty_ack(
            LINKTYPE_ETHERNET,
            &ipv4_tcp(0x18, b"GET", false)
        ));
        assert!(!is_empty_ack(
            LINKTYPE_ETHERNET,
            &ipv4_tcp(0x12, b"", false)
        ));
        assert!(!is_empty_ack(
            LINKTYPE_ETHERNET,
            &ipv4_tcp(0x11, b"", false)
        ));
        assert!(!is_empty_ack(
            LINKTYPE_ETHERNET,
            &ipv4_tcp(0x02, b"", false)
        ));
        let raw = ipv4_tcp(0x10, b"", false);
        assert!(is_empty_ack(LINKTYPE_RAW, &raw[14..54]));
        assert!(!is_empty_ack(LINKTYPE_ETHERNET, &raw[..30]));
    }

    #[test]
    fn the_addresses_of_tcp_segments_are_read() {
        let v4 = ipv4_tcp(0x02, b"", true);
        let expected = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        assert_eq!(tcp_endpoints(LINKTYPE_ETHERNET, &v4), Some(expected));
        assert_eq!(tcp_endpoints(LINKTYPE_RAW, &v4[18..]), Some(expected));
        let mut udp = v4.clone();
        udp[18 + 9] = 17;
        assert_eq!(tcp_endpoints(LINKTYPE_ETHERNET, &udp), None);
        assert_eq!(tcp_endpoints(LINKTYPE_ETHERNET, &v4[..30]), None);
        assert_eq!(
            tcp_endpoints(113, &v4),
            None,
            "other link types are not read"
        );
        let mut v6 = vec![0u8; 12];
        v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, TCP, 64]);
        let (client, server): (Ipv6Addr, Ipv6Addr) = (
            "fd00::1".parse().expect("ip"),
            "fd00::2".parse().expect("ip"),
        );
        v6.extend_from_slice(&client.octets());
        v6.extend_from_slice(&server.octets());
        v6.extend_from_slice(&[0u8; 20]);
        assert_eq!(
            tcp_endpoints(LINKTYPE_ETHERNET, &v6),
            Some((IpAddr::V6(client), IpAddr::V6(server)))
        );
    }

    #[test]
    fn a_stripped_vlan_tag_is_put_back() {
        let frame = ipv4_tcp(0x10, b"", false);
        let mut scratch = Vec::new();
        let tag = VlanTag {
            tpid: 0x8100,
            tci: 5,
        };
        let tagged = with_vlan(LINKTYPE_ETHERNET, &frame, Some(tag), &mut scratch).to_vec();
        assert_eq!(tagged[..60], ipv4_tcp(0x10, b"", true)[..60]);
        assert_eq!(tagged.len(), frame.len() + 4);
        assert_eq!(
            with_vlan(LINKTYPE_ETHERNET, &frame, None, &mut scratch),
            &frame[..]
        );
    }
}
