//! Turns the kernel's per-socket counters into usage records with the meaning of DESIGN's
//! "Usage semantics": one direction (src → dst) of one (bucket, src, dst, protocol, server
//! port), payload bytes and send calls counted at the sender's socket, wire bytes and packets
//! from `cgroup_skb`. A direction whose sender is a socket counted here is reported by its send
//! side only; receive-side counts are reported (and say so) only for peers not counted here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};

use spider_ebpf_common::{
    FlowValue, SockInfo, DIR_SEND, PROTO_TCP, PROTO_UDP, ROLE_CLIENT, ROLE_SERVER,
};
use spider_model::{UsageRecord, WorkloadRef};

use crate::drain::RawFlow;

/// What records are built with.
#[derive(Debug, Clone)]
pub(crate) struct RecordContext {
    pub reporter: String,
    pub bucket_ns: u64,
    /// Host mode: name the local end by host and process (no Controller will).
    pub host: Option<String>,
    /// The kernel's ephemeral port range, for sockets whose role was not seen.
    pub ephemeral: (u16, u16),
}

/// Endpoints (ip, port, proto) that sent from a counted socket recently: a direction whose
/// sender is one of them is counted at its send side.
#[derive(Debug, Default)]
pub(crate) struct Senders {
    seen: HashMap<([u8; 16], u16, u8), u64>,
    /// Addresses of hosts whose own Gocipher counts their sends.
    pub hosts: HashSet<IpAddr>,
}

impl Senders {
    fn note(&mut self, ip: [u8; 16], port: u16, proto: u8, bucket: u64) {
        let at = self.seen.entry((ip, port, proto)).or_insert(bucket);
        *at = (*at).max(bucket);
    }

    fn contains(&self, ip: [u8; 16], port: u16, proto: u8) -> bool {
        self.seen.contains_key(&(ip, port, proto))
    }

    /// Forgets endpoints that sent nothing for `keep` buckets.
    fn prune(&mut self, now: u64, keep: u64) {
        self.seen.retain(|_, at| at.saturating_add(keep) >= now);
    }
}

type Tuple = (u64, u8, u8, [u8; 16], u16, [u8; 16], u16);

#[derive(Debug, Default, Clone)]
struct Merged {
    value: FlowValue,
    sock: Option<SockInfo>,
    sock_calls: u64,
    role: u8,
}

impl Merged {
    fn add(&mut self, value: FlowValue, sock: Option<SockInfo>) {
        self.value.bytes += value.bytes;
        self.value.calls += value.calls;
        self.value.wire_bytes += value.wire_bytes;
        self.value.packets += value.packets;
        if let Some(info) = sock {
            if info.role != 0 {
                self.role = info.role;
            }
            // The process that made the most calls on it (a handshake packet's socket has none).
            let replace = match self.sock {
                None => true,
                Some(current) => {
                    info.pid != 0 && (current.pid == 0 || value.calls > self.sock_calls)
                }
            };
            if replace {
                self.sock = Some(info);
                self.sock_calls = value.calls;
            }
        }
    }

    fn absorb(&mut self, other: Merged) {
        self.add(other.value, other.sock);
        if other.role != 0 {
            self.role = other.role;
        }
    }
}

fn unspecified(ip: &[u8; 16]) -> bool {
    ip_of(ip).is_unspecified()
}

fn ip_of(ip: &[u8; 16]) -> IpAddr {
    Ipv6Addr::from(*ip).to_canonical()
}

/// The command of a socket's process: `comm` up to its NUL.
fn command(info: &SockInfo) -> Option<String> {
    let end = info
        .comm
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.comm.len());
    (end > 0).then(|| String::from_utf8_lossy(&info.comm[..end]).into_owned())
}

/// The server port of a socket: its own when it serves, the peer's when it is a client.
fn server_port(role: u8, local: u16, remote: u16, ephemeral: (u16, u16)) -> u16 {
    let is_ephemeral = |port: u16| (ephemeral.0..=ephemeral.1).contains(&port);
    match role {
        ROLE_SERVER => local,
        ROLE_CLIENT => remote,
        _ => match (is_ephemeral(local), is_ephemeral(remote)) {
            (true, false) => remote,
            (false, true) => local,
            _ => local.min(remote),
        },
    }
}

