//! Which virtual shard a batch is for: the hash every agent, backend node and gateway, in any
//! language and any version, must compute identically (changing it would split sessions).
//!
//! The hash is 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`, per byte:
//! `h ^= byte; h = h * prime mod 2^64`) over a key, folded to 32 bits and reduced modulo S = 256:
//! `shard = ((h ^ (h >> 32)) mod 2^64) mod 256`. The fold brings the high bits in: FNV's low byte on
//! its own depends on the low bytes of the input only. Keys:
//!
//! - capture (frames, session updates): UTF-8 of the Whisperer's name, a `0x00` byte, then the
//!   session id as 8 bytes little-endian;
//! - usage: UTF-8 of the reporter (the Controller or host name), a `0x00` byte, then the source:
//!   when the record's `src_workload` has both a namespace and a workload, UTF-8 of the namespace,
//!   a `0x00` byte and UTF-8 of the workload; otherwise the source IP's 4 or 16 octets;
//! - inventory: UTF-8 of the Controller's name.

use spider_model::UsageRecord;

use crate::wire::ip_octets;

/// S, the number of virtual shards (`virtualShards` in `ingest.capnp`). Fixed forever.
pub const VIRTUAL_SHARDS: u16 = 256;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    Fnv::new().write(bytes).finish()
}

/// The shard of a 64-bit key hash: folded to 32 bits, modulo [`VIRTUAL_SHARDS`].
pub fn shard_of_hash(hash: u64) -> u16 {
    let folded = (hash ^ (hash >> 32)) % u64::from(VIRTUAL_SHARDS);
    // Below 256: always fits.
    u16::try_from(folded).unwrap_or_default()
}

/// The shard of a Whisperer's session (or flow): where its frames and session updates go.
pub fn shard_of(whisperer: &str, session_id: u64) -> u16 {
    let hash = Fnv::new()
        .write(whisperer.as_bytes())
        .write(&[0])
        .write(&session_id.to_le_bytes())
        .finish();
    shard_of_hash(hash)
}

/// The shard a usage record reported by `reporter` goes to (by its source workload, or source IP).
pub fn usage_shard(reporter: &str, record: &UsageRecord) -> u16 {
    let fnv = Fnv::new().write(reporter.as_bytes()).write(&[0]);
    let workload = record
        .src_workload
        .as_ref()
        .and_then(|w| Some((w.namespace.as_deref()?, w.workload.as_deref()?)));
    let hash = match workload {
        Some((namespace, workload)) => fnv
            .write(namespace.as_bytes())
            .write(&[0])
            .write(workload.as_bytes()),
        None => fnv.write(ip_octets(record.src).as_slice()),
    }
    .finish();
    shard_of_hash(hash)
}

/// The shard a Controller's inventory goes to.
pub fn inventory_shard(controller: &str) -> u16 {
    shard_of_hash(fnv1a64(controller.as_bytes()))
}

/// FNV-1a over several pieces, as if concatenated.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(FNV_OFFSET_BASIS)
    }

    fn write(self, bytes: &[u8]) -> Self {
        Self(bytes.iter().fold(self.0, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME)
        }))
    }

    fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use spider_model::WorkloadRef;

    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// These values are the contract with other implementations (and older versions): they must
    /// never change. They were cross-checked with an independent implementation (the README shows it).
    #[test]
    fn shards_are_stable() {
        assert_eq!(shard_of("", 0), 133);
        assert_eq!(shard_of("w1", 0), 234);
        assert_eq!(shard_of("w1", 1), 146);
        assert_eq!(shard_of("whisperer-a", 42), 176);
        assert_eq!(shard_of("whisperer-a", u64::MAX), 211);
        assert_eq!(inventory_shard("controller"), 122);
    }

    #[test]
    fn usage_shards_are_stable() {
        let mut record = usage_record("10.0.0.1");
        assert_eq!(usage_shard("node-1", &record), 162);
        record.src = "2001:db8::1".parse::<IpAddr>().expect("test address");
        assert_eq!(usage_shard("node-1", &record), 42);
        record.src_workload = Some(WorkloadRef {
            namespace: Some("shop".into()),
            workload: Some("cart".into()),
            ..WorkloadRef::default()
        });
        assert_eq!(usage_shard("controller", &record), 185);
        // Without a workload name the IP decides.
        record.src_workload = Some(WorkloadRef {
            namespace: Some("shop".into()),
            ..WorkloadRef::default()
        });
        let by_ip = UsageRecord {
            src_workload: None,
            ..record.clone()
        };
        assert_eq!(
            usage_shard("controller", &record),
            usage_shard("controller", &by_ip)
        );
    }

    #[test]
    fn consecutive_sessions_spread_over_every_shard() {
        let mut counts = [0_u32; VIRTUAL_SHARDS as usize];
        for id in 0..256 * 64 {
            counts[usize::from(shard_of("whisperer-a", id))] += 1;
        }
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(min >= Some(&32) && max <= Some(&128), "{min:?}..{max:?}");
    }

    fn usage_record(src: &str) -> UsageRecord {
        UsageRecord {
            minute: 0,
            src: src.parse().expect("test address"),
            dst: "10.0.0.2".parse().expect("test address"),
            proto: "tcp".into(),
            port: 80,
            bytes: 1,
            messages: 1,
            wire_bytes: 1,
            packets: 1,
            reporter: "node-1".into(),
            receive_side: false,
            src_workload: None,
            dst_workload: None,
            pid: None,
            command: None,
            container: None,
        }
    }
}
