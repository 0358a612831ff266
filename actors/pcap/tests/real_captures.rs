//! The captures in `testdata/`, read directly, converted by editcap, and written back as pcapng;
//! checked against tshark and capinfos when they are installed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{read_all, read_all_from};
use spider_pcap::{
    CaptureReader, Format, InterfaceDescription, LinkType, PcapError, PcapngWriter, Record,
};

/// The captures and their frame counts (`capinfos -c`).
const CAPTURES: [(&str, usize); 5] = [
    ("http-basic.pcap", 223),
    ("http-impaired.pcap", 251),
    ("http-load.pcap", 1076),
    ("http-reordered.pcap", 260),
    ("mixed.pcap", 112),
];

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spider-pcap-{name}"))
}

/// Runs a tool; `None` when it is not installed.
fn tool(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(out.status.success(), "{program} {args:?}: {out:?}");
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{program} is not installed: skipping its check");
            None
        }
        Err(e) => panic!("{program}: {e}"),
    }
}

fn read_file(path: &Path) -> Vec<Record> {
    let reader = CaptureReader::open(path).unwrap();
    assert_eq!(
        reader.total_size(),
        Some(std::fs::metadata(path).unwrap().len())
    );
    reader.into_records().collect::<Result<_, _>>().unwrap()
}

/// Every frame's (epoch nanoseconds, length, captured length) as tshark sees them.
fn tshark_frames(path: &Path) -> Option<Vec<(i64, u32, usize)>> {
    let out = tool(
        "tshark",
        &[
            "-r",
            path.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ],
    )?;
    let frames = out
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let (secs, frac) = f[0].split_once('.').unwrap();
            let frac = format!("{frac:0<9}");
            let ts = secs.parse::<i64>().unwrap() * 1_000_000_000 + frac.parse::<i64>().unwrap();
            (ts, f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    Some(frames)
}

fn summary(records: &[Record]) -> Vec<(i64, u32, usize)> {
    records
        .iter()
        .map(|r| (r.ts_nanos, r.orig_len, r.data.len()))
        .collect()
}

#[test]
fn captures_read_completely() {
    for (name, count) in CAPTURES {
        let path = testdata(name);
        let records = read_file(&path);
        assert_eq!(records.len(), count, "{name}");
        assert!(records.iter().all(|r| r.link_type == LinkType::ETHERNET));
        if let Some(out) = tool("capinfos", &["-c", "-M", path.to_str().unwrap()]) {
            let n: usize = out.split_whitespace().last().unwrap().parse().unwrap();
            assert_eq!(n, count, "{name}: capinfos");
        }
        if let Some(frames) = tshark_frames(&path) {
            assert_eq!(summary(&records), frames, "{name}: tshark");
        }
        // Refills at every byte change nothing.
        let bytes = std::fs::read(&path).unwrap();
        let (trickled, err) = read_all_from(common::Trickle(&bytes));
        assert!(err.is_none());
        assert_eq!(trickled, records, "{name}: one-byte reads");
    }
}

#[test]
fn editcap_conversions_give_the_same_frames() {
    let path = testdata("mixed.pcap");
    let want = read_file(&path);
    // (editcap format, expected: None for pcapng, else (nanosecond, modified)).
    let formats = [
        ("pcapng", None),
        ("nsecpcap", Some((true, false))),
        ("modpcap", Some((false, true))),
    ];
    for (format, expected) in formats {
        let out = tmp(&format!("mixed.{format}"));
        let args = ["-F", format, path.to_str().unwrap(), out.to_str().unwrap()];
        if tool("editcap", &args).is_none() {
            return;
        }
        let detected = match CaptureReader::open(&out).unwrap().format() {
            Format::Pcapng => None,
            Format::Pcap {
                nanosecond,
                modified,
                ..
            } => Some((nanosecond, modified)),
        };
        assert_eq!(detected, expected, "{format}");
        let got = read_file(&out);
        assert_eq!(got, want, "{format}");
    }
}

#[test]
fn written_pcapng_reads_back_here_and_in_tshark() {
    let source = testdata("http-basic.pcap");
    let records = read_file(&source);
    let out = tmp("written.pcapng");
    let file = BufWriter::new(std::fs::File::create(&out).unwrap());
    let interfaces = [
        InterfaceDescription {
            link_type: LinkType::ETHERNET,
            snaplen: 262_144,
            name: "eth0".into(),
        },
        InterfaceDescription {
            link_type: LinkType::RAW,
            snaplen: 0,
            name: String::new(),
        },
    ];
    let mut writer = PcapngWriter::new(file, &interfaces).unwrap();
    let names: Vec<(IpAddr, String)> = vec![
        ("10.78.0.2".parse().unwrap(), "api.shop.test".into()),
        ("fd00::2".parse().unwrap(), "api6.shop.test".into()),
    ];
    for (i, r) in records.iter().enumerate() {
        if i == 3 {
            writer.write_name_resolution(&names).unwrap();
        }
        writer
            .write_packet(0, r.ts_nanos, &r.data, r.orig_len)
            .unwrap();
    }
    // A raw IP packet on the second interface, nanoseconds kept.
    let raw = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    writer
        .write_packet(1, 1_795_699_999_123_456_789, &raw, 20)
        .unwrap();
    let written = writer.bytes_written();
    drop(writer.into_inner().unwrap());
    assert_eq!(std::fs::metadata(&out).unwrap().len(), written);

    let got = read_file(&out);
    assert_eq!(got.len(), records.len() + 1);
    assert_eq!(got[..records.len()], records[..]);
    let last = &got[records.len()];
    assert_eq!((last.interface, last.link_type), (1, LinkType::RAW));
    assert_eq!(last.ts_nanos, 1_795_699_999_123_456_789);

    if let (Some(mut theirs), Some(ours)) = (tshark_frames(&out), tshark_frames(&source)) {
        assert_eq!(theirs.pop(), Some((1_795_699_999_123_456_789, 20, 20)));
        assert_eq!(theirs, ours);
        let iface = tool(
            "tshark",
            &[
                "-r",
                out.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "frame.interface_name",
                "-c",
                "1",
            ],
        );
        assert_eq!(iface.as_deref().map(str::trim), Some("eth0"));
        let resolved = tool(
            "tshark",
            &[
                "-r",
                out.to_str().unwrap(),
                "-N",
                "n",
                "-T",
                "fields",
                "-e",
                "ip.dst_host",
            ],
        )
        .unwrap();
        assert!(resolved.lines().any(|l| l == "api.shop.test"), "{resolved}");
    }
}

#[test]
fn truncated_real_capture_keeps_the_frames_before() {
    let bytes = std::fs::read(testdata("mixed.pcap")).unwrap();
    let full = read_all(&bytes).0;
    let last = full.last().unwrap();
    let last_start = bytes.len() - 16 - last.data.len();
    let cut = &bytes[..last_start + 16 + last.data.len() / 2];
    let (records, err) = read_all(cut);
    assert_eq!(records[..], full[..full.len() - 1]);
    let err = err.unwrap();
    assert!(matches!(err, PcapError::Truncated { what: "record", .. }));
    assert_eq!(err.offset(), Some(last_start as u64));
    assert_eq!(
        err.to_string(),
        format!(
            "truncated record at byte offset {last_start}: it needs {} bytes, only {} remain",
            16 + last.data.len(),
            16 + last.data.len() / 2
        )
    );
}
