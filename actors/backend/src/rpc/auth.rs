//! `Auth`: logins (any credential, checked against the identity store), users' sign-in, refresh
//! and sign-out; and `Session`, whose capabilities follow the identity's role, scopes and teams.

use std::rc::Rc;

use spider_identity::{
    Identity, IdentityError, IdentityStore, IssuedTokens, Principal, Role, Scope,
};
use spider_rpc_schema::auth_capnp::{auth, credential, session, user_tokens};

use super::access::{permission_denied, Guard};
use super::agents::{AgentRegistry, RegistryAccess};
use super::identities::Identities;
use super::ingest::Ingest;
use super::peers::Peers;
use super::query::Query;
use crate::registry::Registry;
use crate::router::Router;

/// The bootstrap capability: nothing else is reachable without logging in.
pub(crate) struct Auth {
    router: Router,
    registry: Registry,
    identities: IdentityStore,
    peers: Peers,
}

impl Auth {
    pub fn new(
        router: Router,
        registry: Registry,
        identities: IdentityStore,
        peers: Peers,
    ) -> Self {
        Self {
            router,
            registry,
            identities,
            peers,
        }
    }
}

fn refused(error: IdentityError) -> capnp::Error {
    capnp::Error::failed(error.to_string())
}

fn write_tokens(mut out: user_tokens::Builder<'_>, tokens: &IssuedTokens) {
    out.set_user(&tokens.user);
    out.set_access_token(&tokens.access_token);
    out.set_access_expires_at(tokens.access_expires_at);
    out.set_refresh_token(&tokens.refresh_token);
    out.set_refresh_expires_at(tokens.refresh_expires_at);
}

impl auth::Server for Auth {
    async fn login(
        self: Rc<Self>,
        params: auth::LoginParams,
        mut results: auth::LoginResults,
    ) -> Result<(), capnp::Error> {
        let credential = params.get()?.get_credential()?;
        // The token says what it is; the union member is only the caller's hint.
        let token = match credential.which()? {
            credential::AdminToken(token)
            | credential::AgentToken(token)
            | credential::ApiToken(token)
            | credential::AccessToken(token) => token?.to_str()?,
        };
        let identity = match self.identities.authenticate(token) {
            Ok(identity) => identity,
            Err(error) => {
                tracing::info!("login refused: {error}");
                return Err(refused(error));
            }
        };
        tracing::debug!(who = identity.name, "login");
        results.get().set_session(capnp_rpc::new_client(Session {
            router: self.router.clone(),
            registry: self.registry.clone(),
            peers: self.peers.clone(),
            guard: Guard::new(self.identities.clone(), identity),
        }));
        Ok(())
    }

    async fn sign_in(
        self: Rc<Self>,
        params: auth::SignInParams,
        mut results: auth::SignInResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let user = params.get_user()?.to_str()?.to_owned();
        let password = params.get_password()?.to_str()?.to_owned();
        let store = self.identities.clone();
        // Password hashing takes tens of milliseconds: not on the RPC thread.
        let tokens = tokio::task::spawn_blocking(move || store.login_password(&user, &password))
            .await
            .map_err(|error| capnp::Error::failed(error.to_string()))?
            .map_err(refused)?;
        write_tokens(results.get().init_tokens(), &tokens);
        Ok(())
    }

    async fn refresh(
        self: Rc<Self>,
        params: auth::RefreshParams,
        mut results: auth::RefreshResults,
    ) -> Result<(), capnp::Error> {
        let token = params.get()?.get_refresh_token()?.to_str()?;
        let tokens = self.identities.refresh(token).map_err(refused)?;
        write_tokens(results.get().init_tokens(), &tokens);
        Ok(())
    }

    async fn sign_out(
        self: Rc<Self>,
        params: auth::SignOutParams,
        _: auth::SignOutResults,
    ) -> Result<(), capnp::Error> {
        let token = params.get()?.get_token()?.to_str()?;
        if self.identities.logout(token) {
            Ok(())
        } else {
            Err(refused(IdentityError::InvalidCredential))
        }
    }
}

