//! The agent registry: every agent that registered with this node, its latest status, the settings
//! the system wants it to have, and the control capability it handed over.
//!
//! It lives on the RPC thread (Cap'n Proto capabilities are not `Send`). What must survive a
//! restart, the agents' identities and desired settings, is kept in `agents.json` in the data
//! folder; statuses and connections are live state.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentStatus, AgentSummary,
};
use spider_rpc_schema::agent_capnp::agent_control;
use spider_rpc_schema::controller_capnp::controller_control;
use spider_storage::ShardRequest;

use crate::config::RetentionConfig;
use crate::router::Router;

/// Drop counters a Whisperer's batches carried, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DropTotals {
    pub kernel: u64,
    pub own: u64,
    pub limit: u64,
    pub skipped_empty_acks: u64,
}

/// What is kept of an agent across restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    info: AgentInfo,
    config: AgentConfig,
    last_seen: i64,
    #[serde(default)]
    drops: DropTotals,
}

struct Entry {
    saved: Saved,
    status: AgentStatus,
    /// The live registration's number and the agent's control capability.
    live: Option<(u64, agent_control::Client)>,
    /// A connected Controller's command capability.
    controller: Option<controller_control::Client>,
}

struct Inner {
    agents: BTreeMap<String, Entry>,
    next_registration: u64,
    /// The retention last sent to the shards, per Whisperer (ns; 0: the default).
    applied_ttl: BTreeMap<String, i64>,
}

/// Shared handle to the registry of this node.
#[derive(Clone)]
pub(crate) struct Registry {
    inner: Rc<RefCell<Inner>>,
    router: Router,
    retention: RetentionConfig,
    file: PathBuf,
}

/// Why the registry refused a call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error("no agent is named {0:?}")]
    Unknown(String),
    #[error("agent {name:?} is a {actual:?}: these settings are for a {wanted:?}")]
    WrongKind {
        name: String,
        actual: AgentKind,
        wanted: AgentKind,
    },
    #[error("agent {0:?} is not connected")]
    NotConnected(String),
    #[error("agent {0:?} is not a Controller")]
    NotAController(String),
    #[error("an agent needs a name")]
    NoName,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

