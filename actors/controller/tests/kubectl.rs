//! The fixture API server satisfies an independent client: `kubectl` lists and watches from it
//! (and watches on after its watch is closed and after 410 Gone), and `kubectl debug` adds an
//! ephemeral container through the pods' `ephemeralcontainers` subresource.

mod common;

use std::process::Stdio;

use common::{within, Cluster};
use serde_json::Value;
use spider_kube_apiserver::Mutation;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    within("a line from kubectl", lines.next_line())
        .await
        .expect("kubectl output")
        .expect("kubectl ended early")
}

/// Reads lines until one equals `wanted`.
async fn until(lines: &mut Lines<BufReader<ChildStdout>>, wanted: &str) {
    loop {
        if next_line(lines).await.trim() == wanted {
            return;
        }
    }
}

fn watch_pods(cluster: &Cluster, extra: &[&str]) -> tokio::process::Child {
    Command::new("kubectl")
        .args(["get", "pods", "-n", "shop", "-w", "-o", "name"])
        .args(extra)
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl (apt: kubectl) must be installed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_follows_changes_and_rewatches_after_410() {
    let cluster = Cluster::start(&["cluster"]).await;
    let mut child = watch_pods(&cluster, &[]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    until(&mut lines, "pod/web-6b7f9c7d5-q9z4m").await;
    let listed_at = cluster.server.store().resource_version();
    // A new replica appears in the watch.
    cluster.load("scale");
    until(&mut lines, "pod/web-6b7f9c7d5-r7t2w").await;
    // The server ends the watch (as a real one does after its timeout): `get -w` ends cleanly.
    cluster.server.store().close_watches();
    let status = within("kubectl to end", child.wait())
        .await
        .expect("kubectl");
    assert!(status.success(), "{status}");
    // Watching from where it was replays what it missed (kubectl's raw client).
    let raw = |rv: u64| {
        Command::new("kubectl")
            .args(["get", "--raw"])
            .arg(format!(
                "/api/v1/namespaces/shop/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1"
            ))
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .output()
    };
    let replay = within("kubectl --raw to replay", raw(listed_at))
        .await
        .expect("kubectl");
    let replay = String::from_utf8_lossy(&replay.stdout);
    let event: Value =
        serde_json::from_str(replay.lines().next().unwrap_or_default()).expect("a watch event");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "web-6b7f9c7d5-r7t2w");
    // The history expires: a watch from that version is answered 410 Gone.
    cluster
        .server
        .store()
        .expire(Vec::<Mutation>::new())
        .expect("expire");
    let gone = within("kubectl --raw to get 410", raw(listed_at))
        .await
        .expect("kubectl");
    let gone = String::from_utf8_lossy(&gone.stdout);
    let event: Value =
        serde_json::from_str(gone.lines().next().unwrap_or_default()).expect("a watch event");
    assert_eq!(event["type"], "ERROR", "{gone}");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    // …and a new list and watch follows the cluster again.
    let mut child = watch_pods(&cluster, &[]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    until(&mut lines, "pod/web-6b7f9c7d5-r7t2w").await;
    cluster.delete_pod("shop", "db-1", "2025-04-23T12:40:00Z");
    until(&mut lines, "pod/db-1").await;
    assert!(
        child.try_wait().expect("kubectl state").is_none(),
        "kubectl ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_debug_adds_an_ephemeral_container() {
    let cluster = Cluster::start(&["cluster"]).await;
    let output = Command::new("kubectl")
        .args([
            "debug",
            "-n",
            "shop",
            "web-6b7f9c7d5-k2x8p",
            "--image=busybox:1.37",
            "--container=debugger",
            "--profile=general",
            "--kubeconfig",
        ])
        .arg(cluster.kubeconfig())
        .output()
        .await
        .expect("kubectl (apt: kubectl) must be installed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pod = cluster.pod("shop", "web-6b7f9c7d5-k2x8p");
    let containers = pod["spec"]["ephemeralContainers"]
        .as_array()
        .expect("ephemeral containers");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "debugger");
    assert_eq!(containers[0]["image"], "busybox:1.37");
    let status = &pod["status"]["ephemeralContainerStatuses"][0];
    assert_eq!(status["name"], "debugger");
    assert!(status["state"]["running"].is_object(), "{status}");
    // The same name again is refused, as a real server refuses it.
    let again = Command::new("kubectl")
        .args([
            "debug",
            "-n",
            "shop",
            "web-6b7f9c7d5-k2x8p",
            "--image=busybox:1.37",
            "--container=debugger",
            "--profile=general",
            "--kubeconfig",
        ])
        .arg(cluster.kubeconfig())
        .output()
        .await
        .expect("kubectl");
    assert!(!again.status.success());
    let pod = cluster.pod("shop", "web-6b7f9c7d5-k2x8p");
    assert_eq!(
        pod["spec"]["ephemeralContainers"].as_array().map(Vec::len),
        Some(1)
    );
}
