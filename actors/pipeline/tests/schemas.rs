//! Every record `spider analyze` writes for the captures in `testdata/` validates against the JSON
//! Schema of its kind.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use spider_model::{json_schema, SCHEMA_KINDS};
use spider_pipeline::{analyze_file, PipelineConfig};

fn validators() -> BTreeMap<&'static str, jsonschema::Validator> {
    SCHEMA_KINDS
        .iter()
        .map(|kind| {
            (
                *kind,
                jsonschema::validator_for(&json_schema(kind).unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn analyze_output_validates_against_the_schemas() {
    let validators = validators();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut checked = BTreeMap::<String, usize>::new();
    for entry in std::fs::read_dir(&testdata).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pcap") {
            continue;
        }
        analyze_file(&path, PipelineConfig::default(), &mut |record| {
            let value = serde_json::to_value(&record).unwrap();
            let kind = value["kind"].as_str().unwrap().to_owned();
            let validator = &validators[kind.as_str()];
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{}: {kind} record invalid: {errors:?}",
                path.display()
            );
            *checked.entry(kind).or_default() += 1;
        })
        .unwrap();
    }
    for kind in ["http", "tcp_session", "dns", "host"] {
        assert!(
            checked.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} record checked"
        );
    }
}

#[test]
fn the_schemas_refuse_what_is_not_a_record() {
    let validators = validators();
    let http = &validators["http"];
    assert!(!http.is_valid(&serde_json::json!({"kind": "http", "method": "GET"})));
    let host = &validators["host"];
    let mut record = serde_json::json!({
        "ip": "10.0.0.1", "name": "a.test", "source": "dns", "first_seen": 1, "last_seen": 2
    });
    assert!(host.is_valid(&record));
    record["source"] = "carrier pigeon".into();
    assert!(!host.is_valid(&record), "an unknown source is refused");
    assert!(json_schema("smtp").is_none());
}
