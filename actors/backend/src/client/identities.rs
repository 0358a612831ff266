//! The identity side of the API: who a session is (`whoami`), users' sign-in, refresh and
//! sign-out on a connection's `Auth`, and the admin's `Identities` (teams, agents' tokens, API
//! tokens, users).

use std::collections::BTreeSet;

use spider_identity::{AgentView, ApiTokenView, UserView};
use spider_rpc_schema::auth_capnp::{agent_token, api_token, auth, identities, user, user_tokens};

use super::{len_u32, BackendClient, ClientError};

/// Who a session is, as the backend says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    pub name: String,
    /// `admin`, `agent` or `reader`.
    pub role: String,
    /// `admin` (the admin token), `agent`, `api` or `user`.
    pub kind: String,
    pub scopes: BTreeSet<String>,
    /// `None`: every team.
    pub teams: Option<BTreeSet<String>>,
    pub expires_at: i64,
}

impl WhoAmI {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains("admin") || self.scopes.contains(scope)
    }
}

/// A user's tokens (sign-in or refresh). Not `Debug`-printed with its secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct UserTokens {
    pub user: String,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokens")
            .field("user", &self.user)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

fn texts(list: capnp::text_list::Reader<'_>) -> Result<BTreeSet<String>, ClientError> {
    list.iter()
        .map(|text| Ok(text?.to_str()?.to_owned()))
        .collect()
}

fn read_tokens(tokens: user_tokens::Reader<'_>) -> Result<UserTokens, ClientError> {
    Ok(UserTokens {
        user: tokens.get_user()?.to_str()?.to_owned(),
        access_token: tokens.get_access_token()?.to_str()?.to_owned(),
        access_expires_at: tokens.get_access_expires_at(),
        refresh_token: tokens.get_refresh_token()?.to_str()?.to_owned(),
        refresh_expires_at: tokens.get_refresh_expires_at(),
    })
}

/// A user's sign-in with name and password.
pub async fn sign_in(
    auth: &auth::Client,
    user: &str,
    password: &str,
) -> Result<UserTokens, ClientError> {
    let mut request = auth.sign_in_request();
    request.get().set_user(user);
    request.get().set_password(password);
    let reply = request.send().promise.await?;
    read_tokens(reply.get()?.get_tokens()?)
}

/// New tokens for a refresh token.
pub async fn refresh(auth: &auth::Client, refresh_token: &str) -> Result<UserTokens, ClientError> {
    let mut request = auth.refresh_request();
    request.get().set_refresh_token(refresh_token);
    let reply = request.send().promise.await?;
    read_tokens(reply.get()?.get_tokens()?)
}

/// Ends the session of an access or refresh token.
pub async fn sign_out(auth: &auth::Client, token: &str) -> Result<(), ClientError> {
    let mut request = auth.sign_out_request();
    request.get().set_token(token);
    request.send().promise.await?;
    Ok(())
}

impl BackendClient {
    /// Who this session is.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        let reply = self.session.whoami_request().send().promise.await?;
        let identity = reply.get()?.get_identity()?;
        let role = match identity.get_role().map_err(capnp::Error::from)? {
            spider_rpc_schema::auth_capnp::Role::Admin => "admin",
            spider_rpc_schema::auth_capnp::Role::Agent => "agent",
            spider_rpc_schema::auth_capnp::Role::Reader => "reader",
        };
        Ok(WhoAmI {
            name: identity.get_name()?.to_str()?.to_owned(),
            role: role.to_owned(),
            kind: identity.get_kind()?.to_str()?.to_owned(),
            scopes: texts(identity.get_scopes()?)?,
            teams: (!identity.get_all_teams())
                .then(|| texts(identity.get_teams()?))
                .transpose()?,
            expires_at: identity.get_expires_at(),
        })
    }

    /// The admin's identity capability (fails with "permission denied" for anyone else).
    pub async fn identities(&self) -> Result<IdentityAdmin, ClientError> {
        let reply = self.session.identities_request().send().promise.await?;
        Ok(IdentityAdmin {
            client: reply.get()?.get_identities()?,
        })
    }
}

/// Teams, agents' tokens, API tokens and users, for admins.
pub struct IdentityAdmin {
    client: identities::Client,
}

impl std::fmt::Debug for IdentityAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityAdmin")
    }
}

fn read_agent(agent: agent_token::Reader<'_>) -> Result<AgentView, ClientError> {
    Ok(AgentView {
        id: agent.get_id()?.to_str()?.to_owned(),
        name: agent.get_name()?.to_str()?.to_owned(),
        team: agent.get_team()?.to_str()?.to_owned(),
        kind: agent
            .get_kind()?
            .to_str()?
            .parse()
            .map_err(|error| ClientError::Rpc(capnp::Error::failed(format!("{error}"))))?,
        created_at: agent.get_created_at(),
        revoked: agent.get_revoked(),
    })
}

