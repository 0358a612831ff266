#![allow(clippy::unwrap_used)]

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
    let looping = bad(&[1, b'a', 0xc0, 12]);
    assert_eq!(looping, Err(DnsError::PointerLoop { offset: 12 }));
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

/// Found by the `dns_message` fuzz target: a 64 KiB response of one question repeated 2000 times
/// and 3300 addresses took about two minutes in `resolve_addresses` (every step scanned every
/// answer and every pair found so far). It now resolves the question once, and returns at most
/// `MAX_RESOLVED` pairs.
#[test]
fn a_large_response_resolves_in_linear_time() {
    let (questions, addresses) = (2000u16, 3300u16);
    let mut m = Msg::new(1, 0x8180, questions, addresses);
    m.question("a.test", 1); // at 12
    for _ in 1..questions {
        m.question("@12", 1);
    }
    for i in 0..addresses {
        let [hi, lo] = i.to_be_bytes();
        m.record("@12", 1, &[10, 0, hi, lo]);
    }
    assert!(m.0.len() <= 65_535);
    let msg = parse_message(&m.0).unwrap();
    let start = std::time::Instant::now();
    let resolved = resolve_addresses(&msg);
    // Milliseconds now, minutes before; the bound leaves room for a slow debug build.
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    assert_eq!(resolved.len(), MAX_RESOLVED);
    assert!(resolved.iter().all(|(name, _)| name == "a.test"));
    assert_eq!(resolved[0].1, IpAddr::from([10, 0, 0, 0]));
    assert_eq!(resolved[1023].1, IpAddr::from([10, 0, 3, 255]));
}

/// Distinct questions sharing a long CNAME chain: each follows at most `MAX_CNAME_LINKS` links.
#[test]
fn cname_chains_are_followed_a_bounded_number_of_links() {
    let links = MAX_CNAME_LINKS as u16;
    let mut m = Msg::new(1, 0x8180, 2, 2 * links + 3);
    m.question("q0.test", 1).question("q1.test", 1);
    // q0 -> c0 -> c1 -> … -> c(2 links); q1 -> c(links + 1): q1 reaches the address, q0 does not.
    m.record("q0.test", 5, &wire("c0.test")).record(
        "q1.test",
        5,
        &wire(&format!("c{}.test", links + 1)),
    );
    for i in 0..2 * links {
        m.record(&format!("c{i}.test"), 5, &wire(&format!("c{}.test", i + 1)));
    }
    m.record(&format!("C{}.test", 2 * links), 1, &[192, 0, 2, 9]);
    let msg = parse_message(&m.0).unwrap();
    assert_eq!(resolve_addresses(&msg), ips(&[("q1.test", "192.0.2.9")]));
}
