//! The pcapng export of a session over the query API has the session's frames, byte for byte, and
//! tshark reads it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::BackendClient;
use spider_pcap::CaptureReader;

#[test]
fn a_session_exports_as_pcapng_with_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let batches = batches_of(&testdata("http-basic.pcap"), "w-export", 32);
    let session_id = batches
        .iter()
        .flat_map(|batch| &batch.sessions)
        .map(|session| session.id)
        .max()
        .unwrap();
    let mut expected: Vec<(i64, Vec<u8>)> = batches
        .iter()
        .flat_map(|batch| &batch.frames)
        .filter(|frame| frame.session_id == session_id)
        .map(|frame| (frame.time, frame.frame.clone()))
        .collect();
    expected.sort();
    assert!(expected.len() > 5);

    let export = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches {
            push(&client, "w-export", batch).await;
        }
        client.flush().await.unwrap();
        client.export_session("w-export", session_id).await.unwrap()
    });
    assert_eq!(export.packets as usize, expected.len());
    assert!(!export.truncated);

    let mut reader = CaptureReader::new(export.pcapng.as_slice()).unwrap();
    let mut got = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        got.push((record.ts_nanos, record.data.to_vec()));
    }
    got.sort();
    assert_eq!(got, expected);

    let file = dir.path().join("session.pcapng");
    std::fs::write(&file, &export.pcapng).unwrap();
    let tshark = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(&file)
        .args(["-T", "fields", "-e", "frame.len"])
        .output()
        .expect("tshark is installed by scripts/install-deps.sh test");
    assert!(
        tshark.status.success(),
        "{}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    let lengths: Vec<usize> = String::from_utf8(tshark.stdout)
        .unwrap()
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect();
    let mut want: Vec<usize> = expected.iter().map(|(_, frame)| frame.len()).collect();
    let mut have = lengths.clone();
    want.sort_unstable();
    have.sort_unstable();
    assert_eq!(have, want, "tshark reads the same frames");
    node.stop();
}
