//! Identity and access on a real node over real TCP: agents write and register only in their
//! own name, a revocation fails open sessions at their next call, every Cap'n Proto method
//! refuses a role that does not allow it, users see only their teams' data, access tokens
//! expire, and the store survives a restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::rc::Rc;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use common::{batches_of, on_local, start_node, testdata, try_push, TOKEN};
use futures::AsyncReadExt;
use spider_backend::client::{sign_in, BackendClient, ListRequest};
use spider_rpc_schema::auth_capnp::{auth, session};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// The bootstrap `Auth` of a new connection: the only capability reachable before a login.
async fn bootstrap(addr: std::net::SocketAddr) -> auth::Client {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (reader, writer) = stream.compat().split();
    let network = Box::new(twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        Side::Client,
        Default::default(),
    ));
    let mut system = RpcSystem::new(network, None);
    let auth: auth::Client = system.bootstrap(Side::Server);
    tokio::task::spawn_local(system);
    auth
}

async fn raw_session(auth: &auth::Client, token: &str) -> Result<session::Client, capnp::Error> {
    let mut login = auth.login_request();
    login.get().init_credential().set_agent_token(token);
    login.send().promise.await?.get()?.get_session()
}

fn message<T>(result: Result<T, impl std::fmt::Display>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) => error.to_string(),
    }
}

/// What each getter of a `Session` answers for this session: "ok" or the error.
async fn session_getters(session: &session::Client) -> [String; 5] {
    let ingest = session.ingest_request().send().promise.await;
    let query = session.query_request().send().promise.await;
    let agents = session.agents_request().send().promise.await;
    let identities = session.identities_request().send().promise.await;
    let whoami = session.whoami_request().send().promise.await;
    [
        message(ingest),
        message(query),
        message(agents),
        message(identities),
        message(whoami),
    ]
}

#[test]
fn agents_write_only_as_themselves_and_a_revocation_fails_open_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let identities = admin.identities().await.unwrap();
        identities.create_team("blue").await.unwrap();
        let (_, token_a) = identities
            .create_agent("agent-a", "blue", "whisperer")
            .await
            .unwrap();
        let (_, _token_b) = identities
            .create_agent("agent-b", "blue", "whisperer")
            .await
            .unwrap();
        let a = BackendClient::connect(addr, &token_a).await.unwrap();
        assert_eq!(a.whoami().await.unwrap().name, "agent-a");

        // A's token writing as B: refused, nothing stored.
        let batches = batches_of(&testdata("http-basic.pcap"), "agent-b", 64);
        // Pushes are streaming calls: the refusal fails the stream, seen at the flush.
        let _received = try_push(&a, "agent-b", &batches[0]).await;
        let error = message(a.flush().await);
        assert!(error.contains("permission denied"), "{error}");
        let a = BackendClient::connect(addr, &token_a).await.unwrap();
        let own = batches_of(&testdata("http-basic.pcap"), "agent-a", 64);
        for batch in &own {
            try_push(&a, "agent-a", batch).await.unwrap();
        }
        a.flush().await.unwrap();
        let stored = admin.http_all(common::everything()).await.unwrap();
        assert!(!stored.is_empty());
        assert!(
            stored.iter().all(|(whisperer, _)| whisperer == "agent-a"),
            "nothing of agent-b was stored"
        );

        // Revoking A: the open ingest and session fail at their next call, a new login too.
        assert_eq!(identities.revoke_agent("agent-a").await.unwrap(), 1);
        let error = message(a.flush().await);
        assert!(error.contains("revoked"), "{error}");
        let error = message(a.whoami().await);
        assert!(error.contains("revoked"), "{error}");
        assert!(BackendClient::connect(addr, &token_a).await.is_err());
    });
}

