use etherparse::{EtherType, SlicedPacket};

pub use spider_pcap::LinkType;

/// Some systems write `DLT_RAW` (12 or 14) instead of `LINKTYPE_RAW`.
const DLT_RAW_12: LinkType = LinkType(12);
const DLT_RAW_14: LinkType = LinkType(14);

/// Why a frame's link layer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkError {
    Unsupported(LinkType),
    TooShort { needed: usize, got: usize },
    NotIp,
    Slice(String),
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;

/// Slices a frame down to its transport layer, whatever the link type.
pub(crate) fn slice_frame(link: LinkType, frame: &[u8]) -> Result<SlicedPacket<'_>, LinkError> {
    let sliced = match link {
        LinkType::ETHERNET => SlicedPacket::from_ethernet(frame),
        // Cooked headers are read here rather than by etherparse, which refuses some ARPHRD
        // types (loopback among them) that carry plain ether types.
        LinkType::LINUX_SLL => {
            let header = frame.get(..SLL_HEADER_LEN).ok_or(LinkError::TooShort {
                needed: SLL_HEADER_LEN,
                got: frame.len(),
            })?;
            let ether_type = EtherType(u16::from_be_bytes([header[14], header[15]]));
            SlicedPacket::from_ether_type(ether_type, &frame[SLL_HEADER_LEN..])
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | DLT_RAW_12 | DLT_RAW_14 => {
            SlicedPacket::from_ip(frame)
        }
        LinkType::LINUX_SLL2 => {
            let header = frame.get(..SLL2_HEADER_LEN).ok_or(LinkError::TooShort {
                needed: SLL2_HEADER_LEN,
                got: frame.len(),
            })?;
            let ether_type = EtherType(u16::from_be_bytes([header[0], header[1]]));
            SlicedPacket::from_ether_type(ether_type, &frame[SLL2_HEADER_LEN..])
        }
        LinkType::NULL => {
            let header = frame.get(..NULL_HEADER_LEN).ok_or(LinkError::TooShort {
                needed: NULL_HEADER_LEN,
                got: frame.len(),
            })?;
            let family_le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let family_be = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
            if [family_le, family_be]
                .iter()
                .any(|family| matches!(family, 2 | 10 | 24 | 28 | 30))
            {
                SlicedPacket::from_ip(&frame[NULL_HEADER_LEN..])
            } else {
                return Err(LinkError::NotIp);
            }
        }
        other => return Err(LinkError::Unsupported(other)),
    };
    sliced.map_err(|error| LinkError::Slice(error.to_string()))
}
