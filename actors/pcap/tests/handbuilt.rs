//! Hand-built pcap and pcapng files: every format variant, and damaged input.
#![allow(clippy::unwrap_used)]

mod common;

use common::{read_all, read_all_from, Idb, Ng, Pcap, Trickle};
use spider_pcap::{CaptureReader, Format, LinkType, PcapError, MAX_CAPLEN};

const SEC: i64 = 1_000_000_000;

fn three_records(big_endian: bool, nanosecond: bool) -> Pcap {
    let mut p = Pcap::new(big_endian, nanosecond, 1);
    p.record(1_700_000_000, 5, b"abc", 60)
        .record(1_700_000_001, 999_999, &[7; 100], 100)
        .record(1_700_000_002, 0, b"", 0);
    p
}

#[test]
fn pcap_in_both_byte_orders_and_precisions() {
    for big_endian in [false, true] {
        for nanosecond in [false, true] {
            let bytes = three_records(big_endian, nanosecond).bytes;
            let reader = CaptureReader::new(&bytes[..]).unwrap();
            assert_eq!(
                reader.format(),
                Format::Pcap {
                    big_endian,
                    nanosecond,
                    modified: false
                }
            );
            assert_eq!(reader.link_type(), Some(LinkType::ETHERNET));
            assert_eq!(reader.interfaces()[0].snaplen, 65535);
            let (records, err) = read_all(&bytes);
            assert!(err.is_none(), "{err:?}");
            let unit = if nanosecond { 1 } else { 1000 };
            let ts: Vec<i64> = records.iter().map(|r| r.ts_nanos).collect();
            assert_eq!(
                ts,
                [
                    1_700_000_000 * SEC + 5 * unit,
                    1_700_000_001 * SEC + 999_999 * unit,
                    1_700_000_002 * SEC
                ]
            );
            assert_eq!(records[0].data, b"abc");
            assert_eq!(records[0].orig_len, 60);
            assert_eq!(records[1].data, vec![7; 100]);
            assert!(records[2].data.is_empty());
            assert!(records.iter().all(|r| r.interface == 0));
        }
    }
}

#[test]
fn pcap_link_type_ignores_fcs_bits() {
    let mut p = Pcap::new(false, false, 0x1000_0000 | 113);
    p.record(1, 0, b"x", 1);
    let (records, err) = read_all(&p.bytes);
    assert!(err.is_none());
    assert_eq!(records[0].link_type, LinkType::LINUX_SLL);
}

#[test]
fn owned_iterator_and_position() {
    let bytes = three_records(false, false).bytes;
    let reader = CaptureReader::new(&bytes[..])
        .unwrap()
        .with_total_size(Some(bytes.len() as u64));
    assert_eq!(reader.position(), 24);
    assert_eq!(reader.total_size(), Some(bytes.len() as u64));
    let mut records = reader.into_records();
    assert_eq!(records.next().unwrap().unwrap().data, b"abc");
    assert_eq!(records.reader().position(), 24 + 16 + 3);
    assert_eq!(records.by_ref().count(), 2);
    assert_eq!(records.reader().position(), bytes.len() as u64);
}