#[test]
fn every_session_method_refuses_roles_that_do_not_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let identities = admin.identities().await.unwrap();
        identities.create_team("blue").await.unwrap();
        let (_, agent) = identities
            .create_agent("w1", "blue", "whisperer")
            .await
            .unwrap();
        let (_, metrics) = identities
            .create_api_token("prometheus", &["metrics"], None)
            .await
            .unwrap();
        let (_, reader) = identities
            .create_api_token("dashboard", &["query"], Some("blue"))
            .await
            .unwrap();
        identities
            .create_user("vera", "vera's password", "viewer", &["blue"])
            .await
            .unwrap();
        let auth = bootstrap(addr).await;

        // Without a session only Auth answers, and nothing without a valid credential.
        for wrong in [
            "",
            "wrong",
            "spider_agent_000000000000_nope",
            TOKEN.trim_end_matches('9'),
        ] {
            let error = message(raw_session(&auth, wrong).await);
            assert!(error.contains("invalid credential"), "{wrong:?}: {error}");
        }
        assert!(message(sign_in(&auth, "vera", "wrong password").await).contains("invalid"));
        assert!(message(sign_in(&auth, "nobody", "vera's password").await).contains("invalid"));
        assert!(message(
            spider_backend::client::refresh(&auth, "spider_refresh_000000000000_x").await
        )
        .contains("invalid"));
        assert!(message(spider_backend::client::sign_out(&auth, "x").await).contains("invalid"));

        let viewer = sign_in(&auth, "vera", "vera's password").await.unwrap();
        let denied = "permission denied";
        let expect = [
            // (token, ingest, query, agents, identities)
            (TOKEN.to_owned(), ["ok", "ok", "ok", "ok"]),
            (agent.clone(), ["ok", denied, "ok", denied]),
            (metrics.clone(), [denied, denied, denied, denied]),
            (reader.clone(), [denied, "ok", "ok", denied]),
            (viewer.access_token.clone(), [denied, "ok", "ok", denied]),
        ];
        for (token, wanted) in expect {
            let session = raw_session(&auth, &token).await.unwrap();
            let got = session_getters(&session).await;
            for (index, want) in wanted.iter().enumerate() {
                assert!(
                    got[index].contains(want),
                    "method {index} of {:?}: {}",
                    &token[..8.min(token.len())],
                    got[index]
                );
            }
            assert_eq!(got[4], "ok", "whoami answers every role");
        }

        // Inside the registry: a viewer only lists, an agent only registers itself.
        let vera = BackendClient::connect(addr, &viewer.access_token)
            .await
            .unwrap();
        assert!(vera.agents().await.is_ok());
        let error = message(vera.set_agent_running("w1", false).await);
        assert!(error.contains(denied), "{error}");
        let w1 = BackendClient::connect(addr, &agent).await.unwrap();
        assert!(message(w1.agents().await).contains(denied));
        assert!(message(w1.set_agent_running("w1", false).await).contains(denied));
        let control: Rc<dyn spider_backend::client::AgentControl> = Rc::new(NoControl);
        let error = message(
            w1.register_agent(&info("someone-else"), control.clone())
                .await,
        );
        assert!(error.contains(denied), "{error}");
        let (_registration, _) = w1.register_agent(&info("w1"), control).await.unwrap();
        // A viewer cannot push.
        let batches = batches_of(&testdata("http-basic.pcap"), "w1", 64);
        let _received = try_push(&vera, "w1", &batches[0]).await;
        assert!(message(vera.flush().await).contains(denied));
        // The identity admin refuses non-admins even with a capability obtained otherwise.
        assert!(message(vera.identities().await).contains(denied));
    });
}

struct NoControl;

impl spider_backend::client::AgentControl for NoControl {
    fn configure(
        &self,
        config: spider_model::agent::AgentConfig,
    ) -> spider_model::agent::ConfigAck {
        spider_model::agent::ConfigAck {
            generation: config.generation,
            accepted: true,
            error: None,
        }
    }

    fn set_running(&self, _: bool) {}

    fn status(&self) -> spider_model::agent::AgentStatus {
        spider_model::agent::AgentStatus::default()
    }
}

fn info(name: &str) -> spider_model::agent::AgentInfo {
    spider_model::agent::AgentInfo {
        kind: spider_model::agent::AgentKind::Whisperer,
        name: name.into(),
        host: "host".into(),
        version: "test".into(),
        interfaces: Vec::new(),
        incarnation: 3,
        started_at: 1,
        namespace: None,
        pod: None,
        node: None,
        cluster: None,
    }
}

