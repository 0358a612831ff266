//! The `#[repr(C)]` types that the Gocipher's kernel programs (`ebpf/src/*.c`) and its user-space
//! loader (`spider-gocipher`) share, mirrored field by field by `ebpf/include/spider_gocipher.h`.
//!
//! Owns the layout of map keys and values and the names of maps; must not do I/O or hold logic
//! beyond small conversions. Both sides assert the sizes (`_Static_assert` in C, `const` asserts
//! here), so a field added on one side only fails the build.

#![no_std]

/// Counted where a send call of a socket returned (`tp_btf/sock_send_length`) or a packet left
/// through `cgroup_skb/egress`.
pub const DIR_SEND: u8 = 0;
/// Counted where a receive call returned (`tp_btf/sock_recv_length`) or a packet came in
/// through `cgroup_skb/ingress`.
pub const DIR_RECV: u8 = 1;

/// What the kernel programs know of the role of a socket.
pub const ROLE_UNKNOWN: u8 = 0;
/// It connected (TCP `SYN_SENT → ESTABLISHED`, a connected UDP socket, an unbound UDP sender).
pub const ROLE_CLIENT: u8 = 1;
/// It was accepted (TCP `SYN_RECV → ESTABLISHED`) or bound by `bind()` (UDP).
pub const ROLE_SERVER: u8 = 2;

/// IP protocol numbers as stored in [`FlowKey::proto`].
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// Map names, as in the C source.
pub const MAP_FLOWS: &str = "gc_flows";
pub const MAP_SOCKS: &str = "gc_socks";
pub const MAP_PEERS: &str = "gc_peers";
pub const MAP_CONFIG: &str = "gc_config";
pub const MAP_STATS: &str = "gc_stats";

/// Indexes of the per-CPU counters in the `stats` array.
pub const STAT_FLOWS_CREATED: u32 = 0;
/// A flow could not be inserted (the map was full and nothing could be evicted).
pub const STAT_FLOWS_FAILED: u32 = 1;
/// Unused (kept so that indexes stay stable).
pub const STAT_RESERVED: u32 = 2;
/// Packets seen by `cgroup_skb` whose headers could not be read.
pub const STAT_SKB_UNPARSED: u32 = 3;
/// Receive calls on unconnected UDP sockets whose peer was not asked for (no `recvmsg` hook).
pub const STAT_RECV_NO_PEER: u32 = 4;
pub const STAT_COUNT: u32 = 8;

/// Key of the `flows` map: one direction of one socket towards one peer in one bucket.
/// Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FlowKey {
    /// Bucket index: wall-clock nanoseconds / bucket length.
    pub bucket: u64,
    /// The socket's cookie (`bpf_get_socket_cookie`), 0 when the packet had no socket.
    pub cookie: u64,
    pub local_ip: [u8; 16],
    pub remote_ip: [u8; 16],
    /// Host byte order.
    pub local_port: u16,
    pub remote_port: u16,
    /// [`PROTO_TCP`] or [`PROTO_UDP`].
    pub proto: u8,
    /// [`DIR_SEND`] or [`DIR_RECV`].
    pub dir: u8,
    pub pad: [u8; 2],
}

/// Value of the `flows` map (per CPU).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowValue {
    /// Payload bytes returned by send or receive calls.
    pub bytes: u64,
    /// Send or receive calls that moved at least one byte (or an empty datagram).
    pub calls: u64,
    /// IP bytes of the packets (`cgroup_skb`), GSO segments' headers included.
    pub wire_bytes: u64,
    /// IP packets (GSO segments counted one by one).
    pub packets: u64,
}

/// Value of the `socks` map (key: socket cookie): who uses the socket and its role.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SockInfo {
    /// The cgroup v2 id of the process (the inode number of its cgroup folder).
    pub cgroup_id: u64,
    /// Thread group id (the process id) of the last process that sent or received on it, or of
    /// its creator.
    pub pid: u32,
    /// [`ROLE_UNKNOWN`], [`ROLE_CLIENT`] or [`ROLE_SERVER`].
    pub role: u8,
    pub pad: [u8; 3],
    /// The command (`comm`), NUL padded.
    pub comm: [u8; 16],
}

/// Value of the `peers` map (key: the thread's `pid_tgid`): the peer of the unconnected UDP call
/// in progress, left by `cgroup/sendmsg*` or `cgroup/recvmsg*` for the length tracepoint.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerInfo {
    pub cookie: u64,
    pub ip: [u8; 16],
    /// Host byte order.
    pub port: u16,
    pub pad: [u8; 6],
}

/// Entry 0 of the `config` array, written by user space.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Bucket length in nanoseconds; 0 disables counting.
    pub bucket_ns: u64,
    /// Added to `bpf_ktime_get_ns()` (monotonic) to get wall-clock nanoseconds.
    pub realtime_offset_ns: u64,
    /// The cgroup v2 id whose sockets (and its descendants') are counted by the tracepoints.
    pub cgroup_id: u64,
    /// Its depth below the cgroup v2 root; 0: every socket.
    pub cgroup_level: u32,
    pub pad: u32,
}

const _: () = assert!(core::mem::size_of::<FlowKey>() == 56);
const _: () = assert!(core::mem::size_of::<FlowValue>() == 32);
const _: () = assert!(core::mem::size_of::<SockInfo>() == 32);
const _: () = assert!(core::mem::size_of::<PeerInfo>() == 32);
const _: () = assert!(core::mem::size_of::<Config>() == 32);

/// IPv4 as the IPv4-mapped IPv6 address the kernel programs store.
pub fn mapped_v4(octets: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[10] = 0xff;
    out[11] = 0xff;
    out[12..].copy_from_slice(&octets);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_v4_is_the_ipv4_mapped_form() {
        let mapped = mapped_v4([10, 84, 0, 1]);
        assert_eq!(mapped[..10], [0u8; 10]);
        assert_eq!(mapped[10..], [0xff, 0xff, 10, 84, 0, 1]);
    }
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain `#[repr(C)]` structs of integers and byte arrays with explicit padding:
    // every bit pattern is a valid value.
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowValue {}
    unsafe impl aya::Pod for super::SockInfo {}
    unsafe impl aya::Pod for super::PeerInfo {}
    unsafe impl aya::Pod for super::Config {}
}
