//! Key encodings. Every time-ordered key starts with the retention class (2 bytes) and the
//! time (8 bytes, big-endian with the sign bit flipped, so that byte order is time order).
//!
//! | column family | key |
//! |---|---|
//! | `http` | class · request start · whisperer hash · session id · index in session (30 bytes) |
//! | `sessions` | class · first packet · whisperer hash · session id (26 bytes) |
//! | `session_ids` | whisperer hash · session id (16 bytes) → class · first packet |
//! | `packets` | class · first packet of the block · whisperer hash · session id · shard seq · block (38 bytes) |
//! | `dns` | class · time · whisperer hash · hash of (client, server, id, name, type) (26 bytes) |
//! | `hosts` | ip (16) · source with bit 7 set (1) · name · whisperer hash (8); before teams: ip · source (1, bit 7 clear) · name, no whisperer |
//! | `usage` | minute · src (16) · dst (16) · proto (1) · port (2) · reporter hash · receive side (1) · detail hash · agent hash (68 bytes); before teams: the same without the agent hash (60 bytes) |
//! | `batches` | `b` · agent length (2) · agent · seq, or `l` · shard seq (the ingest log) |

use std::net::{IpAddr, Ipv6Addr};

/// Length of the retention class prefix.
pub(crate) const CLASS_LEN: usize = 2;
/// Length of class and time: the prefix shared by every time-ordered key.
pub(crate) const TIME_PREFIX_LEN: usize = CLASS_LEN + 8;

pub(crate) const HTTP_KEY_LEN: usize = TIME_PREFIX_LEN + 8 + 8 + 4;
pub(crate) const SESSION_KEY_LEN: usize = TIME_PREFIX_LEN + 8 + 8;
pub(crate) const PACKET_KEY_LEN: usize = TIME_PREFIX_LEN + 8 + 8 + 8 + 4;
pub(crate) const DNS_KEY_LEN: usize = TIME_PREFIX_LEN + 8 + 8;
pub(crate) const USAGE_KEY_LEN: usize = USAGE_KEY_LEN_UNATTRIBUTED + 8;
/// The length of a usage key written before rows said which agent reported them.
pub(crate) const USAGE_KEY_LEN_UNATTRIBUTED: usize = 8 + 16 + 16 + 1 + 2 + 8 + 1 + 8;

/// The bit of a host key's source byte that says a whisperer hash ends the key.
const HOST_ATTRIBUTED: u8 = 0x80;

