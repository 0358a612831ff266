//! `/metrics` and `/healthz` of every role, on real processes: a Whisperer replaying a capture
//! while its backend is away (buffering, not ready), then the backend node started on that
//! address (the Whisperer delivers, its counters and the node's move); a query timed; a
//! Controller on the fixture API server relaying; a Gocipher counting (root with BTF only).
//! Every scrape is checked with `promtool check metrics` when it is installed, and every
//! `/metrics` refuses a request without the token (401) while `/healthz` needs none.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    backend_config, free_port, get, has_family, metrics_addr, sample, scrape, start_backend,
    testdata, Process, TOKEN,
};

const LIMIT: Duration = Duration::from_secs(120);

/// Polls `scrape` until `ready` holds on its text (a guard of two minutes against hangs).
fn scrape_until(addr: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = scrape(addr);
        if ready(&text) {
            return text;
        }
        assert!(started.elapsed() < LIMIT, "{what} never happened:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn refuses_without_token(addr: &str) {
    let (status, _) = get(addr, "/metrics", None);
    assert_eq!(status, 401, "/metrics without a token");
    let (status, _) = get(addr, "/metrics", Some("not-the-token"));
    assert_eq!(status, 401, "/metrics with a wrong token");
}

#[test]
fn whisperer_and_backend_metrics_move_and_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = format!("127.0.0.1:{}", free_port());
    let whisperer_metrics = format!("127.0.0.1:{}", free_port());
    // The Whisperer first, with no backend yet: it reads the file into its buffer and waits.
    let capture = testdata("http-load.pcap");
    let mut whisperer = Process::spawn(&[
        "whisperer",
        "--backend",
        &rpc,
        "--token",
        TOKEN,
        "--name",
        "metrics-test",
        "--pcap",
        capture.to_str().unwrap(),
        "--metrics",
        &whisperer_metrics,
    ]);
    let line = whisperer.wait_for_line("metrics on http://", LIMIT);
    assert_eq!(metrics_addr(&line), whisperer_metrics);
    refuses_without_token(&whisperer_metrics);
    let text = scrape_until(
        &whisperer_metrics,
        "frames read while the backend is away",
        |t| {
            sample(t, "spider_whisperer_frames_total", "stage=\"sealed\"") > 0.0
                && sample(t, "spider_whisperer_state", "state=\"server_down\"") == 1.0
        },
    );
    for family in [
        "spider_whisperer_dropped_frames_total",
        "spider_whisperer_buffer_bytes",
        "spider_whisperer_backend_events_total",
        "spider_process_resident_memory_bytes",
        "spider_process_cpu_seconds_total",
    ] {
        assert!(has_family(&text, family), "no {family}:\n{text}");
    }
    assert!(sample(&text, "spider_whisperer_buffer_bytes", "where=\"memory\"") > 0.0);
    assert!(sample(&text, "spider_process_resident_memory_bytes", "") > 1e6);
    let (status, body) = get(&whisperer_metrics, "/healthz", None);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("not_ready") && body.contains("backend cannot be reached"),
        "{body}"
    );

    // The backend on that address: everything buffered is delivered, the Whisperer exits.
    let data = dir.path().join("data");
    let config = backend_config(dir.path(), &data, &rpc, "");
    let backend_metrics = format!("127.0.0.1:{}", free_port());
    let mut backend = start_backend(&config, &["--metrics", &backend_metrics]);
    backend.wait_for_line("metrics on http://", LIMIT);
    refuses_without_token(&backend_metrics);
    let status = whisperer.wait_exit(LIMIT);
    assert!(status.success(), "{}", whisperer.log_text());

    let text = scrape(&backend_metrics);
    let batches = sample(
        &text,
        "spider_backend_ingest_batches_total",
        "kind=\"capture\"",
    );
    assert!(batches > 0.0, "{text}");
    assert!(
        sample(
            &text,
            "spider_backend_ingest_bytes_total",
            "kind=\"capture\""
        ) > 0.0
    );
    assert!(
        sample(
            &text,
            "spider_backend_ingest_records_total",
            "kind=\"frame\""
        ) > 0.0
    );
    assert!(
        sample(
            &text,
            "spider_backend_ingest_records_total",
            "kind=\"http\""
        ) > 0.0
    );
    assert_eq!(sample(&text, "spider_backend_ingest_in_flight", ""), 0.0);
    assert!(sample(&text, "spider_backend_storage_bytes", "shard=\"0\"") > 0.0);
    for family in [
        "spider_backend_ingest_refused_total",
        "spider_backend_parse_events_total",
        "spider_backend_query_duration_seconds",
        "spider_backend_storage_full",
        "spider_backend_storage_memory_bytes",
    ] {
        assert!(has_family(&text, family), "no {family}:\n{text}");
    }
    let (status, body) = get(&backend_metrics, "/healthz", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ready\""), "{body}");

    // A query is timed.
    let before = sample(
        &text,
        "spider_backend_query_duration_seconds_count",
        "method=\"http\"",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let client = spider_backend::client::BackendClient::connect(rpc.parse().unwrap(), TOKEN)
            .await
            .unwrap();
        let page = client
            .http(&spider_backend::client::ListRequest {
                from: 0,
                to: i64::MAX,
                // Above the page cap of 1000: cut, and counted.
                limit: 5000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!page.items.is_empty());
    });
    let text = scrape(&backend_metrics);
    let after = sample(
        &text,
        "spider_backend_query_duration_seconds_count",
        "method=\"http\"",
    );
    assert_eq!(after, before + 1.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "spider_backend_query_clamped_total",
            "cap=\"page_size\""
        ),
        1.0
    );
    assert!(
        sample(
            &text,
            "spider_backend_rpc_connections_total",
            "event=\"accepted\""
        ) >= 2.0
    );
    backend.terminate();
}

