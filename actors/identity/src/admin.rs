//! The admin's operations on the store: teams, agents' tokens, API tokens, users. Every change
//! is saved (atomically) before it is kept.

use std::collections::BTreeSet;

use crate::model::{AgentKind, AgentView, ApiTokenView, Scope, UserRole, UserView};
use crate::secret::{hash_password, new_token, TokenKind};
use crate::store::{IdentityStore, Stored, StoredAgent, StoredApiToken, StoredUser};
use crate::IdentityError;

fn valid_name(kind: &str, name: &str) -> Result<(), IdentityError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid(format!(
            "a {kind} name is 1 to 128 of A-Z a-z 0-9 - _ . : @ /"
        )))
    }
}

impl IdentityStore {
    pub fn create_team(&self, name: &str) -> Result<(), IdentityError> {
        valid_name("team", name)?;
        self.modify(|stored, _| {
            if !stored.teams.insert(name.to_owned()) {
                return Err(IdentityError::Exists {
                    kind: "team",
                    name: name.to_owned(),
                });
            }
            Ok(())
        })?;
        tracing::info!(team = name, "team created");
        Ok(())
    }

    pub fn teams(&self) -> Vec<String> {
        self.stored().teams.iter().cloned().collect()
    }

    /// A new agent token for `name` (or every name starting with `PREFIX` for `PREFIX*`) in
    /// `team`: the token is in the answer only.
    pub fn create_agent(
        &self,
        name: &str,
        team: &str,
        kind: AgentKind,
    ) -> Result<(AgentView, String), IdentityError> {
        // `PREFIX*`: a token for every agent whose name starts with PREFIX.
        let prefix = name.strip_suffix('*').unwrap_or(name);
        valid_name("agent", prefix)?;
        let made = new_token(TokenKind::Agent)?;
        let view = self.modify(|stored, now| {
            need_team(stored, team)?;
            if let Some(other) = stored
                .agents
                .values()
                .find(|a| a.name == name && !a.revoked)
            {
                if other.team != team {
                    return Err(IdentityError::Exists {
                        kind: "agent (in another team)",
                        name: name.to_owned(),
                    });
                }
            }
            let agent = StoredAgent {
                name: name.to_owned(),
                team: team.to_owned(),
                kind,
                secret_sha256: made.hash.clone(),
                created_at: now,
                revoked: false,
            };
            let view = agent_view(&made.id, &agent);
            stored.agents.insert(made.id.clone(), agent);
            Ok(view)
        })?;
        tracing::info!(agent = name, team, id = view.id, "agent token created");
        Ok((view, made.token))
    }

    pub fn agents(&self) -> Vec<AgentView> {
        let stored = self.stored();
        stored
            .agents
            .iter()
            .map(|(id, a)| agent_view(id, a))
            .collect()
    }

    /// Revokes the agent token `id`, or every token of the agent named so.
    pub fn revoke_agent(&self, id_or_name: &str) -> Result<usize, IdentityError> {
        let count = self.modify(|stored, _| {
            let mut count = 0;
            for (id, agent) in stored.agents.iter_mut() {
                if (id == id_or_name || agent.name == id_or_name) && !agent.revoked {
                    agent.revoked = true;
                    count += 1;
                }
            }
            not_found_if_zero(count, "agent", id_or_name)
        })?;
        tracing::info!(agent = id_or_name, count, "agent token revoked");
        Ok(count)
    }

    pub fn create_api_token(
        &self,
        label: &str,
        scopes: BTreeSet<Scope>,
        team: Option<&str>,
    ) -> Result<(ApiTokenView, String), IdentityError> {
        valid_name("token", label)?;
        if scopes.is_empty() {
            return Err(IdentityError::Invalid("a token needs a scope".into()));
        }
        let made = new_token(TokenKind::Api)?;
        let view = self.modify(|stored, now| {
            if let Some(team) = team {
                need_team(stored, team)?;
            }
            let api = StoredApiToken {
                label: label.to_owned(),
                scopes,
                team: team.map(str::to_owned),
                secret_sha256: made.hash.clone(),
                created_at: now,
                revoked: false,
            };
            let view = api_view(&made.id, &api);
            stored.api_tokens.insert(made.id.clone(), api);
            Ok(view)
        })?;
        tracing::info!(label, id = view.id, "api token created");
        Ok((view, made.token))
    }