/// Merges a drain's raw flows into records. `container_of` maps a cgroup id to a container id.
pub(crate) fn build(
    flows: Vec<RawFlow>,
    context: &RecordContext,
    senders: &mut Senders,
    container_of: &mut dyn FnMut(u64) -> Option<String>,
) -> Vec<UsageRecord> {
    // 1. Per (bucket, dir, proto, local, remote) over sockets (a handshake packet's socket is not
    // yet the connection's).
    let mut merged: BTreeMap<Tuple, Merged> = BTreeMap::new();
    for flow in flows {
        let k = flow.key;
        let tuple = (
            k.bucket,
            k.dir,
            k.proto,
            k.local_ip,
            k.local_port,
            k.remote_ip,
            k.remote_port,
        );
        merged.entry(tuple).or_default().add(flow.value, flow.sock);
    }
    // 2. An unbound UDP socket does not know its source address: the packets do.
    let vague: Vec<Tuple> = merged
        .keys()
        .filter(|t| unspecified(&t.3) || unspecified(&t.5))
        .copied()
        .collect();
    for tuple in vague {
        let (bucket, dir, proto, local_ip, local_port, remote_ip, remote_port) = tuple;
        let candidates: Vec<Tuple> = merged
            .keys()
            .filter(|c| {
                **c != tuple
                    && (c.0, c.1, c.2, c.4) == (bucket, dir, proto, local_port)
                    && !unspecified(&c.3)
                    && !unspecified(&c.5)
                    && (unspecified(&local_ip) || c.3 == local_ip)
                    && (unspecified(&remote_ip) || (c.5, c.6) == (remote_ip, remote_port))
            })
            .copied()
            .collect();
        if let [target] = candidates[..] {
            if let Some(entry) = merged.remove(&tuple) {
                if let Some(into) = merged.get_mut(&target) {
                    into.absorb(entry);
                }
            }
        }
    }
    // 3. Which endpoints send from counted sockets.
    let newest = merged.keys().map(|t| t.0).max().unwrap_or(0);
    for t in merged
        .keys()
        .filter(|t| t.1 == DIR_SEND && !unspecified(&t.3))
    {
        senders.note(t.3, t.4, t.2, t.0);
    }
    senders.prune(newest, 3);
    // 4. Records, summed over sockets of one process towards one server port.
    type RecordKey = (
        i64,
        IpAddr,
        IpAddr,
        u8,
        u16,
        bool,
        Option<u32>,
        Option<String>,
        Option<String>,
    );
    let mut out: BTreeMap<RecordKey, UsageRecord> = BTreeMap::new();
    for ((bucket, dir, proto, local_ip, local_port, remote_ip, remote_port), m) in merged {
        let send = dir == DIR_SEND;
        if unspecified(&remote_ip) {
            continue; // a receive whose peer was never known (counted by the kernel)
        }
        let (local, remote) = (ip_of(&local_ip), ip_of(&remote_ip));
        if !send
            && (senders.contains(remote_ip, remote_port, proto) || senders.hosts.contains(&remote))
        {
            continue; // its sender's send side counted it
        }
        let port = server_port(m.role, local_port, remote_port, context.ephemeral);
        let (src, dst) = if send {
            (local, remote)
        } else {
            (remote, local)
        };
        let process = m.sock.filter(|s| s.pid != 0);
        let container = process.and_then(|s| container_of(s.cgroup_id));
        let cmd = process.as_ref().and_then(command);
        let local_workload = context.host.as_ref().map(|host| WorkloadRef {
            namespace: None,
            kind: Some(
                if container.is_some() {
                    "Container"
                } else {
                    "Process"
                }
                .into(),
            ),
            workload: container.clone().or_else(|| cmd.clone()),
            pod: None,
            node: Some(host.clone()),
        });
        let (pid, command, container) = if send {
            (process.map(|s| s.pid), cmd, container)
        } else {
            (None, None, None)
        };
        let minute = i64::try_from(bucket.saturating_mul(context.bucket_ns)).unwrap_or(i64::MAX);
        let proto_name = match proto {
            PROTO_TCP => "tcp",
            PROTO_UDP => "udp",
            _ => continue,
        };
        let key = (
            minute,
            src,
            dst,
            proto,
            port,
            !send,
            pid,
            command.clone(),
            container.clone(),
        );
        let record = out.entry(key).or_insert_with(|| UsageRecord {
            minute,
            src,
            dst,
            proto: proto_name.into(),
            port,
            bytes: 0,
            messages: 0,
            wire_bytes: 0,
            packets: 0,
            reporter: context.reporter.clone(),
            receive_side: !send,
            src_workload: if send { local_workload.clone() } else { None },
            dst_workload: if send { None } else { local_workload.clone() },
            pid,
            command,
            container,
        });
        record.bytes += m.value.bytes;
        record.messages += m.value.calls;
        record.wire_bytes += m.value.wire_bytes;
        record.packets += m.value.packets;
    }
    out.into_values()
        .filter(|r| r.bytes + r.messages + r.wire_bytes + r.packets > 0)
        .collect()
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
