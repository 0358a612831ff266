//! Prints packets/s, bytes/s and kernel drops for an interface, once a second.
//!
//! ```text
//! capture_rate IFACE [--workers N] [--seconds S] [--filter EXPR] [--ring-mib M] [--snap-len B]
//!              [--netns NAME]
//! ```
//!
//! With `--workers N > 1`, N sockets join one PACKET_FANOUT (hash) group, one thread each.
//! Meant for the benchmark against `tcpdump -w /dev/null` with `tcpreplay --topspeed` on a veth.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spider_capture::{Capture, CaptureConfig, Fanout, FanoutMode, Interface, RingConfig};

#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("capture_rate: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let interface = args.next().ok_or("usage: capture_rate IFACE [--workers N] [--seconds S] [--filter EXPR] [--ring-mib M] [--snap-len B] [--netns NAME]")?;
    let mut config = CaptureConfig::new(Interface::parse(&interface));
    let (mut workers, mut seconds, mut netns) = (1usize, 10u64, None::<String>);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--workers" => workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--seconds" => seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--filter" => config.filter = Some(value()?),
            "--netns" => netns = Some(value()?),
            "--snap-len" => {
                config.snap_len = value()?.parse().map_err(|e| format!("--snap-len: {e}"))?
            }
            "--ring-mib" => {
                let mib: u64 = value()?.parse().map_err(|e| format!("--ring-mib: {e}"))?;
                config.ring = RingConfig::with_total_size(mib << 20);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if workers > 1 {
        config.fanout = Some(Fanout {
            group_id: (std::process::id() & 0xffff) as u16,
            mode: FanoutMode::Hash,
        });
    }
    let open = || -> Result<Vec<Capture>, String> {
        (0..workers.max(1))
            .map(|_| Capture::open(&config).map_err(|e| e.to_string()))
            .collect()
    };
    let captures = match &netns {
        Some(name) => spider_capture::netns::run_in(spider_capture::netns::named_path(name), open)
            .map_err(|e| e.to_string())??,
        None => open()?,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let handles: Vec<_> = captures
        .into_iter()
        .map(|mut capture| {
            let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
            std::thread::spawn(move || -> Result<(u64, u64), String> {
                while !stop.load(Ordering::Relaxed) {
                    let block = capture
                        .next_block(Duration::from_millis(100))
                        .map_err(|e| e.to_string())?;
                    if let Some(block) = block {
                        let (mut packets, mut bytes) = (0u64, 0u64);
                        for frame in block.frames() {
                            packets += 1;
                            bytes += u64::from(frame.original_len);
                        }
                        counters.packets.fetch_add(packets, Ordering::Relaxed);
                        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                }
                let stats = capture.stats().map_err(|e| e.to_string())?;
                Ok((stats.packets, stats.drops))
            })
        })
        .collect();

    let start = Instant::now();
    let (mut last_packets, mut last_bytes) = (0u64, 0u64);
    for second in 1..=seconds {
        let next = start + Duration::from_secs(second);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let packets = counters.packets.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        println!(
            "{second:>4}s  {:>10} pkt/s  {:>8.1} Mbit/s",
            packets - last_packets,
            (bytes - last_bytes) as f64 * 8.0 / 1e6
        );
        (last_packets, last_bytes) = (packets, bytes);
    }
    stop.store(true, Ordering::Relaxed);
    let (mut kernel_packets, mut drops) = (0u64, 0u64);
    for handle in handles {
        let (p, d) = handle.join().map_err(|_| "worker panicked")??;
        kernel_packets += p;
        drops += d;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let read = counters.packets.load(Ordering::Relaxed);
    println!(
        "total: read {read} packets ({:.0} pkt/s), kernel counted {kernel_packets}, dropped {drops} ({:.3}%)",
        read as f64 / elapsed,
        if kernel_packets > 0 { drops as f64 * 100.0 / kernel_packets as f64 } else { 0.0 }
    );
    Ok(())
}
