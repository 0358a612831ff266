//! What a session's identity may do: the check of every call (a revoked or expired credential
//! fails at once), the refusals ("permission denied"), the name an agent may write as, and the
//! Whisperers and Controllers whose data it sees (those of its teams).

use std::collections::BTreeSet;
use std::rc::Rc;

use spider_identity::{name_matches, Identity, IdentityStore, Scope};

/// A session's identity and the store that can revoke it. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Guard {
    store: IdentityStore,
    identity: Rc<Identity>,
}

/// The error of a call its identity does not allow.
pub(crate) fn permission_denied(what: &str) -> capnp::Error {
    capnp::Error::failed(format!("permission denied: {what}"))
}

/// Which agents' data a session sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Visible {
    All,
    /// Only these agents (Whisperers, Gocipher, Controllers) by name or `PREFIX*` pattern; may
    /// be empty.
    Only(BTreeSet<String>),
}

impl Visible {
    pub fn shows(&self, agent: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(names) => names.iter().any(|pattern| name_matches(pattern, agent)),
        }
    }

    /// The Whisperers a query may read, from the ones it asked for (empty: all); `known` are
    /// the agents' names the node knows, which patterns expand to. `None`: none at all (the
    /// answer is empty).
    pub fn narrow(&self, asked: Vec<String>, known: &[String]) -> Option<Vec<String>> {
        match self {
            Visible::All => Some(asked),
            Visible::Only(names) => {
                let allowed: BTreeSet<String> = if asked.is_empty() {
                    names
                        .iter()
                        .filter(|name| !name.ends_with('*'))
                        .cloned()
                        .chain(known.iter().filter(|name| self.shows(name)).cloned())
                        .collect()
                } else {
                    asked.into_iter().filter(|name| self.shows(name)).collect()
                };
                (!allowed.is_empty()).then(|| allowed.into_iter().collect())
            }
        }
    }
}

impl Guard {
    pub fn new(store: IdentityStore, identity: Identity) -> Self {
        Self {
            store,
            identity: Rc::new(identity),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn store(&self) -> &IdentityStore {
        &self.store
    }

    /// Fails when the credential was revoked, its user removed, or its access token expired.
    pub fn check(&self) -> Result<(), capnp::Error> {
        self.store.check(&self.identity).map_err(|error| {
            tracing::info!(who = self.identity.name, "call refused: {error}");
            capnp::Error::failed(error.to_string())
        })
    }

    /// `check`, then that the identity has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), capnp::Error> {
        self.check()?;
        if self.identity.allows(scope) {
            Ok(())
        } else {
            Err(permission_denied(&format!("needs scope {scope}")))
        }
    }

    /// Fails unless the session may write or register as `agent` (an agent: only itself).
    pub fn may_act_as(&self, agent: &str) -> Result<(), capnp::Error> {
        match self.identity.agent_name() {
            Some(own) if !self.identity.may_act_as(agent) => {
                tracing::warn!(
                    agent = own,
                    claimed = agent,
                    "an agent tried to act as another"
                );
                Err(permission_denied(&format!(
                    "agent {own:?} cannot act as {agent:?}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The agents whose data this session sees, as of now.
    pub fn visible(&self) -> Visible {
        match &self.identity.teams {
            None => Visible::All,
            Some(teams) => Visible::Only(self.store.agents_of_teams(teams)),
        }
    }
}