fn read_api(api: api_token::Reader<'_>) -> Result<ApiTokenView, ClientError> {
    let scopes = texts(api.get_scopes()?)?
        .iter()
        .map(|scope| scope.parse())
        .collect::<Result<_, _>>()
        .map_err(|error| ClientError::Rpc(capnp::Error::failed(format!("{error}"))))?;
    let team = if api.has_team() {
        Some(api.get_team()?.to_str()?.to_owned()).filter(|team| !team.is_empty())
    } else {
        None
    };
    Ok(ApiTokenView {
        id: api.get_id()?.to_str()?.to_owned(),
        label: api.get_label()?.to_str()?.to_owned(),
        scopes,
        team,
        created_at: api.get_created_at(),
        revoked: api.get_revoked(),
    })
}

fn read_user(user: user::Reader<'_>) -> Result<UserView, ClientError> {
    Ok(UserView {
        name: user.get_name()?.to_str()?.to_owned(),
        role: user
            .get_role()?
            .to_str()?
            .parse()
            .map_err(|error| ClientError::Rpc(capnp::Error::failed(format!("{error}"))))?,
        teams: texts(user.get_teams()?)?,
        created_at: user.get_created_at(),
    })
}

impl IdentityAdmin {
    pub async fn create_team(&self, name: &str) -> Result<(), ClientError> {
        let mut request = self.client.create_team_request();
        request.get().set_name(name);
        request.send().promise.await?;
        Ok(())
    }

    pub async fn teams(&self) -> Result<BTreeSet<String>, ClientError> {
        let reply = self.client.list_teams_request().send().promise.await?;
        texts(reply.get()?.get_teams()?)
    }

    /// A new agent token: the view and the token (shown once).
    pub async fn create_agent(
        &self,
        name: &str,
        team: &str,
        kind: &str,
    ) -> Result<(AgentView, String), ClientError> {
        let mut request = self.client.create_agent_request();
        request.get().set_name(name);
        request.get().set_team(team);
        request.get().set_kind(kind);
        let reply = request.send().promise.await?;
        let reply = reply.get()?;
        Ok((
            read_agent(reply.get_agent()?)?,
            reply.get_token()?.to_str()?.to_owned(),
        ))
    }

    pub async fn agents(&self) -> Result<Vec<AgentView>, ClientError> {
        let reply = self.client.list_agents_request().send().promise.await?;
        reply.get()?.get_agents()?.iter().map(read_agent).collect()
    }

    pub async fn revoke_agent(&self, id_or_name: &str) -> Result<u32, ClientError> {
        let mut request = self.client.revoke_agent_request();
        request.get().set_id_or_name(id_or_name);
        Ok(request.send().promise.await?.get()?.get_revoked())
    }

    pub async fn create_api_token(
        &self,
        label: &str,
        scopes: &[&str],
        team: Option<&str>,
    ) -> Result<(ApiTokenView, String), ClientError> {
        let mut request = self.client.create_api_token_request();
        request.get().set_label(label);
        let mut list = request.get().init_scopes(len_u32(scopes.len())?);
        for (index, scope) in (0..).zip(scopes) {
            list.set(index, *scope);
        }
        if let Some(team) = team {
            request.get().set_team(team);
        }
        let reply = request.send().promise.await?;
        let reply = reply.get()?;
        Ok((
            read_api(reply.get_info()?)?,
            reply.get_token()?.to_str()?.to_owned(),
        ))
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenView>, ClientError> {
        let reply = self.client.list_api_tokens_request().send().promise.await?;
        reply.get()?.get_tokens()?.iter().map(read_api).collect()
    }

    pub async fn revoke_api_token(&self, id_or_label: &str) -> Result<u32, ClientError> {
        let mut request = self.client.revoke_api_token_request();
        request.get().set_id_or_label(id_or_label);
        Ok(request.send().promise.await?.get()?.get_revoked())
    }

    pub async fn create_user(
        &self,
        name: &str,
        password: &str,
        role: &str,
        teams: &[&str],
    ) -> Result<UserView, ClientError> {
        let mut request = self.client.create_user_request();
        request.get().set_name(name);
        request.get().set_password(password);
        request.get().set_role(role);
        let mut list = request.get().init_teams(len_u32(teams.len())?);
        for (index, team) in (0..).zip(teams) {
            list.set(index, *team);
        }
        let reply = request.send().promise.await?;
        read_user(reply.get()?.get_user()?)
    }

    pub async fn users(&self) -> Result<Vec<UserView>, ClientError> {
        let reply = self.client.list_users_request().send().promise.await?;
        reply.get()?.get_users()?.iter().map(read_user).collect()
    }

    pub async fn remove_user(&self, name: &str) -> Result<(), ClientError> {
        let mut request = self.client.remove_user_request();
        request.get().set_name(name);
        request.send().promise.await?;
        Ok(())
    }
}
