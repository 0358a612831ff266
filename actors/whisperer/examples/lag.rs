//! Capture-to-searchable lag under load (run by `loadtests/whisperer/lag.sh`, root).
//!
//! In one process: a backend node (default settings, a temporary folder), a Whisperer with its
//! default settings capturing `veth-a` in namespace `NS_A`, a tiny HTTP server in `NS_A` and a
//! client in `NS_B` that sends one marker request (`GET /marker/N`) every `INTERVAL_MS`, while
//! tcpreplay replays `PCAP` from `NS_B` at `RATE` packets per second (0: no background load).
//! Every 5 ms the query API is asked for the markers (`path:/marker/*`); a marker's lag is the
//! time it was first returned minus its request's capture time (the kernel timestamp of its first
//! frame, `timing.request_start`). Prints one line: markers, p50, p90, p99, max (ms), and the
//! Whisperer's counters.
//!
//! `lag NS_A NS_B IP_A PCAP RATE LOOPS [INTERVAL_MS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spider_backend::client::{BackendClient, ListRequest};
use spider_backend::{BackendConfig, BackendNode};
use spider_whisperer::{Interface, LiveSource, Source, Whisperer, WhispererConfig};

const TOKEN: &str = "lag-bench-token-0123456789abcdef";
const PORT: u16 = 8090;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Answers every request with a tiny 200, one connection at a time.
fn serve(listener: &TcpListener, done: &AtomicBool) {
    listener.set_nonblocking(true).unwrap();
    while !done.load(Ordering::Relaxed) {
        let Ok((mut stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        stream.set_nonblocking(false).unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    }
}

fn get(server: SocketAddr, path: &str) {
    if let Ok(mut stream) = TcpStream::connect_timeout(&server, Duration::from_secs(2)) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: marker\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(request.as_bytes());
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        eprintln!("usage: lag NS_A NS_B IP_A PCAP RATE LOOPS [INTERVAL_MS]");
        std::process::exit(2);
    }
    let (ns_a, ns_b, ip_a, pcap) = (&args[1], &args[2], &args[3], &args[4]);
    let rate: u64 = args[5].parse().unwrap();
    let loops: u64 = args[6].parse().unwrap();
    let interval = Duration::from_millis(args.get(7).map_or(100, |s| s.parse().unwrap()));
    let server: SocketAddr = format!("{ip_a}:{PORT}").parse().unwrap();
    let path_a = format!("/run/netns/{ns_a}");
    let path_b = format!("/run/netns/{ns_b}");

    let data = tempfile::tempdir().unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: data.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    })
    .unwrap();
    let backend = node.local_addr();

    let done = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let done = done.clone();
        let path_a = path_a.clone();
        std::thread::spawn(move || {
            spider_capture::netns::run_in(&path_a, || {
                let listener = TcpListener::bind(server).unwrap();
                serve(&listener, &done);
            })
            .unwrap();
        })
    };

    let mut live = LiveSource::new(vec![Interface::parse("veth-a")]);
    live.netns = Some(path_a.into());
    live.promiscuous = true;
    let config = WhispererConfig::new("lag", backend, TOKEN, Source::Live(live));
    let handle = Whisperer::start(config).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let mut replay = (rate > 0).then(|| {
        Command::new("ip")
            .args(["netns", "exec", ns_b, "tcpreplay", "-q", "-i", "veth-b"])
            .arg(format!("--pps={rate}"))
            .arg(format!("--loop={loops}"))
            .arg(pcap)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    // 100k frames per loop of the default slice; the markers run as long as the replay (no
    // replay: LOOPS seconds).
    let expected_secs = (loops * 100_000).checked_div(rate).unwrap_or(loops).max(5);
    let markers = (expected_secs * 1000 / interval.as_millis() as u64).max(1);
    let client = {
        std::thread::spawn(move || {
            spider_capture::netns::run_in(&path_b, || {
                for n in 0..markers {
                    let started = Instant::now();
                    get(server, &format!("/marker/{n}"));
                    std::thread::sleep(interval.saturating_sub(started.elapsed()));
                }
            })
            .unwrap();
        })
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found: BTreeMap<String, f64> =
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let query = BackendClient::connect(backend, TOKEN).await.unwrap();
            let mut found = BTreeMap::new();
            let start = now_ns();
            let deadline = Instant::now() + Duration::from_secs(expected_secs + 30);
            while (found.len() as u64) < markers && Instant::now() < deadline {
                let page = query
                    .http_all(ListRequest {
                        from: start - 1_000_000_000,
                        to: i64::MAX,
                        whisperers: vec!["lag".into()],
                        q: Some("path:/marker/*".into()),
                        limit: 1000,
                        ..ListRequest::default()
                    })
                    .await
                    .unwrap();
                let seen = now_ns();
                for (_, exchange) in page {
                    found
                        .entry(exchange.path.clone())
                        .or_insert_with(|| (seen - exchange.timing.request_start) as f64 / 1e6);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            found
        });
    client.join().unwrap();
    if let Some(replay) = replay.as_mut() {
        let _ = replay.wait();
    }
    done.store(true, Ordering::Relaxed);
    server_thread.join().unwrap();
    let status = handle.status();
    let report = handle.stop();
    node.stop();

    let mut lags: Vec<f64> = found.values().copied().collect();
    lags.sort_by(f64::total_cmp);
    let c = report.counters;
    println!(
        "rate {rate} pps: {} of {markers} markers searchable; lag ms p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}; \
         whisperer seen {} kernel drops {} own drops {} delivered {}; rss {} MiB",
        lags.len(),
        percentile(&lags, 50.0),
        percentile(&lags, 90.0),
        percentile(&lags, 99.0),
        lags.last().copied().unwrap_or(f64::NAN),
        c.packets_seen,
        c.kernel_drops,
        c.own_drop_frames,
        c.frames_acked,
        status.rss_bytes >> 20,
    );
}
