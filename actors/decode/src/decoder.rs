use std::net::IpAddr;

use etherparse::{
    Icmpv4Slice, Icmpv6Slice, IpFragOffset, NetSlice, SlicedPacket, TcpSlice, TransportSlice,
    UdpSlice,
};
use spider_model::EpochNanos;

use crate::defrag::{DefragConfig, DefragStats, Defragmenter, FragmentKey};
use crate::link::{slice_frame, LinkError, LinkType};
use crate::packet::{Packet, TcpFlags, TcpSegment, Transport};

/// Settings of a [`Decoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderConfig {
    pub defrag: DefragConfig,
}

/// Why a frame was not decoded into a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported link type {0}")]
    UnsupportedLink(u16),
    #[error("frame too short for its link header: {got} bytes, {needed} needed")]
    TooShort { needed: usize, got: usize },
    #[error("not an ip frame")]
    NotIp,
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl From<LinkError> for DecodeError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Unsupported(link) => Self::UnsupportedLink(link.0),
            LinkError::TooShort { needed, got } => Self::TooShort { needed, got },
            LinkError::NotIp => Self::NotIp,
            LinkError::Slice(message) => Self::Malformed(message),
        }
    }
}

/// Counters of a [`Decoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub frames: u64,
    pub packets: u64,
    /// Frames that carry no IP (ARP, LLDP, …).
    pub not_ip: u64,
    pub malformed: u64,
    pub unsupported_link: u64,
    pub defrag: DefragStats,
}

/// Decodes frames of any supported link type into IP packets, reassembling fragments.
#[derive(Debug, Default)]
pub struct Decoder {
    defrag: Defragmenter,
    reassembled: Vec<u8>,
    stats: DecodeStats,
}

enum Sliced<'a> {
    Whole(Packet<'a>),
    Fragment {
        key: FragmentKey,
        header: (IpAddr, IpAddr, Option<u16>),
        offset: IpFragOffset,
        more: bool,
        payload: &'a [u8],
    },
}

impl Decoder {
    pub fn new(config: DecoderConfig) -> Self {
        Self {
            defrag: Defragmenter::new(config.defrag),
            ..Self::default()
        }
    }

    pub fn stats(&self) -> DecodeStats {
        DecodeStats {
            defrag: self.defrag.stats,
            ..self.stats
        }
    }

    /// Bytes held for fragment reassembly.
    pub fn held_bytes(&self) -> usize {
        self.defrag.held_bytes()
    }

    /// Decodes one frame. `Ok(None)` when the frame is a fragment of a datagram not yet complete.
    pub fn decode<'a>(
        &'a mut self,
        link: LinkType,
        time: EpochNanos,
        frame: &'a [u8],
        wire_len: u32,
    ) -> Result<Option<Packet<'a>>, DecodeError> {
        self.stats.frames += 1;
        let sliced = match slice_frame(link, frame) {
            Ok(sliced) => sliced,
            Err(error) => {
                let error = DecodeError::from(error);
                self.count_error(&error);
                return Err(error);
            }
        };
        match classify(&sliced, time, wire_len) {
            Err(error) => {
                self.count_error(&error);
                Err(error)
            }
            Ok(Sliced::Whole(packet)) => {
                self.stats.packets += 1;
                Ok(Some(packet))
            }
            Ok(Sliced::Fragment {
                key,
                header,
                offset,
                more,
                payload,
            }) => {
                let Some(whole) = self.defrag.add(key, time, offset, more, payload) else {
                    return Ok(None);
                };
                self.reassembled = whole;
                let transport = transport_from_bytes(key.protocol, &self.reassembled);
                self.stats.packets += 1;
                Ok(Some(Packet {
                    time,
                    src: header.0,
                    dst: header.1,
                    vlan: header.2,
                    wire_len,
                    transport,
                }))
            }
        }
    }

    fn count_error(&mut self, error: &DecodeError) {
        match error {
            DecodeError::UnsupportedLink(_) => self.stats.unsupported_link += 1,
            DecodeError::NotIp => self.stats.not_ip += 1,
            DecodeError::TooShort { .. } | DecodeError::Malformed(_) => self.stats.malformed += 1,
        }
    }
}

