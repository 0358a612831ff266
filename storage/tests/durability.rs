//! Reopening a shard: data survives; the index catches up from RocksDB after losing commits or
//! its whole folder.

mod common;

use common::{load, TestEnv};
use spider_query::{parse, RecordKind};
use spider_storage::{HttpQuery, Shard, TimeRange};

const W: &str = "w1";

fn count(shard: &Shard, query: &str) -> usize {
    let mut request = HttpQuery::new(TimeRange::ALL, 10_000);
    request.query = Some(parse(query, RecordKind::Http).expect("parses"));
    shard.query_http(&request).expect("query").items.len()
}

fn scan_count(shard: &Shard) -> usize {
    shard
        .query_http(&HttpQuery::new(TimeRange::ALL, 10_000))
        .expect("query")
        .items
        .len()
}

#[test]
fn data_is_there_after_reopening() {
    let env = TestEnv::new();
    let capture = load("http-load.pcap", W);
    let total = capture.http.len();
    {
        let mut shard = env.open();
        shard.ingest(capture.batch("a", 1, W)).expect("ingest");
        shard.commit_index().expect("commit");
    }
    let shard = env.open();
    assert_eq!(shard.last_seq(), 1);
    assert_eq!(shard.indexed_seq(), 1);
    assert_eq!(scan_count(&shard), total);
    assert_eq!(count(&shard, "method:*"), total);
    assert_eq!(
        shard
            .session(W, capture.sessions[0].id)
            .expect("get")
            .map(|s| s.record),
        Some(capture.sessions[0].clone())
    );
}

#[test]
fn uncommitted_documents_are_indexed_on_reopen() {
    let env = TestEnv::new();
    let capture = load("http-load.pcap", W);
    let total = capture.http.len();
    let later = capture.shifted(3_600_000_000_000, 1 << 40);
    {
        let mut shard = env.open();
        shard.ingest(capture.batch("a", 1, W)).expect("ingest");
        shard.commit_index().expect("commit");
        // Written to RocksDB, never committed to the index: a crash after the WAL write.
        shard.ingest(later.batch("a", 2, W)).expect("ingest");
        assert_eq!(
            count(&shard, "method:*"),
            total,
            "not searchable before the commit"
        );
        assert_eq!(shard.indexed_seq(), 1);
    }
    let shard = env.open();
    assert_eq!(shard.indexed_seq(), 2);
    assert_eq!(scan_count(&shard), 2 * total);
    assert_eq!(
        count(&shard, "method:*"),
        2 * total,
        "caught up, without duplicates"
    );
    assert_eq!(count(&shard, "css"), 2 * count_words(&capture, "css"));
}

fn count_words(capture: &common::Capture, word: &str) -> usize {
    let query = parse(word, RecordKind::Http).expect("parses");
    capture
        .http
        .iter()
        .filter(|e| spider_query::matches(&query, *e))
        .count()
}

#[test]
fn a_deleted_index_is_rebuilt_from_rocksdb() {
    let env = TestEnv::new();
    let captures: Vec<_> = ["http-load.pcap", "mixed.pcap", "http-compressed.pcap"]
        .into_iter()
        .enumerate()
        .map(|(n, name)| load(name, W).shifted(n as i64 * 7_200_000_000_000, (n as u64) << 40))
        .collect();
    let total: usize = captures.iter().map(|c| c.http.len()).sum();
    let index_root;
    {
        let mut shard = env.open();
        for (n, capture) in captures.iter().enumerate() {
            shard
                .ingest(capture.batch("a", n as u64 + 1, W))
                .expect("ingest");
        }
        shard.commit_index().expect("commit");
        assert_eq!(count(&shard, "method:*"), total);
        index_root = shard.index_root();
    }
    std::fs::remove_dir_all(&index_root).expect("delete the index");
    let shard = env.open();
    assert_eq!(count(&shard, "method:*"), total);
    let words: usize = captures.iter().map(|c| count_words(c, "css")).sum();
    assert!(words > 0);
    assert_eq!(count(&shard, "css"), words);
    assert_eq!(
        count(&shard, "shop"),
        captures
            .iter()
            .map(|c| count_words(c, "shop"))
            .sum::<usize>()
    );
}

#[test]
fn a_partition_behind_the_others_is_caught_up_without_duplicates() {
    // Batch 2 touches two partitions; one of them is put back to its state before the batch
    // (as if its last commit were lost): reopening fills the gap and duplicates nothing.
    let env = TestEnv::new();
    let capture = load("http-load.pcap", W);
    let total = capture.http.len();
    let same_hour = capture.shifted(0, 1 << 40);
    let next_hour = capture.shifted(3_600_000_000_000, 2 << 40);
    let mut second = same_hour.batch("a", 2, W);
    second.http.extend(next_hour.http.clone());
    let (root, before) = {
        let mut shard = env.open();
        shard.ingest(capture.batch("a", 1, W)).expect("ingest");
        shard.commit_index().expect("commit");
        let root = shard.index_root();
        let before = env.dir.path().join("saved");
        copy_dir(&root, &before);
        shard.ingest(second).expect("ingest");
        shard.commit_index().expect("commit");
        assert_eq!(count(&shard, "method:*"), 3 * total);
        (root, before)
    };
    // Put back the first hour's partition (the one with both batches' documents).
    let class_dir = std::fs::read_dir(&root)
        .expect("classes")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.is_dir())
        .expect("a class");
    let class = class_dir.file_name().expect("name").to_owned();
    let mut windows: Vec<_> = std::fs::read_dir(before.join(&class))
        .expect("saved partitions")
        .map(|e| e.expect("entry").file_name())
        .collect();
    windows.sort();
    assert_eq!(windows.len(), 1);
    let partition = class_dir.join(&windows[0]);
    std::fs::remove_dir_all(&partition).expect("remove");
    copy_dir(&before.join(&class).join(&windows[0]), &partition);
    let shard = env.open();
    assert_eq!(scan_count(&shard), 3 * total);
    assert_eq!(count(&shard, "method:*"), 3 * total);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
