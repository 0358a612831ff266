//! Secrets: random tokens (`spider_KIND_ID_SECRET`), their SHA-256 hashes compared in constant
//! time, and argon2id password hashes.
//!
//! A token's secret is 32 random bytes: a fast hash is enough to store it (nobody can search a
//! 256-bit space), while passwords, which people choose, get argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::IdentityError;

/// The kinds of tokens the store issues; the prefix says which table holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Agent,
    Api,
    Access,
    Refresh,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Agent => "spider_agent_",
            TokenKind::Api => "spider_api_",
            TokenKind::Access => "spider_access_",
            TokenKind::Refresh => "spider_refresh_",
        }
    }
}

/// A newly made token: what the holder gets once, and what the store keeps.
#[derive(Debug)]
pub(crate) struct NewToken {
    pub id: String,
    pub token: String,
    pub hash: String,
}

fn random<const N: usize>() -> Result<[u8; N], IdentityError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| IdentityError::Hash(format!("no random bytes: {error}")))?;
    Ok(bytes)
}

/// A token of `kind`: a random id (12 hex digits) and a random 32-byte secret.
pub(crate) fn new_token(kind: TokenKind) -> Result<NewToken, IdentityError> {
    let id: String = random::<6>()?.iter().map(|b| format!("{b:02x}")).collect();
    let secret = URL_SAFE_NO_PAD.encode(random::<32>()?);
    Ok(NewToken {
        token: format!("{}{id}_{secret}", kind.prefix()),
        hash: hash_secret(&secret),
        id,
    })
}

/// Splits a presented token into its kind, id and secret; `None` when it is not one of ours.
pub(crate) fn parse_token(token: &str) -> Option<(TokenKind, &str, &str)> {
    [
        TokenKind::Agent,
        TokenKind::Api,
        TokenKind::Access,
        TokenKind::Refresh,
    ]
    .into_iter()
    .find_map(|kind| {
        let rest = token.strip_prefix(kind.prefix())?;
        let (id, secret) = rest.split_once('_')?;
        (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
            .then_some((kind, id, secret))
    })
}

pub(crate) fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when `secret` hashes to `stored`, compared in constant time.
pub(crate) fn secret_matches(secret: &str, stored: &str) -> bool {
    let presented = hash_secret(secret);
    presented.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Constant-time equality of two texts (the admin token).
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// An argon2id hash in PHC form (salt and parameters inside).
pub(crate) fn hash_password(password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::encode_b64(&random::<16>()?)
        .map_err(|error| IdentityError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| IdentityError::Hash(error.to_string()))
}

/// True when `password` matches the PHC `stored` hash.
pub(crate) fn password_matches(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_back_and_match_only_their_hash() {
        let made = new_token(TokenKind::Agent).unwrap();
        assert!(made.token.len() > 13 + 12 + 1 + 42);
        let (kind, id, secret) = parse_token(&made.token).unwrap();
        assert_eq!(kind, TokenKind::Agent);
        assert_eq!(id, made.id);
        assert!(secret_matches(secret, &made.hash));
        assert!(!secret_matches("something else", &made.hash));
        assert!(!made.hash.contains(secret));
        let other = new_token(TokenKind::Agent).unwrap();
        assert_ne!(other.token, made.token);
        assert!(parse_token("spider_agent_nothex123456_x").is_none());
        assert!(parse_token("an-admin-token").is_none());
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &hash));
        assert!(!password_matches("correct horsE", &hash));
        assert!(!password_matches("correct horse", "not a hash"));
    }
}
