//! The store: persisted records (teams, agents, API tokens, users), authentication, the check of
//! every call, and the admin operations. Cheap to clone (shared).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{AgentKind, UserRole};
use crate::model::{Identity, Principal, Role, Scope};
use crate::secret::{
    hash_password, parse_token, password_matches, same_text, secret_matches, TokenKind,
};
use crate::sessions::{IssuedTokens, Sessions};
use crate::IdentityError;

/// Failed password logins for one name that lock it for the rest of the window.
const MAX_FAILED_LOGINS: u32 = 5;
/// The window in which failed logins count (ns): five minutes.
const FAILED_LOGIN_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
/// Names whose failures are remembered at most (beyond, the oldest windows are forgotten).
const MAX_FAILING_NAMES: usize = 10_000;

/// The file, in the node's data folder.
pub const FILE_NAME: &str = "identities.json";

/// How long users' tokens last.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) teams: BTreeSet<String>,
    pub(crate) agents: BTreeMap<String, StoredAgent>,
    pub(crate) api_tokens: BTreeMap<String, StoredApiToken>,
    pub(crate) users: BTreeMap<String, StoredUser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredAgent {
    pub(crate) name: String,
    pub(crate) team: String,
    pub(crate) kind: AgentKind,
    pub(crate) secret_sha256: String,
    pub(crate) created_at: i64,
    pub(crate) revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredApiToken {
    pub(crate) label: String,
    pub(crate) scopes: BTreeSet<Scope>,
    pub(crate) team: Option<String>,
    pub(crate) secret_sha256: String,
    pub(crate) created_at: i64,
    pub(crate) revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredUser {
    pub(crate) password_argon2: String,
    pub(crate) role: UserRole,
    pub(crate) teams: BTreeSet<String>,
    pub(crate) created_at: i64,
}

#[derive(Debug)]
struct Inner {
    path: Option<PathBuf>,
    admin_token: String,
    config: IdentityConfig,
    stored: Mutex<Stored>,
    sessions: Mutex<Sessions>,
    /// Failed password logins per name: (count, start of the window).
    failures: Mutex<std::collections::HashMap<String, (u32, i64)>>,
    /// Added to the wall clock (tests move time forward to expire tokens).
    skew_ns: AtomicI64,
    /// A hash verified when a login names no user, so that its time says nothing.
    decoy_hash: String,
}

/// The identity store of a node.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IdentityStore {
    /// Opens (or starts) the store in `data_dir`; `admin_token` keeps its meaning.
    pub fn open(
        data_dir: &Path,
        admin_token: &str,
        config: IdentityConfig,
    ) -> Result<Self, IdentityError> {
        let path = data_dir.join(FILE_NAME);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| IdentityError::Load {
                path: path.clone(),
                message: error.to_string(),
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(error) => {
                return Err(IdentityError::Load {
                    path,
                    message: error.to_string(),
                })
            }
        };
        Self::build(Some(path), admin_token, config, stored)
    }

    /// A store that keeps nothing on disk (tests, tools).
    pub fn in_memory(admin_token: &str, config: IdentityConfig) -> Result<Self, IdentityError> {
        Self::build(None, admin_token, config, Stored::default())
    }

    fn build(
        path: Option<PathBuf>,
        admin_token: &str,
        config: IdentityConfig,
        stored: Stored,
    ) -> Result<Self, IdentityError> {
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                admin_token: admin_token.to_owned(),
                config,
                stored: Mutex::new(stored),
                sessions: Mutex::new(Sessions::default()),
                failures: Mutex::new(std::collections::HashMap::new()),
                skew_ns: AtomicI64::new(0),
                decoy_hash: hash_password("a password nobody has")?,
            }),
        })
    }

    /// Now, epoch ns (plus the test skew).
    pub fn now(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall.saturating_add(self.inner.skew_ns.load(Ordering::Relaxed))
    }

    /// Moves this store's clock forward (tests: expire access tokens without waiting).
    pub fn advance_clock(&self, by: Duration) {
        let ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.inner.skew_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Who presents `token`: the admin token, an agent's or API token, or a user's access token.
    pub fn authenticate(&self, token: &str) -> Result<Identity, IdentityError> {
        let Some((kind, id, secret)) = parse_token(token) else {
            if !self.inner.admin_token.is_empty() && same_text(token, &self.inner.admin_token) {
                return Ok(Identity {
                    principal: Principal::AdminToken,
                    name: "admin".into(),
                    role: Role::Admin,
                    scopes: BTreeSet::from([Scope::Admin]),
                    teams: None,
                    expires_at: 0,
                });
            }
            return Err(IdentityError::InvalidCredential);
        };
        let stored = lock(&self.inner.stored);
        match kind {
            TokenKind::Agent => {
                let agent = stored
                    .agents
                    .get(id)
                    .filter(|agent| secret_matches(secret, &agent.secret_sha256))
                    .ok_or(IdentityError::InvalidCredential)?;
                if agent.revoked {
                    return Err(IdentityError::Revoked);
                }
                Ok(Identity {
                    principal: Principal::Agent { id: id.to_owned() },
                    name: agent.name.clone(),
                    role: Role::Agent,
                    scopes: BTreeSet::from([Scope::Ingest, Scope::Agents]),
                    teams: Some(BTreeSet::from([agent.team.clone()])),
                    expires_at: 0,
                })
            }
            TokenKind::Api => {
                let api = stored
                    .api_tokens
                    .get(id)
                    .filter(|api| secret_matches(secret, &api.secret_sha256))
                    .ok_or(IdentityError::InvalidCredential)?;
                if api.revoked {
                    return Err(IdentityError::Revoked);
                }
                let role = if api.scopes.contains(&Scope::Admin) {
                    Role::Admin
                } else {
                    Role::Reader
                };
                Ok(Identity {
                    principal: Principal::ApiToken { id: id.to_owned() },
                    name: api.label.clone(),
                    role,
                    scopes: api.scopes.clone(),
                    teams: api.team.clone().map(|team| BTreeSet::from([team])),
                    expires_at: 0,
                })
            }
            TokenKind::Access => {
                let (user, expires_at) = lock(&self.inner.sessions)
                    .access(id, secret, self.now())
                    .ok_or(IdentityError::InvalidCredential)?;
                let record = stored.users.get(&user).ok_or(IdentityError::Revoked)?;
                Ok(user_identity(&user, record, id, expires_at))
            }
            TokenKind::Refresh => Err(IdentityError::InvalidCredential),
        }
    }

    /// Fails when the identity's record was revoked or removed, or its access token expired
    /// or ended: called on every RPC, so that a revocation is felt at once.
    pub fn check(&self, identity: &Identity) -> Result<(), IdentityError> {
        let live = match &identity.principal {
            Principal::AdminToken => true,
            Principal::Agent { id } => lock(&self.inner.stored)
                .agents
                .get(id)
                .is_some_and(|agent| !agent.revoked),
            Principal::ApiToken { id } => lock(&self.inner.stored)
                .api_tokens
                .get(id)
                .is_some_and(|api| !api.revoked),
            Principal::User { name, access_id } => {
                lock(&self.inner.stored).users.contains_key(name)
                    && lock(&self.inner.sessions).is_live(access_id, self.now())
            }
        };
        if live {
            Ok(())
        } else {
            Err(IdentityError::Revoked)
        }
    }

    /// A user's login: an access token and a refresh token. After 5 failures for a name in 5
    /// minutes, the name is refused (even with the right password) until the window ends.
    pub fn login_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<IssuedTokens, IdentityError> {
        let now = self.now();
        if let Some((count, since)) = lock(&self.inner.failures).get(name) {
            if *count >= MAX_FAILED_LOGINS && now - since < FAILED_LOGIN_WINDOW_NS {
                tracing::warn!(user = name, "password login refused: too many failures");
                return Err(IdentityError::TooManyFailures);
            }
        }
        let hash = lock(&self.inner.stored)
            .users
            .get(name)
            .map(|user| user.password_argon2.clone());
        let matches = password_matches(password, hash.as_deref().unwrap_or(&self.inner.decoy_hash));
        if hash.is_none() || !matches {
            tracing::info!(user = name, "password login refused");
            self.count_failure(name, now);
            return Err(IdentityError::InvalidCredential);
        }
        lock(&self.inner.failures).remove(name);
        self.issue(name)
    }

    fn count_failure(&self, name: &str, now: i64) {
        let mut failures = lock(&self.inner.failures);
        if failures.len() >= MAX_FAILING_NAMES {
            failures.retain(|_, (_, since)| now - *since < FAILED_LOGIN_WINDOW_NS);
        }
        let entry = failures.entry(name.to_owned()).or_insert((0, now));
        if now - entry.1 >= FAILED_LOGIN_WINDOW_NS {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// New tokens for a valid refresh token (which is used up).
    pub fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, IdentityError> {
        let Some((TokenKind::Refresh, id, secret)) = parse_token(refresh_token) else {
            return Err(IdentityError::InvalidCredential);
        };
        let user = lock(&self.inner.sessions)
            .take_refresh(id, secret, self.now())
            .ok_or(IdentityError::InvalidCredential)?;
        if !lock(&self.inner.stored).users.contains_key(&user) {
            return Err(IdentityError::Revoked);
        }
        self.issue(&user)
    }

    /// Ends the session of a valid access or refresh token. False when there was none (or the
    /// token expired: a session whose access token expired ends with its refresh token).
    pub fn logout(&self, token: &str) -> bool {
        match parse_token(token) {
            Some((kind, id, secret)) => {
                lock(&self.inner.sessions).end(kind, id, secret, self.now())
            }
            None => false,
        }
    }

    fn issue(&self, user: &str) -> Result<IssuedTokens, IdentityError> {
        let ttl = |duration: Duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        lock(&self.inner.sessions).issue(
            user,
            self.now(),
            ttl(self.inner.config.access_ttl),
            ttl(self.inner.config.refresh_ttl),
        )
    }

    /// The names (or `PREFIX*` patterns) of the agents (every token, revoked or not) of `teams`:
    /// whose data they see.
    pub fn agents_of_teams(&self, teams: &BTreeSet<String>) -> BTreeSet<String> {
        lock(&self.inner.stored)
            .agents
            .values()
            .filter(|agent| teams.contains(&agent.team))
            .map(|agent| agent.name.clone())
            .collect()
    }

    /// Applies `change` to a copy, saves it, then keeps it (a failed save changes nothing).
    /// The persisted records (locked).
    pub(crate) fn stored(&self) -> MutexGuard<'_, Stored> {
        lock(&self.inner.stored)
    }

    /// Ends every session of a removed user.
    pub(crate) fn end_sessions_of(&self, user: &str) {
        lock(&self.inner.sessions).end_user(user);
    }

    pub(crate) fn modify<T>(
        &self,
        change: impl FnOnce(&mut Stored, i64) -> Result<T, IdentityError>,
    ) -> Result<T, IdentityError> {
        let mut stored = lock(&self.inner.stored);
        let mut copy = stored.clone();
        let answer = change(&mut copy, self.now())?;
        if let Some(path) = &self.inner.path {
            save(path, &copy)?;
        }
        *stored = copy;
        Ok(answer)
    }
}

fn user_identity(name: &str, user: &StoredUser, access_id: &str, expires_at: i64) -> Identity {
    let (role, scopes, teams) = match user.role {
        UserRole::Admin => (Role::Admin, BTreeSet::from([Scope::Admin]), None),
        UserRole::Viewer => (
            Role::Reader,
            BTreeSet::from([Scope::Query]),
            Some(user.teams.clone()),
        ),
    };
    Identity {
        principal: Principal::User {
            name: name.to_owned(),
            access_id: access_id.to_owned(),
        },
        name: name.to_owned(),
        role,
        scopes,
        teams,
        expires_at,
    }
}

/// Writes the document to a temporary file (mode 0600), fsyncs it, renames it over the old one
/// and fsyncs the folder: a crash leaves the old document or the new one, never a mix.
fn save(path: &Path, stored: &Stored) -> Result<(), IdentityError> {
    let failed = |source: std::io::Error| IdentityError::Save {
        path: path.to_owned(),
        source,
    };
    let bytes =
        serde_json::to_vec_pretty(stored).map_err(|error| failed(std::io::Error::other(error)))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(failed)?;
    file.write_all(&bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(failed)?;
    std::fs::File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(failed)?;
    Ok(())
}
