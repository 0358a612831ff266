//! Who may read `/metrics`: the one place the bearer token is checked, so that scoped tokens
//! (a token with the `metrics` scope) can be accepted here later without touching the listener.

/// The tokens accepted on `/metrics`.
#[derive(Clone)]
pub struct Access {
    tokens: Vec<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Access {
    /// Accepts any of `tokens` (empty ones are ignored: an empty token never opens anything).
    pub fn tokens(tokens: impl IntoIterator<Item = String>) -> Self {
        Self {
            tokens: tokens.into_iter().filter(|t| !t.is_empty()).collect(),
        }
    }

    /// True when at least one token is accepted.
    pub fn allows_someone(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// True when the `Authorization` header value carries an accepted bearer token (compared in
    /// constant time).
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return false;
        };
        self.tokens
            .iter()
            .fold(false, |found, accepted| found | same(accepted, token))
    }
}

/// Equal byte strings, in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::Access;

    #[test]
    fn only_an_accepted_bearer_token_opens() {
        let access = Access::tokens(["secret".to_owned(), String::new()]);
        assert!(access.allows(Some("Bearer secret")));
        assert!(!access.allows(Some("Bearer secreT")));
        assert!(!access.allows(Some("Bearer ")));
        assert!(!access.allows(Some("secret")));
        assert!(!access.allows(None));
    }
}