#[test]
fn pcapng_interfaces_resolutions_and_skipped_blocks() {
    let mut ng = Ng::default();
    ng.shb(false)
        .simple_idb(1)
        .block(
            4,
            &[1, 0, 8, 0, 10, 0, 0, 1, b'a', b'.', b'b', 0, 0, 0, 0, 0],
        ) // NRB
        .idb(Idb {
            link_type: 228,
            snaplen: 1500,
            tsresol: Some(9),
            tsoffset: None,
            name: Some("tun0"),
        })
        .idb(Idb {
            link_type: 276,
            snaplen: 0,
            tsresol: Some(0x80 | 10),
            tsoffset: Some(100),
            name: Some("any"),
        })
        .idb(Idb {
            link_type: 229,
            snaplen: 0,
            tsresol: Some(3),
            tsoffset: Some(-5),
            name: None,
        })
        .epb(0, 1_700_000_000_123_456, b"eth", 3)
        .block(5, &[0; 12]) // Interface Statistics
        .epb(1, 1_700_000_000_123_456_789, b"ipv4", 40)
        .block(0x0000_0BAD, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]) // custom
        .block(0x0000_000A, &[0; 20]) // Decryption Secrets
        .epb(2, 3 * 1024 + 512, b"sll2", 4)
        .epb(3, 2_000, b"v6", 2);
    let reader = CaptureReader::new(&ng.bytes[..]).unwrap();
    assert_eq!(reader.format(), Format::Pcapng);
    let (records, err) = read_all(&ng.bytes);
    assert!(err.is_none(), "{err:?}");
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.interface,
                r.link_type,
                r.ts_nanos,
                r.data.as_slice(),
                r.orig_len,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                0,
                LinkType::ETHERNET,
                1_700_000_000_123_456_000,
                &b"eth"[..],
                3
            ),
            (
                1,
                LinkType::IPV4,
                1_700_000_000_123_456_789,
                &b"ipv4"[..],
                40
            ),
            (
                2,
                LinkType::LINUX_SLL2,
                103 * SEC + SEC / 2,
                &b"sll2"[..],
                4
            ),
            (3, LinkType::IPV6, -3 * SEC, &b"v6"[..], 2),
        ]
    );

    let mut reader = CaptureReader::new(&ng.bytes[..]).unwrap();
    while reader.next_record().unwrap().is_some() {}
    let names: Vec<_> = reader.interfaces().iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, [None, Some("tun0".into()), Some("any".into()), None]);
    assert_eq!(reader.interfaces()[1].snaplen, 1500);
    assert_eq!(reader.interfaces()[2].tsresol, 0x8a);
    assert_eq!(reader.interfaces()[2].tsoffset, 100);
}

#[test]
fn timestamp_resolutions() {
    let cases: [(u8, u64, i64); 6] = [
        (6, 1, 1_000),
        (0, 2, 2 * SEC),
        (12, 1_500_000, 1_500),
        (0x80 | 32, 1 << 32, SEC),
        (0x80, 3, 3 * SEC),
        (100, u64::MAX, 0),
    ];
    for (tsresol, ts, want) in cases {
        let mut ng = Ng::default();
        ng.shb(false)
            .idb(Idb {
                link_type: 1,
                snaplen: 0,
                tsresol: Some(tsresol),
                tsoffset: None,
                name: None,
            })
            .epb(0, ts, b"x", 1);
        let (records, err) = read_all(&ng.bytes);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(records[0].ts_nanos, want, "tsresol {tsresol:#x}");
    }
}

#[test]
fn simple_packet_blocks_take_the_last_timestamp_and_the_snaplen() {
    let mut ng = Ng::default();
    ng.shb(false)
        .idb(Idb {
            link_type: 1,
            snaplen: 4,
            tsresol: None,
            tsoffset: None,
            name: None,
        })
        .spb(b"abcd", 4)
        .epb(0, 7, b"ab", 2)
        .spb(b"0123", 10)
        .pb(0, 9, b"old", 3);
    let (records, err) = read_all(&ng.bytes);
    assert!(err.is_none(), "{err:?}");
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.interface, r.ts_nanos, r.data.as_slice(), r.orig_len))
        .collect();
    assert_eq!(
        got,
        [
            (0, 0, &b"abcd"[..], 4),
            (0, 7_000, &b"ab"[..], 2),
            (0, 7_000, &b"0123"[..], 10),
            (0, 9_000, &b"old"[..], 3),
        ]
    );
}

