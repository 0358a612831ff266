//! The pcapng writer, read back by the reader.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::read_all;
use spider_pcap::{
    CaptureReader, Format, InterfaceDescription, LinkType, PcapError, PcapngWriter, MAX_CAPLEN,
};

fn interfaces() -> Vec<InterfaceDescription> {
    vec![
        InterfaceDescription {
            link_type: LinkType::LINUX_SLL2,
            snaplen: 65535,
            name: "any".into(),
        },
        InterfaceDescription {
            link_type: LinkType::NULL,
            snaplen: 0,
            name: String::new(),
        },
    ]
}

#[test]
fn packets_and_names_read_back() {
    let mut writer = PcapngWriter::new(Vec::new(), &interfaces()).unwrap();
    writer.write_packet(0, 1, b"abcde", 1500).unwrap();
    let names: Vec<(IpAddr, String)> = (0..3000u32)
        .map(|i| {
            (
                IpAddr::from(i.to_be_bytes()),
                format!("host-{i}.example.test"),
            )
        })
        .collect();
    writer.write_name_resolution(&names).unwrap();
    writer.write_name_resolution(&[]).unwrap();
    writer
        .write_packet(1, 1_795_699_150_818_995_123, &[], 0)
        .unwrap();
    writer.write_packet(0, 0, &[0xff; 1000], 1000).unwrap();
    let bytes = writer.into_inner().unwrap();
    assert_eq!(bytes.len() % 4, 0);

    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.format(), Format::Pcapng);
    let mut got = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        got.push((
            r.interface,
            r.link_type,
            r.ts_nanos,
            r.data.to_vec(),
            r.orig_len,
        ));
    }
    assert_eq!(
        got,
        [
            (0, LinkType::LINUX_SLL2, 1, b"abcde".to_vec(), 1500),
            (1, LinkType::NULL, 1_795_699_150_818_995_123, Vec::new(), 0),
            (0, LinkType::LINUX_SLL2, 0, vec![0xff; 1000], 1000),
        ]
    );
    let ifaces = reader.interfaces();
    assert_eq!(ifaces.len(), 2);
    assert_eq!(
        (
            ifaces[0].name.as_deref(),
            ifaces[0].snaplen,
            ifaces[0].tsresol
        ),
        (Some("any"), 65535, 9)
    );
    assert_eq!((ifaces[1].name.as_deref(), ifaces[1].snaplen), (None, 0));
    // 3000 names do not fit one 60 KiB block: several blocks.
    let (mut at, mut nrbs) = (0, 0);
    while at < bytes.len() {
        let word = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        nrbs += usize::from(word(at) == 4);
        at += word(at + 4) as usize;
    }
    assert_eq!(nrbs, 2);
}

#[test]
fn refuses_what_it_cannot_write() {
    let mut writer = PcapngWriter::new(Vec::new(), &interfaces()).unwrap();
    let before = writer.bytes_written();
    assert!(matches!(
        writer.write_packet(2, 0, b"x", 1),
        Err(PcapError::UnknownInterface {
            interface: 2,
            known: 2,
            ..
        })
    ));
    assert!(matches!(
        writer.write_packet(0, -1, b"x", 1),
        Err(PcapError::Unwritable { what: "packet", .. })
    ));
    let huge = vec![0; MAX_CAPLEN as usize + 1];
    assert!(matches!(
        writer.write_packet(0, 0, &huge, 0),
        Err(PcapError::Unwritable { what: "packet", .. })
    ));
    let bad_name = [("10.0.0.1".parse().unwrap(), "a\0b".to_string())];
    assert!(matches!(
        writer.write_name_resolution(&bad_name),
        Err(PcapError::Unwritable { .. })
    ));
    assert_eq!(writer.bytes_written(), before);
    let max = vec![1; MAX_CAPLEN as usize];
    writer.write_packet(0, 5, &max, MAX_CAPLEN).unwrap();
    let bytes = writer.into_inner().unwrap();
    let (records, err) = read_all(&bytes);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].data.len(), MAX_CAPLEN as usize);

    let long_name = [InterfaceDescription {
        link_type: LinkType::ETHERNET,
        snaplen: 0,
        name: "x".repeat(2000),
    }];
    assert!(PcapngWriter::new(Vec::new(), &long_name).is_err());
}

#[test]
fn write_errors_carry_the_offset() {
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = PcapngWriter::new(Full(200), &interfaces()).unwrap();
    let at = writer.bytes_written();
    match writer.write_packet(0, 0, &[0; 300], 300) {
        Err(PcapError::Io { offset, .. }) => assert_eq!(offset, at),
        other => panic!("{other:?}"),
    }
}
