//! `Ingest`: agents' batches to the capture workers, and `flush`, the acknowledgement point.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use spider_rpc_schema::ingest_capnp::{capture_batch, ingest};
use spider_rpc_schema::{read_dns, read_frame, read_host, read_tcp_session, VIRTUAL_SHARDS};
use tokio::sync::Notify;

use super::failed;
use crate::router::Router;
use crate::worker::CaptureBatch;

/// One agent's ingest capability.
///
/// A push returns once its batch is durably stored (the storage's write-ahead log), so `flush`
/// only has to wait for the pushes received before it, then report, per (agent, incarnation,
/// shard), the highest sequence stored.
pub(crate) struct Ingest {
    router: Router,
    received: Cell<u64>,
    finished: Cell<u64>,
    progress: Notify,
    acked: RefCell<BTreeMap<(String, u64, u16), u64>>,
}

impl Ingest {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            received: Cell::new(0),
            finished: Cell::new(0),
            progress: Notify::new(),
            acked: RefCell::new(BTreeMap::new()),
        }
    }

    async fn store(&self, batch: capture_batch::Reader<'_>) -> Result<(), capnp::Error> {
        let id = batch.get_id()?;
        let agent = id.get_agent()?.to_str()?.to_owned();
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        let shard = batch.get_shard();
        if shard >= VIRTUAL_SHARDS {
            return Err(failed(format!("shard {shard} does not exist")));
        }
        let whisperer = batch.get_whisperer()?.to_str()?.to_owned();
        let frames = batch
            .get_frames()?
            .iter()
            .map(|frame| read_frame(frame, &whisperer))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let sessions = batch
            .get_sessions()?
            .iter()
            .map(read_tcp_session)
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let hosts = batch
            .get_hosts()?
            .iter()
            .map(read_host)
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let dns = batch
            .get_dns()?
            .iter()
            .map(read_dns)
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let worker = self
            .router
            .worker(shard)
            .ok_or_else(|| failed("this node serves no shard"))?;
        let outcome = worker
            .send(CaptureBatch {
                agent: format!("{agent}#{incarnation}#{shard}"),
                seq: sequence,
                whisperer,
                frames,
                sessions,
                hosts,
                dns,
            })
            .await
            .map_err(failed)?
            .map_err(failed)?;
        tracing::debug!(
            agent,
            sequence,
            shard,
            duplicate = outcome.duplicate,
            "batch stored"
        );
        let mut acked = self.acked.borrow_mut();
        let stored = acked.entry((agent, incarnation, shard)).or_default();
        *stored = (*stored).max(sequence);
        Ok(())
    }
}

impl ingest::Server for Ingest {
    async fn push_capture(
        self: Rc<Self>,
        params: ingest::PushCaptureParams,
    ) -> Result<(), capnp::Error> {
        self.received.set(self.received.get() + 1);
        let result = self.store(params.get()?.get_batch()?).await;
        self.finished.set(self.finished.get() + 1);
        self.progress.notify_waiters();
        result
    }

    async fn flush(
        self: Rc<Self>,
        _: ingest::FlushParams,
        mut results: ingest::FlushResults,
    ) -> Result<(), capnp::Error> {
        let target = self.received.get();
        while self.finished.get() < target {
            let notified = self.progress.notified();
            if self.finished.get() >= target {
                break;
            }
            notified.await;
        }
        let acked = self.acked.borrow();
        let len = u32::try_from(acked.len()).map_err(failed)?;
        let mut list = results.get().init_acked(len);
        for (index, ((agent, incarnation, shard), sequence)) in (0..len).zip(acked.iter()) {
            let mut ack = list.reborrow().get(index);
            ack.set_agent(agent);
            ack.set_incarnation(*incarnation);
            ack.set_shard(*shard);
            ack.set_sequence(*sequence);
        }
        Ok(())
    }
}
