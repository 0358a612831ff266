//! What to capture and how big the ring is.

use crate::error::CaptureError;

/// Which interface to capture on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    /// Every interface of the network namespace (the filter is compiled for Ethernet, so it
    /// misjudges frames of interfaces without an Ethernet header).
    All,
    /// One interface, by name, resolved in the namespace of the thread that opens the capture.
    Name(String),
}

impl Interface {
    /// `"any"` (as in tcpdump) means every interface; anything else is an interface name.
    pub fn parse(name: &str) -> Self {
        if name == "any" {
            Self::All
        } else {
            Self::Name(name.to_owned())
        }
    }

    /// The name for messages and logs (`any` for every interface).
    pub fn display_name(&self) -> &str {
        match self {
            Self::All => "any",
            Self::Name(name) => name,
        }
    }
}

/// Which frames to keep by direction (`sll_pkttype`), decided in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectionFilter {
    /// Everything.
    #[default]
    All,
    /// Everything this host did not send (host, broadcast, multicast, other host).
    Incoming,
    /// Only what this host sent.
    Outgoing,
}

/// How PACKET_FANOUT spreads frames over the sockets of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanoutMode {
    /// By flow hash (with IP defragmentation first), so one flow stays on one socket.
    #[default]
    Hash,
    /// By the CPU that received the frame.
    Cpu,
    /// Round robin.
    LoadBalance,
}

/// Joins the capture socket to a PACKET_FANOUT group; open one capture per worker thread with
/// the same group id (unique per interface and network namespace) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    /// The group id shared by the workers.
    pub group_id: u16,
    /// How frames are spread.
    pub mode: FanoutMode,
}

impl Fanout {
    /// The `PACKET_FANOUT` option value: id in the low 16 bits, mode and flags in the high.
    pub(crate) fn option_value(self) -> libc::c_int {
        let mode = match self.mode {
            FanoutMode::Hash => libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG,
            FanoutMode::Cpu => libc::PACKET_FANOUT_CPU,
            FanoutMode::LoadBalance => libc::PACKET_FANOUT_LB,
        };
        (u32::from(self.group_id) | (mode << 16)) as libc::c_int
    }
}

/// Geometry of the TPACKET_V3 ring. Memory used is `block_size * block_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block: a power of two, at least one page. A frame never spans blocks.
    pub block_size: u32,
    /// Number of blocks.
    pub block_count: u32,
    /// Nominal frame size (TPACKET_V3 packs frames of any size; this only has to divide the
    /// block size and be a multiple of 16).
    pub frame_size: u32,
    /// A block that is not full is handed to user space after this many milliseconds.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    /// 32 blocks of 1 MiB (32 MiB), 10 ms block timeout.
    fn default() -> Self {
        Self {
            block_size: 1 << 20,
            block_count: 32,
            frame_size: 2048,
            block_timeout_ms: 10,
        }
    }
}

impl RingConfig {
    /// A ring of about `total_bytes` made of 1 MiB blocks (at least 2 blocks).
    pub fn with_total_size(total_bytes: u64) -> Self {
        let block_size = 1u32 << 20;
        let count = (total_bytes / u64::from(block_size)).clamp(2, 1 << 16) as u32;
        Self {
            block_count: count,
            ..Self::default()
        }
    }

    /// Total bytes mapped.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.block_size) * u64::from(self.block_count)
    }
}

/// Everything needed to open a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The interface (or all).
    pub interface: Interface,
    /// Bytes kept per frame (the rest is cut; the original length is kept).
    pub snap_len: u32,
    /// Put the interface in promiscuous mode for the life of the socket.
    pub promiscuous: bool,
    /// Ring geometry.
    pub ring: RingConfig,
    /// PACKET_FANOUT group, for several worker sockets on one interface.
    pub fanout: Option<Fanout>,
    /// Direction kept.
    pub direction: DirectionFilter,
    /// A pcap filter expression (`tcp port 80`), run in the kernel.
    pub filter: Option<String>,
}

impl CaptureConfig {
    /// Defaults for `interface`: 256 KiB snap length, not promiscuous, 32 MiB ring, no fanout,
    /// both directions, no filter.
    pub fn new(interface: Interface) -> Self {
        Self {
            interface,
            snap_len: 262_144,
            promiscuous: false,
            ring: RingConfig::default(),
            fanout: None,
            direction: DirectionFilter::All,
            filter: None,
        }
    }

    /// Checks the geometry and the options against what the kernel accepts.
    pub fn validate(&self) -> Result<(), CaptureError> {
        let invalid = |reason: String| Err(CaptureError::InvalidConfig { reason });
        let ring = &self.ring;
        let page = page_size();
        if !ring.block_size.is_power_of_two() || u64::from(ring.block_size) < page {
            return invalid(format!(
                "ring block size {} must be a power of two and at least the page size {page}",
                ring.block_size
            ));
        }
        if ring.block_count == 0 {
            return invalid("ring block count must be at least 1".to_owned());
        }
        if ring.frame_size < 64
            || !ring.frame_size.is_multiple_of(16)
            || !ring.block_size.is_multiple_of(ring.frame_size)
        {
            return invalid(format!(
                "ring frame size {} must be a multiple of 16, at least 64, dividing the block size {}",
                ring.frame_size, ring.block_size
            ));
        }
        let frames_per_block = ring.block_size / ring.frame_size;
        if frames_per_block.checked_mul(ring.block_count).is_none()
            || usize::try_from(ring.total_bytes()).is_err()
        {
            return invalid(format!(
                "ring of {} blocks of {} bytes is too large",
                ring.block_count, ring.block_size
            ));
        }
        // Block header (48) + frame header and sockaddr_ll (~80) + alignment slack.
        let overhead = 256u64;
        if self.snap_len == 0 || u64::from(self.snap_len) + overhead > u64::from(ring.block_size) {
            return invalid(format!(
                "snap length {} must be between 1 and the block size {} minus {overhead}",
                self.snap_len, ring.block_size
            ));
        }
        if self.promiscuous && self.interface == Interface::All {
            return invalid("promiscuous mode needs a named interface, not all".to_owned());
        }
        Ok(())
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CaptureConfig::new(Interface::parse("eth0"))
            .validate()
            .expect("defaults valid");
        assert_eq!(Interface::parse("any"), Interface::All);
        assert_eq!(RingConfig::with_total_size(64 << 20).block_count, 64);
    }

    #[test]
    fn rejects_bad_geometry() {
        let mut config = CaptureConfig::new(Interface::All);
        config.ring.block_size = 3000;
        assert!(config.validate().is_err());
        let mut config = CaptureConfig::new(Interface::All);
        config.snap_len = 2 << 20;
        assert!(config.validate().is_err());
        let mut config = CaptureConfig::new(Interface::All);
        config.promiscuous = true;
        let err = config.validate().expect_err("promisc on all");
        assert!(err.to_string().contains("promiscuous"), "{err}");
    }

    #[test]
    fn fanout_option_packs_id_and_mode() {
        let value = Fanout {
            group_id: 7,
            mode: FanoutMode::Hash,
        }
        .option_value();
        assert_eq!(value & 0xffff, 7);
        assert_eq!((value as u32) >> 16, libc::PACKET_FANOUT_FLAG_DEFRAG);
    }
}
