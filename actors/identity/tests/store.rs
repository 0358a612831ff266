//! The identity store on a real folder: persistence, revocation, users' sessions, no secret on disk.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use spider_identity::{
    AgentKind, IdentityConfig, IdentityError, IdentityStore, Principal, Role, Scope, UserRole,
};

const ADMIN: &str = "admin-token-0123456789";

fn open(dir: &std::path::Path) -> IdentityStore {
    IdentityStore::open(dir, ADMIN, IdentityConfig::default()).unwrap()
}

#[test]
fn records_survive_a_reopen_and_the_file_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_team("blue").unwrap();
    let (agent, agent_token) = store
        .create_agent("w1", "blue", AgentKind::Whisperer)
        .unwrap();
    let (_, api_token) = store
        .create_api_token("grafana", BTreeSet::from([Scope::Metrics]), None)
        .unwrap();
    store
        .create_user(
            "alice",
            "a long password",
            UserRole::Viewer,
            BTreeSet::from(["blue".into()]),
        )
        .unwrap();
    drop(store);

    let text = std::fs::read_to_string(dir.path().join("identities.json")).unwrap();
    for secret in [&agent_token, &api_token, &"a long password".to_owned()] {
        let tail = secret.rsplit('_').next().unwrap();
        assert!(!text.contains(tail), "a secret is stored in clear");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("identities.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let store = open(dir.path());
    let identity = store.authenticate(&agent_token).unwrap();
    assert_eq!(identity.name, "w1");
    assert_eq!(identity.role, Role::Agent);
    assert_eq!(identity.principal, Principal::Agent { id: agent.id });
    assert_eq!(identity.teams, Some(BTreeSet::from(["blue".to_owned()])));
    let api = store.authenticate(&api_token).unwrap();
    assert!(api.allows(Scope::Metrics) && !api.allows(Scope::Query));
    assert_eq!(store.users()[0].name, "alice");
    assert_eq!(store.authenticate(ADMIN).unwrap().role, Role::Admin);
}

#[test]
fn a_revoked_agent_is_refused_at_login_and_on_its_open_identity() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_team("blue").unwrap();
    let (_, token) = store
        .create_agent("w1", "blue", AgentKind::Whisperer)
        .unwrap();
    let identity = store.authenticate(&token).unwrap();
    store.check(&identity).unwrap();
    assert_eq!(store.revoke_agent("w1").unwrap(), 1);
    assert!(matches!(
        store.check(&identity),
        Err(IdentityError::Revoked)
    ));
    assert!(matches!(
        store.authenticate(&token),
        Err(IdentityError::Revoked)
    ));
    // A token with one character changed is unknown.
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    assert!(matches!(
        open(dir.path()).authenticate(&wrong),
        Err(IdentityError::InvalidCredential)
    ));
    // Still revoked after a reopen.
    assert!(open(dir.path()).authenticate(&token).is_err());
}

#[test]
fn users_log_in_refresh_expire_and_log_out() {
    let store = IdentityStore::in_memory(
        ADMIN,
        IdentityConfig {
            access_ttl: Duration::from_secs(60),
            refresh_ttl: Duration::from_secs(600),
        },
    )
    .unwrap();
    store.create_team("blue").unwrap();
    store
        .create_user("bob", "bobs password", UserRole::Admin, BTreeSet::new())
        .unwrap();
    assert!(store.login_password("bob", "wrong password").is_err());
    assert!(store.login_password("nobody", "bobs password").is_err());
    let tokens = store.login_password("bob", "bobs password").unwrap();
    let identity = store.authenticate(&tokens.access_token).unwrap();
    assert!(identity.is_admin());
    assert!(
        store.authenticate(&tokens.refresh_token).is_err(),
        "a refresh token is no access token"
    );

    store.advance_clock(Duration::from_secs(61));
    assert!(store.check(&identity).is_err(), "an expired access token");
    assert!(store.authenticate(&tokens.access_token).is_err());
    let renewed = store.refresh(&tokens.refresh_token).unwrap();
    assert!(
        store.refresh(&tokens.refresh_token).is_err(),
        "a refresh token is used once"
    );
    let identity = store.authenticate(&renewed.access_token).unwrap();

    assert!(store.logout(&renewed.access_token));
    assert!(store.check(&identity).is_err());
    assert!(store.refresh(&renewed.refresh_token).is_err());

    let again = store.login_password("bob", "bobs password").unwrap();
    let identity = store.authenticate(&again.access_token).unwrap();
    store.remove_user("bob").unwrap();
    assert!(
        store.check(&identity).is_err(),
        "a removed user's session ends"
    );
}

