//! What is masked: header names, JSON fields, query and form parameters, and whether the caller's
//! identity is kept.

/// Header values masked by default.
pub const DEFAULT_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// JSON fields (and query / form parameters) masked by default.
pub const DEFAULT_FIELDS: &[&str] = &[
    "password",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "api_key",
    "client_secret",
];

/// Authorization schemes whose name stays visible in raw frames. A value that does not start with
/// one of them is masked from its first byte that leaves every name (see `http.rs`).
pub(crate) const KNOWN_SCHEMES: &[&[u8]] = &[
    b"basic",
    b"bearer",
    b"digest",
    b"negotiate",
    b"ntlm",
    b"token",
    b"dpop",
    b"hoba",
    b"mutual",
    b"vapid",
    b"scram-sha-1",
    b"scram-sha-256",
    b"aws4-hmac-sha256",
    b"privatetoken",
    b"concealed",
    b"gnap",
    b"oauth",
];

/// Headers whose value is a URL: their query (and fragment) parameters are masked like the
/// request target's.
const URL_HEADERS: &[&[u8]] = &[b"referer", b"location", b"content-location"];

/// The redaction rules as configured: names, matched without regard to ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// Headers whose values are masked (request, response and chunked trailers).
    pub headers: Vec<String>,
    /// JSON object keys whose values are masked, at any depth, in `application/json` and
    /// `application/*+json` bodies.
    pub json_fields: Vec<String>,
    /// Query parameters of the request target (and of `Referer`/`Location` URLs) and fields of
    /// `application/x-www-form-urlencoded` bodies whose values are masked.
    pub query_params: Vec<String>,
    /// Keep who called in the exchange's `Authorization`: the Basic user, a JWT claim, the Digest
    /// username.
    pub keep_identity: bool,
    /// JWT claims tried in order for the identity of a Bearer token.
    pub identity_claims: Vec<String>,
}

impl Default for RuleSet {
    fn default() -> Self {
        let owned = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
        Self {
            headers: owned(DEFAULT_HEADERS),
            json_fields: owned(DEFAULT_FIELDS),
            query_params: owned(DEFAULT_FIELDS),
            keep_identity: true,
            identity_claims: vec!["sub".to_owned()],
        }
    }
}

/// Why a rule set cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{list}: an empty name matches nothing")]
    Empty { list: &'static str },
    #[error("{list}: {name:?} cannot be a header name (letters, digits and !#$%&'*+-.^_`|~ only)")]
    NotAHeaderName { list: &'static str, name: String },
}

impl RuleSet {
    /// Names that could never match are refused, so a typo does not silently leave a secret.
    pub fn validate(&self) -> Result<(), RuleError> {
        for name in &self.headers {
            if name.is_empty() {
                return Err(RuleError::Empty { list: "headers" });
            }
            if !name.bytes().all(is_tchar) {
                return Err(RuleError::NotAHeaderName {
                    list: "headers",
                    name: name.clone(),
                });
            }
        }
        for (list, names) in [
            ("json_fields", &self.json_fields),
            ("query_params", &self.query_params),
            ("identity_claims", &self.identity_claims),
        ] {
            if names.iter().any(String::is_empty) {
                return Err(RuleError::Empty { list });
            }
        }
        Ok(())
    }
}

/// What the value of a header is, for masking and for framing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderKind {
    Plain,
    /// Masked whole.
    Secret,
    /// Masked after a known scheme name.
    Authorization,
    /// A URL: its parameters are masked as configured.
    Url,
    ContentLength,
    ContentType,
    ContentEncoding,
    TransferEncoding,
    /// `Upgrade`: whether a `101` leads to `h2c`.
    Upgrade,
}

/// A [`RuleSet`] ready for matching: names lowercased as bytes.
#[derive(Debug, Clone)]
pub struct Rules {
    headers: Vec<Vec<u8>>,
    fields: Vec<Vec<u8>>,
    params: Vec<Vec<u8>>,
    keep_identity: bool,
    claims: Vec<String>,
    /// Bytes of a name worth buffering: longer ones match nothing.
    max_header: usize,
    max_field: usize,
    max_param: usize,
}

