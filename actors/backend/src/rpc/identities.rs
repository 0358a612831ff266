//! `Identities`: the admin's view of the identity store (teams, agents' tokens, API tokens,
//! users). Tokens appear once, in the answer that creates them, and never in a log.

use std::collections::BTreeSet;
use std::rc::Rc;

use spider_identity::{AgentView, ApiTokenView, IdentityError, Scope, UserView};
use spider_rpc_schema::auth_capnp::{agent_token, api_token, identities, user};

use super::access::Guard;
use super::failed;

pub(crate) struct Identities {
    guard: Guard,
}

impl Identities {
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }

    /// The admin check of every call (an admin's credential can be revoked too).
    fn admin(&self) -> Result<&spider_identity::IdentityStore, capnp::Error> {
        self.guard.require(Scope::Admin)?;
        Ok(self.guard.store())
    }
}

fn store_failed(error: IdentityError) -> capnp::Error {
    failed(error)
}

fn texts(list: capnp::text_list::Reader<'_>) -> Result<Vec<String>, capnp::Error> {
    list.iter()
        .map(|text| Ok(text?.to_str()?.to_owned()))
        .collect()
}

fn set_texts<'a, S: AsRef<str>>(
    init: impl FnOnce(u32) -> capnp::text_list::Builder<'a>,
    items: &[S],
) -> Result<(), capnp::Error> {
    let mut list = init(u32::try_from(items.len()).map_err(failed)?);
    for (index, item) in (0..).zip(items) {
        list.set(index, item.as_ref());
    }
    Ok(())
}

fn write_agent(mut out: agent_token::Builder<'_>, agent: &AgentView) {
    out.set_id(&agent.id);
    out.set_name(&agent.name);
    out.set_team(&agent.team);
    out.set_kind(agent.kind.as_str());
    out.set_created_at(agent.created_at);
    out.set_revoked(agent.revoked);
}

fn write_api(mut out: api_token::Builder<'_>, api: &ApiTokenView) -> Result<(), capnp::Error> {
    out.set_id(&api.id);
    out.set_label(&api.label);
    if let Some(team) = &api.team {
        out.set_team(team);
    }
    out.set_created_at(api.created_at);
    out.set_revoked(api.revoked);
    let scopes: Vec<&str> = api.scopes.iter().map(|scope| scope.as_str()).collect();
    set_texts(|len| out.init_scopes(len), &scopes)
}

fn write_user(mut out: user::Builder<'_>, user: &UserView) -> Result<(), capnp::Error> {
    out.set_name(&user.name);
    out.set_role(user.role.as_str());
    out.set_created_at(user.created_at);
    let teams: Vec<&String> = user.teams.iter().collect();
    set_texts(|len| out.init_teams(len), &teams)
}

impl identities::Server for Identities {
    async fn create_team(
        self: Rc<Self>,
        params: identities::CreateTeamParams,
        _: identities::CreateTeamResults,
    ) -> Result<(), capnp::Error> {
        let name = params.get()?.get_name()?.to_str()?;
        self.admin()?.create_team(name).map_err(store_failed)
    }

    async fn list_teams(
        self: Rc<Self>,
        _: identities::ListTeamsParams,
        mut results: identities::ListTeamsResults,
    ) -> Result<(), capnp::Error> {
        let teams = self.admin()?.teams();
        set_texts(|len| results.get().init_teams(len), &teams)
    }

    async fn create_agent(
        self: Rc<Self>,
        params: identities::CreateAgentParams,
        mut results: identities::CreateAgentResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let name = params.get_name()?.to_str()?;
        let team = params.get_team()?.to_str()?;
        let kind = params.get_kind()?.to_str()?.parse().map_err(store_failed)?;
        let (view, token) = self
            .admin()?
            .create_agent(name, team, kind)
            .map_err(store_failed)?;
        let mut results = results.get();
        write_agent(results.reborrow().init_agent(), &view);
        results.set_token(&token);
        Ok(())
    }

