//! DNS messages (RFC 1035): the header, the questions and the answer section.
//!
//! Names come out in presentation form without the trailing dot (`api.shop.test`; the root is
//! `.`), with their case as sent; bytes other than printable ASCII, `.` inside a label and `\` are
//! escaped as `\DDD`. Authority and additional sections are not parsed.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The size of the fixed header.
const HEADER_LEN: usize = 12;
/// The longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed in one name; more is taken for a loop.
const MAX_POINTERS: usize = 64;
/// CNAME links [`resolve_addresses`] follows from a question's name (resolvers stop at 8 to 16).
pub const MAX_CNAME_LINKS: usize = 16;
/// (name, address) pairs [`resolve_addresses`] returns at most.
pub const MAX_RESOLVED: usize = 1024;

/// Why a DNS message could not be parsed; offsets are from the start of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("dns message truncated at byte offset {offset}: the {what} needs {needed} bytes")]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: usize,
    },
    #[error("unsupported dns label type {label:#04x} at byte offset {offset}")]
    BadLabel { offset: usize, label: u8 },
    #[error("dns compression pointer at byte offset {offset} points forward to {target}")]
    BadPointer { offset: usize, target: usize },
    #[error("too many dns compression pointers in the name at byte offset {offset}")]
    PointerLoop { offset: usize },
    #[error("dns name at byte offset {offset} is longer than 255 bytes")]
    NameTooLong { offset: usize },
    #[error("bad length {len} of the type {rtype} record data at byte offset {offset}")]
    BadRdata {
        offset: usize,
        rtype: u16,
        len: usize,
    },
    #[error("incomplete dns-over-tcp message: {needed} bytes needed, {available} available")]
    Incomplete { needed: usize, available: usize },
}

/// A parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    /// QR: a response rather than a query.
    pub is_response: bool,
    pub opcode: u8,
    /// The 4-bit RCODE of the header (EDNS extended codes are not merged in).
    pub rcode: u8,
    pub questions: Vec<Question>,
    pub answers: Vec<ResourceRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
}

/// One record of the answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: RData,
}

/// Record data, decoded for the types Spider uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Ptr(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// Any other type (or class other than IN), raw.
    Other(Vec<u8>),
}

impl fmt::Display for RData {
    /// Presentation form: an address, a name, `preference exchange`, or lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A(ip) => ip.fmt(f),
            Self::Aaaa(ip) => ip.fmt(f),
            Self::Cname(name) | Self::Ns(name) | Self::Ptr(name) => f.write_str(name),
            Self::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            Self::Other(bytes) => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
        }
    }
}

#[rustfmt::skip]
const TYPE_NAMES: [(u16, &str); 25] = [
    (1, "A"), (2, "NS"), (5, "CNAME"), (6, "SOA"), (12, "PTR"), (13, "HINFO"), (15, "MX"),
    (16, "TXT"), (28, "AAAA"), (33, "SRV"), (35, "NAPTR"), (39, "DNAME"), (41, "OPT"), (43, "DS"),
    (46, "RRSIG"), (47, "NSEC"), (48, "DNSKEY"), (50, "NSEC3"), (52, "TLSA"), (64, "SVCB"),
    (65, "HTTPS"), (251, "IXFR"), (252, "AXFR"), (255, "ANY"), (257, "CAA"),
];

const RCODE_NAMES: [&str; 11] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
];

/// The mnemonic of a record type: `A`, `AAAA`, `CNAME`, … or `TYPE<n>`.
pub fn type_name(rtype: u16) -> String {
    match TYPE_NAMES.iter().find(|(t, _)| *t == rtype) {
        Some((_, name)) => (*name).to_owned(),
        None => format!("TYPE{rtype}"),
    }
}

/// The mnemonic of a response code: `NOERROR`, `NXDOMAIN`, … or `RCODE<n>`.
pub fn rcode_name(rcode: u8) -> String {
    match RCODE_NAMES.get(usize::from(rcode)) {
        Some(name) => (*name).to_owned(),
        None => format!("RCODE{rcode}"),
    }
}

/// Parses a DNS message as carried by UDP (no length prefix).
pub fn parse_message(bytes: &[u8]) -> Result<DnsMessage, DnsError> {
    let mut r = Cursor { msg: bytes, pos: 0 };
    let header = r.take(HEADER_LEN, "header")?;
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (id, flags, qdcount, ancount) = (word(0), word(2), word(4), word(6));
    let mut message = DnsMessage {
        id,
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0f) as u8,
        rcode: (flags & 0x0f) as u8,
        questions: Vec::new(),
        answers: Vec::new(),
    };
    for _ in 0..qdcount {
        let name = r.name()?;
        let qtype = r.u16("question")?;
        r.u16("question")?;
        message.questions.push(Question { name, qtype });
    }
    for _ in 0..ancount {
        message.answers.push(r.record()?);
    }
    Ok(message)
}

/// Parses the first message of a DNS-over-TCP stream (2-byte length prefix); returns it and the
/// bytes it took, prefix included. [`DnsError::Incomplete`] when the stream holds less than one
/// whole message; other errors' offsets are within the message, after the prefix.
pub fn parse_tcp_message(stream: &[u8]) -> Result<(DnsMessage, usize), DnsError> {
    let available = stream.len();
    let incomplete = |needed| DnsError::Incomplete { needed, available };
    let Some(&[hi, lo]) = stream.get(..2) else {
        return Err(incomplete(2));
    };
    let total = 2 + usize::from(u16::from_be_bytes([hi, lo]));
    let body = stream.get(2..total).ok_or_else(|| incomplete(total))?;
    Ok((parse_message(body)?, total))
}

