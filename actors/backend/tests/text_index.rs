//! The per-Whisperer text indexing option: header values and bodies are searchable for a
//! Whisperer that has them indexed, and not for one whose configuration leaves them out.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batches_of, config, on_local, push, testdata, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};
use spider_backend::{BackendNode, TextIndexSettings};

#[test]
fn headers_and_bodies_are_searchable_only_where_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.index.whisperers.insert(
        "quiet".into(),
        TextIndexSettings {
            headers: false,
            bodies: false,
            body_bytes: 0,
        },
    );
    let node = BackendNode::start(settings).unwrap();
    let addr = node.local_addr();
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for whisperer in ["loud", "quiet"] {
            for batch in batches_of(&testdata("http-basic.pcap"), whisperer, 64) {
                push(&client, whisperer, &batch).await;
            }
        }
        client.flush().await.unwrap();
    });
    node.commit_indexes().unwrap();
    let count = |whisperer: &str, q: &str| {
        let request = ListRequest {
            from: i64::MIN,
            to: i64::MAX,
            whisperers: vec![whisperer.into()],
            q: Some(q.into()),
            ..ListRequest::default()
        };
        on_local(async move {
            let client = BackendClient::connect(addr, TOKEN).await.unwrap();
            client.http_all(request).await.unwrap().len()
        })
    };
    // A response header value (Server: nginx/…) and a word of the JSON bodies.
    for word in ["nginx", "received"] {
        assert!(count("loud", word) > 0, "{word} is found where indexed");
        assert_eq!(count("quiet", word), 0, "{word} is not indexed for quiet");
    }
    // What is always indexed is searchable for both.
    assert_eq!(count("loud", "path:/login"), count("quiet", "path:/login"));
    assert!(count("quiet", "path:/login") > 0);
    node.stop();
}