    async fn list_agents(
        self: Rc<Self>,
        _: identities::ListAgentsParams,
        mut results: identities::ListAgentsResults,
    ) -> Result<(), capnp::Error> {
        let agents = self.admin()?.agents();
        let mut list = results
            .get()
            .init_agents(u32::try_from(agents.len()).map_err(failed)?);
        for (index, agent) in (0..).zip(&agents) {
            write_agent(list.reborrow().get(index), agent);
        }
        Ok(())
    }

    async fn revoke_agent(
        self: Rc<Self>,
        params: identities::RevokeAgentParams,
        mut results: identities::RevokeAgentResults,
    ) -> Result<(), capnp::Error> {
        let which = params.get()?.get_id_or_name()?.to_str()?;
        let count = self.admin()?.revoke_agent(which).map_err(store_failed)?;
        results
            .get()
            .set_revoked(u32::try_from(count).map_err(failed)?);
        Ok(())
    }

    async fn create_api_token(
        self: Rc<Self>,
        params: identities::CreateApiTokenParams,
        mut results: identities::CreateApiTokenResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let label = params.get_label()?.to_str()?;
        let scopes = texts(params.get_scopes()?)?
            .iter()
            .map(|scope| scope.parse::<Scope>())
            .collect::<Result<BTreeSet<Scope>, _>>()
            .map_err(store_failed)?;
        let team = if params.has_team() {
            Some(params.get_team()?.to_str()?).filter(|team| !team.is_empty())
        } else {
            None
        };
        let (view, token) = self
            .admin()?
            .create_api_token(label, scopes, team)
            .map_err(store_failed)?;
        let mut results = results.get();
        write_api(results.reborrow().init_info(), &view)?;
        results.set_token(&token);
        Ok(())
    }

    async fn list_api_tokens(
        self: Rc<Self>,
        _: identities::ListApiTokensParams,
        mut results: identities::ListApiTokensResults,
    ) -> Result<(), capnp::Error> {
        let tokens = self.admin()?.api_tokens();
        let mut list = results
            .get()
            .init_tokens(u32::try_from(tokens.len()).map_err(failed)?);
        for (index, token) in (0..).zip(&tokens) {
            write_api(list.reborrow().get(index), token)?;
        }
        Ok(())
    }

    async fn revoke_api_token(
        self: Rc<Self>,
        params: identities::RevokeApiTokenParams,
        mut results: identities::RevokeApiTokenResults,
    ) -> Result<(), capnp::Error> {
        let which = params.get()?.get_id_or_label()?.to_str()?;
        let count = self
            .admin()?
            .revoke_api_token(which)
            .map_err(store_failed)?;
        results
            .get()
            .set_revoked(u32::try_from(count).map_err(failed)?);
        Ok(())
    }

    async fn create_user(
        self: Rc<Self>,
        params: identities::CreateUserParams,
        mut results: identities::CreateUserResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let name = params.get_name()?.to_str()?.to_owned();
        let password = params.get_password()?.to_str()?.to_owned();
        let role = params.get_role()?.to_str()?.parse().map_err(store_failed)?;
        let teams: BTreeSet<String> = texts(params.get_teams()?)?.into_iter().collect();
        let store = self.admin()?.clone();
        let view =
            tokio::task::spawn_blocking(move || store.create_user(&name, &password, role, teams))
                .await
                .map_err(failed)?
                .map_err(store_failed)?;
        write_user(results.get().init_user(), &view)
    }

    async fn list_users(
        self: Rc<Self>,
        _: identities::ListUsersParams,
        mut results: identities::ListUsersResults,
    ) -> Result<(), capnp::Error> {
        let users = self.admin()?.users();
        let mut list = results
            .get()
            .init_users(u32::try_from(users.len()).map_err(failed)?);
        for (index, user) in (0..).zip(&users) {
            write_user(list.reborrow().get(index), user)?;
        }
        Ok(())
    }

    async fn remove_user(
        self: Rc<Self>,
        params: identities::RemoveUserParams,
        _: identities::RemoveUserResults,
    ) -> Result<(), capnp::Error> {
        let name = params.get()?.get_name()?.to_str()?;
        self.admin()?.remove_user(name).map_err(store_failed)
    }
}
