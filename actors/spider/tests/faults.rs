//! Faults, on real processes: a backend node killed with SIGKILL while a Whisperer replays a
//! capture (it buffers while the node is away; the node restarts on the same data folder; every
//! frame is stored exactly once); a Controller killed with SIGKILL and restarted while a
//! Gocipher sends usage through it (known loopback traffic: its bytes are stored exactly, neither
//! lost nor doubled; root with BTF only); and a shard's disk filling up (ingest is refused with a
//! distinct `storage full:` error that is counted, the node stays up and its health says why,
//! everything acknowledged before is there, and ingest recovers once space returns).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    all_packets, backend_config, free_port, get, multiset, on_local, packet_key, sample, scrape,
    start_backend, testdata, Process, TOKEN,
};
use spider_backend::client::{BackendClient, CapturePush};
use spider_model::PacketRecord;

const LIMIT: Duration = Duration::from_secs(120);
const NO_REDACTION: &str = "[redaction]\nenabled = false\n";

fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < LIMIT, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn backend_killed_and_restarted_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rpc = format!("127.0.0.1:{}", free_port());
    // Frames exactly as captured (redaction would mask a stream resumed after the restart).
    let config = backend_config(dir.path(), &data, &rpc, NO_REDACTION);
    let backend_metrics = format!("127.0.0.1:{}", free_port());
    let mut backend = start_backend(&config, &["--metrics", &backend_metrics]);
    let capture = testdata("http-basic.pcap");
    let whisperer_metrics = format!("127.0.0.1:{}", free_port());
    // Replayed at the capture's pace (6.6 s), so that the node dies in the middle of it.
    let mut whisperer = Process::spawn(&[
        "whisperer",
        "--backend",
        &rpc,
        "--token",
        TOKEN,
        "--name",
        "restart-test",
        "--pcap",
        capture.to_str().unwrap(),
        "--speed",
        "realtime",
        "--metrics",
        &whisperer_metrics,
    ]);
    whisperer.wait_for_line("metrics on http://", LIMIT);
    // Once the node has acknowledged some frames: SIGKILL.
    let acked_before = until("a first acknowledgement", || {
        let text = scrape(&whisperer_metrics);
        let acked = sample(&text, "spider_whisperer_frames_total", "stage=\"acked\"");
        (acked > 0.0).then_some(acked)
    });
    backend.kill9();
    // The Whisperer notices and keeps reading into its buffer.
    let text = until("the Whisperer to see the backend gone", || {
        let text = scrape(&whisperer_metrics);
        (sample(&text, "spider_whisperer_state", "state=\"server_down\"") == 1.0).then_some(text)
    });
    let total = spider_backend::testing::batches_of(&capture, "restart-test", 64)
        .unwrap()
        .iter()
        .map(|b| b.frames.len())
        .sum::<usize>() as f64;
    let acked_at_kill = sample(&text, "spider_whisperer_frames_total", "stage=\"acked\"");
    eprintln!(
        "frames acknowledged: {acked_before} when killed, {acked_at_kill} when noticed, of {total}"
    );
    assert!(
        acked_at_kill < total,
        "everything was acknowledged before the kill ({acked_at_kill} of {total}): the test \
         proves nothing"
    );
    let (status, _) = get(&whisperer_metrics, "/healthz", None);
    assert_eq!(status, 503);
    // Restart on the same folder and address; the Whisperer delivers the rest and exits.
    let _backend = start_backend(&config, &["--metrics", &backend_metrics]);
    let status = whisperer.wait_exit(LIMIT);
    assert!(status.success(), "{}", whisperer.log_text());
    let log = whisperer.log_text();
    assert!(log.contains("0 dropped (buffer full)"), "{log}");

    // Every frame of the capture is stored exactly once.
    let expected = multiset(
        spider_backend::testing::batches_of(&capture, "restart-test", 64)
            .unwrap()
            .iter()
            .flat_map(|b| b.frames.iter().map(packet_key)),
    );
    let stored = on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        all_packets(&client, "restart-test").await
    });
    let stored = multiset(stored.iter().map(packet_key));
    let doubled = stored.values().filter(|n| **n > 1).count();
    let missing = expected.keys().filter(|k| !stored.contains_key(*k)).count();
    assert_eq!(doubled, 0, "frames stored twice");
    assert_eq!(
        missing, 0,
        "frames lost (acknowledged before the kill: {acked_before})"
    );
    assert_eq!(stored, expected);
}

