//! The Whisperer's side of the DNS proxy: the names of the addresses it sees, asked from the
//! Controller (which knows the cluster's pods, services and nodes), so that a Whisperer needs
//! no Kubernetes rights to label its hosts.
//!
//! With `controller` set, each capture thread hands over the two addresses of every new TCP
//! session (gathered per frame path, handed over once per tick). A task on the sender's thread
//! asks the Controller every `names_interval`, over a connection of its own logged in with the
//! Whisperer's token, for the names of the addresses it has not asked about yet (at most
//! [`MAX_ASK`] a call), and queues one [`HostRecord`] (source `kubernetes`, first and last seen:
//! the capture time of the session that brought the address) per name. Queued names ride on the
//! next batches sent for the first time ([`Names::take_hosts`]), or on an empty batch when none
//! goes; the backend stores the hosts of any batch.
//!
//! Bounded: the addresses taken in are remembered in a set of at most [`MAX_KNOWN`] (the oldest
//! forgotten, so it may be asked about again), at most [`MAX_WAITING`] wait to be asked and
//! [`MAX_HOSTS`] names wait for a batch; past that the oldest waiting address or the new name
//! is dropped and counted (`names_dropped`). A Controller that cannot be reached, refuses the
//! login or does not answer within [`TIMEOUT`] costs a counted failure (`name_failures`) and a
//! log line, and its addresses are asked again at the next round: capture and delivery never
//! wait for it. At the end of the input (a file read, a stop) a last round asks right away, and
//! the sender ends only once it is done and its names are in a batch ([`Names::settled`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use spider_backend::client::{BackendClient, ClientError};
use spider_model::controller::IpNames;
use spider_model::{HostRecord, HostSource};
use tokio::sync::Notify;

use crate::counters::Counters;
use crate::Shared;

/// Addresses asked in one call.
pub const MAX_ASK: usize = 1000;
/// Addresses remembered as taken in (asked, or waiting to be).
pub const MAX_KNOWN: usize = 65_536;
/// Addresses waiting to be asked about.
pub const MAX_WAITING: usize = 65_536;
/// Names waiting for a batch.
pub const MAX_HOSTS: usize = 16_384;
/// Names one batch carries at most.
pub const MAX_HOSTS_PER_BATCH: usize = 1000;
/// The longest a login or a call to the Controller may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a round of questions to the Controller failed.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    #[error("logging in to the Controller at {0} timed out")]
    LoginTimeout(SocketAddr),
    #[error("the Controller at {0} did not answer in time")]
    CallTimeout(SocketAddr),
    #[error("the Controller at {addr}: {source}")]
    Client {
        addr: SocketAddr,
        source: ClientError,
    },
}

#[derive(Debug, Default)]
struct Inner {
    /// Addresses taken in, and the order they came in (to forget the oldest).
    known: HashSet<IpAddr>,
    known_order: VecDeque<IpAddr>,
    /// Not asked about yet, with the capture time they were first seen at, oldest first.
    waiting: VecDeque<(IpAddr, i64)>,
    /// Names waiting for a batch.
    hosts: VecDeque<HostRecord>,
    /// The last round after the end of the input is done.
    finished: bool,
}

/// The addresses seen and the names learnt, shared by the capture threads and the sender.
#[derive(Debug)]
pub struct Names {
    enabled: bool,
    inner: Mutex<Inner>,
    /// Wakes the asking task (the end of the input: a last round at once).
    pub wake: Notify,
}

/// Addresses that no inventory names.
fn worth_asking(ip: IpAddr) -> bool {
    !(ip.is_unspecified() || ip.is_loopback() || ip.is_multicast())
}

impl Names {
    /// `enabled`: a Controller is configured (otherwise nothing is taken in).
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            inner: Mutex::new(Inner::default()),
            wake: Notify::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes in addresses seen at capture times: those not taken in before wait to be asked.
    pub fn saw(&self, seen: impl IntoIterator<Item = (IpAddr, i64)>, counters: &Counters) {
        if !self.enabled {
            return;
        }
        let mut dropped = 0;
        let mut inner = self.lock();
        for (ip, time) in seen {
            if !worth_asking(ip) || !inner.known.insert(ip) {
                continue;
            }
            inner.known_order.push_back(ip);
            if inner.known_order.len() > MAX_KNOWN {
                if let Some(oldest) = inner.known_order.pop_front() {
                    inner.known.remove(&oldest);
                }
            }
            inner.waiting.push_back((ip, time));
            dropped += trim_waiting(&mut inner);
        }
        drop(inner);
        Counters::add(&counters.names_dropped, dropped);
    }

