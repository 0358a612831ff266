//! Frames as they come out of the ring: borrowed bytes plus the kernel's metadata.

/// pcap `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// pcap `LINKTYPE_RAW`: the frame starts with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;
/// pcap `LINKTYPE_IEEE802_11_RADIOTAP`.
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;

/// `ARPHRD_RAWIP` (not in every libc release).
const ARPHRD_RAWIP: u16 = 519;

/// The pcap link type of frames read with `SOCK_RAW` from a device of ARPHRD type `hatype`, or
/// `None` when Spider does not know how such frames start.
///
/// Loopback frames carry a (zeroed) Ethernet header on Linux, so `lo` is Ethernet too. Devices
/// without a link-layer header (tun, WireGuard, IP tunnels, PPP) hand out bare IP packets.
pub fn link_type_for_arphrd(hatype: u16) -> Option<u32> {
    match hatype {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK | libc::ARPHRD_IEEE802 => {
            Some(LINKTYPE_ETHERNET)
        }
        libc::ARPHRD_NONE
        | libc::ARPHRD_TUNNEL
        | libc::ARPHRD_TUNNEL6
        | libc::ARPHRD_SIT
        | libc::ARPHRD_PPP
        | ARPHRD_RAWIP => Some(LINKTYPE_RAW),
        libc::ARPHRD_IEEE80211_RADIOTAP => Some(LINKTYPE_IEEE802_11_RADIOTAP),
        _ => None,
    }
}

/// Which way a frame went, from `sll_pkttype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Addressed to this host (`PACKET_HOST`).
    Host,
    /// Link-layer broadcast (`PACKET_BROADCAST`).
    Broadcast,
    /// Link-layer multicast (`PACKET_MULTICAST`).
    Multicast,
    /// Addressed to another host, seen in promiscuous mode (`PACKET_OTHERHOST`).
    OtherHost,
    /// Sent by this host (`PACKET_OUTGOING`).
    Outgoing,
    /// Any other `sll_pkttype` value.
    Other(u8),
}

impl Direction {
    /// Maps a raw `sll_pkttype`.
    pub fn from_pkttype(pkttype: u8) -> Self {
        match pkttype {
            libc::PACKET_HOST => Self::Host,
            libc::PACKET_BROADCAST => Self::Broadcast,
            libc::PACKET_MULTICAST => Self::Multicast,
            libc::PACKET_OTHERHOST => Self::OtherHost,
            libc::PACKET_OUTGOING => Self::Outgoing,
            other => Self::Other(other),
        }
    }

    /// True for frames this host sent.
    pub fn is_outgoing(self) -> bool {
        self == Self::Outgoing
    }
}

/// An 802.1Q tag the NIC or the kernel stripped from the frame (VLAN offload). The bytes in
/// [`Frame::data`] no longer contain it; a consumer that keys on VLAN ids must use this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier (0x8100 when the kernel did not report one).
    pub tpid: u16,
    /// Tag control information (priority, DEI, VLAN id in the low 12 bits).
    pub tci: u16,
}

/// One captured frame, borrowed from a ring block. It lives as long as the [`crate::Block`].
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Kernel receive (or transmit) time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Index of the interface the frame was seen on.
    pub ifindex: u32,
    /// pcap link type of `data` (see [`link_type_for_arphrd`]); `None` for unknown devices.
    pub link_type: Option<u32>,
    /// The device's ARPHRD type, as reported by the kernel.
    pub arphrd: u16,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub original_len: u32,
    /// Which way the frame went.
    pub direction: Direction,
    /// A VLAN tag stripped by offload, if any.
    pub vlan: Option<VlanTag>,
}

impl Frame<'_> {
    /// True when the snap length (or the block size) cut the frame.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.original_len)
    }
}