#[test]
fn several_sections_in_both_byte_orders() {
    let mut ng = Ng::default();
    ng.shb(false)
        .simple_idb(1)
        .simple_idb(101)
        .epb(1, 1, b"first", 5)
        .shb(true)
        .simple_idb(113)
        .epb(0, 2, b"second", 6)
        .spb(b"third", 5);
    let (records, err) = read_all(&ng.bytes);
    assert!(err.is_none(), "{err:?}");
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.interface, r.link_type, r.ts_nanos, r.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (1, LinkType::RAW, 1_000, &b"first"[..]),
            (0, LinkType::LINUX_SLL, 2_000, &b"second"[..]),
            (0, LinkType::LINUX_SLL, 2_000, &b"third"[..]),
        ]
    );

    // A new section forgets the interfaces of the previous one.
    let mut ng = Ng::default();
    ng.shb(true).simple_idb(1).simple_idb(1).epb(1, 1, b"ok", 2);
    let second_section = ng.bytes.len() as u64;
    ng.shb(false).simple_idb(1);
    let bad = ng.bytes.len() as u64;
    ng.epb(1, 1, b"stale", 5);
    let (records, err) = read_all(&ng.bytes);
    assert_eq!(records.len(), 1);
    assert!(second_section < bad);
    match err {
        Some(PcapError::UnknownInterface {
            offset,
            interface: 1,
            known: 1,
            ..
        }) => assert_eq!(offset, bad),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_last_record_keeps_the_records_before() {
    let mut p = three_records(false, false);
    let start = p.bytes.len() as u64;
    p.record(5, 5, &[1; 40], 40);
    let half = &p.bytes[..p.bytes.len() - 20];
    let (records, err) = read_all(half);
    assert_eq!(records.len(), 3);
    match err {
        Some(PcapError::Truncated {
            offset,
            what: "record",
            needed: 56,
            available: 36,
        }) => assert_eq!(offset, start),
        other => panic!("{other:?}"),
    }
    // Cut inside the record header.
    let (records, err) = read_all(&p.bytes[..start as usize + 7]);
    assert_eq!(records.len(), 3);
    assert!(matches!(
        err,
        Some(PcapError::Truncated { offset, what: "record header", available: 7, .. }) if offset == start
    ));

    // pcapng: a block cut in half.
    let mut ng = Ng::default();
    ng.shb(false).simple_idb(1).epb(0, 1, b"one", 3);
    let start = ng.bytes.len() as u64;
    ng.epb(0, 2, &[9; 64], 64);
    let (records, err) = read_all(&ng.bytes[..ng.bytes.len() - 50]);
    assert_eq!(records.len(), 1);
    match &err {
        Some(PcapError::Truncated {
            offset,
            what: "enhanced packet block",
            ..
        }) => assert_eq!(*offset, start),
        other => panic!("{other:?}"),
    }
    let message = err.unwrap().to_string();
    assert!(
        message.contains(&format!("byte offset {start}")),
        "{message}"
    );
    // ...and cut inside a block header.
    let (records, err) = read_all(&ng.bytes[..start as usize + 5]);
    assert_eq!(records.len(), 1);
    assert!(matches!(
        err,
        Some(PcapError::Truncated {
            what: "block header",
            ..
        })
    ));
}

#[test]
fn garbage_and_short_input() {
    let (records, err) = read_all(b"GET / HTTP/1.1\r\n\r\n");
    assert!(records.is_empty());
    assert!(matches!(
        err,
        Some(PcapError::BadMagic {
            offset: 0,
            magic: 0x4745_5420
        })
    ));
    assert!(matches!(
        read_all(b"").1,
        Some(PcapError::Truncated { offset: 0, .. })
    ));
    assert!(matches!(
        read_all(&[0xd4, 0xc3]).1,
        Some(PcapError::Truncated { .. })
    ));
    let header = three_records(false, false).bytes;
    assert!(matches!(
        read_all(&header[..20]).1,
        Some(PcapError::Truncated {
            what: "pcap file header",
            ..
        })
    ));
    // Version 3 of pcap does not exist.
    let mut bad = header.clone();
    bad[4] = 3;
    assert!(matches!(
        read_all(&bad).1,
        Some(PcapError::UnsupportedVersion { .. })
    ));

    // pcapng: bad byte order magic, unknown major version.
    let mut ng = Ng::default();
    ng.shb(false);
    let mut bad = ng.bytes.clone();
    bad[8] = 0;
    assert!(matches!(
        read_all(&bad).1,
        Some(PcapError::BadByteOrder { offset: 0, .. })
    ));
    let mut bad = ng.bytes.clone();
    bad[12] = 2;
    assert!(matches!(
        read_all(&bad).1,
        Some(PcapError::UnsupportedVersion { major: 2, .. })
    ));
}

#[test]
fn absurd_lengths() {
    // pcap caplen of 4 GiB.
    let mut p = three_records(true, false);
    let start = p.bytes.len() as u64;
    p.u32(1);
    p.u32(0);
    p.u32(u32::MAX);
    p.u32(u32::MAX);
    let (records, err) = read_all(&p.bytes);
    assert_eq!(records.len(), 3);
    match err {
        Some(PcapError::CaptureTooLong {
            offset,
            caplen,
            limit,
        }) => {
            assert_eq!((offset, caplen, limit), (start, u32::MAX, MAX_CAPLEN))
        }
        other => panic!("{other:?}"),
    }

    let mut ng = Ng::default();
    ng.shb(false).simple_idb(1);
    let start = ng.bytes.len();
    ng.epb(0, 1, b"data", 4);
    let set_len = |bytes: &mut Vec<u8>, at: usize, len: u32| {
        bytes[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
    };
    let cases: [(u32, &str); 4] = [
        (45, "not a multiple of 4"),
        (28, "shorter than the minimum for its type"),
        (0xffff_fff0, "longer than the reader's limit"),
        (8, "shorter than the minimum for its type"),
    ];
    for (len, want) in cases {
        let mut bytes = ng.bytes.clone();
        set_len(&mut bytes, start, len);
        match read_all(&bytes) {
            (records, Some(PcapError::BadBlockLength { offset, reason, .. })) => {
                assert!(records.is_empty());
                assert_eq!((offset, reason), (start as u64, want));
            }
            other => panic!("{len}: {other:?}"),
        }
    }
    // An unknown block with a huge length is skipped up to the end of the input: truncated.
    let mut bytes = ng.bytes.clone();
    bytes[start] = 0x77;
    set_len(&mut bytes, start, 0xffff_fff0);
    assert!(matches!(
        read_all(&bytes).1,
        Some(PcapError::Truncated { what: "block", .. })
    ));
    // Header and trailer lengths disagree.
    let mut bytes = ng.bytes.clone();
    let end = bytes.len();
    bytes[end - 4] = 0x40;
    assert!(matches!(
        read_all(&bytes).1,
        Some(PcapError::LengthMismatch { .. })
    ));
    // The captured length runs past the block.
    let mut bytes = ng.bytes.clone();
    bytes[start + 20] = 200;
    assert!(matches!(
        read_all(&bytes).1,
        Some(PcapError::Malformed { .. })
    ));
    // An EPB before any interface.
    let mut ng = Ng::default();
    ng.shb(false);
    let start = ng.bytes.len() as u64;
    ng.epb(0, 1, b"x", 1);
    assert!(matches!(
        read_all(&ng.bytes).1,
        Some(PcapError::UnknownInterface { offset, interface: 0, known: 0, .. }) if offset == start
    ));
}

#[test]
fn one_byte_reads_give_the_same_records() {
    let mut ng = Ng::default();
    ng.shb(false)
        .simple_idb(1)
        .epb(0, 1, &[1; 300], 300)
        .block(4, &[0; 100])
        .spb(b"spb", 3);
    for bytes in [three_records(false, true).bytes, ng.bytes] {
        let (want, err) = read_all(&bytes);
        assert!(err.is_none());
        let (got, err) = read_all_from(Trickle(&bytes));
        assert!(err.is_none());
        assert_eq!(got, want);
    }
}

#[test]
fn damaged_input_never_panics() {
    let mut ng = Ng::default();
    ng.shb(false)
        .idb(Idb {
            link_type: 1,
            snaplen: 100,
            tsresol: Some(0x85),
            tsoffset: Some(1),
            name: Some("eth0"),
        })
        .epb(0, 1, &[1; 30], 30)
        .spb(&[2; 20], 20)
        .block(4, &[3; 16])
        .pb(0, 5, b"x", 1)
        .shb(true)
        .simple_idb(276)
        .epb(0, 9, &[4; 9], 9);
    let pcap = three_records(true, true).bytes;
    for base in [ng.bytes, pcap] {
        let (full, _) = read_all(&base);
        for cut in 0..base.len() {
            let (records, _) = read_all(&base[..cut]);
            assert!(records.len() <= full.len());
            assert_eq!(records[..], full[..records.len()]);
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut bytes = base.clone();
            for _ in 0..1 + seed % 4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed >> 8) as usize % bytes.len();
                bytes[at] = (seed >> 40) as u8;
            }
            let _ = read_all(&bytes);
        }
    }
}