/// Free bytes on the file system of `path`.
fn free_bytes(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A tmpfs mounted on a fresh folder; unmounted (lazily) when dropped, also after a panic.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?;
        status.success().then_some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Batch `sequence` of the filler agent: 256 frames of 1400 incompressible bytes.
fn filler_batch(sequence: u64) -> Vec<PacketRecord> {
    let mut state = sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..256u32)
        .map(|i| {
            let frame: Vec<u8> = (0..1400)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            PacketRecord {
                whisperer: "filler".into(),
                session_id: sequence,
                time: 1_700_000_000_000_000_000 + (sequence as i64) * 1_000_000 + i64::from(i),
                interface: 0,
                link_type: 1,
                wire_len: 1400,
                from_client: true,
                frame,
            }
        })
        .collect()
}

fn push<'a>(sequence: u64, frames: &'a [PacketRecord]) -> CapturePush<'a> {
    CapturePush {
        agent: "filler",
        incarnation: 1,
        sequence,
        shard: 0,
        whisperer: "filler",
        frames,
        ..CapturePush::default()
    }
}

/// Pushes filler batch `sequence` and flushes: the highest sequence acknowledged, or the error.
async fn push_and_flush(client: &BackendClient, sequence: u64) -> Result<u64, String> {
    let frames = filler_batch(sequence);
    client
        .push_capture(push(sequence, &frames))
        .await
        .map_err(|e| e.to_string())?;
    let acks = client.flush().await.map_err(|e| e.to_string())?;
    Ok(acks
        .iter()
        .filter(|a| a.agent == "filler")
        .map(|a| a.sequence)
        .max()
        .unwrap_or(0))
}