impl Registry {
    /// Opens the registry kept in `data_dir/agents.json` (an unreadable file is logged and
    /// replaced: it holds settings, not data).
    pub fn open(data_dir: &std::path::Path, router: Router, retention: RetentionConfig) -> Self {
        let file = data_dir.join("agents.json");
        let saved: BTreeMap<String, Saved> = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, path = %file.display(), "ignoring an unreadable agent registry");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        let agents = saved
            .into_iter()
            .map(|(name, saved)| {
                let status = AgentStatus {
                    config_generation: saved.config.generation,
                    ..AgentStatus::default()
                };
                let entry = Entry {
                    saved,
                    status,
                    live: None,
                    controller: None,
                };
                (name, entry)
            })
            .collect();
        let registry = Self {
            inner: Rc::new(RefCell::new(Inner {
                agents,
                next_registration: 1,
                applied_ttl: BTreeMap::new(),
            })),
            router,
            retention,
            file,
        };
        let policies: Vec<(String, i64)> = registry
            .inner
            .borrow()
            .agents
            .iter()
            .filter_map(|(name, entry)| match &entry.saved.config.settings {
                AgentSettings::Whisperer(settings) if settings.retention_ttl > 0 => {
                    Some((name.clone(), settings.retention_ttl))
                }
                _ => None,
            })
            .collect();
        for (name, ttl) in policies {
            let registry = registry.clone();
            tokio::task::spawn_local(async move { registry.apply_retention(&name, ttl).await });
        }
        registry
    }

    fn save(&self) {
        let inner = self.inner.borrow();
        let saved: BTreeMap<&String, &Saved> = inner
            .agents
            .iter()
            .map(|(name, entry)| (name, &entry.saved))
            .collect();
        let result = serde_json::to_vec_pretty(&saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let temporary = self.file.with_extension("json.tmp");
                std::fs::write(&temporary, bytes)?;
                std::fs::rename(&temporary, &self.file)
            });
        if let Err(error) = result {
            tracing::error!(%error, path = %self.file.display(), "cannot save the agent registry");
        }
    }

    /// Registers an agent (again): returns the registration's number and the settings it should
    /// apply (those set for it before, or the defaults of its kind).
    pub fn register(
        &self,
        info: AgentInfo,
        control: agent_control::Client,
        controller: Option<controller_control::Client>,
    ) -> Result<(u64, AgentConfig), RegistryError> {
        if info.name.is_empty() {
            return Err(RegistryError::NoName);
        }
        let now = now_ns();
        let (number, config) = {
            let mut inner = self.inner.borrow_mut();
            let number = inner.next_registration;
            inner.next_registration += 1;
            let name = info.name.clone();
            let kind = info.kind;
            let entry = inner.agents.entry(name).or_insert_with(|| Entry {
                saved: Saved {
                    info: info.clone(),
                    config: AgentConfig {
                        generation: 1,
                        settings: AgentSettings::default_for(kind),
                    },
                    last_seen: now,
                    drops: DropTotals::default(),
                },
                status: AgentStatus::default(),
                live: None,
                controller: None,
            });
            if entry.saved.config.settings.kind() != kind {
                entry.saved.config = AgentConfig {
                    generation: entry.saved.config.generation + 1,
                    settings: AgentSettings::default_for(kind),
                };
            }
            if entry.saved.info.incarnation != info.incarnation {
                entry.saved.drops = DropTotals::default();
            }
            entry.saved.info = info;
            entry.saved.last_seen = now;
            entry.status = AgentStatus {
                time: now,
                state_since: now,
                ..AgentStatus::default()
            };
            entry.live = Some((number, control));
            entry.controller = controller;
            (number, entry.saved.config.clone())
        };
        self.save();
        tracing::info!(registration = number, "agent registered");
        Ok((number, config))
    }

    /// A status report of the registration `number` of `name` (a stale registration's reports
    /// are ignored).
    pub fn report(&self, name: &str, number: u64, status: AgentStatus) {
        let mut inner = self.inner.borrow_mut();
        if let Some(entry) = inner.agents.get_mut(name) {
            if entry.live.as_ref().is_some_and(|(live, _)| *live == number) {
                entry.saved.last_seen = now_ns();
                entry.status = status;
            }
        }
    }

    /// The registration `number` of `name` ended (the agent dropped it or its connection).
    pub fn unregister(&self, name: &str, number: u64) {
        let ended = {
            let mut inner = self.inner.borrow_mut();
            match inner.agents.get_mut(name) {
                Some(entry) if entry.live.as_ref().is_some_and(|(live, _)| *live == number) => {
                    entry.live = None;
                    entry.controller = None;
                    true
                }
                _ => false,
            }
        };
        if ended {
            tracing::info!(agent = name, registration = number, "agent disconnected");
            self.save();
        }
    }

    /// Adds the drop counters a Whisperer's batch carried.
    pub fn add_drops(&self, whisperer: &str, drops: DropTotals) {
        if let Some(entry) = self.inner.borrow_mut().agents.get_mut(whisperer) {
            let totals = &mut entry.saved.drops;
            totals.kernel += drops.kernel;
            totals.own += drops.own;
            totals.limit += drops.limit;
            totals.skipped_empty_acks += drops.skipped_empty_acks;
        }
    }

    /// Every agent known, by name.
    pub fn list(&self) -> Vec<AgentSummary> {
        self.inner
            .borrow()
            .agents
            .values()
            .map(|entry| {
                let mut status = entry.status.clone();
                let drops = entry.saved.drops;
                status.kernel_drops = status.kernel_drops.max(drops.kernel);
                status.own_drops = status.own_drops.max(drops.own);
                status.limit_drops = status.limit_drops.max(drops.limit);
                status.skipped_empty_acks = status.skipped_empty_acks.max(drops.skipped_empty_acks);
                AgentSummary {
                    info: entry.saved.info.clone(),
                    status,
                    connected: entry.live.is_some(),
                    last_seen: entry.saved.last_seen,
                    config: entry.saved.config.clone(),
                }
            })
            .collect()
    }

    /// The control capability of a connected agent.
    pub fn control(&self, name: &str) -> Result<agent_control::Client, RegistryError> {
        match self.inner.borrow().agents.get(name) {
            None => Err(RegistryError::Unknown(name.to_owned())),
            Some(Entry { live: None, .. }) => Err(RegistryError::NotConnected(name.to_owned())),
            Some(Entry {
                live: Some((_, control)),
                ..
            }) => Ok(control.clone()),
        }
    }

    /// The command capability of a connected Controller.
    pub fn controller(&self, name: &str) -> Result<controller_control::Client, RegistryError> {
        let inner = self.inner.borrow();
        let entry = inner
            .agents
            .get(name)
            .ok_or_else(|| RegistryError::Unknown(name.to_owned()))?;
        match (&entry.controller, &entry.live) {
            (Some(controller), Some(_)) => Ok(controller.clone()),
            (_, None) => Err(RegistryError::NotConnected(name.to_owned())),
            (None, Some(_)) => Err(RegistryError::NotAController(name.to_owned())),
        }
    }

    /// Stores new settings for `name` (their generation is the next one) and applies what the
    /// backend itself owns (a Whisperer's retention). Returns the config to push, and the
    /// agent's control capability when it is connected.
    pub async fn set_config(
        &self,
        name: &str,
        settings: AgentSettings,
    ) -> Result<(AgentConfig, Option<agent_control::Client>), RegistryError> {
        let (config, control) = {
            let mut inner = self.inner.borrow_mut();
            let entry = inner
                .agents
                .get_mut(name)
                .ok_or_else(|| RegistryError::Unknown(name.to_owned()))?;
            let actual = entry.saved.info.kind;
            if settings.kind() != actual {
                return Err(RegistryError::WrongKind {
                    name: name.to_owned(),
                    actual,
                    wanted: settings.kind(),
                });
            }
            entry.saved.config = AgentConfig {
                generation: entry.saved.config.generation + 1,
                settings,
            };
            (
                entry.saved.config.clone(),
                entry.live.as_ref().map(|(_, control)| control.clone()),
            )
        };
        self.save();
        if let AgentSettings::Whisperer(settings) = &config.settings {
            self.apply_retention(name, settings.retention_ttl).await;
        }
        Ok((config, control))
    }

    /// Sends a Whisperer's retention (ns; 0: its configured one, else the default) to every
    /// local shard, unless they have it already.
    pub async fn apply_retention(&self, whisperer: &str, ttl_ns: i64) {
        let known = self.inner.borrow().applied_ttl.get(whisperer).copied();
        if known == Some(ttl_ns) || (known.is_none() && ttl_ns == 0) {
            return;
        }
        self.inner
            .borrow_mut()
            .applied_ttl
            .insert(whisperer.to_owned(), ttl_ns);
        let ttl = match u64::try_from(ttl_ns) {
            Ok(ns) if ns > 0 => Duration::from_nanos(ns),
            _ => self
                .retention
                .whisperers
                .get(whisperer)
                .copied()
                .unwrap_or(self.retention.default),
        };
        let requests = self.router.shards.iter().map(|shard| {
            shard.send(ShardRequest::SetWhispererRetention {
                whisperer: whisperer.to_owned(),
                ttl,
            })
        });
        for answer in futures::future::join_all(requests).await {
            if !matches!(answer, Ok(Ok(_))) {
                tracing::error!(whisperer, "a shard did not take a retention change");
            }
        }
    }
}