/// Time as 8 bytes whose byte order is the numeric order of `i64`.
pub(crate) fn time_be(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn time_from_be(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// FNV-1a, 64 bits: a hash whose value never changes between builds (it is stored in keys).
pub fn name_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Folds more bytes into an FNV-1a hash.
pub(crate) fn hash_more(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// An address as 16 bytes (IPv4 as IPv4-mapped IPv6).
pub(crate) fn ip16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

pub(crate) fn ip_from16(bytes: [u8; 16]) -> IpAddr {
    Ipv6Addr::from(bytes).to_canonical()
}

/// The first `N` bytes of `slice` from `at`, if there are that many.
pub(crate) fn array<const N: usize>(slice: &[u8], at: usize) -> Option<[u8; N]> {
    slice.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// `class · time`: the start of a time-ordered key range.
pub(crate) fn time_prefix(class: u16, time: i64) -> [u8; TIME_PREFIX_LEN] {
    let mut key = [0u8; TIME_PREFIX_LEN];
    key[..CLASS_LEN].copy_from_slice(&class.to_be_bytes());
    key[CLASS_LEN..].copy_from_slice(&time_be(time));
    key
}

/// The class and time of a time-ordered key.
pub(crate) fn class_and_time(key: &[u8]) -> Option<(u16, i64)> {
    let class = u16::from_be_bytes(array(key, 0)?);
    Some((class, time_from_be(array(key, CLASS_LEN)?)))
}

/// The whisperer hash that follows class and time in capture keys.
pub(crate) fn whisperer_of(key: &[u8]) -> Option<u64> {
    array(key, TIME_PREFIX_LEN).map(u64::from_be_bytes)
}

/// The key of an HTTP exchange: unique per (whisperer, session, index in session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HttpKey {
    pub class: u16,
    pub time: i64,
    pub whisperer: u64,
    pub session: u64,
    pub index: u32,
}

impl HttpKey {
    pub fn encode(&self) -> [u8; HTTP_KEY_LEN] {
        let mut key = [0u8; HTTP_KEY_LEN];
        key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(self.class, self.time));
        key[10..18].copy_from_slice(&self.whisperer.to_be_bytes());
        key[18..26].copy_from_slice(&self.session.to_be_bytes());
        key[26..30].copy_from_slice(&self.index.to_be_bytes());
        key
    }

    pub fn decode(key: &[u8]) -> Option<Self> {
        if key.len() != HTTP_KEY_LEN {
            return None;
        }
        let (class, time) = class_and_time(key)?;
        Some(Self {
            class,
            time,
            whisperer: u64::from_be_bytes(array(key, 10)?),
            session: u64::from_be_bytes(array(key, 18)?),
            index: u32::from_be_bytes(array(key, 26)?),
        })
    }
}

/// The key of a TCP session: its first packet, whisperer and id.
pub(crate) fn session_key(
    class: u16,
    first: i64,
    whisperer: u64,
    id: u64,
) -> [u8; SESSION_KEY_LEN] {
    let mut key = [0u8; SESSION_KEY_LEN];
    key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(class, first));
    key[10..18].copy_from_slice(&whisperer.to_be_bytes());
    key[18..26].copy_from_slice(&id.to_be_bytes());
    key
}

/// The `session_ids` key: whisperer hash and session id.
pub(crate) fn session_id_key(whisperer: u64, id: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&whisperer.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The whisperer hash and session id of a `sessions` or `packets` key.
pub(crate) fn session_of(key: &[u8]) -> Option<(u64, u64)> {
    Some((
        u64::from_be_bytes(array(key, 10)?),
        u64::from_be_bytes(array(key, 18)?),
    ))
}

/// The key of one packet block.
pub(crate) fn packet_key(
    class: u16,
    first: i64,
    whisperer: u64,
    session: u64,
    shard_seq: u64,
    block: u32,
) -> [u8; PACKET_KEY_LEN] {
    let mut key = [0u8; PACKET_KEY_LEN];
    key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(class, first));
    key[10..18].copy_from_slice(&whisperer.to_be_bytes());
    key[18..26].copy_from_slice(&session.to_be_bytes());
    key[26..34].copy_from_slice(&shard_seq.to_be_bytes());
    key[34..38].copy_from_slice(&block.to_be_bytes());
    key
}

pub(crate) fn dns_key(class: u16, time: i64, whisperer: u64, hash: u64) -> [u8; DNS_KEY_LEN] {
    let mut key = [0u8; DNS_KEY_LEN];
    key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(class, time));
    key[10..18].copy_from_slice(&whisperer.to_be_bytes());
    key[18..26].copy_from_slice(&hash.to_be_bytes());
    key
}

/// A host entry: one (ip, source, name) as one Whisperer saw it.
pub(crate) fn host_key(ip: IpAddr, source: u8, name: &str, whisperer: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(25 + name.len());
    key.extend_from_slice(&ip16(ip));
    key.push(source | HOST_ATTRIBUTED);
    key.extend_from_slice(name.as_bytes());
    key.extend_from_slice(&whisperer.to_be_bytes());
    key
}

