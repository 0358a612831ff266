//! An open capture: the packet socket, its ring, and the kernel counters.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::config::{CaptureConfig, Interface};
use crate::error::CaptureError;
use crate::filter::build_program;
use crate::ring::{Block, Ring};
use crate::sys::{self, Mmap, PollOutcome};

/// Kernel counters of one capture socket, cumulative since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames that passed the filter, including the dropped ones (`tp_packets`).
    pub packets: u64,
    /// Frames dropped because the ring was full (`tp_drops`).
    pub drops: u64,
    /// Times the ring froze because every block was in user space (`tp_freeze_q_cnt`).
    pub freeze_queue_count: u64,
}

/// A live AF_PACKET capture with a TPACKET_V3 ring. Read it with [`Capture::next_block`] from
/// one thread (it is `Send`); open one per worker with a [`crate::Fanout`] group to spread load.
#[derive(Debug)]
pub struct Capture {
    ring: Ring,
    fd: OwnedFd,
    interface: String,
    ifindex: Option<u32>,
    totals: CaptureStats,
}

impl Capture {
    /// Opens the capture in the network namespace of the calling thread.
    pub fn open(config: &CaptureConfig) -> Result<Self, CaptureError> {
        config.validate()?;
        let interface = config.interface.display_name().to_owned();
        let program = build_program(config.filter.as_deref(), config.snap_len, config.direction)?;
        let ifindex =
            match &config.interface {
                Interface::All => None,
                Interface::Name(name) => Some(sys::if_nametoindex(name).map_err(|source| {
                    CaptureError::NoSuchInterface {
                        interface: name.clone(),
                        source,
                    }
                })?),
            };
        let fd = sys::packet_socket().map_err(|source| match source.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => CaptureError::PermissionDenied {
                interface: interface.clone(),
                source,
            },
            _ => CaptureError::Sys {
                operation: "socket(AF_PACKET)",
                interface: interface.clone(),
                source,
            },
        })?;
        let sys_err = |operation: &'static str| {
            let interface = interface.clone();
            move |source: io::Error| CaptureError::Sys {
                operation,
                interface,
                source,
            }
        };

        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        sys::setsockopt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(sys_err("setsockopt(PACKET_VERSION, TPACKET_V3)"))?;

        let geometry = config.ring;
        let request = libc::tpacket_req3 {
            tp_block_size: geometry.block_size,
            tp_block_nr: geometry.block_count,
            tp_frame_size: geometry.frame_size,
            tp_frame_nr: (geometry.block_size / geometry.frame_size) * geometry.block_count,
            tp_retire_blk_tov: geometry.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::setsockopt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_RX_RING, &request)
            .map_err(sys_err("setsockopt(PACKET_RX_RING)"))?;

        let block_size = geometry.block_size as usize;
        let block_count = geometry.block_count as usize;
        let map = Mmap::packet_ring(fd.as_fd(), block_size * block_count)
            .map_err(sys_err("mmap of the packet ring"))?;
        let ring =
            Ring::new(map, block_size, block_count).ok_or_else(|| CaptureError::InvalidConfig {
                reason: format!("ring of {block_count} blocks of {block_size} bytes"),
            })?;

        let fprog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_ptr().cast_mut(),
        };
        // The kernel copies the program during the call; `program` outlives it.
        sys::setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
            .map_err(sys_err("setsockopt(SO_ATTACH_FILTER)"))?;

        if config.promiscuous {
            let index = ifindex.unwrap_or(0);
            let membership = libc::packet_mreq {
                mr_ifindex: index as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::setsockopt(
                fd.as_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &membership,
            )
            .map_err(sys_err(
                "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)",
            ))?;
        }

        sys::bind_packet(fd.as_fd(), ifindex.unwrap_or(0)).map_err(sys_err("bind"))?;

        if let Some(fanout) = config.fanout {
            sys::setsockopt(
                fd.as_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                &fanout.option_value(),
            )
            .map_err(sys_err("setsockopt(PACKET_FANOUT)"))?;
        }

        tracing::info!(
            interface = %interface,
            ifindex = ifindex.unwrap_or(0),
            ring_bytes = geometry.total_bytes(),
            snap_len = config.snap_len,
            filter = config.filter.as_deref().unwrap_or(""),
            fanout_group = config.fanout.map(|f| i64::from(f.group_id)).unwrap_or(-1),
            "packet capture opened"
        );
        Ok(Self {
            ring,
            fd,
            interface,
            ifindex,
            totals: CaptureStats::default(),
        })
    }

    /// Opens `workers` captures in one fanout group (from `config.fanout`, which must be set).
    pub fn open_fanout(config: &CaptureConfig, workers: usize) -> Result<Vec<Self>, CaptureError> {
        if config.fanout.is_none() {
            return Err(CaptureError::InvalidConfig {
                reason: "open_fanout needs config.fanout".to_owned(),
            });
        }
        (0..workers).map(|_| Self::open(config)).collect()
    }

    /// The next block of frames, waiting up to `timeout` for one. `None` when the timeout
    /// passed. Drop the block to give it back to the kernel; it borrows the capture, so blocks
    /// are processed one at a time, in order.
    pub fn next_block(&mut self, timeout: Duration) -> Result<Option<Block<'_>>, CaptureError> {
        if !self.ring.next_ready() {
            let timeout_ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
            let outcome = sys::poll_readable(self.fd.as_fd(), timeout_ms).map_err(|source| {
                CaptureError::Sys {
                    operation: "poll",
                    interface: self.interface.clone(),
                    source,
                }
            })?;
            if outcome == PollOutcome::Error && !self.ring.next_ready() {
                return Err(CaptureError::Sys {
                    operation: "poll (socket error)",
                    interface: self.interface.clone(),
                    source: sys::socket_error(self.fd.as_fd()),
                });
            }
            if !self.ring.next_ready() {
                return Ok(None);
            }
        }
        Ok(Some(self.ring.take_next()))
    }

    /// Reads the kernel counters (which the kernel resets on each read) and returns the totals
    /// since the capture was opened.
    pub fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let delta =
            sys::packet_statistics(self.fd.as_fd()).map_err(|source| CaptureError::Sys {
                operation: "getsockopt(PACKET_STATISTICS)",
                interface: self.interface.clone(),
                source,
            })?;
        self.totals.packets += u64::from(delta.tp_packets);
        self.totals.drops += u64::from(delta.tp_drops);
        self.totals.freeze_queue_count += u64::from(delta.tp_freeze_q_cnt);
        Ok(self.totals)
    }

    /// The interface index, or `None` when capturing on every interface.
    pub fn ifindex(&self) -> Option<u32> {
        self.ifindex
    }

    /// The interface name (`any` for every interface).
    pub fn interface(&self) -> &str {
        &self.interface
    }
}

impl AsFd for Capture {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Capture {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
