//! Users' sessions: a short-lived access token and the refresh token that renews it, kept in
//! memory only (a node restart logs users out), their secrets as hashes.

use std::collections::HashMap;

use crate::secret::{new_token, secret_matches, TokenKind};
use crate::IdentityError;

/// What a user gets at login or refresh. Shown once; the store keeps hashes only.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub user: String,
    pub access_token: String,
    /// Epoch ns.
    pub access_expires_at: i64,
    pub refresh_token: String,
    /// Epoch ns.
    pub refresh_expires_at: i64,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("user", &self.user)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct UserSession {
    user: String,
    access_id: String,
    access_hash: String,
    access_expires_at: i64,
    refresh_hash: String,
    refresh_expires_at: i64,
}

/// Every open user session, by refresh id, with an index by access id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_refresh: HashMap<String, UserSession>,
    refresh_of_access: HashMap<String, String>,
}

impl Sessions {
    pub fn issue(
        &mut self,
        user: &str,
        now: i64,
        access_ttl_ns: i64,
        refresh_ttl_ns: i64,
    ) -> Result<IssuedTokens, IdentityError> {
        self.forget_expired(now);
        let access = new_token(TokenKind::Access)?;
        let refresh = new_token(TokenKind::Refresh)?;
        let issued = IssuedTokens {
            user: user.to_owned(),
            access_token: access.token,
            access_expires_at: now.saturating_add(access_ttl_ns),
            refresh_token: refresh.token,
            refresh_expires_at: now.saturating_add(refresh_ttl_ns),
        };
        self.refresh_of_access
            .insert(access.id.clone(), refresh.id.clone());
        self.by_refresh.insert(
            refresh.id,
            UserSession {
                user: user.to_owned(),
                access_id: access.id,
                access_hash: access.hash,
                access_expires_at: issued.access_expires_at,
                refresh_hash: refresh.hash,
                refresh_expires_at: issued.refresh_expires_at,
            },
        );
        Ok(issued)
    }

    /// The user and expiry of a valid access token.
    pub fn access(&self, id: &str, secret: &str, now: i64) -> Option<(String, i64)> {
        let session = self.by_refresh.get(self.refresh_of_access.get(id)?)?;
        (secret_matches(secret, &session.access_hash) && now < session.access_expires_at)
            .then(|| (session.user.clone(), session.access_expires_at))
    }

    /// True while the access token `id` is open and not expired (the check of every call).
    pub fn is_live(&self, access_id: &str, now: i64) -> bool {
        self.refresh_of_access
            .get(access_id)
            .and_then(|refresh| self.by_refresh.get(refresh))
            .is_some_and(|session| now < session.access_expires_at)
    }

    /// Ends the session of a valid refresh token and says whose it was (the caller issues anew).
    pub fn take_refresh(&mut self, id: &str, secret: &str, now: i64) -> Option<String> {
        let session = self.by_refresh.get(id)?;
        if !secret_matches(secret, &session.refresh_hash) || now >= session.refresh_expires_at {
            return None;
        }
        let session = self.by_refresh.remove(id)?;
        self.refresh_of_access.remove(&session.access_id);
        Some(session.user)
    }

    /// Ends the session a valid (not expired) access or refresh token belongs to (logout).
    /// False when unknown or expired.
    pub fn end(&mut self, kind: TokenKind, id: &str, secret: &str, now: i64) -> bool {
        let refresh_id = match kind {
            TokenKind::Access => match self.refresh_of_access.get(id) {
                Some(refresh) => refresh.clone(),
                None => return false,
            },
            TokenKind::Refresh => id.to_owned(),
            TokenKind::Agent | TokenKind::Api => return false,
        };
        let Some(session) = self.by_refresh.get(&refresh_id) else {
            return false;
        };
        let (hash, expires_at) = match kind {
            TokenKind::Access => (&session.access_hash, session.access_expires_at),
            _ => (&session.refresh_hash, session.refresh_expires_at),
        };
        if !secret_matches(secret, hash) || now >= expires_at {
            return false;
        }
        if let Some(session) = self.by_refresh.remove(&refresh_id) {
            self.refresh_of_access.remove(&session.access_id);
        }
        true
    }

    /// Ends every session of `user` (removed).
    pub fn end_user(&mut self, user: &str) {
        self.by_refresh.retain(|_, session| session.user != user);
        let live: std::collections::HashSet<&String> = self.by_refresh.keys().collect();
        self.refresh_of_access
            .retain(|_, refresh| live.contains(refresh));
    }

    fn forget_expired(&mut self, now: i64) {
        self.by_refresh
            .retain(|_, session| now < session.refresh_expires_at);
        let live: std::collections::HashSet<&String> = self.by_refresh.keys().collect();
        self.refresh_of_access
            .retain(|_, refresh| live.contains(refresh));
    }
}
