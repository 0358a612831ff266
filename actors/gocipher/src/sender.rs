//! Sends records to the upstream (a backend node, or a Controller that forwards them) in batches
//! per virtual shard, numbered per (agent, incarnation, shard) so that a retried batch is stored
//! once. Batches stay in a bounded buffer until acknowledged; while the upstream is away the
//! oldest are dropped beyond the bound (counted). Dropping a batch that already has a number
//! would leave a gap the storage refuses, so the buffer then starts a new incarnation.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use spider_backend::client::{AgentControl, BackendClient, Registration, UsagePush};
use spider_model::agent::{AgentSettings, AgentStatus};
use spider_model::UsageRecord;
use spider_rpc_schema::usage_shard;

use crate::control::{Control, Remote};

/// The most records in one batch.
const BATCH_RECORDS: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Batch {
    shard: u16,
    sequence: Option<u64>,
    records: Vec<UsageRecord>,
}

pub(crate) struct Sender {
    addr: SocketAddr,
    transport: spider_backend::client::ClientTransport,
    token: String,
    agent: String,
    pub incarnation: u64,
    client: Option<BackendClient>,
    /// Host mode: the agent registers with the backend's registry.
    control: Option<Rc<Control>>,
    registration: Option<Registration>,
    /// Addresses of the other Gociphers (host mode), refreshed with each status report.
    pub monitored: HashSet<IpAddr>,
    pending: VecDeque<Batch>,
    next_sequence: HashMap<u16, u64>,
    buffered: usize,
    max_buffered: usize,
    pub dropped_records: u64,
    pub batches_sent: u64,
    pub batches_acked: u64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("addr", &self.addr)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub fn new(
        addr: SocketAddr,
        token: String,
        agent: String,
        incarnation: u64,
        max_buffered: usize,
        control: Option<Rc<Control>>,
    ) -> Self {
        Self {
            addr,
            transport: spider_backend::client::ClientTransport::Plain,
            token,
            agent,
            incarnation,
            client: None,
            control,
            registration: None,
            monitored: HashSet::new(),
            pending: VecDeque::new(),
            next_sequence: HashMap::new(),
            buffered: 0,
            max_buffered,
            dropped_records: 0,
            batches_sent: 0,
            batches_acked: 0,
        }
    }

