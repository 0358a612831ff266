//! `Auth.login` and the capabilities of a session.

use std::rc::Rc;

use spider_rpc_schema::auth_capnp::{auth, credential, session};

use super::agents::AgentRegistry;
use super::ingest::Ingest;
use super::peers::Peers;
use super::query::Query;
use crate::registry::Registry;
use crate::router::Router;

/// The bootstrap capability: nothing else is reachable without logging in.
pub(crate) struct Auth {
    router: Router,
    registry: Registry,
    admin_token: String,
    peers: Peers,
}

impl Auth {
    pub fn new(router: Router, registry: Registry, admin_token: String, peers: Peers) -> Self {
        Self {
            router,
            registry,
            admin_token,
            peers,
        }
    }

    /// Constant-time comparison, so that the time to refuse says nothing of the token.
    fn is_admin(&self, token: &[u8]) -> bool {
        let expected = self.admin_token.as_bytes();
        token.len() == expected.len()
            && token
                .iter()
                .zip(expected)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl auth::Server for Auth {
    async fn login(
        self: Rc<Self>,
        params: auth::LoginParams,
        mut results: auth::LoginResults,
    ) -> Result<(), capnp::Error> {
        let credential = params.get()?.get_credential()?;
        let admitted = match credential.which()? {
            // Until identities exist, agents and integrations present the admin token too.
            credential::AdminToken(token)
            | credential::AgentToken(token)
            | credential::ApiToken(token) => self.is_admin(token?.as_bytes()),
        };
        if !admitted {
            tracing::info!("login refused");
            return Err(capnp::Error::failed("invalid credential".into()));
        }
        results.get().set_session(capnp_rpc::new_client(Session {
            router: self.router.clone(),
            registry: self.registry.clone(),
            peers: self.peers.clone(),
        }));
        Ok(())
    }
}

/// What a logged-in admin may use.
struct Session {
    router: Router,
    registry: Registry,
    peers: Peers,
}

impl session::Server for Session {
    async fn ingest(
        self: Rc<Self>,
        _: session::IngestParams,
        mut results: session::IngestResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_ingest(capnp_rpc::new_client(Ingest::new(
            self.router.clone(),
            self.registry.clone(),
            self.peers.clone(),
        )));
        Ok(())
    }

    async fn query(
        self: Rc<Self>,
        _: session::QueryParams,
        mut results: session::QueryResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_query(capnp_rpc::new_client(Query::new(
            self.router.clone(),
            self.registry.clone(),
        )));
        Ok(())
    }

    async fn agents(
        self: Rc<Self>,
        _: session::AgentsParams,
        mut results: session::AgentsResults,
    ) -> Result<(), capnp::Error> {
        results
            .get()
            .set_registry(capnp_rpc::new_client(AgentRegistry::new(
                self.registry.clone(),
            )));
        Ok(())
    }

    async fn whoami(
        self: Rc<Self>,
        _: session::WhoamiParams,
        mut results: session::WhoamiResults,
    ) -> Result<(), capnp::Error> {
        let mut identity = results.get().init_identity();
        identity.set_role(spider_rpc_schema::auth_capnp::Role::Admin);
        identity.set_name("admin");
        let mut scopes = identity.reborrow().init_scopes(1);
        scopes.set(0, "*");
        identity.set_expires_at(0);
        Ok(())
    }

    async fn names(
        self: Rc<Self>,
        _: session::NamesParams,
        _: session::NamesResults,
    ) -> Result<(), capnp::Error> {
        Err(capnp::Error::unimplemented(
            "names of IPs are answered by a cluster's Controller, not by a backend node".into(),
        ))
    }
}