/// The parts of a host key: address, source byte, name bytes, and the whisperer hash (`None`
/// for a key written before hosts were kept per Whisperer). `None` when too short.
pub(crate) fn host_key_parts(key: &[u8]) -> Option<(IpAddr, u8, &[u8], Option<u64>)> {
    let ip = ip_from16(array(key, 0)?);
    let source = *key.get(16)?;
    if source & HOST_ATTRIBUTED == 0 {
        return Some((ip, source, key.get(17..)?, None));
    }
    let end = key.len().checked_sub(8)?;
    let name = key.get(17..end)?;
    let whisperer = u64::from_be_bytes(array(key, end)?);
    Some((ip, source & !HOST_ATTRIBUTED, name, Some(whisperer)))
}

/// The agent hash of a usage key; `None` for a key written before rows carried it.
pub(crate) fn usage_agent_of(key: &[u8]) -> Option<u64> {
    match key.len() {
        USAGE_KEY_LEN => array(key, USAGE_KEY_LEN_UNATTRIBUTED).map(u64::from_be_bytes),
        _ => None,
    }
}

/// The batch id record: agent and its sequence number.
pub(crate) fn batch_key(agent: &str, seq: u64) -> Vec<u8> {
    let agent = agent.as_bytes();
    let len = u16::try_from(agent.len()).unwrap_or(u16::MAX);
    let agent = agent.get(..usize::from(len)).unwrap_or(agent);
    let mut key = Vec::with_capacity(11 + agent.len());
    key.push(b'b');
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(agent);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The ingest log entry of a batch.
pub(crate) fn log_key(shard_seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = b'l';
    key[1..].copy_from_slice(&shard_seq.to_be_bytes());
    key
}

/// Orders two time-ordered keys as the merged scans do: by what follows the class, then class.
pub(crate) fn merged_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    fn tail(key: &[u8]) -> &[u8] {
        key.get(CLASS_LEN..).unwrap_or(&[])
    }
    tail(a)
        .cmp(tail(b))
        .then_with(|| a.get(..CLASS_LEN).cmp(&b.get(..CLASS_LEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_sort_like_times() {
        let times = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000_000_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(time_be(pair[0]) < time_be(pair[1]));
            assert_eq!(time_from_be(time_be(pair[0])), pair[0]);
        }
    }

    #[test]
    fn http_key_round_trips() {
        let key = HttpKey {
            class: 3,
            time: 1_700_000_000_123_456_789,
            whisperer: name_hash("w1"),
            session: 42,
            index: 7,
        };
        assert_eq!(HttpKey::decode(&key.encode()), Some(key));
        assert_eq!(HttpKey::decode(&key.encode()[..20]), None);
    }

    #[test]
    fn addresses_round_trip() {
        for ip in ["10.1.2.3", "::1", "2001:db8::7"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(ip_from16(ip16(ip)), ip);
        }
    }

    #[test]
    fn host_keys_carry_their_whisperer_and_old_ones_none() {
        let ip: IpAddr = "10.1.2.3".parse().expect("ip");
        let key = host_key(ip, 2, "api.example", name_hash("w1"));
        assert_eq!(
            host_key_parts(&key),
            Some((ip, 2, &b"api.example"[..], Some(name_hash("w1"))))
        );
        // A key of the layout before teams: ip · source · name.
        let mut old = ip16(ip).to_vec();
        old.push(2);
        old.extend_from_slice(b"api.example");
        assert_eq!(
            host_key_parts(&old),
            Some((ip, 2, &b"api.example"[..], None))
        );
        assert_eq!(host_key_parts(&key[..20]), None);
        // Every Whisperer's entries of an address share its prefix (the map's names read it).
        assert!(key.starts_with(&ip16(ip)));
    }

    #[test]
    fn usage_keys_of_both_lengths_parse() {
        let mut key = [7u8; USAGE_KEY_LEN];
        key[USAGE_KEY_LEN_UNATTRIBUTED..].copy_from_slice(&name_hash("g1").to_be_bytes());
        assert_eq!(usage_agent_of(&key), Some(name_hash("g1")));
        assert_eq!(usage_agent_of(&key[..USAGE_KEY_LEN_UNATTRIBUTED]), None);
    }

    #[test]
    fn name_hash_is_stable() {
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
