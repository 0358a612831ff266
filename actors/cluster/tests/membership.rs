//! Membership and placement against a real etcd: three nodes get every shard group an owner and
//! a follower; a node that stops renewing its lease (a crash) is replaced by the followers of its
//! groups; a fourth node joins the map; the coordinator's loss is survived; a live name cannot
//! join twice.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use spider_cluster::testing::EtcdServer;
use spider_cluster::{ClusterError, Member, MemberConfig, ShardMap};

fn config(etcd: &str, node: &str) -> MemberConfig {
    MemberConfig {
        lease_ttl: Duration::from_secs(2),
        coordinate_every: Duration::from_millis(100),
        groups: 16,
        initial_nodes: 3,
        ..MemberConfig::new(
            etcd,
            "test",
            node,
            format!("127.0.0.1:{}", 7000 + node.len()),
        )
    }
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn with_nodes(names: &'static [&'static str]) -> impl FnMut(&ShardMap) -> bool {
    move |map| {
        map.nodes
            .keys()
            .map(String::as_str)
            .eq(names.iter().copied())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_follows_the_members() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let a = Member::join(config(&etcd.url, "a")).await.expect("a joins");
    let b = Member::join(config(&etcd.url, "b")).await.expect("b joins");
    let c = Member::join(config(&etcd.url, "c")).await.expect("c joins");
    let three = within("three nodes", a.wait_for(with_nodes(&["a", "b", "c"]))).await;
    for group in 0..16 {
        let follower = three.followers[group].as_ref().expect("a follower");
        assert_ne!(follower, &three.owners[group]);
    }
    assert!(!three.owned_by("b").is_empty());
    assert_eq!(
        within("b's view", c.wait_for(|m| m.epoch >= three.epoch))
            .await
            .epoch,
        three.epoch
    );

    match Member::join(config(&etcd.url, "b")).await {
        Err(ClusterError::Taken(name)) => assert_eq!(name, "b"),
        other => panic!("a live name joined twice: {other:?}"),
    }

    // b crashes: it stops renewing its lease; its groups go to their followers.
    drop(b);
    let two = within("b gone", a.wait_for(with_nodes(&["a", "c"]))).await;
    assert!(two.epoch > three.epoch);
    for group in 0..16 {
        if three.owners[group] == "b" {
            assert_eq!(Some(&two.owners[group]), three.followers[group].as_ref());
        } else {
            assert_eq!(two.owners[group], three.owners[group]);
        }
        assert_ne!(two.followers[group].as_deref(), Some("b"));
    }

    // A fourth node joins the map.
    let d = Member::join(config(&etcd.url, "d")).await.expect("d joins");
    let with_d = within("d in the map", c.wait_for(with_nodes(&["a", "c", "d"]))).await;
    assert!(with_d.epoch > two.epoch);

    // The coordinator leaves: another one takes over and the map follows.
    a.leave().await.expect("a leaves");
    let last = within("a gone", d.wait_for(with_nodes(&["c", "d"]))).await;
    assert!(last.owners.iter().all(|o| o == "c" || o == "d"));
    drop(c);
}
