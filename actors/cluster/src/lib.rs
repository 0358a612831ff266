//! A backend cluster: membership and shard placement kept in etcd.
//!
//! Nodes register under leases (`member`), one of them coordinates and writes the shard map
//! (`map`: the owner and the follower of each shard group, with an epoch), and everyone watches
//! it. `etcd` is the small client of etcd's v3 JSON API this needs. This crate decides where
//! shards live; it stores nothing and serves no RPC itself. `testing` runs a real etcd for tests.

pub mod etcd;
pub mod map;
pub mod member;
pub mod testing;

pub use etcd::{Etcd, EtcdError};
pub use map::{Move, NodeInfo, ShardMap};
pub use member::{ClusterError, CopyReporter, Member, MemberConfig};
