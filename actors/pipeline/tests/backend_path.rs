//! The path a capture takes through Spider: a Whisperer tags frames with session ids, the backend
//! parses them per session. It must find the same HTTP exchanges as `spider analyze`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use spider_model::Record;
use spider_pcap::CaptureReader;
use spider_pipeline::{analyze_file, FrameTagger, PipelineConfig, SessionParser};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn http_and_dns_of(records: Vec<Record>) -> Vec<String> {
    let mut out: Vec<String> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Http(x) => Some(serde_json::to_string(&x).unwrap()),
            Record::Dns(d) => Some(serde_json::to_string(&d).unwrap()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[test]
fn tagged_packets_parse_to_the_exchanges_of_analyze() {
    let mut compared = 0;
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pcap") {
            continue;
        }
        let mut offline = Vec::new();
        analyze_file(&path, PipelineConfig::default(), &mut |r| offline.push(r)).unwrap();

        let mut tagger = FrameTagger::new("w1", PipelineConfig::default());
        let mut parser = SessionParser::new(PipelineConfig::default());
        let mut backend = Vec::new();
        let mut reader = CaptureReader::open(&path).unwrap();
        while let Some(record) = reader.next_record().unwrap() {
            let tagged = tagger.tag_record(&record);
            for closed in tagged.closed {
                parser.session_closed(closed.id, &mut |r| backend.push(r));
            }
            parser.packet(&tagged.packet, &mut |r| backend.push(r));
        }
        for closed in tagger.finish() {
            parser.session_closed(closed.id, &mut |r| backend.push(r));
        }
        parser.finish(&mut |r| backend.push(r));
        assert_eq!(
            http_and_dns_of(backend),
            http_and_dns_of(offline),
            "{}",
            path.display()
        );
        compared += 1;
    }
    assert!(compared >= 15);
}