    /// The oldest `max` addresses waiting, to ask about now.
    fn next_ask(&self, max: usize) -> Vec<(IpAddr, i64)> {
        let mut inner = self.lock();
        let take = inner.waiting.len().min(max);
        inner.waiting.drain(..take).collect()
    }

    /// Addresses whose question failed: asked again at the next round, before newer ones.
    fn put_back(&self, asked: Vec<(IpAddr, i64)>, counters: &Counters) {
        let mut inner = self.lock();
        for entry in asked.into_iter().rev() {
            inner.waiting.push_front(entry);
        }
        let dropped = trim_waiting(&mut inner);
        drop(inner);
        Counters::add(&counters.names_dropped, dropped);
    }

    /// Queues a host record per name the Controller gave for an address asked about; returns
    /// how many were queued.
    fn answered(&self, asked: &[(IpAddr, i64)], answers: Vec<IpNames>, counters: &Counters) -> u64 {
        let times: HashMap<IpAddr, i64> = asked.iter().copied().collect();
        let (mut learnt, mut dropped) = (0, 0);
        let mut inner = self.lock();
        for answer in answers {
            // An address not asked about in this call is not taken.
            let Some(&time) = times.get(&answer.ip) else {
                continue;
            };
            for name in answer.names {
                if inner.hosts.len() >= MAX_HOSTS {
                    dropped += 1;
                    continue;
                }
                inner.hosts.push_back(HostRecord {
                    ip: answer.ip,
                    name,
                    source: HostSource::Kubernetes,
                    first_seen: time,
                    last_seen: time,
                });
                learnt += 1;
            }
        }
        drop(inner);
        Counters::add(&counters.names_learnt, learnt);
        Counters::add(&counters.names_dropped, dropped);
        learnt
    }

    /// Up to `max` names for the batch being sent for the first time.
    pub fn take_hosts(&self, max: usize) -> Vec<HostRecord> {
        if !self.enabled {
            return Vec::new();
        }
        let mut inner = self.lock();
        let take = inner.hosts.len().min(max);
        inner.hosts.drain(..take).collect()
    }

    /// Names wait for a batch.
    pub fn has_hosts(&self) -> bool {
        self.enabled && !self.lock().hosts.is_empty()
    }

    /// No name will come any more and none waits for a batch (always true without a
    /// Controller).
    pub fn settled(&self) -> bool {
        if !self.enabled {
            return true;
        }
        let inner = self.lock();
        inner.finished && inner.hosts.is_empty()
    }

    fn finish(&self) {
        self.lock().finished = true;
    }
}

/// Drops the oldest waiting addresses past [`MAX_WAITING`]; returns how many.
fn trim_waiting(inner: &mut Inner) -> u64 {
    let mut dropped = 0;
    while inner.waiting.len() > MAX_WAITING {
        if let Some((ip, _)) = inner.waiting.pop_front() {
            // Forgotten too: seen again, it is taken in again.
            inner.known.remove(&ip);
        }
        dropped += 1;
    }
    dropped
}

/// Asks the Controller at `names_interval` until the end of the input (then once more at once).
/// Runs on the sender's `LocalSet` (Cap'n Proto clients are not `Send`); never holds the sender.
pub(crate) async fn run(shared: Arc<Shared>) {
    let Some(addr) = shared.config.controller else {
        return;
    };
    let mut link = Link {
        addr,
        transport: shared.config.controller_tls.clone(),
        client: None,
        failing: false,
    };
    loop {
        if !shared.buffer_closed() {
            tokio::select! {
                () = tokio::time::sleep(shared.config.names_interval) => {}
                () = shared.names.wake.notified() => {}
            }
        }
        // Every address of the input is in once the buffer is closed (the capture threads
        // hand theirs over before they end).
        let last = shared.buffer_closed();
        link.round(&shared).await;
        if last {
            shared.names.finish();
            shared.buffer.arrived.notify_one();
            return;
        }
    }
}