#[test]
fn controller_metrics_show_its_inventory_and_link() {
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
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut controller = Process::spawn(&[
        "controller",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--backend",
        &rpc,
        "--token",
        TOKEN,
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        &metrics,
    ]);
    controller.wait_for_line("metrics on http://", LIMIT);
    refuses_without_token(&metrics);
    let text = scrape_until(&metrics, "the Controller's registration", |t| {
        sample(t, "spider_controller_backend_connected", "") == 1.0
            && sample(t, "spider_controller_inventory_updates_total", "") > 0.0
    });
    assert!(sample(&text, "spider_controller_inventory_objects", "kind=\"pod\"") > 0.0);
    assert_eq!(sample(&text, "spider_controller_watch_failing", ""), 0.0);
    assert!(has_family(&text, "spider_controller_usage_records_total"));
    let (status, body) = get(&metrics, "/healthz", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("backend_link"), "{body}");
}

#[test]
fn gocipher_metrics_count_calls_when_the_kernel_allows() {
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
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut gocipher = Process::spawn(&[
        "gocipher",
        "--backend",
        &rpc,
        "--token",
        TOKEN,
        "--name",
        "metrics-test",
        "--bucket-seconds",
        "1",
        "--metrics",
        &metrics,
    ]);
    gocipher.wait_for_line("metrics on http://", LIMIT);
    refuses_without_token(&metrics);
    // The scrapes themselves are TCP traffic the Gocipher counts and sends.
    let text = scrape_until(&metrics, "usage counted and acknowledged", |t| {
        sample(t, "spider_gocipher_calls_total", "") > 0.0
            && sample(t, "spider_gocipher_batches_total", "stage=\"acked\"") > 0.0
    });
    assert!(sample(&text, "spider_gocipher_records_total", "") > 0.0);
    assert!(has_family(&text, "spider_gocipher_dropped_total"));
    let (status, body) = get(&metrics, "/healthz", None);
    assert_eq!(status, 200, "{body}");
    gocipher.terminate();
}
