//! Pushing batches (capture, usage) and asking what is durably stored.

use spider_model::{DnsRecord, HostRecord, PacketRecord, TcpSessionRecord, UsageRecord};
use spider_rpc_schema::ingest_capnp::batch_ack;
use spider_rpc_schema::{write_dns, write_frame, write_host, write_tcp_session, write_usage};

use super::{len_u32, BackendClient, ClientError};

/// What a Whisperer lost or left out over `[since, until)`: sent once, in one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    pub since: i64,
    pub until: i64,
    pub kernel_drops: u64,
    pub own_drops: u64,
    pub limit_drops: u64,
    pub skipped_empty_acks: u64,
}

/// One capture batch to push: frames, session updates, hosts and DNS of one virtual shard.
#[derive(Debug, Clone, Copy, Default)]
pub struct CapturePush<'a> {
    pub agent: &'a str,
    pub incarnation: u64,
    pub sequence: u64,
    pub shard: u16,
    pub whisperer: &'a str,
    pub frames: &'a [PacketRecord],
    pub sessions: &'a [TcpSessionRecord],
    pub hosts: &'a [HostRecord],
    pub dns: &'a [DnsRecord],
    /// The drop counters since the previous ones, when this batch carries them.
    pub drops: Option<DropCounters>,
    /// The Whisperer's retention in ns (0: the backend's default).
    pub retention_ttl: i64,
}

/// One batch of usage counters of one virtual shard.
#[derive(Debug, Clone, Copy)]
pub struct UsagePush<'a> {
    pub agent: &'a str,
    pub incarnation: u64,
    pub sequence: u64,
    pub shard: u16,
    pub records: &'a [UsageRecord],
}

/// What one shard holds durably from one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub agent: String,
    pub incarnation: u64,
    pub shard: u16,
    pub sequence: u64,
}

fn read_acks(
    list: capnp::struct_list::Reader<'_, batch_ack::Owned>,
) -> Result<Vec<Ack>, ClientError> {
    let mut acks = Vec::new();
    for ack in list {
        acks.push(Ack {
            agent: ack.get_agent()?.to_str()?.to_owned(),
            incarnation: ack.get_incarnation(),
            shard: ack.get_shard(),
            sequence: ack.get_sequence(),
        });
    }
    Ok(acks)
}

impl BackendClient {
    /// Pushes one batch; it returns once the batch is durably stored.
    pub async fn push_capture(&self, push: CapturePush<'_>) -> Result<(), ClientError> {
        let mut request = self.ingest.push_capture_request();
        let mut batch = request.get().init_batch();
        let mut id = batch.reborrow().init_id();
        id.set_agent(push.agent);
        id.set_incarnation(push.incarnation);
        id.set_sequence(push.sequence);
        batch.set_shard(push.shard);
        batch.set_whisperer(push.whisperer);
        batch.set_retention_ttl(push.retention_ttl);
        let mut frames = batch.reborrow().init_frames(len_u32(push.frames.len())?);
        for (index, frame) in (0..).zip(push.frames) {
            write_frame(frames.reborrow().get(index), frame)?;
        }
        let mut sessions = batch
            .reborrow()
            .init_sessions(len_u32(push.sessions.len())?);
        for (index, session) in (0..).zip(push.sessions) {
            write_tcp_session(sessions.reborrow().get(index), session)?;
        }
        let mut hosts = batch.reborrow().init_hosts(len_u32(push.hosts.len())?);
        for (index, host) in (0..).zip(push.hosts) {
            write_host(hosts.reborrow().get(index), host)?;
        }
        let mut dns = batch.reborrow().init_dns(len_u32(push.dns.len())?);
        for (index, record) in (0..).zip(push.dns) {
            write_dns(dns.reborrow().get(index), record)?;
        }
        if let Some(counters) = push.drops {
            let mut drops = batch.init_drops();
            drops.set_since(counters.since);
            drops.set_until(counters.until);
            drops.set_kernel_drops(counters.kernel_drops);
            drops.set_own_drops(counters.own_drops);
            drops.set_limit_drops(counters.limit_drops);
            drops.set_skipped_empty_acks(counters.skipped_empty_acks);
        }
        request.send().await?;
        Ok(())
    }

    /// Pushes usage counters; it returns once they are durably stored.
    pub async fn push_usage(&self, push: UsagePush<'_>) -> Result<(), ClientError> {
        let mut request = self.ingest.push_usage_request();
        let mut batch = request.get().init_batch();
        let mut id = batch.reborrow().init_id();
        id.set_agent(push.agent);
        id.set_incarnation(push.incarnation);
        id.set_sequence(push.sequence);
        batch.set_shard(push.shard);
        let mut records = batch.init_records(len_u32(push.records.len())?);
        for (index, record) in (0..).zip(push.records) {
            write_usage(records.reborrow().get(index), record)?;
        }
        request.send().await?;
        Ok(())
    }

    /// What the backend holds durably of one incarnation of an agent, whatever connection sent
    /// it: per shard, the highest sequence stored (resume after it when reconnecting).
    pub async fn acknowledged(
        &self,
        agent: &str,
        incarnation: u64,
    ) -> Result<Vec<Ack>, ClientError> {
        let mut call = self.ingest.acknowledged_request();
        call.get().set_agent(agent);
        call.get().set_incarnation(incarnation);
        let reply = call.send().promise.await?;
        read_acks(reply.get()?.get_acked()?)
    }

    /// Waits for every push before it and returns what is durably stored.
    pub async fn flush(&self) -> Result<Vec<Ack>, ClientError> {
        let reply = self.ingest.flush_request().send().promise.await?;
        read_acks(reply.get()?.get_acked()?)
    }
}