impl Rules {
    pub fn new(set: &RuleSet) -> Self {
        let lower = |names: &[String]| -> Vec<Vec<u8>> {
            names
                .iter()
                .filter(|name| !name.is_empty())
                .map(|name| name.as_bytes().to_ascii_lowercase())
                .collect()
        };
        let longest = |names: &[Vec<u8>]| names.iter().map(Vec::len).max().unwrap_or(0);
        let headers = lower(&set.headers);
        let fields = lower(&set.json_fields);
        let params = lower(&set.query_params);
        Self {
            max_header: longest(&headers).max("content-location".len()),
            max_field: longest(&fields),
            max_param: longest(&params),
            headers,
            fields,
            params,
            keep_identity: set.keep_identity,
            claims: set.identity_claims.clone(),
        }
    }

    pub fn keep_identity(&self) -> bool {
        self.keep_identity
    }

    pub fn identity_claims(&self) -> &[String] {
        &self.claims
    }

    pub(crate) fn max_header(&self) -> usize {
        self.max_header
    }

    pub(crate) fn max_field(&self) -> usize {
        self.max_field
    }

    pub(crate) fn max_param(&self) -> usize {
        self.max_param
    }

    pub(crate) fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    pub(crate) fn has_params(&self) -> bool {
        !self.params.is_empty()
    }

    /// `name` lowercased, surrounding blanks trimmed.
    pub(crate) fn header_kind(&self, name: &[u8]) -> HeaderKind {
        let name = name.trim_ascii();
        if self.headers.iter().any(|h| h == name) {
            return match name {
                b"authorization" | b"proxy-authorization" => HeaderKind::Authorization,
                _ => HeaderKind::Secret,
            };
        }
        match name {
            b"content-length" => HeaderKind::ContentLength,
            b"content-type" => HeaderKind::ContentType,
            b"content-encoding" => HeaderKind::ContentEncoding,
            b"transfer-encoding" => HeaderKind::TransferEncoding,
            b"upgrade" => HeaderKind::Upgrade,
            _ if self.has_params() && URL_HEADERS.contains(&name) => HeaderKind::Url,
            _ => HeaderKind::Plain,
        }
    }

    /// Whether the header `name` (any case) is one the rules mask.
    pub fn is_secret_header(&self, name: &str) -> bool {
        let lower = name.as_bytes().to_ascii_lowercase();
        self.headers.contains(&lower)
    }

    pub(crate) fn is_field(&self, key: &[u8]) -> bool {
        self.fields.iter().any(|f| f.eq_ignore_ascii_case(key))
    }

    pub(crate) fn is_param(&self, key: &[u8]) -> bool {
        self.params.iter().any(|p| p.eq_ignore_ascii_case(key))
    }
}

/// A character of an HTTP token (RFC 9110 `tchar`).
pub(crate) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_without_case_and_kinds_are_right() {
        let rules = Rules::new(&RuleSet::default());
        assert_eq!(
            rules.header_kind(b"authorization"),
            HeaderKind::Authorization
        );
        assert_eq!(rules.header_kind(b"cookie "), HeaderKind::Secret);
        assert_eq!(
            rules.header_kind(b"content-length"),
            HeaderKind::ContentLength
        );
        assert_eq!(rules.header_kind(b"referer"), HeaderKind::Url);
        assert_eq!(rules.header_kind(b"accept"), HeaderKind::Plain);
        assert!(rules.is_field(b"Password"));
        assert!(!rules.is_field(b"passwords"));
        assert!(rules.is_param(b"API_KEY"));
        assert!(rules.is_secret_header("Set-Cookie"));
    }

    #[test]
    fn names_that_cannot_match_are_refused() {
        let mut set = RuleSet::default();
        set.headers.push("x secret".into());
        assert!(matches!(
            set.validate(),
            Err(RuleError::NotAHeaderName { .. })
        ));
        let mut set = RuleSet::default();
        set.json_fields.push(String::new());
        assert_eq!(
            set.validate(),
            Err(RuleError::Empty {
                list: "json_fields"
            })
        );
        assert_eq!(RuleSet::default().validate(), Ok(()));
    }

    #[test]
    fn without_query_params_url_headers_are_plain() {
        let set = RuleSet {
            query_params: Vec::new(),
            ..RuleSet::default()
        };
        let rules = Rules::new(&set);
        assert_eq!(rules.header_kind(b"location"), HeaderKind::Plain);
        assert!(!rules.has_params());
    }
}