/// For each question, the addresses its name resolves to in the answers, following CNAME chains
/// (case-insensitively, each name at most once, at most [`MAX_CNAME_LINKS`] links). Returns
/// (question name, address) pairs, each once, at most [`MAX_RESOLVED`] of them.
///
/// The work is about linear in the message: answers are looked up by name, and a question asked
/// twice is resolved once (a 64 KiB response of repeated questions and addresses took minutes
/// when each step scanned every answer and every pair found so far).
pub fn resolve_addresses(msg: &DnsMessage) -> Vec<(String, IpAddr)> {
    // The answers' data by lowercased owner name, in message order.
    let mut by_name: HashMap<String, Vec<&RData>> = HashMap::new();
    for answer in &msg.answers {
        by_name
            .entry(answer.name.to_ascii_lowercase())
            .or_default()
            .push(&answer.data);
    }
    let mut out: Vec<(String, IpAddr)> = Vec::new();
    let mut asked: HashSet<&str> = HashSet::new();
    for question in &msg.questions {
        // A repeated question resolves to the pairs already found for it.
        if !asked.insert(question.name.as_str()) {
            continue;
        }
        let mut found: HashSet<IpAddr> = HashSet::new();
        let mut visited: HashSet<String> = HashSet::new();
        let mut current = question.name.to_ascii_lowercase();
        for _ in 0..=MAX_CNAME_LINKS {
            let mut next = None;
            for data in by_name.get(&current).into_iter().flatten() {
                let ip = match data {
                    RData::A(ip) => IpAddr::V4(*ip),
                    RData::Aaaa(ip) => IpAddr::V6(*ip),
                    RData::Cname(target) => {
                        next = next.or(Some(target.as_str()));
                        continue;
                    }
                    _ => continue,
                };
                if found.insert(ip) {
                    if out.len() == MAX_RESOLVED {
                        return out;
                    }
                    out.push((question.name.clone(), ip));
                }
            }
            visited.insert(current);
            match next.map(str::to_ascii_lowercase) {
                Some(target) if !visited.contains(&target) => current = target,
                _ => break,
            }
        }
    }
    out
}

struct Cursor<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DnsError> {
        let found = self.msg.get(self.pos..self.pos + n);
        let bytes = found.ok_or(truncated(self.pos, what, n))?;
        self.pos += n;
        Ok(bytes)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DnsError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A (possibly compressed) name at the cursor; the cursor moves past its in-place part.
    fn name(&mut self) -> Result<String, DnsError> {
        let (name, end) = read_name(self.msg, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<ResourceRecord, DnsError> {
        let name = self.name()?;
        let fixed = self.take(10, "resource record")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let start = self.pos;
        let rdata = self.take(rdlen, "record data")?;
        let bad = || DnsError::BadRdata {
            offset: start,
            rtype,
            len: rdlen,
        };
        // A name inside the data must end where the data ends.
        let name_at = |at: usize| -> Result<String, DnsError> {
            match read_name(self.msg, at)? {
                (name, end) if end == start + rdlen => Ok(name),
                _ => Err(bad()),
            }
        };
        let data = match (class, rtype) {
            (1, 1) => RData::A(<[u8; 4]>::try_from(rdata).map_err(|_| bad())?.into()),
            (1, 28) => RData::Aaaa(<[u8; 16]>::try_from(rdata).map_err(|_| bad())?.into()),
            (1, 5) => RData::Cname(name_at(start)?),
            (1, 2) => RData::Ns(name_at(start)?),
            (1, 12) => RData::Ptr(name_at(start)?),
            (1, 15) if rdlen >= 3 => RData::Mx {
                preference: u16::from_be_bytes([rdata[0], rdata[1]]),
                exchange: name_at(start + 2)?,
            },
            (1, 15) => return Err(bad()),
            _ => RData::Other(rdata.to_vec()),
        };
        Ok(ResourceRecord {
            name,
            rtype,
            ttl,
            data,
        })
    }
}

/// Reads the name at `start` of `msg`; returns it and the offset just past its in-place part.
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut text = String::new();
    let mut pos = start;
    let mut end = None;
    let mut wire_len = 1; // the root label
    let mut pointers = 0;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(truncated(pos, "name", 1));
        };
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label_len = usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + label_len) else {
                    return Err(truncated(pos, "label", 1 + label_len));
                };
                wire_len += 1 + label_len;
                if wire_len > MAX_NAME_LEN {
                    return Err(DnsError::NameTooLong { offset: start });
                }
                if !text.is_empty() {
                    text.push('.');
                }
                push_label(&mut text, label);
                pos += 1 + label_len;
            }
            0xc0 => {
                let Some(&low) = msg.get(pos + 1) else {
                    return Err(truncated(pos, "compression pointer", 2));
                };
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= pos {
                    return Err(DnsError::BadPointer {
                        offset: pos,
                        target,
                    });
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::PointerLoop { offset: start });
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => {
                return Err(DnsError::BadLabel {
                    offset: pos,
                    label: len,
                })
            }
        }
    }
    if text.is_empty() {
        text.push('.');
    }
    Ok((text, end.unwrap_or(pos + 1)))
}

fn truncated(offset: usize, what: &'static str, needed: usize) -> DnsError {
    DnsError::Truncated {
        offset,
        what,
        needed,
    }
}

fn push_label(text: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                text.push('\\');
                text.push(char::from(b));
            }
            0x21..=0x7e => text.push(char::from(b)),
            _ => {
                use fmt::Write;
                let _ = write!(text, "\\{b:03}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