    /// Reaches the upstream over `transport` (TLS) rather than plain TCP.
    pub fn over(mut self, transport: spider_backend::client::ClientTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Records waiting for an acknowledgement.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    pub fn enqueue(&mut self, records: Vec<UsageRecord>) {
        let mut by_shard: HashMap<u16, Vec<UsageRecord>> = HashMap::new();
        for record in records {
            by_shard
                .entry(usage_shard(&self.agent, &record))
                .or_default()
                .push(record);
        }
        let mut shards: Vec<_> = by_shard.into_iter().collect();
        shards.sort_by_key(|(shard, _)| *shard);
        for (shard, records) in shards {
            for chunk in records.chunks(BATCH_RECORDS) {
                self.buffered += chunk.len();
                self.pending.push_back(Batch {
                    shard,
                    sequence: None,
                    records: chunk.to_vec(),
                });
            }
        }
        while self.buffered > self.max_buffered {
            let Some(oldest) = self.pending.pop_front() else {
                break;
            };
            self.buffered -= oldest.records.len();
            self.dropped_records += oldest.records.len() as u64;
            tracing::warn!(
                records = oldest.records.len(),
                "usage buffer full: oldest records dropped"
            );
            if oldest.sequence.is_some() {
                self.new_incarnation();
            }
        }
    }

    /// Renumbers what is pending under a new incarnation (after a gap).
    fn new_incarnation(&mut self) {
        self.incarnation += 1;
        self.next_sequence.clear();
        for batch in &mut self.pending {
            batch.sequence = None;
        }
    }

    /// Sends what is pending and waits until the upstream has stored it.
    pub async fn pump(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.try_pump().await;
        if let Err(error) = &result {
            self.client = None;
            self.registration = None;
            if error.contains("follows a gap") {
                self.new_incarnation();
            }
        }
        result
    }

    /// Connects (and registers) when not connected.
    pub async fn connect(&mut self) -> Result<(), String> {
        if self.client.is_some() {
            return Ok(());
        }
        let client = tokio::time::timeout(
            CONNECT_TIMEOUT,
            BackendClient::connect_over(self.addr, &self.transport, &self.token),
        )
        .await
        .map_err(|_| format!("connecting to {} timed out", self.addr))?
        .map_err(|e| e.to_string())?;
        if let Some(control) = &self.control {
            let info = Control::info(&self.agent, self.incarnation);
            let remote: Rc<dyn AgentControl> = Rc::new(Remote(control.clone()));
            let (registration, config) =
                tokio::time::timeout(CALL_TIMEOUT, client.register_agent(&info, remote))
                    .await
                    .map_err(|_| "registering timed out".to_owned())?
                    .map_err(|e| format!("registering: {e}"))?;
            if let AgentSettings::Gocipher(settings) = config.settings {
                control.counting.set(settings.counting);
                control.generation.set(config.generation);
                control.changed.notify_one();
            }
            self.registration = Some(registration);
        }
        self.client = Some(client);
        Ok(())
    }

    /// Reports the status to the registry (host mode), connecting first if needed.
    pub async fn report(&mut self, status: &AgentStatus) {
        if self.control.is_none() || self.connect().await.is_err() {
            return;
        }
        if let Some(client) = &self.client {
            // Listing agents may need more rights than the token has: then nothing is learnt.
            if let Ok(Ok(agents)) = tokio::time::timeout(CALL_TIMEOUT, client.agents()).await {
                self.monitored = crate::peers::monitored_addresses(&agents, &self.agent);
            }
        }
        if let Some(registration) = &self.registration {
            if let Ok(Err(error)) =
                tokio::time::timeout(CALL_TIMEOUT, registration.report(status)).await
            {
                tracing::debug!(%error, "status report failed");
                self.client = None;
                self.registration = None;
            }
        }
    }

    async fn try_pump(&mut self) -> Result<(), String> {
        self.connect().await?;
        let client = self.client.as_ref().ok_or("not connected")?;
        for batch in &mut self.pending {
            let sequence = match batch.sequence {
                Some(sequence) => sequence,
                None => {
                    let next = self.next_sequence.entry(batch.shard).or_insert(1);
                    let sequence = *next;
                    *next += 1;
                    batch.sequence = Some(sequence);
                    sequence
                }
            };
            let push = UsagePush {
                agent: &self.agent,
                incarnation: self.incarnation,
                sequence,
                shard: batch.shard,
                records: &batch.records,
            };
            tokio::time::timeout(CALL_TIMEOUT, client.push_usage(push))
                .await
                .map_err(|_| "pushing usage timed out".to_owned())?
                .map_err(|e| e.to_string())?;
            self.batches_sent += 1;
        }
        let acks = tokio::time::timeout(CALL_TIMEOUT, client.flush())
            .await
            .map_err(|_| "waiting for acknowledgements timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let mut acked: HashMap<u16, u64> = HashMap::new();
        for ack in acks {
            if ack.agent == self.agent && ack.incarnation == self.incarnation {
                let at = acked.entry(ack.shard).or_default();
                *at = (*at).max(ack.sequence);
            }
        }
        let before = self.pending.len();
        let buffered = &mut self.buffered;
        self.pending.retain(|batch| {
            let stored = batch
                .sequence
                .is_some_and(|seq| acked.get(&batch.shard).is_some_and(|&at| seq <= at));
            if stored {
                *buffered -= batch.records.len();
            }
            !stored
        });
        self.batches_acked += (before - self.pending.len()) as u64;
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(format!("{} batches not acknowledged", self.pending.len()))
        }
    }
}