fn classify<'a>(
    sliced: &SlicedPacket<'a>,
    time: EpochNanos,
    wire_len: u32,
) -> Result<Sliced<'a>, DecodeError> {
    let vlan = sliced.vlan_ids().first().map(|id| id.value());
    let (src, dst, fragment) = match &sliced.net {
        Some(NetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            let src = IpAddr::from(header.source_addr());
            let dst = IpAddr::from(header.destination_addr());
            let fragment = header.is_fragmenting_payload().then(|| {
                (
                    u32::from(header.identification()),
                    header.fragments_offset(),
                    header.more_fragments(),
                    ipv4.payload().ip_number.0,
                    ipv4.payload().payload,
                )
            });
            (src, dst, fragment)
        }
        Some(NetSlice::Ipv6(ipv6)) => {
            let header = ipv6.header();
            let src = IpAddr::from(header.source_addr());
            let dst = IpAddr::from(header.destination_addr());
            let fragment =
                ipv6.extensions()
                    .clone()
                    .into_iter()
                    .find_map(|extension| match extension {
                        etherparse::Ipv6ExtensionSlice::Fragment(fragment)
                            if fragment.is_fragmenting_payload() =>
                        {
                            Some((
                                fragment.identification(),
                                fragment.fragment_offset(),
                                fragment.more_fragments(),
                                ipv6.payload().ip_number.0,
                                ipv6.payload().payload,
                            ))
                        }
                        _ => None,
                    });
            (src, dst, fragment)
        }
        Some(NetSlice::Arp(_)) | None => return Err(DecodeError::NotIp),
    };
    if let Some((id, offset, more, protocol, payload)) = fragment {
        return Ok(Sliced::Fragment {
            key: FragmentKey {
                src,
                dst,
                id,
                protocol,
            },
            header: (src, dst, vlan),
            offset,
            more,
            payload,
        });
    }
    let transport = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Transport::Tcp(segment_of(tcp)),
        Some(TransportSlice::Udp(udp)) => Transport::Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            payload: udp.payload(),
        },
        Some(TransportSlice::Icmpv4(icmp)) => Transport::Icmp {
            v6: false,
            icmp_type: icmp.type_u8(),
            code: icmp.code_u8(),
        },
        Some(TransportSlice::Icmpv6(icmp)) => Transport::Icmp {
            v6: true,
            icmp_type: icmp.type_u8(),
            code: icmp.code_u8(),
        },
        Some(TransportSlice::Igmp(_)) => Transport::Other { protocol: 2 },
        None => Transport::Other {
            protocol: net_protocol(sliced),
        },
    };
    Ok(Sliced::Whole(Packet {
        time,
        src,
        dst,
        vlan,
        wire_len,
        transport,
    }))
}

fn net_protocol(sliced: &SlicedPacket<'_>) -> u8 {
    match &sliced.net {
        Some(NetSlice::Ipv4(ipv4)) => ipv4.payload().ip_number.0,
        Some(NetSlice::Ipv6(ipv6)) => ipv6.payload().ip_number.0,
        _ => 0,
    }
}

fn segment_of<'a>(tcp: &TcpSlice<'a>) -> TcpSegment<'a> {
    let mut flags = 0;
    for (set, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
    ] {
        if set {
            flags |= bit;
        }
    }
    TcpSegment {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: tcp.window_size(),
        payload: tcp.payload(),
    }
}

/// The transport of a reassembled datagram's payload.
fn transport_from_bytes(protocol: u8, bytes: &[u8]) -> Transport<'_> {
    match protocol {
        6 => TcpSlice::from_slice(bytes)
            .map(|tcp| Transport::Tcp(segment_of(&tcp)))
            .unwrap_or(Transport::Other { protocol }),
        17 => UdpSlice::from_slice(bytes)
            .map(|udp| Transport::Udp {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
                payload: udp.payload(),
            })
            .unwrap_or(Transport::Other { protocol }),
        1 => Icmpv4Slice::from_slice(bytes)
            .map(|icmp| Transport::Icmp {
                v6: false,
                icmp_type: icmp.type_u8(),
                code: icmp.code_u8(),
            })
            .unwrap_or(Transport::Other { protocol }),
        58 => Icmpv6Slice::from_slice(bytes)
            .map(|icmp| Transport::Icmp {
                v6: true,
                icmp_type: icmp.type_u8(),
                code: icmp.code_u8(),
            })
            .unwrap_or(Transport::Other { protocol }),
        _ => Transport::Other { protocol },
    }
}