#[test]
fn viewers_see_their_teams_and_agents_belong_to_one_team() {
    let store = IdentityStore::in_memory(ADMIN, IdentityConfig::default()).unwrap();
    store.create_team("blue").unwrap();
    store.create_team("red").unwrap();
    assert!(store
        .create_agent("w1", "green", AgentKind::Whisperer)
        .is_err());
    store
        .create_agent("w1", "blue", AgentKind::Whisperer)
        .unwrap();
    store
        .create_agent("c1", "red", AgentKind::Controller)
        .unwrap();
    assert!(store
        .create_agent("w1", "red", AgentKind::Whisperer)
        .is_err());
    assert_eq!(
        store.agents_of_teams(&BTreeSet::from(["blue".into()])),
        BTreeSet::from(["w1".to_owned()])
    );
    store
        .create_user(
            "v",
            "viewer password",
            UserRole::Viewer,
            BTreeSet::from(["red".into()]),
        )
        .unwrap();
    let tokens = store.login_password("v", "viewer password").unwrap();
    let viewer = store.authenticate(&tokens.access_token).unwrap();
    assert_eq!(viewer.role, Role::Reader);
    assert!(viewer.allows(Scope::Query) && !viewer.allows(Scope::Agents));
    assert_eq!(viewer.teams, Some(BTreeSet::from(["red".to_owned()])));
    assert!(store.create_api_token("x", BTreeSet::new(), None).is_err());
    assert!(store
        .create_user("short", "short", UserRole::Viewer, BTreeSet::new())
        .is_err());
}

#[test]
fn a_pattern_names_every_agent_that_starts_with_its_prefix() {
    use spider_identity::name_matches;
    assert!(name_matches("shop-*", "shop-web-1"));
    assert!(!name_matches("shop-*", "shop-"));
    assert!(!name_matches("shop-*", "core-1"));
    assert!(name_matches("w1", "w1") && !name_matches("w1", "w10"));
    let store = IdentityStore::in_memory(ADMIN, IdentityConfig::default()).unwrap();
    store.create_team("shop").unwrap();
    let (_, token) = store
        .create_agent("shop-*", "shop", AgentKind::Whisperer)
        .unwrap();
    let identity = store.authenticate(&token).unwrap();
    assert!(identity.may_act_as("shop-db-0") && !identity.may_act_as("billing-0"));
    assert!(store
        .create_agent("*", "shop", AgentKind::Whisperer)
        .is_err());
    assert!(store
        .create_agent("a*b", "shop", AgentKind::Whisperer)
        .is_err());
}

#[test]
fn five_failed_logins_lock_a_name_for_five_minutes() {
    let store = IdentityStore::in_memory(ADMIN, IdentityConfig::default()).unwrap();
    store
        .create_user("kim", "kim's password", UserRole::Viewer, BTreeSet::new())
        .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            store.login_password("kim", "guess"),
            Err(IdentityError::InvalidCredential)
        ));
    }
    assert!(matches!(
        store.login_password("kim", "kim's password"),
        Err(IdentityError::TooManyFailures)
    ));
    store.advance_clock(Duration::from_secs(5 * 60));
    assert!(store.login_password("kim", "kim's password").is_ok());
    // A success starts the count again.
    for _ in 0..4 {
        assert!(store.login_password("kim", "guess").is_err());
    }
    assert!(store.login_password("kim", "kim's password").is_ok());
    assert!(store.login_password("kim", "guess").is_err());
    assert!(store.login_password("kim", "kim's password").is_ok());
}