/// What one login may use.
struct Session {
    router: Router,
    registry: Registry,
    peers: Peers,
    guard: Guard,
}

impl session::Server for Session {
    async fn ingest(
        self: Rc<Self>,
        _: session::IngestParams,
        mut results: session::IngestResults,
    ) -> Result<(), capnp::Error> {
        self.guard.require(Scope::Ingest)?;
        results.get().set_ingest(capnp_rpc::new_client(Ingest::new(
            self.router.clone(),
            self.registry.clone(),
            self.peers.clone(),
            self.guard.clone(),
        )));
        Ok(())
    }

    async fn query(
        self: Rc<Self>,
        _: session::QueryParams,
        mut results: session::QueryResults,
    ) -> Result<(), capnp::Error> {
        self.guard.require(Scope::Query)?;
        results.get().set_query(capnp_rpc::new_client(Query::new(
            self.router.clone(),
            self.registry.clone(),
            self.guard.clone(),
        )));
        Ok(())
    }

    async fn agents(
        self: Rc<Self>,
        _: session::AgentsParams,
        mut results: session::AgentsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let identity = self.guard.identity();
        let access = if let Some(name) = identity.agent_name() {
            RegistryAccess::RegisterSelf(name.to_owned())
        } else if identity.allows(Scope::Agents) {
            RegistryAccess::Full
        } else if identity.allows(Scope::Query) {
            RegistryAccess::ReadOnly
        } else {
            return Err(permission_denied("needs scope agents or query"));
        };
        results
            .get()
            .set_registry(capnp_rpc::new_client(AgentRegistry::new(
                self.registry.clone(),
                self.guard.clone(),
                access,
            )));
        Ok(())
    }

    async fn whoami(
        self: Rc<Self>,
        _: session::WhoamiParams,
        mut results: session::WhoamiResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        write_identity(results.get().init_identity(), self.guard.identity())
    }

    async fn names(
        self: Rc<Self>,
        _: session::NamesParams,
        _: session::NamesResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        Err(capnp::Error::unimplemented(
            "names of IPs are answered by a cluster's Controller, not by a backend node".into(),
        ))
    }

    async fn identities(
        self: Rc<Self>,
        _: session::IdentitiesParams,
        mut results: session::IdentitiesResults,
    ) -> Result<(), capnp::Error> {
        self.guard.require(Scope::Admin)?;
        results
            .get()
            .set_identities(capnp_rpc::new_client(Identities::new(self.guard.clone())));
        Ok(())
    }
}

fn write_identity(
    mut out: spider_rpc_schema::auth_capnp::identity::Builder<'_>,
    identity: &Identity,
) -> Result<(), capnp::Error> {
    use spider_rpc_schema::auth_capnp::Role as WireRole;
    out.set_role(match identity.role {
        Role::Admin => WireRole::Admin,
        Role::Agent => WireRole::Agent,
        Role::Reader => WireRole::Reader,
    });
    out.set_name(&identity.name);
    let scopes: Vec<&str> = if identity.is_admin() {
        Scope::ALL.iter().map(|scope| scope.as_str()).collect()
    } else {
        identity.scopes.iter().map(|scope| scope.as_str()).collect()
    };
    let mut list = out
        .reborrow()
        .init_scopes(u32::try_from(scopes.len()).map_err(super::failed)?);
    for (index, scope) in (0..).zip(&scopes) {
        list.set(index, *scope);
    }
    out.set_expires_at(identity.expires_at);
    out.set_all_teams(identity.teams.is_none());
    let teams: Vec<&String> = identity.teams.iter().flatten().collect();
    let mut list = out
        .reborrow()
        .init_teams(u32::try_from(teams.len()).map_err(super::failed)?);
    for (index, team) in (0..).zip(&teams) {
        list.set(index, team.as_str());
    }
    out.set_kind(match identity.principal {
        Principal::AdminToken => "admin",
        Principal::Agent { .. } => "agent",
        Principal::ApiToken { .. } => "api",
        Principal::User { .. } => "user",
    });
    Ok(())
}