#[test]
fn viewers_see_only_their_teams_and_expired_tokens_stop_working() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let store = node.identities().clone();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let identities = admin.identities().await.unwrap();
        for team in ["blue", "red"] {
            identities.create_team(team).await.unwrap();
        }
        let (_, blue) = identities
            .create_agent("blue-w", "blue", "whisperer")
            .await
            .unwrap();
        let (_, red) = identities
            .create_agent("red-w", "red", "whisperer")
            .await
            .unwrap();
        for (token, name) in [(&blue, "blue-w"), (&red, "red-w")] {
            let agent = BackendClient::connect(addr, token).await.unwrap();
            for batch in batches_of(&testdata("http-basic.pcap"), name, 64) {
                try_push(&agent, name, &batch).await.unwrap();
            }
            agent.flush().await.unwrap();
        }
        identities
            .create_user("rita", "rita's password", "viewer", &["red"])
            .await
            .unwrap();
        let tokens = sign_in(&admin.auth(), "rita", "rita's password")
            .await
            .unwrap();
        let rita = BackendClient::connect(addr, &tokens.access_token)
            .await
            .unwrap();
        let mine = rita.http_all(common::everything()).await.unwrap();
        assert!(!mine.is_empty());
        assert!(mine.iter().all(|(whisperer, _)| whisperer == "red-w"));
        let asked_other = rita
            .http(&ListRequest {
                whisperers: vec!["blue-w".into()],
                ..common::everything()
            })
            .await
            .unwrap();
        assert!(
            asked_other.items.is_empty(),
            "asking for another team's Whisperer finds nothing"
        );
        assert!(rita
            .sessions_all(common::everything())
            .await
            .unwrap()
            .iter()
            .all(|(w, _)| w == "red-w"));
        let everything = admin.http_all(common::everything()).await.unwrap();
        assert!(
            everything.iter().any(|(w, _)| w == "blue-w"),
            "an admin sees every team"
        );
        // Hosts are read per team too (tests/teams.rs): the capture's names, as red-w saw them.
        assert!(!rita.hosts(&common::everything()).await.unwrap().is_empty());

        // 16 minutes later the access token is expired: the open session fails, the refresh
        // token gives a new one.
        store.advance_clock(std::time::Duration::from_secs(16 * 60));
        assert!(message(rita.http(&common::everything()).await).contains("revoked or expired"));
        assert!(BackendClient::connect(addr, &tokens.access_token)
            .await
            .is_err());
        let renewed = spider_backend::client::refresh(&admin.auth(), &tokens.refresh_token)
            .await
            .unwrap();
        let rita = BackendClient::connect(addr, &renewed.access_token)
            .await
            .unwrap();
        assert!(rita.http(&common::everything()).await.is_ok());
        spider_backend::client::sign_out(&admin.auth(), &renewed.access_token)
            .await
            .unwrap();
        assert!(message(rita.http(&common::everything()).await).contains("revoked or expired"));
    });
}

#[test]
fn identities_survive_a_restart_of_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let node = start_node(dir.path());
        let addr = node.local_addr();
        on_local(async move {
            let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
            let identities = admin.identities().await.unwrap();
            identities.create_team("blue").await.unwrap();
            let (_, token) = identities
                .create_agent("keeper", "blue", "gocipher")
                .await
                .unwrap();
            identities
                .create_user("ursula", "ursula's password", "admin", &[])
                .await
                .unwrap();
            token
        })
    };
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let agent = BackendClient::connect(addr, &token).await.unwrap();
        let me = agent.whoami().await.unwrap();
        assert_eq!((me.name.as_str(), me.role.as_str()), ("keeper", "agent"));
        assert_eq!(me.teams, Some(["blue".to_owned()].into()));
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let tokens = sign_in(&admin.auth(), "ursula", "ursula's password")
            .await
            .unwrap();
        let ursula = BackendClient::connect(addr, &tokens.access_token)
            .await
            .unwrap();
        let users = ursula.identities().await.unwrap().users().await.unwrap();
        assert_eq!(users.len(), 1);
    });
}

#[test]
fn a_pattern_token_serves_every_agent_named_so_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async move {
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let identities = admin.identities().await.unwrap();
        identities.create_team("shop").await.unwrap();
        let (view, token) = identities
            .create_agent("shop-*", "shop", "whisperer")
            .await
            .unwrap();
        assert_eq!(view.name, "shop-*");
        let control: Rc<dyn spider_backend::client::AgentControl> = Rc::new(NoControl);
        let mut registrations = Vec::new();
        for name in ["shop-web-1", "shop-db-0"] {
            let agent = BackendClient::connect(addr, &token).await.unwrap();
            registrations.push(
                agent
                    .register_agent(&info(name), control.clone())
                    .await
                    .unwrap(),
            );
            for batch in batches_of(&testdata("http-basic.pcap"), name, 64) {
                try_push(&agent, name, &batch).await.unwrap();
            }
            agent.flush().await.unwrap();
        }
        let agent = BackendClient::connect(addr, &token).await.unwrap();
        let error = message(agent.register_agent(&info("core-1"), control.clone()).await);
        assert!(error.contains("permission denied"), "{error}");
        let error = message(agent.register_agent(&info("shop-"), control).await);
        assert!(
            error.contains("permission denied"),
            "the bare prefix is no name: {error}"
        );
        let batches = batches_of(&testdata("http-basic.pcap"), "core-1", 64);
        let _received = try_push(&agent, "core-1", &batches[0]).await;
        assert!(message(agent.flush().await).contains("permission denied"));

        identities
            .create_user("sue", "sue's password", "viewer", &["shop"])
            .await
            .unwrap();
        let tokens = sign_in(&admin.auth(), "sue", "sue's password")
            .await
            .unwrap();
        let sue = BackendClient::connect(addr, &tokens.access_token)
            .await
            .unwrap();
        let seen: std::collections::BTreeSet<String> = sue
            .http_all(common::everything())
            .await
            .unwrap()
            .into_iter()
            .map(|(whisperer, _)| whisperer)
            .collect();
        assert_eq!(
            seen,
            ["shop-db-0".to_owned(), "shop-web-1".to_owned()].into()
        );
        drop(registrations);
    });
}