#[test]
fn a_full_disk_refuses_ingest_clearly_keeps_what_was_acknowledged_and_recovers() {
    let Some(disk) = Tmpfs::mount("48m") else {
        eprintln!("skipped: cannot mount a tmpfs (not root?)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = disk.path().join("data");
    let rpc = format!("127.0.0.1:{}", free_port());
    // 16 MiB kept free (1 GiB by default) on a 48 MiB disk.
    let config = backend_config(
        dir.path(),
        &data,
        &rpc,
        &format!("min_free_bytes = {}\n{NO_REDACTION}", 16 << 20),
    );
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut backend = start_backend(&config, &["--metrics", &metrics]);

    // Fill the disk: push until a batch is refused; remember what was acknowledged. (A push
    // is a streaming call: its refusal may surface at the flush that follows it.)
    let (acked, refused_at) = on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        let mut acked = 0u64;
        for sequence in 1..=2000u64 {
            match push_and_flush(&client, sequence).await {
                Ok(last) => {
                    assert_eq!(last, sequence);
                    acked = last;
                }
                Err(error) => {
                    assert!(
                        error.contains(spider_backend::STORAGE_FULL),
                        "batch {sequence} refused for another reason: {error}\n{}",
                        backend.log_text()
                    );
                    return (acked, sequence);
                }
            }
        }
        panic!("48 MiB never filled up");
    });
    eprintln!("{acked} batches acknowledged before the disk was full");
    assert!(acked > 0);
    assert!(backend.child.try_wait().unwrap().is_none(), "the node died");
    let text = scrape(&metrics);
    assert!(
        sample(
            &text,
            "spider_backend_ingest_refused_total",
            "cause=\"storage_full\""
        ) >= 1.0
    );
    assert_eq!(sample(&text, "spider_backend_storage_full", ""), 1.0);
    let (status, body) = get(&metrics, "/healthz", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("disk is full"), "{body}");

    // A Whisperer sees the distinct refusal and counts it, keeping its batches.
    let whisperer_metrics = format!("127.0.0.1:{}", free_port());
    let capture = testdata("http-load.pcap");
    let mut whisperer = Process::spawn(&[
        "whisperer",
        "--backend",
        &rpc,
        "--token",
        TOKEN,
        "--name",
        "diskfull-test",
        "--pcap",
        capture.to_str().unwrap(),
        "--metrics",
        &whisperer_metrics,
    ]);
    whisperer.wait_for_line("metrics on http://", LIMIT);
    until("the Whisperer to count a storage-full refusal", || {
        let text = scrape(&whisperer_metrics);
        (sample(
            &text,
            "spider_whisperer_backend_events_total",
            "event=\"refused_storage_full\"",
        ) >= 1.0)
            .then_some(())
    });
    // Between a refusal and the next the Whisperer reconnects (and is ready for that moment).
    let body = until("the Whisperer's health to say storage full", || {
        let (status, body) = get(&whisperer_metrics, "/healthz", None);
        (status == 503).then_some(body)
    });
    assert!(body.contains("storage full"), "{body}");

    // Everything acknowledged is still there, readable while the disk is full.
    let expected: Vec<PacketRecord> = (1..=acked).flat_map(filler_batch).collect();
    let stored = on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        all_packets(&client, "filler").await
    });
    assert_eq!(
        multiset(stored.iter().map(packet_key)),
        multiset(expected.iter().map(packet_key))
    );

    // Space returns: the refused batch and the ones after it are taken, the Whisperer delivers.
    disk.resize("256m");
    let more = refused_at + 3;
    on_local(async {
        for sequence in refused_at..=more {
            let started = Instant::now();
            // A refused stream stays failed: each attempt on a new connection.
            loop {
                let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
                    .await
                    .unwrap();
                match push_and_flush(&client, sequence).await {
                    Ok(last) => {
                        assert_eq!(last, sequence);
                        break;
                    }
                    Err(error) => {
                        assert!(started.elapsed() < LIMIT, "ingest did not recover: {error}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    });
    let status = whisperer.wait_exit(LIMIT);
    assert!(status.success(), "{}", whisperer.log_text());
    let (status, body) = get(&metrics, "/healthz", None);
    assert_eq!(status, 200, "{body}");

    // Another process fills the disk: refused again; its file deleted: taken again.
    let free = free_bytes(disk.path());
    let filler = disk.path().join("filler");
    std::fs::write(
        &filler,
        vec![0u8; usize::try_from(free - (8 << 20)).unwrap()],
    )
    .unwrap();
    let last = more + 1;
    on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        let error = push_and_flush(&client, last).await.unwrap_err();
        assert!(error.contains(spider_backend::STORAGE_FULL), "{error}");
        std::fs::remove_file(&filler).unwrap();
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        assert_eq!(push_and_flush(&client, last).await.unwrap(), last);
    });
    let more = last;

    // A clean restart reads everything back exactly once: nothing was corrupted.
    backend.terminate();
    let _backend = start_backend(&config, &[]);
    let (filler, whispered) = on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        (
            all_packets(&client, "filler").await,
            all_packets(&client, "diskfull-test").await,
        )
    });
    let expected: Vec<PacketRecord> = (1..=more).flat_map(filler_batch).collect();
    assert_eq!(
        multiset(filler.iter().map(packet_key)),
        multiset(expected.iter().map(packet_key))
    );
    let capture_frames = multiset(
        spider_backend::testing::batches_of(&capture, "diskfull-test", 64)
            .unwrap()
            .iter()
            .flat_map(|b| b.frames.iter().map(packet_key)),
    );
    assert_eq!(multiset(whispered.iter().map(packet_key)), capture_frames);
}

/// Usage bytes stored for connections to server port `port` (every direction and bucket).
fn usage_bytes_to(rpc: &str, port: u16) -> u64 {
    on_local(async {
        let client = BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        )
        .unwrap();
        let mut total = 0;
        let mut cursor = None;
        loop {
            let (rows, next) = client
                .usage(&spider_backend::client::UsageRequest {
                    from: now - 3_600_000_000_000,
                    to: now + 3_600_000_000_000,
                    grouping: spider_backend::client::UsageGrouping::Connection,
                    bucket: 0,
                    limit: 10_000,
                    cursor,
                })
                .await
                .unwrap();
            total += rows
                .iter()
                .filter(|row| row.port == Some(port))
                .map(|row| row.bytes)
                .sum::<u64>();
            match next {
                Some(next) => cursor = Some(next),
                None => return total,
            }
        }
    })
}

fn start_controller(kubeconfig: &std::path::Path, rpc: &str, listen: &str) -> Process {
    let mut controller = Process::spawn(&[
        "controller",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--backend",
        rpc,
        "--token",
        TOKEN,
        "--listen",
        listen,
    ]);
    controller.wait_for_line("agents connect to", LIMIT);
    controller
}

#[test]
fn gocipher_usage_through_a_restarted_controller_is_neither_lost_nor_doubled() {
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_spider"))
        .args(["gocipher", "--check"])
        .output()
        .unwrap();
    if !check.status.success() {
        eprintln!(
            "skipped: this kernel cannot run the Gocipher: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rpc = format!("127.0.0.1:{}", free_port());
    let config = backend_config(dir.path(), &dir.path().join("data"), &rpc, "");
    let _backend = start_backend(&config, &[]);
    let server =
        spider_kube_apiserver::ApiServer::start(spider_kube_apiserver::ServerConfig::default())
            .unwrap();
    server.load_dir(&testdata("k8s/cluster")).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut controller = start_controller(&kubeconfig, &rpc, &listen);
    let gocipher_metrics = format!("127.0.0.1:{}", free_port());
    let mut gocipher = Process::spawn(&[
        "gocipher",
        "--controller",
        &listen,
        "--token",
        TOKEN,
        "--name",
        "controller-restart",
        "--bucket-seconds",
        "1",
        "--metrics",
        &gocipher_metrics,
    ]);
    gocipher.wait_for_line("metrics on http://", LIMIT);

    // Known traffic: a loopback server that only reads, a client that writes in three phases.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = sink.accept().unwrap();
        std::io::copy(&mut stream, &mut std::io::sink()).unwrap()
    });
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let write = |client: &mut std::net::TcpStream, bytes: usize| {
        use std::io::Write;
        for _ in 0..bytes / 10_000 {
            client.write_all(&[7u8; 10_000]).unwrap();
        }
    };
    write(&mut client, 100_000);
    until("the first phase stored", || {
        (usage_bytes_to(&rpc, port) >= 100_000).then_some(())
    });

    // The Controller dies; the Gocipher keeps counting (and holding) while it is away.
    controller.kill9();
    let records = |text: &str| sample(text, "spider_gocipher_records_total", "");
    let before = records(&scrape(&gocipher_metrics));
    write(&mut client, 200_000);
    until("records built while the Controller is away", || {
        (records(&scrape(&gocipher_metrics)) > before).then_some(())
    });
    let _controller = start_controller(&kubeconfig, &rpc, &listen);
    write(&mut client, 300_000);
    drop(client);
    assert_eq!(reader.join().unwrap(), 600_000);

    let total = until("every byte stored", || {
        let total = usage_bytes_to(&rpc, port);
        (total >= 600_000).then_some(total)
    });
    // A few more batches acknowledged later, the total has not moved: nothing doubled.
    let acked = |text: &str| sample(text, "spider_gocipher_batches_total", "stage=\"acked\"");
    let then = acked(&scrape(&gocipher_metrics));
    until("three more batches acknowledged", || {
        (acked(&scrape(&gocipher_metrics)) >= then + 3.0).then_some(())
    });
    assert_eq!(total, 600_000, "usage bytes to port {port}");
    assert_eq!(usage_bytes_to(&rpc, port), 600_000);
    // The Gocipher did meet the outage (and resent what it held).
    let log = gocipher.log_text();
    assert!(log.contains("usage not sent yet"), "{log}");
}
