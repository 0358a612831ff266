//! Every capture in `testdata/` against what tshark dissects from it (`NAME.truth.json`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use spider_model::{HostSource, Record};
use spider_pipeline::{analyze_file, PipelineConfig};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn analyze(path: &Path) -> Vec<Record> {
    let mut records = Vec::new();
    let summary = analyze_file(path, PipelineConfig::default(), &mut |r| records.push(r)).unwrap();
    assert!(
        summary.error.is_none(),
        "{}: {:?}",
        path.display(),
        summary.error
    );
    records
}

type ExchangeKey = (String, Option<String>, String, Option<u16>);

fn multiset<I: IntoIterator<Item = ExchangeKey>>(items: I) -> BTreeMap<ExchangeKey, usize> {
    let mut out = BTreeMap::new();
    for item in items {
        *out.entry(item).or_insert(0) += 1;
    }
    out
}

fn http_keys(records: &[Record]) -> BTreeMap<ExchangeKey, usize> {
    multiset(records.iter().filter_map(|r| match r {
        Record::Http(x) => Some((x.method.clone(), x.host.clone(), x.uri.clone(), x.status)),
        _ => None,
    }))
}

fn truth_keys(truth: &Value) -> BTreeMap<ExchangeKey, usize> {
    multiset(truth["http_exchanges"].as_array().unwrap().iter().map(|e| {
        (
            e["method"].as_str().unwrap().to_owned(),
            e["host"].as_str().map(str::to_owned),
            e["uri"].as_str().unwrap().to_owned(),
            e["status"].as_u64().map(|s| s as u16),
        )
    }))
}

fn truth_files() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".truth.json") {
            let truth = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((stem.to_owned(), truth));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 5,
        "the captures of shared/pcaps are in testdata/"
    );
    out
}

fn capture_of(stem: &str) -> PathBuf {
    let pcap = testdata().join(format!("{stem}.pcap"));
    if pcap.exists() {
        pcap
    } else {
        testdata().join(format!("{stem}.pcapng"))
    }
}

#[test]
fn http_exchanges_equal_the_truth() {
    let mut failures = Vec::new();
    for (stem, truth) in truth_files() {
        let records = analyze(&capture_of(&stem));
        let (got, want) = (http_keys(&records), truth_keys(&truth));
        if got != want {
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, n)| got.get(*k) != Some(n))
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|(k, n)| want.get(*k) != Some(n))
                .collect();
            failures.push(format!(
                "{stem}: missing or miscounted {missing:?}\n  extra {extra:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tcp_session_counts_equal_the_truth() {
    for (stem, truth) in truth_files() {
        let Some(want) = truth["tcp_sessions"].as_u64() else {
            continue;
        };
        let records = analyze(&capture_of(&stem));
        let got = records
            .iter()
            .filter(|r| matches!(r, Record::TcpSession(_)))
            .count() as u64;
        assert_eq!(got, want, "{stem}: tcp sessions");
    }
}

#[test]
fn dns_answers_and_server_names_equal_the_truth() {
    for (stem, truth) in truth_files() {
        let records = analyze(&capture_of(&stem));
        let mut want_dns: Vec<(String, String)> = truth["dns_answers"]
            .as_array()
            .map(|answers| {
                answers
                    .iter()
                    .map(|a| {
                        (
                            a["name"].as_str().unwrap().to_owned(),
                            a["a"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut got_dns: Vec<(String, String)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Dns(d) if d.query_type == "A" => Some((
                    d.name.clone(),
                    d.answers
                        .iter()
                        .filter(|a| a.record_type == "A")
                        .map(|a| a.data.clone())
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                _ => None,
            })
            .collect();
        want_dns.sort();
        got_dns.sort();
        assert_eq!(got_dns, want_dns, "{stem}: dns answers");

        let mut want_sni: Vec<String> = truth["tls_sni"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut got_sni: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                Record::Host(h) if h.source == HostSource::Sni => Some(h.name.clone()),
                _ => None,
            })
            .collect();
        want_sni.sort();
        want_sni.dedup();
        got_sni.sort();
        assert_eq!(got_sni, want_sni, "{stem}: tls server names");
    }
}

#[test]
fn reordered_capture_gives_the_exchanges_of_its_in_order_original() {
    let summary = |stem: &str| {
        let mut out: Vec<_> = analyze(&capture_of(stem))
            .into_iter()
            .filter_map(|r| match r {
                Record::Http(x) => Some((
                    x.method,
                    x.uri,
                    x.status,
                    x.request_headers,
                    x.response_headers,
                    x.response_body.map(|b| (b.decoded_length, b.data)),
                )),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out
    };
    let (reordered, original) = (summary("http-reordered"), summary("http-impaired"));
    assert_eq!(reordered.len(), original.len());
    assert!(
        reordered == original,
        "exchanges differ between reordered and in-order captures"
    );
}

#[test]
fn pcapng_conversions_give_the_same_records() {
    let dir = testdata().join("pcapng");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("testdata/pcapng/ holds the editcap conversions");
    };
    let mut compared = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let original = testdata().join(format!("{stem}.pcap"));
        if !original.exists() {
            continue;
        }
        let to_json = |records: Vec<Record>| -> Vec<String> {
            records
                .iter()
                .map(|r| serde_json::to_string(r).unwrap())
                .collect()
        };
        assert_eq!(
            to_json(analyze(&path)),
            to_json(analyze(&original)),
            "{stem}"
        );
        compared += 1;
    }
    assert!(
        compared >= 5,
        "every capture has a pcapng twin ({compared} compared)"
    );
}

#[test]
fn compressed_bodies_decode_to_what_the_server_sent() {
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("http-compressed.truth.json")).unwrap(),
    )
    .unwrap();
    let records = analyze(&capture_of("http-compressed"));
    let mut checked = 0;
    for body in truth["decoded_bodies"].as_array().unwrap() {
        let uri = body["uri"].as_str().unwrap();
        let exchange = records
            .iter()
            .find_map(|r| match r {
                Record::Http(x) if x.uri == uri => Some(x),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no exchange for {uri}"));
        let response = exchange.response_body.as_ref().unwrap();
        assert_eq!(
            response.content_encoding.as_deref(),
            body["content_encoding"]
                .as_str()
                .filter(|e| *e != "identity"),
            "{uri}"
        );
        assert_eq!(
            response.decoded_length,
            body["length"].as_u64().unwrap(),
            "{uri}"
        );
        let data = response.data.as_ref().unwrap().to_bytes().unwrap();
        let prefix = body["text_prefix"].as_str().unwrap();
        assert!(
            data.starts_with(prefix.as_bytes()),
            "{uri}: decoded body starts differently"
        );
        checked += 1;
    }
    assert!(checked >= 10);
}
