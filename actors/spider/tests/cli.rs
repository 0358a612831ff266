//! The `spider` binary as a user runs it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn spider() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spider"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

#[test]
fn help_lists_every_role() {
    let output = spider().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for role in [
        "analyze",
        "up",
        "backend",
        "gateway",
        "whisperer",
        "gocipher",
        "controller",
    ] {
        assert!(help.contains(role), "`spider --help` lists {role}");
    }
}

#[test]
fn ndjson_has_one_record_per_line_with_a_kind() {
    let output = spider()
        .args(["analyze", "--format", "ndjson"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut kinds = std::collections::BTreeSet::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        kinds.insert(record["kind"].as_str().unwrap().to_owned());
    }
    let expected: std::collections::BTreeSet<String> = ["dns", "host", "http", "tcp_session"]
        .map(String::from)
        .into();
    assert_eq!(kinds, expected);
}

#[test]
fn json_is_one_document_with_records_and_counters() {
    let output = spider()
        .args(["analyze", "--format", "json", "--kinds", "http"])
        .arg(testdata("http-basic.pcap"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["records"].as_array().unwrap().len(), 35);
    assert_eq!(document["stats"]["http_exchanges"], 35);
    assert_eq!(document["stats"]["frames"], 223);
}

#[test]
fn table_aligns_columns_for_people() {
    let output = spider()
        .args(["analyze", "--color", "never"])
        .arg(testdata("http-basic.pcap"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("HTTP exchanges (35)\n"));
    let header = text.lines().nth(1).unwrap();
    let row = text.lines().nth(2).unwrap();
    assert_eq!(
        header.find("METHOD"),
        row.find("GET").or(row.find("POST")).or(row.find("PUT"))
    );
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("http_exchanges=35"));
}

#[test]
fn a_truncated_file_keeps_what_was_read_and_fails_with_the_offset() {
    let bytes = std::fs::read(testdata("http-basic.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let output = spider()
        .args(["analyze", "--format", "ndjson", "--kinds", "http"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("truncated"), "{stderr}");
    assert!(stderr.contains("byte offset"), "{stderr}");
    assert!(stderr.contains("222 frames before it"), "{stderr}");
    let exchanges = String::from_utf8(output.stdout).unwrap().lines().count();
    assert!(
        exchanges >= 34,
        "the exchanges before the damage are printed ({exchanges})"
    );
}

#[test]
fn garbage_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let output = spider().arg("analyze").arg(&garbage).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("not a pcap or pcapng file"));

    let output = spider()
        .args(["analyze", "/nonexistent/file.pcap"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("cannot read /nonexistent/file.pcap"));

    let output = spider()
        .args(["analyze", "--kinds", "smtp"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("unknown record kind `smtp`"));
}

#[test]
fn a_role_with_a_missing_token_file_says_which() {
    let output = spider()
        .args(["gateway", "--listen", "127.0.0.1:0", "--token-file"])
        .arg("/nonexistent/spider.token")
        .env_remove("SPIDER_GATEWAY_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("cannot read the token file /nonexistent/spider.token"));
}

#[test]
fn backend_refuses_a_config_without_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("backend.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\n").unwrap();
    let output = spider()
        .args(["backend", "--config"])
        .arg(&config)
        .env_remove("SPIDER_BACKEND_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("admin_token"));
}

#[test]
fn schema_prints_the_json_schema_of_a_kind() {
    let output = spider().args(["schema", "http"]).output().unwrap();
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "HttpExchange");
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "uri"));
    let output = spider().args(["schema", "smtp"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
}