    pub fn api_tokens(&self) -> Vec<ApiTokenView> {
        let stored = self.stored();
        stored
            .api_tokens
            .iter()
            .map(|(id, t)| api_view(id, t))
            .collect()
    }

    /// Revokes the API token `id`, or every token with that label.
    pub fn revoke_api_token(&self, id_or_label: &str) -> Result<usize, IdentityError> {
        let count = self.modify(|stored, _| {
            let mut count = 0;
            for (id, api) in stored.api_tokens.iter_mut() {
                if (id == id_or_label || api.label == id_or_label) && !api.revoked {
                    api.revoked = true;
                    count += 1;
                }
            }
            not_found_if_zero(count, "api token", id_or_label)
        })?;
        tracing::info!(token = id_or_label, count, "api token revoked");
        Ok(count)
    }

    pub fn create_user(
        &self,
        name: &str,
        password: &str,
        role: UserRole,
        teams: BTreeSet<String>,
    ) -> Result<UserView, IdentityError> {
        valid_name("user", name)?;
        if password.chars().count() < 8 {
            return Err(IdentityError::Invalid(
                "a password has 8 characters at least".into(),
            ));
        }
        let hash = hash_password(password)?;
        let view = self.modify(|stored, now| {
            for team in &teams {
                need_team(stored, team)?;
            }
            if stored.users.contains_key(name) {
                return Err(IdentityError::Exists {
                    kind: "user",
                    name: name.to_owned(),
                });
            }
            let user = StoredUser {
                password_argon2: hash,
                role,
                teams,
                created_at: now,
            };
            let view = user_view(name, &user);
            stored.users.insert(name.to_owned(), user);
            Ok(view)
        })?;
        tracing::info!(user = name, role = role.as_str(), "user created");
        Ok(view)
    }

    pub fn users(&self) -> Vec<UserView> {
        let stored = self.stored();
        stored
            .users
            .iter()
            .map(|(name, u)| user_view(name, u))
            .collect()
    }

    /// Removes a user; its sessions end at once.
    pub fn remove_user(&self, name: &str) -> Result<(), IdentityError> {
        self.modify(|stored, _| match stored.users.remove(name) {
            Some(_) => Ok(()),
            None => Err(IdentityError::NotFound {
                kind: "user",
                name: name.to_owned(),
            }),
        })?;
        self.end_sessions_of(name);
        tracing::info!(user = name, "user removed");
        Ok(())
    }
}

fn need_team(stored: &Stored, team: &str) -> Result<(), IdentityError> {
    if stored.teams.contains(team) {
        Ok(())
    } else {
        Err(IdentityError::NotFound {
            kind: "team",
            name: team.to_owned(),
        })
    }
}

fn not_found_if_zero(count: usize, kind: &'static str, name: &str) -> Result<usize, IdentityError> {
    if count == 0 {
        Err(IdentityError::NotFound {
            kind,
            name: name.to_owned(),
        })
    } else {
        Ok(count)
    }
}

fn agent_view(id: &str, agent: &StoredAgent) -> AgentView {
    AgentView {
        id: id.to_owned(),
        name: agent.name.clone(),
        team: agent.team.clone(),
        kind: agent.kind,
        created_at: agent.created_at,
        revoked: agent.revoked,
    }
}

fn api_view(id: &str, api: &StoredApiToken) -> ApiTokenView {
    ApiTokenView {
        id: id.to_owned(),
        label: api.label.clone(),
        scopes: api.scopes.clone(),
        team: api.team.clone(),
        created_at: api.created_at,
        revoked: api.revoked,
    }
}

fn user_view(name: &str, user: &StoredUser) -> UserView {
    UserView {
        name: name.to_owned(),
        role: user.role,
        teams: user.teams.clone(),
        created_at: user.created_at,
    }
}