/// The connection to the Controller, made when needed and dropped at the first failure.
struct Link {
    addr: SocketAddr,
    transport: spider_backend::client::ClientTransport,
    client: Option<BackendClient>,
    /// The last question failed (a failure is logged as a warning once, then at debug).
    failing: bool,
}

impl Link {
    /// Asks about every address waiting, [`MAX_ASK`] at a time, until none is left or a call
    /// fails (the rest waits for the next round).
    async fn round(&mut self, shared: &Shared) {
        let counters = &shared.counters;
        loop {
            let asked = shared.names.next_ask(MAX_ASK);
            if asked.is_empty() {
                return;
            }
            let ips: Vec<IpAddr> = asked.iter().map(|&(ip, _)| ip).collect();
            match self.ask(&shared.config.token, &ips).await {
                Ok(answers) => {
                    if self.failing {
                        tracing::info!(controller = %self.addr, "the Controller answers again");
                        self.failing = false;
                    }
                    Counters::add(&counters.names_asked, ips.len() as u64);
                    if shared.names.answered(&asked, answers, counters) > 0 {
                        // Names to carry: the pusher sends them (with a batch, or alone).
                        shared.buffer.arrived.notify_one();
                    }
                }
                Err(error) => {
                    self.client = None;
                    shared.names.put_back(asked, counters);
                    Counters::add(&counters.name_failures, 1);
                    if self.failing {
                        tracing::debug!(%error, "names of addresses: asking again later");
                    } else {
                        tracing::warn!(%error, "names of addresses: asking again later");
                    }
                    self.failing = true;
                    return;
                }
            }
        }
    }

    async fn ask(&mut self, token: &str, ips: &[IpAddr]) -> Result<Vec<IpNames>, NamesError> {
        let addr = self.addr;
        let client_error = |source| NamesError::Client { addr, source };
        let client = match self.client.take() {
            Some(client) => client,
            None => {
                let connect = BackendClient::connect_over(addr, &self.transport, token);
                tokio::time::timeout(TIMEOUT, connect)
                    .await
                    .map_err(|_| NamesError::LoginTimeout(addr))?
                    .map_err(client_error)?
            }
        };
        let answers = tokio::time::timeout(TIMEOUT, client.names(ips))
            .await
            .map_err(|_| NamesError::CallTimeout(addr))?
            .map_err(client_error)?;
        self.client = Some(client);
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0af4_0000 + n))
    }

    #[test]
    fn addresses_are_asked_once_in_order_and_bounded() {
        let counters = Counters::default();
        let names = Names::new(true);
        names.saw([(ip(1), 10), (ip(2), 11), (ip(1), 12)], &counters);
        names.saw([("127.0.0.1".parse().expect("ip"), 13)], &counters);
        let asked = names.next_ask(MAX_ASK);
        assert_eq!(
            asked,
            vec![(ip(1), 10), (ip(2), 11)],
            "once each, loopback never"
        );
        // A failed question: asked again first, at the next round.
        names.saw([(ip(3), 14)], &counters);
        names.put_back(asked.clone(), &counters);
        assert_eq!(names.next_ask(2), asked);
        let answers = vec![
            IpNames {
                ip: ip(1),
                names: vec!["web-1.shop".into(), "web.shop.svc.cluster.local".into()],
            },
            IpNames {
                ip: ip(9),
                names: vec!["not-asked".into()],
            },
        ];
        assert_eq!(names.answered(&asked, answers, &counters), 2);
        assert!(names.has_hosts() && !names.settled());
        let hosts = names.take_hosts(1);
        assert_eq!(hosts[0].name, "web-1.shop");
        assert_eq!(hosts[0].source, HostSource::Kubernetes);
        assert_eq!((hosts[0].first_seen, hosts[0].last_seen), (10, 10));
        assert_eq!(names.take_hosts(10).len(), 1);
        names.finish();
        assert!(names.settled());
        // The waiting queue keeps the newest MAX_WAITING, counting the rest.
        let many = (0..MAX_WAITING as u32 + 5).map(|n| (ip(100 + n), 0));
        names.saw(many, &counters);
        assert_eq!(
            counters.snapshot().names_dropped,
            5 + 1,
            "and ip(3), pushed out"
        );
        assert_eq!(names.next_ask(1)[0].0, ip(105));
        let disabled = Names::new(false);
        disabled.saw([(ip(1), 1)], &counters);
        assert!(disabled.next_ask(10).is_empty() && disabled.settled());
    }
}
