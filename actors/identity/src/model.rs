//! The kinds of principals, their roles, scopes and the views shown to admins (no secrets).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::IdentityError;

/// What a credential may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Push batches (agents: in their own name only).
    Ingest,
    /// Read records, aggregates, exports and the agents' list.
    Query,
    /// Change agents: their settings, their control, Controllers' attachments.
    Agents,
    /// Read `/metrics`.
    Metrics,
    /// Everything, including identities.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::Query,
        Scope::Agents,
        Scope::Metrics,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Query => "query",
            Scope::Agents => "agents",
            Scope::Metrics => "metrics",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| {
                IdentityError::Invalid(format!(
                    "unknown scope {text:?} (ingest, query, agents, metrics, admin)"
                ))
            })
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Reads the data of the user's teams.
    Viewer,
    /// Everything, every team.
    Admin,
}

impl FromStr for UserRole {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "viewer" => Ok(UserRole::Viewer),
            "admin" => Ok(UserRole::Admin),
            _ => Err(IdentityError::Invalid(format!(
                "unknown role {text:?} (viewer, admin)"
            ))),
        }
    }
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Viewer => "viewer",
            UserRole::Admin => "admin",
        }
    }
}

/// What kind of agent a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Whisperer,
    Gocipher,
    Controller,
}

impl AgentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Whisperer => "whisperer",
            AgentKind::Gocipher => "gocipher",
            AgentKind::Controller => "controller",
        }
    }
}

impl FromStr for AgentKind {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "whisperer" => Ok(AgentKind::Whisperer),
            "gocipher" => Ok(AgentKind::Gocipher),
            "controller" => Ok(AgentKind::Controller),
            _ => Err(IdentityError::Invalid(format!(
                "unknown agent kind {text:?} (whisperer, gocipher, controller)"
            ))),
        }
    }
}

/// The wire role of a session (`auth.capnp` Role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
    Reader,
}

/// Which record of the store a session stands for: checked again on every call, so that a
/// revocation is felt at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The node's admin token.
    AdminToken,
    Agent {
        id: String,
    },
    ApiToken {
        id: String,
    },
    /// A user through one access token.
    User {
        name: String,
        access_id: String,
    },
}

/// Who logged in and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: Principal,
    /// The agent's name, the API token's label, the user's name, or `admin`.
    pub name: String,
    pub role: Role,
    pub scopes: BTreeSet<Scope>,
    /// The teams whose data it sees; `None`: every team.
    pub teams: Option<BTreeSet<String>>,
    /// When the credential stops working (epoch ns); 0: never.
    pub expires_at: i64,
}

impl Identity {
    /// True when the identity has `scope` (the `admin` scope has every scope).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// The only name an agent may write and register as (or a pattern `PREFIX*`); `None`: any
    /// (admins, ingest tokens).
    pub fn agent_name(&self) -> Option<&str> {
        match self.principal {
            Principal::Agent { .. } => Some(&self.name),
            _ => None,
        }
    }

    /// True when this identity may write and register as the agent `name`.
    pub fn may_act_as(&self, name: &str) -> bool {
        self.agent_name().is_none_or(|own| name_matches(own, name))
    }

    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }
}

/// True when the agent name `pattern` covers `name`: the same name, or for `PREFIX*` any longer
/// name that starts with `PREFIX` (one token for the Whisperers a Controller attaches, named
/// after their pods).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
        None => pattern == name,
    }
}

/// An agent's token as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub team: String,
    pub kind: AgentKind,
    pub created_at: i64,
    pub revoked: bool,
}

/// An API token as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: String,
    pub label: String,
    pub scopes: BTreeSet<Scope>,
    pub team: Option<String>,
    pub created_at: i64,
    pub revoked: bool,
}

/// A user as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: UserRole,
    pub teams: BTreeSet<String>,
    pub created_at: i64,
}
