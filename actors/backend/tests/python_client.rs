//! The query API serves a client in another language: the pycapnp example of
//! `rpc-schema/examples/query_http.py` pages through what was pushed.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::BackendClient;

type Key = (String, Option<String>, String, Option<u64>);

fn run_example(
    addr: std::net::SocketAddr,
    whisperer: &str,
    query: Option<&str>,
) -> BTreeMap<Key, usize> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../rpc-schema/examples/query_http.py");
    let mut command = Command::new("python3");
    command
        .arg(&script)
        .arg(addr.to_string())
        .arg(TOKEN)
        .arg(whisperer);
    if let Some(query) = query {
        command.arg(query);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "the python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut out = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = (
            item["method"].as_str().unwrap().to_owned(),
            item["host"].as_str().map(str::to_owned),
            item["uri"].as_str().unwrap().to_owned(),
            item["status"].as_u64(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[test]
fn pycapnp_pages_through_the_exchanges() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in batches_of(&testdata("http-basic.pcap"), "py", 32) {
            push(&client, "py", &batch).await;
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("http-basic.truth.json")).unwrap())
            .unwrap();
    let mut expected = BTreeMap::new();
    for e in truth["http_exchanges"].as_array().unwrap() {
        let key = (
            e["method"].as_str().unwrap().to_owned(),
            e["host"].as_str().map(str::to_owned),
            e["uri"].as_str().unwrap().to_owned(),
            e["status"].as_u64(),
        );
        *expected.entry(key).or_insert(0) += 1;
    }
    assert_eq!(run_example(addr, "py", None), expected);
    let not_found = run_example(addr, "py", Some("status:404"));
    assert_eq!(not_found.values().sum::<usize>(), 1);
    assert!(not_found.keys().all(|key| key.3 == Some(404)));
    node.stop();
}
