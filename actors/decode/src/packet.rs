use std::net::IpAddr;

use spider_model::EpochNanos;

/// A decoded IP packet (after defragmentation), borrowing the frame or the decoder's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub time: EpochNanos,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The outermost VLAN id, when the frame was tagged.
    pub vlan: Option<u16>,
    /// Length of the frame on the wire (the capture's original length).
    pub wire_len: u32,
    pub transport: Transport<'a>,
}

/// The transport layer of a packet.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
    },
    /// Any other IP protocol, by number.
    Other {
        protocol: u8,
    },
}

impl Transport<'_> {
    /// The IP protocol number.
    pub fn protocol(&self) -> u8 {
        match self {
            Self::Tcp(_) => 6,
            Self::Udp { .. } => 17,
            Self::Icmp { v6: false, .. } => 1,
            Self::Icmp { v6: true, .. } => 58,
            Self::Other { protocol } => *protocol,
        }
    }

    /// Source and destination ports (0 for protocols without ports).
    pub fn ports(&self) -> (u16, u16) {
        match self {
            Self::Tcp(segment) => (segment.src_port, segment.dst_port),
            Self::Udp {
                src_port, dst_port, ..
            } => (*src_port, *dst_port),
            _ => (0, 0),
        }
    }
}

/// TCP control bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub payload: &'a [u8],
}

impl TcpSegment<'_> {
    /// Sequence space the segment occupies: payload, plus one for SYN and for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}
