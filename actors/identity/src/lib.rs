//! The backend node's identity store: who may log in, with what role, scopes and teams.
//!
//! It owns teams, agents' tokens (one per Whisperer, Gocipher or Controller, each in a team),
//! API tokens with scopes for integrations, and local users (argon2id-hashed passwords, role
//! viewer or admin, teams); the user sessions (short-lived access tokens and their refresh
//! tokens) live in memory. Tokens are random (32 bytes), shown once at creation and stored only
//! as SHA-256 hashes, compared in constant time; everything but the sessions is persisted in one
//! JSON document written atomically (temporary file, fsync, rename, fsync of the folder).
//!
//! It must not speak RPC or HTTP: the backend's `Auth` and the gateway ask it through the node.

mod admin;
mod model;
mod secret;
mod sessions;
mod store;

pub use model::{
    name_matches, AgentKind, AgentView, ApiTokenView, Identity, Principal, Role, Scope, UserRole,
    UserView,
};
pub use sessions::IssuedTokens;
pub use store::{IdentityConfig, IdentityStore};

/// Why an identity operation failed. The messages never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid credential")]
    InvalidCredential,
    #[error("credential revoked or expired")]
    Revoked,
    #[error("too many failed logins: try again later")]
    TooManyFailures,
    #[error("{0}")]
    Invalid(String),
    #[error("{kind} {name:?} already exists")]
    Exists { kind: &'static str, name: String },
    #[error("no {kind} {name:?}")]
    NotFound { kind: &'static str, name: String },
    #[error("cannot save the identity store in {path}: {source}")]
    Save {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the identity store {path}: {message}")]
    Load {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot hash a password: {0}")]
    Hash(String),
}
