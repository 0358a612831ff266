//! DNS messages (RFC 1035): the header, the questions and the answer section.
//!
//! Names come out in presentation form without the trailing dot (`api.shop.test`; the root is
//! `.`), with their case as sent; bytes other than printable ASCII, `.` inside a label and `\` are
//! escaped as `\DDD`. Authority and additional sections are not parsed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The size of the fixed header.
const HEADER_LEN: usize = 12;
/// The longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed in one name; more is taken for a loop.
const MAX_POINTERS: usize = 64;

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
    let Some(&[hi, lo]) = stream.get(..2) else {
        return Err(DnsError::Incomplete {
            needed: 2,
            available: stream.len(),
        });
    };
    let total = 2 + usize::from(u16::from_be_bytes([hi, lo]));
    let Some(body) = stream.get(2..total) else {
        return Err(DnsError::Incomplete {
            needed: total,
            available: stream.len(),
        });
    };
    Ok((parse_message(body)?, total))
}

/// For each question, the addresses its name resolves to in the answers, following CNAME chains
/// (case-insensitively, each name at most once). Returns (question name, address) pairs.
pub fn resolve_addresses(msg: &DnsMessage) -> Vec<(String, IpAddr)> {
    let mut out: Vec<(String, IpAddr)> = Vec::new();
    for question in &msg.questions {
        let mut visited: Vec<&str> = Vec::new();
        let mut current = question.name.as_str();
        loop {
            visited.push(current);
            let mut next = None;
            for answer in msg.answers.iter() {
                if !answer.name.eq_ignore_ascii_case(current) {
                    continue;
                }
                let ip = match &answer.data {
                    RData::A(ip) => IpAddr::V4(*ip),
                    RData::Aaaa(ip) => IpAddr::V6(*ip),
                    RData::Cname(target) => {
                        next = next.or(Some(target.as_str()));
                        continue;
                    }
                    _ => continue,
                };
                if !out.iter().any(|(n, a)| *a == ip && *n == question.name) {
                    out.push((question.name.clone(), ip));
                }
            }
            match next {
                Some(target) if !visited.iter().any(|v| v.eq_ignore_ascii_case(target)) => {
                    current = target;
                }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A message under construction; in names, a label `@N` is a pointer to offset N.
    struct Msg(Vec<u8>);

    impl Msg {
        fn new(id: u16, flags: u16, qd: u16, an: u16) -> Self {
            Msg([id, flags, qd, an, 0, 0]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect())
        }

        fn name(&mut self, name: &str) -> &mut Self {
            for label in name.split('.').filter(|l| !l.is_empty()) {
                if let Some(at) = label.strip_prefix('@') {
                    let at: u16 = at.parse().unwrap();
                    self.0.extend_from_slice(&(0xc000 | at).to_be_bytes());
                    return self;
                }
                self.0.push(label.len() as u8);
                self.0.extend_from_slice(label.as_bytes());
            }
            self.0.push(0);
            self
        }

        fn question(&mut self, name: &str, qtype: u16) -> &mut Self {
            self.name(name).0.extend_from_slice(&[0, qtype as u8, 0, 1]);
            self
        }

        fn record(&mut self, name: &str, rtype: u16, data: &[u8]) -> &mut Self {
            self.name(name).0.extend_from_slice(&rtype.to_be_bytes());
            self.0.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            self.0.extend_from_slice(&(data.len() as u16).to_be_bytes());
            self.0.extend_from_slice(data);
            self
        }
    }

    fn wire(name: &str) -> Vec<u8> {
        let mut m = Msg(Vec::new());
        m.name(name);
        m.0
    }

    fn hex(s: &str) -> Vec<u8> {
        let digit = |i| u8::from_str_radix(&s[i..i + 2], 16).unwrap();
        (0..s.len()).step_by(2).map(digit).collect()
    }

    fn ips(v: &[(&str, &str)]) -> Vec<(String, IpAddr)> {
        v.iter()
            .map(|(n, a)| (n.to_string(), a.parse().unwrap()))
            .collect()
    }

    #[test]
    fn response_with_cname_chain() {
        let v6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut m = Msg::new(0xbeef, 0x8180, 1, 4);
        m.question("www.Example.test", 1) // the name is at 12
            .record("@12", 5, &wire("edge.cdn.test"))
            .record("edge.cdn.test", 5, &wire("a.cdn.test"))
            .record("a.cdn.test", 1, &[192, 0, 2, 1])
            .record("A.CDN.test", 28, &v6);
        let msg = parse_message(&m.0).unwrap();
        assert_eq!(
            (msg.id, msg.is_response, msg.opcode, msg.rcode),
            (0xbeef, true, 0, 0)
        );
        let q = Question {
            name: "www.Example.test".into(),
            qtype: 1,
        };
        assert_eq!(msg.questions, [q]);
        assert_eq!(
            (msg.answers[0].name.as_str(), msg.answers[0].ttl),
            ("www.Example.test", 60)
        );
        assert_eq!(msg.answers[0].data, RData::Cname("edge.cdn.test".into()));
        assert_eq!(msg.answers[2].data.to_string(), "192.0.2.1");
        assert_eq!(msg.answers[3].data.to_string(), "2001:db8::1");
        let want = ips(&[
            ("www.Example.test", "192.0.2.1"),
            ("www.Example.test", "2001:db8::1"),
        ]);
        assert_eq!(resolve_addresses(&msg), want);

        let msg = parse_message(&Msg::new(7, 0x0100, 1, 0).question("x.test", 28).0).unwrap();
        assert!(!msg.is_response);
        assert_eq!(type_name(msg.questions[0].qtype), "AAAA");
    }

    #[test]
    fn cname_loops_and_other_types() {
        let mut m = Msg::new(1, 0x8183, 1, 5);
        m.question("a.test", 1)
            .record("a.test", 5, &wire("b.test"))
            .record("b.test", 5, &wire("a.test"))
            .record("b.test", 15, &[0, 10, 4, b'm', b'a', b'i', b'l', 0])
            .record("b.test", 16, b"\x05hello")
            .record(".", 12, &wire("ptr.test"));
        let msg = parse_message(&m.0).unwrap();
        assert_eq!(rcode_name(msg.rcode), "NXDOMAIN");
        assert!(resolve_addresses(&msg).is_empty());
        assert_eq!(msg.answers[2].data.to_string(), "10 mail");
        assert_eq!(msg.answers[3].data, RData::Other(b"\x05hello".to_vec()));
        assert_eq!(msg.answers[3].data.to_string(), "0568656c6c6f");
        assert_eq!(msg.answers[4].name, ".");
        assert_eq!(msg.answers[4].data, RData::Ptr("ptr.test".into()));
    }

    #[test]
    fn names() {
        let mut m = Msg::new(1, 0, 1, 0);
        m.0.extend_from_slice(b"\x04a.b\\\x02\x00\xff\x00\x00\x01\x00\x01");
        assert_eq!(
            parse_message(&m.0).unwrap().questions[0].name,
            r"a\.b\\.\000\255"
        );
        // 255 bytes on the wire are fine, 256 are not.
        let label = "x".repeat(63);
        let ok = format!("{label}.{label}.{label}.{}", "y".repeat(61));
        let msg = parse_message(&Msg::new(1, 0, 1, 0).question(&ok, 1).0).unwrap();
        assert_eq!(msg.questions[0].name, ok);
        let long = Msg::new(1, 0, 1, 0)
            .question(&format!("{ok}y"), 1)
            .0
            .clone();
        assert_eq!(
            parse_message(&long),
            Err(DnsError::NameTooLong { offset: 12 })
        );
        // A pointer to itself, a loop through a label, a reserved label type.
        let bad = |name: &[u8]| {
            let mut m = Msg::new(1, 0, 1, 0);
            m.0.extend_from_slice(name);
            m.0.extend_from_slice(&[0, 1, 0, 1]);
            parse_message(&m.0)
        };
        let to_self = DnsError::BadPointer {
            offset: 12,
            target: 12,
        };
        assert_eq!(bad(&[0xc0, 12]), Err(to_self));
        assert!(matches!(
            bad(&[1, b'a', 0xc0, 12]),
            Err(DnsError::NameTooLong { .. })
        ));
        assert_eq!(
            bad(&[0x40, 0]),
            Err(DnsError::BadLabel {
                offset: 12,
                label: 0x40
            })
        );
    }

    #[test]
    fn damaged_messages() {
        let short = DnsError::Truncated {
            offset: 0,
            what: "header",
            needed: 12,
        };
        assert_eq!(parse_message(&[0; 11]), Err(short));
        let mut m = Msg::new(1, 0x8000, 1, 1);
        m.question("a.test", 1).record("a.test", 1, &[1, 2, 3]);
        let bad_a = DnsError::BadRdata {
            offset: 42,
            rtype: 1,
            len: 3,
        };
        assert_eq!(parse_message(&m.0), Err(bad_a));
        // A CNAME whose name runs past its data length.
        let mut data = wire("b.test");
        data.pop();
        let mut m = Msg::new(1, 0x8000, 0, 1);
        m.record("a.test", 5, &data).0.push(0);
        assert!(matches!(
            parse_message(&m.0),
            Err(DnsError::BadRdata { .. })
        ));
        // Counts beyond the data: truncated, whatever the count.
        let m = Msg::new(1, 0x8000, 0xffff, 0xffff);
        assert!(matches!(
            parse_message(&m.0),
            Err(DnsError::Truncated { offset: 12, .. })
        ));
        // Every prefix and many mutations of a good message: errors, never panics.
        let mut good = Msg::new(9, 0x8180, 1, 2);
        good.question("a.b.test", 1)
            .record("@12", 5, &wire("c.@14"))
            .record("c.@14", 1, &[1, 2, 3, 4]);
        let resolved = resolve_addresses(&parse_message(&good.0).unwrap());
        assert_eq!(resolved, ips(&[("a.b.test", "1.2.3.4")]));
        for cut in 0..good.0.len() {
            assert!(parse_message(&good.0[..cut]).is_err());
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut bytes = good.0.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed >> 8) as usize % bytes.len();
            bytes[at] = (seed >> 32) as u8;
            let _ = parse_message(&bytes);
        }
    }

    #[test]
    fn tcp_framing_and_code_names() {
        let mut stream = vec![0, 12];
        stream.extend_from_slice(&Msg::new(5, 0x8180, 0, 0).0);
        stream.extend_from_slice(&[0, 40, 1]);
        let (msg, used) = parse_tcp_message(&stream).unwrap();
        assert_eq!((msg.id, used), (5, 14));
        let more = DnsError::Incomplete {
            needed: 42,
            available: 3,
        };
        assert_eq!(parse_tcp_message(&stream[used..]), Err(more));
        assert!(matches!(
            parse_tcp_message(&[0]),
            Err(DnsError::Incomplete { needed: 2, .. })
        ));

        let types: Vec<String> = [5, 65, 999].into_iter().map(type_name).collect();
        assert_eq!(types, ["CNAME", "HTTPS", "TYPE999"]);
        let rcodes: Vec<String> = [0, 1, 2, 3, 4, 5, 15].into_iter().map(rcode_name).collect();
        let want = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "RCODE15",
        ];
        assert_eq!(rcodes, want);
    }

    /// The DNS exchanges of testdata/mixed.pcap (UDP payloads of frames 1 to 6, from tshark).
    const MIXED: [&str; 6] = [
        "73e401200001000000000001067365637572650473686f700474657374000001000100002904d000000000000c000a0008628d70da212495a4",
        "73e485800001000100000001067365637572650473686f7004746573740000010001c00c000100010000000000040a4e000200002904d0000000000000",
        "d72c01200001000000000001036170690473686f700474657374000001000100002904d000000000000c000a0008b420bf57c4ffb5a8",
        "d72c85800001000100000001036170690473686f7004746573740000010001c00c000100010000000000040a4e000200002904d0000000000000",
        "e88201200001000000000001066e6f737563680473686f700474657374000001000100002904d000000000000c000a0008ec289c98ab9e3d5f",
        "e88281850001000000000001066e6f737563680473686f700474657374000001000100002904d0000000000006000f0002000e",
    ];

    #[test]
    fn mixed_capture_exchanges() {
        let msgs: Vec<DnsMessage> = MIXED
            .iter()
            .map(|h| parse_message(&hex(h)).unwrap())
            .collect();
        let summary: Vec<_> = msgs
            .iter()
            .map(|m| {
                (
                    m.id,
                    m.is_response,
                    m.questions[0].name.as_str(),
                    rcode_name(m.rcode),
                )
            })
            .collect();
        // The brief announced NXDOMAIN for nosuch.shop.test: the capture holds REFUSED (0x8185).
        let want = [
            (0x73e4, false, "secure.shop.test", "NOERROR"),
            (0x73e4, true, "secure.shop.test", "NOERROR"),
            (0xd72c, false, "api.shop.test", "NOERROR"),
            (0xd72c, true, "api.shop.test", "NOERROR"),
            (0xe882, false, "nosuch.shop.test", "NOERROR"),
            (0xe882, true, "nosuch.shop.test", "REFUSED"),
        ];
        assert_eq!(summary, want.map(|(i, r, n, c)| (i, r, n, c.to_string())));
        assert_eq!(
            resolve_addresses(&msgs[1]),
            ips(&[("secure.shop.test", "10.78.0.2")])
        );
        assert_eq!(
            resolve_addresses(&msgs[3]),
            ips(&[("api.shop.test", "10.78.0.2")])
        );
        assert!(resolve_addresses(&msgs[5]).is_empty());
        let first = &msgs[3].answers[0];
        assert_eq!((first.name.as_str(), first.rtype), ("api.shop.test", 1));
    }
}
