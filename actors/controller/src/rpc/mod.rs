//! The Controller over Cap'n Proto: its link to the backend (`uplink`: registration with its
//! commands, inventory snapshots and deltas, status), its listener for the cluster's agents
//! (`relay`: logins checked by the backend, usage enriched on the way, names of IPs), and the
//! commands both serve (`commands`). Cap'n Proto objects are not `Send`: [`run`] goes on a
//! `LocalSet`.

pub mod commands;
pub mod relay;
pub mod uplink;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tokio::net::TcpListener;

pub use commands::Commands;
pub use relay::{RelayAuth, RelayState};
pub use uplink::UplinkConfig;

/// Runs the backend link, and the agents' listener when there is one, until dropped.
pub async fn run(
    uplink: UplinkConfig,
    listener: Option<TcpListener>,
    commands: Commands,
    stats: std::sync::Arc<crate::telemetry::ControllerStats>,
) {
    let state = RelayState {
        backend: Rc::new(RefCell::new(None)),
        inventory: commands.inventory.clone(),
        commands: Rc::new(commands),
        enrich: Rc::new(Cell::new(true)),
        records: Rc::new(Cell::new(0)),
        batches: Rc::new(Cell::new(0)),
        limits: uplink.listener.counters.clone(),
        stats,
    };
    let settings = uplink.listener.clone();
    let link = uplink::run(uplink, state.clone());
    match listener {
        None => link.await,
        Some(listener) => {
            let bootstrap: spider_rpc_schema::auth_capnp::auth::Client =
                capnp_rpc::new_client(RelayAuth(state));
            let serve = spider_backend::serve_connections(listener, settings, bootstrap.client);
            futures::future::join(link, serve).await;
        }
    }
}
