//! Live capture in throwaway network namespaces (root only; skipped otherwise): a real HTTP
//! server and real clients on a veth pair, a Whisperer capturing in the server's namespace and
//! pushing to a real backend node; and every Ethernet capture of testdata/ replayed onto the
//! veth with tcpreplay. Both ends of the veth are in namespaces the test made; forwarding is off.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};

use common::{analyzed, backend_http, backend_http_normalised, captures, quick, run};
use common::{start_node, testdata, veth_pair, wait_for, VethPair, TOKEN};
use spider_pcap::{CaptureReader, LinkType};
use spider_whisperer::{Interface, LiveSource, Source, Whisperer, WhispererConfig};

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn live_config(name: &str, pair: &VethPair, backend: std::net::SocketAddr) -> WhispererConfig {
    let mut live = LiveSource::new(vec![Interface::parse("veth-a")]);
    live.netns = Some(pair.path_a());
    live.promiscuous = true;
    live.ring_bytes = 8 << 20;
    let mut config = WhispererConfig::new(name, backend, TOKEN, Source::Live(live));
    quick(&mut config);
    config
}

#[test]
fn http_between_real_clients_and_a_server_is_what_the_backend_holds() {
    require!("ip", "python3", "curl");
    let pair = veth_pair("http", 82, 7);
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("a.txt"), "hello from spider\n").unwrap();
    std::fs::write(site.path().join("big.bin"), vec![b'x'; 200_000]).unwrap();
    let _server = Guard(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &pair.ns_a,
                "python3",
                "-m",
                "http.server",
                "8080",
            ])
            .args(["--bind", &pair.ip_a.to_string(), "--directory"])
            .arg(site.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{}:8080", pair.ip_a);
    let curl = |args: &[&str]| -> String {
        let mut all = vec![
            "ip",
            "netns",
            "exec",
            &pair.ns_b,
            "curl",
            "-s",
            "-o",
            "/dev/null",
        ];
        all.extend_from_slice(&["-w", "%{http_code}", "--max-time", "10"]);
        all.extend_from_slice(args);
        run(&all).unwrap_or_default()
    };
    wait_for("the server to listen", || {
        curl(&[&format!("{base}/a.txt")]) == "200"
    });

    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let handle = Whisperer::start(live_config("live-http", &pair, node.local_addr())).unwrap();
    let requests: [(&str, &str, &str); 5] = [
        ("GET", "/a.txt", "200"),
        ("GET", "/missing", "404"),
        ("HEAD", "/big.bin", "200"),
        ("POST", "/a.txt?x=1", "501"),
        ("GET", "/big.bin", "200"),
    ];
    let mut expected = Vec::new();
    for (method, path, status) in requests {
        let url = format!("{base}{path}");
        let code = match method {
            "HEAD" => curl(&["-I", &url]),
            "POST" => curl(&["-d", "k=v", &url]),
            _ => curl(&[&url]),
        };
        assert_eq!(code, status, "{method} {path}");
        expected.push(format!("{method} {path} {status}"));
    }
    let report = handle.stop();
    assert!(report.delivered, "{report:?}");
    let counters = report.counters;
    assert_eq!(counters.kernel_drops, 0);
    assert_eq!(counters.own_drop_frames, 0);
    assert_eq!(
        counters.packets_seen, counters.kernel_packets,
        "{counters:?}"
    );
    let mut got: Vec<String> = backend_http(node.local_addr(), "live-http")
        .into_iter()
        .map(|x| {
            let status = x.status.map_or("-".to_owned(), |s| s.to_string());
            format!("{} {} {status}", x.method, x.uri)
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    node.stop();
}

#[test]
fn captures_replayed_onto_a_veth_give_the_exchanges_of_analyze() {
    require!("ip", "tcpreplay");
    let pair = veth_pair("replay", 83, 9);
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let mut compared = 0;
    for name in captures() {
        let path = testdata(&format!("{name}.pcap"));
        // tcpreplay sends Ethernet frames: cooked (SLL) captures cannot be put on a wire as
        // they were.
        if CaptureReader::open(&path).unwrap().link_type() != Some(LinkType::ETHERNET) {
            eprintln!("{name}: not Ethernet, not replayed");
            continue;
        }
        let whisperer = format!("replay-{name}");
        let handle = Whisperer::start(live_config(&whisperer, &pair, node.local_addr())).unwrap();
        let file = path.to_str().unwrap();
        run(&[
            "ip",
            "netns",
            "exec",
            &pair.ns_b,
            "tcpreplay",
            "-q",
            "-i",
            "veth-b",
            "--topspeed",
            file,
        ])
        .unwrap();
        let frames = spider_pcap::CaptureReader::open(&path)
            .unwrap()
            .into_records()
            .count() as u64;
        wait_for("the replayed frames", || {
            handle.counters().packets_seen >= frames
        });
        let report = handle.stop();
        assert!(report.delivered, "{name}: {report:?}");
        assert_eq!(report.counters.packets_seen, frames, "{name}");
        let got = backend_http_normalised(node.local_addr(), &whisperer, false);
        assert_eq!(got, analyzed(&name, false), "{name}");
        compared += 1;
    }
    assert!(compared >= 15, "{compared}");
    node.stop();
}
