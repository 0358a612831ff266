//! Measures reading speed: `cargo run --release -p spider-pcap --example read_speed [FILE]`.
//!
//! Without a file, it writes 2 million 64-byte frames to a temporary pcapng and a pcap file first.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use spider_pcap::{CaptureReader, InterfaceDescription, LinkType, PcapError, PcapngWriter};

fn measure(path: &Path) -> Result<(), PcapError> {
    let start = Instant::now();
    let mut reader = CaptureReader::open(path)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    while let Some(r) = reader.next_record()? {
        records += 1;
        bytes += r.data.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}: {records} records, {bytes} bytes in {secs:.3} s: {:.1} M records/s, {:.0} MB/s",
        path.display(),
        records as f64 / secs / 1e6,
        reader.position() as f64 / secs / 1e6
    );
    Ok(())
}

fn synthesize() -> std::io::Result<Vec<PathBuf>> {
    const N: u32 = 2_000_000;
    let dir = std::env::temp_dir();
    let frame = [0x5au8; 64];
    let ng = dir.join("spider-read-speed.pcapng");
    let iface = InterfaceDescription {
        link_type: LinkType::ETHERNET,
        snaplen: 0,
        name: String::new(),
    };
    let file = BufWriter::new(std::fs::File::create(&ng)?);
    let mut writer = PcapngWriter::new(file, &[iface]).map_err(std::io::Error::other)?;
    for i in 0..N {
        writer
            .write_packet(0, i64::from(i) * 1000, &frame, 64)
            .map_err(std::io::Error::other)?;
    }
    writer
        .into_inner()
        .map_err(std::io::Error::other)?
        .flush()?;

    let pcap = dir.join("spider-read-speed.pcap");
    let mut out = BufWriter::new(std::fs::File::create(&pcap)?);
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.write_all(&v.to_le_bytes())?;
    }
    for i in 0..N {
        for v in [i, 0, 64, 64] {
            out.write_all(&v.to_le_bytes())?;
        }
        out.write_all(&frame)?;
    }
    out.flush()?;
    Ok(vec![ng, pcap])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = std::env::args_os().nth(1) {
        return Ok(measure(Path::new(&path))?);
    }
    let paths = synthesize()?;
    let result = paths.iter().try_for_each(|p| measure(p));
    for path in &paths {
        let _ = std::fs::remove_file(path);
    }
    Ok(result?)
}
