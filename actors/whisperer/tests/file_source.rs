//! The file source into a real backend node: every capture of testdata/ comes back from the
//! backend as the HTTP exchanges `spider analyze` finds in it; bad input is a clear error.
#![allow(clippy::unwrap_used)]

mod common;

use common::{analyzed, backend_http_normalised, captures, file_config, start_node, TOKEN};
use spider_whisperer::{
    CaptureSettings, FileSource, Interface, LiveSource, Pacing, Source, Whisperer, WhispererConfig,
    WhispererError,
};

#[test]
fn every_capture_replayed_from_its_file_gives_the_exchanges_of_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let mut compared = 0;
    for name in captures() {
        let mut config = file_config(&name, addr, Pacing::Topspeed);
        // Small batches: many per shard, so order and sequences matter.
        config.batch.max_frames = 7;
        let report = Whisperer::start(config).unwrap().wait();
        assert!(report.delivered, "{name}: {report:?}");
        assert_eq!(report.source_error, None);
        let counters = report.counters;
        assert_eq!(counters.own_drop_frames, 0, "{name}");
        assert_eq!(counters.frames_acked, counters.packets_seen, "{name}");
        let expected = analyzed(&name, true);
        let got = backend_http_normalised(addr, &name, true);
        assert_eq!(got, expected, "{name}");
        compared += usize::from(!expected.is_empty());
    }
    assert!(compared >= 15, "only {compared} captures had exchanges");
    node.stop();
}

#[test]
fn bad_input_is_a_clear_error() {
    let addr = "127.0.0.1:9".parse().unwrap();
    let missing = Source::File(FileSource {
        path: "/nonexistent/trace.pcap".into(),
        pacing: Pacing::Topspeed,
    });
    let error = Whisperer::start(WhispererConfig::new("w", addr, TOKEN, missing)).unwrap_err();
    assert!(matches!(error, WhispererError::Pcap { .. }), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/trace.pcap"),
        "{error}"
    );

    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"this is not a capture file at all").unwrap();
    let source = Source::File(FileSource {
        path: junk.path().to_owned(),
        pacing: Pacing::Topspeed,
    });
    let error = Whisperer::start(WhispererConfig::new("w", addr, TOKEN, source)).unwrap_err();
    assert!(matches!(error, WhispererError::Pcap { .. }), "{error}");

    let mut config = WhispererConfig::new(
        "w",
        addr,
        TOKEN,
        Source::Live(LiveSource::new(vec![Interface::parse("lo")])),
    );
    config.settings = CaptureSettings {
        filter: Some("tcp port and".into()),
        ..CaptureSettings::default()
    };
    let error = Whisperer::start(config).unwrap_err();
    assert!(error.to_string().contains("does not compile"), "{error}");

    let config = WhispererConfig::new(
        "w",
        addr,
        TOKEN,
        Source::Live(LiveSource::new(vec![Interface::parse("no-such-if0")])),
    );
    let error = Whisperer::start(config).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("does not exist") || text.contains("root"),
        "{text}"
    );
}

#[test]
fn a_damaged_file_sends_what_came_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let bytes = std::fs::read(common::testdata("http-load.pcap")).unwrap();
    let cut = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cut.path(), &bytes[..bytes.len() / 2]).unwrap();
    let source = Source::File(FileSource {
        path: cut.path().to_owned(),
        pacing: Pacing::Topspeed,
    });
    let mut config = WhispererConfig::new("cut", node.local_addr(), TOKEN, source);
    common::quick(&mut config);
    let report = Whisperer::start(config).unwrap().wait();
    assert!(report.delivered);
    assert!(report.counters.frames_acked > 100, "{report:?}");
    // A file cut mid-record is reported (a file cut between records is just shorter).
    if let Some(error) = &report.source_error {
        assert!(
            error.contains("http-load") || error.contains("tmp"),
            "{error}"
        );
    }
    node.stop();
}

/// A Whisperer with its own agent token (not the admin token) registers itself and delivers
/// everything under its name; one whose token is revoked cannot deliver.
#[test]
fn a_whisperer_with_its_own_agent_token_delivers_in_its_own_name() {
    use spider_backend::spider_identity::AgentKind;
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let store = node.identities().clone();
    store.create_team("edge").unwrap();
    let (_, token) = store
        .create_agent("http-basic", "edge", AgentKind::Whisperer)
        .unwrap();
    let mut config = file_config("http-basic", addr, Pacing::Topspeed);
    config.token = token;
    let report = Whisperer::start(config).unwrap().wait();
    assert!(report.delivered, "{report:?}");
    assert_eq!(
        backend_http_normalised(addr, "http-basic", true),
        analyzed("http-basic", true)
    );

    store.revoke_agent("http-basic").unwrap();
    let (_, other) = store
        .create_agent("someone", "edge", AgentKind::Whisperer)
        .unwrap();
    // A token of another agent: the Whisperer named http-basic cannot deliver with it.
    let mut config = file_config("http-basic", addr, Pacing::Topspeed);
    config.token = other;
    config.drain_timeout = std::time::Duration::from_millis(500);
    let handle = Whisperer::start(config).unwrap();
    // Wait until it has read the file and its logins have been refused twice.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let counters = handle.counters();
        if counters.packets_seen > 0 && counters.connection_failures >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{counters:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let report = handle.stop();
    assert!(!report.delivered, "{report:?}");
    assert_eq!(report.counters.frames_acked, 0, "{report:?}");
}
