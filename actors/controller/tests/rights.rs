//! Missing rights are named: a server that answers 403 for some resources makes the
//! Controller's check fail with those resources, and their watches report the same.

mod common;

use spider_controller::inventory::watch::{check_rights, spawn_watchers};
use spider_controller::{ControllerConfig, ControllerError, Inventory};
use spider_kube_apiserver::{ApiServer, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_rights_are_named() {
    let server = ApiServer::start(ServerConfig {
        forbidden: vec!["pods".into(), "cronjobs".into()],
        ..ServerConfig::default()
    })
    .expect("server");
    server
        .load_dir(&common::fixtures("cluster"))
        .expect("fixtures");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let config = ControllerConfig {
        kubeconfig: Some(kubeconfig),
        ..ControllerConfig::default()
    };
    let client = config.client().await.expect("client");
    match check_rights(&client).await {
        Err(ControllerError::Forbidden { resources }) => {
            assert_eq!(resources, vec!["pods", "cronjobs"])
        }
        other => panic!("expected missing rights, got {other:?}"),
    }
    let message = check_rights(&client)
        .await
        .expect_err("forbidden")
        .to_string();
    assert!(message.contains("may not list pods, cronjobs"), "{message}");
    let inventory = Inventory::new(Vec::new(), 0);
    let watchers = spawn_watchers(&inventory, &client);
    common::within(
        "the watch errors",
        inventory.wait_for(|_| inventory.errors().len() == 2),
    )
    .await;
    let errors = inventory.errors();
    assert!(
        errors
            .values()
            .all(|e| e.starts_with("missing rights: list and watch on")),
        "{errors:?}"
    );
    for watcher in watchers {
        watcher.abort();
    }
}
