//! Masking an HTTP exchange record: the rules of the raw scanner, applied to values known whole.
//!
//! Knowing a whole value lets the record keep more than the frames can (see the crate's doc):
//!
//! - `Authorization` / `Proxy-Authorization`: the scheme, then `****`; with `keep_identity`, the
//!   caller: `Basic alice:****` (not when the password is empty: the user is then the key, as
//!   with Stripe), `Bearer <jwt sub=alice> ****` (the first configured claim a JWT has),
//!   `Digest username="alice" ****`. A value without a known scheme becomes `****`.
//! - `Cookie`: each cookie's value becomes `****`, names stay; `Set-Cookie`: the cookie's value,
//!   attributes stay. Other configured headers: `****`.
//! - The request target (`uri`) and `Referer`/`Location` URLs: configured parameters masked with
//!   `*`, same length, as in the frames; decoded `query` values: `****`.
//! - JSON and form bodies: fields masked with `*`, same length, as in the frames. A compressed
//!   body is decoded in the record (gzip, deflate, br) and masked field by field there, while its
//!   frames carry it masked whole; when fields were masked, the exchange gets a warning saying so
//!   (a compressed body without secrets is left as parsed). A body in an encoding the record
//!   could not decode is masked whole.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use spider_model::{BodyCapture, BodyData, Header, HttpExchange, ParseState};

use crate::head::{is_identity, BodyType};
use crate::json::mask_json;
use crate::params::{mask_form, mask_url};
use crate::rules::{HeaderKind, Rules, KNOWN_SCHEMES};

/// What a masked value or value part becomes in a record.
pub const MASKED: &str = "****";

/// Identities longer than this are cut.
const MAX_IDENTITY: usize = 128;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const BASE64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Masks `exchange` as `rules` say. Returns whether anything changed.
pub fn redact_exchange(rules: &Rules, exchange: &mut HttpExchange) -> bool {
    let mut changed = false;
    for headers in [
        &mut exchange.request_headers,
        &mut exchange.response_headers,
    ] {
        for (name, value) in headers.iter_mut() {
            if let Some(masked) = header_value(rules, name, value) {
                if masked != *value {
                    *value = masked;
                    changed = true;
                }
            }
        }
    }
    let mut uri = exchange.uri.clone().into_bytes();
    mask_url(rules, &mut uri);
    if uri != exchange.uri.as_bytes() {
        exchange.uri = String::from_utf8_lossy(&uri).into_owned();
        changed = true;
    }
    for (name, value) in &mut exchange.query {
        if rules.is_param(name.as_bytes()) && value != MASKED {
            *value = MASKED.to_owned();
            changed = true;
        }
    }
    let warnings_before = exchange.warnings.len();
    let request_coded = transfer_coded(&exchange.request_headers);
    let response_coded = transfer_coded(&exchange.response_headers);
    changed |= body(
        rules,
        &mut exchange.request_body,
        request_coded,
        &mut exchange.warnings,
    );
    if let Some(response) = &mut exchange.response_body {
        changed |= body(rules, response, response_coded, &mut exchange.warnings);
    }
    if exchange.warnings.len() > warnings_before && exchange.state == ParseState::Ok {
        exchange.state = ParseState::Warning;
    }
    changed
}

/// The masked form of one header's value, when the rules touch it.
pub fn header_value(rules: &Rules, name: &str, value: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    match rules.header_kind(lower.as_bytes()) {
        HeaderKind::Authorization => Some(authorization(rules, value)),
        HeaderKind::Secret if value.trim().is_empty() => None,
        HeaderKind::Secret => Some(match lower.as_str() {
            "cookie" => cookies(value),
            "set-cookie" => set_cookie(value),
            _ => MASKED.to_owned(),
        }),
        HeaderKind::Url => {
            let mut bytes = value.as_bytes().to_vec();
            mask_url(rules, &mut bytes);
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

fn authorization(rules: &Rules, value: &str) -> String {
    let value = value.trim();
    let (scheme, credentials) = match value.split_once([' ', '\t']) {
        Some((scheme, rest)) => (scheme, rest.trim()),
        None => (value, ""),
    };
    let lower = scheme.to_ascii_lowercase();
    if !KNOWN_SCHEMES.contains(&lower.as_bytes()) {
        return MASKED.to_owned();
    }
    if credentials.is_empty() {
        return scheme.to_owned();
    }
    let identity = if rules.keep_identity() {
        match lower.as_str() {
            "basic" => basic_user(credentials).map(|user| format!("{user}:{MASKED}")),
            "bearer" => jwt_identity(rules, credentials)
                .map(|(claim, value)| format!("<jwt {claim}={value}> {MASKED}")),
            "digest" => {
                digest_username(credentials).map(|user| format!("username=\"{user}\" {MASKED}"))
            }
            _ => None,
        }
    } else {
        None
    };
    format!("{scheme} {}", identity.unwrap_or_else(|| MASKED.to_owned()))
}

/// The user of a Basic credential, when it has a password (else the user is the secret).
fn basic_user(credentials: &str) -> Option<String> {
    let decoded = BASE64.decode(credentials.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    if password.is_empty() {
        return None;
    }
    identity(user)
}

/// The first configured claim of a signed JWT (three parts, a JSON header), and its value.
fn jwt_identity(rules: &Rules, token: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, payload, _signature] = parts.as_slice() else {
        return None;
    };
    let header: serde_json::Value =
        serde_json::from_slice(&BASE64_URL.decode(header).ok()?).ok()?;
    header.as_object()?;
    let claims: serde_json::Value =
        serde_json::from_slice(&BASE64_URL.decode(payload).ok()?).ok()?;
    let claims = claims.as_object()?;
    rules.identity_claims().iter().find_map(|claim| {
        let value = match claims.get(claim)? {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            _ => return None,
        };
        Some((claim.clone(), identity(&value)?))
    })
}

fn digest_username(credentials: &str) -> Option<String> {
    credentials.split(',').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("username")
            .then(|| identity(value.trim().trim_matches('"')))?
    })
}

/// An identity as shown: no control characters, no `<>`, at most [`MAX_IDENTITY`] characters.
fn identity(text: &str) -> Option<String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() && *c != '<' && *c != '>')
        .take(MAX_IDENTITY)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

fn cookies(value: &str) -> String {
    value
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{}={MASKED}", name.trim()),
            None => MASKED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn set_cookie(value: &str) -> String {
    let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
    let pair = match pair.split_once('=') {
        Some((name, _)) => format!("{}={MASKED}", name.trim()),
        None => MASKED.to_owned(),
    };
    if attributes.is_empty() {
        pair
    } else {
        format!("{pair};{attributes}")
    }
}

/// A transfer coding other than chunked (the record's body is then still coded).
fn transfer_coded(headers: &[Header]) -> bool {
    headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding")
            && value.split(',').any(|coding| {
                let coding = coding.trim();
                !coding.is_empty()
                    && !coding.eq_ignore_ascii_case("chunked")
                    && !coding.eq_ignore_ascii_case("identity")
            })
    })
}

/// Masks a JSON or form body. A compressed one is masked whole in its frames whatever it holds
/// (`http.rs`); when the record's decoded copy had fields masked, a warning says so.
fn body(
    rules: &Rules,
    body: &mut BodyCapture,
    transfer_coded: bool,
    warnings: &mut Vec<String>,
) -> bool {
    let kind = BodyType::of(body.content_type.as_deref().unwrap_or_default());
    let scanned = match kind {
        BodyType::Json => rules.has_fields(),
        BodyType::Form => rules.has_params(),
        BodyType::Other => false,
    };
    if !scanned {
        return false;
    }
    let encoding = body.content_encoding.clone().unwrap_or_default();
    let identity = is_identity(&encoding) && !transfer_coded;
    let decoded = !transfer_coded
        && (is_identity(&encoding)
            || ["gzip", "x-gzip", "deflate", "br"]
                .iter()
                .any(|known| encoding.trim().eq_ignore_ascii_case(known)));
    let Some(mut bytes) = body.data.as_ref().and_then(BodyData::to_bytes) else {
        return false;
    };
    let before = bytes.clone();
    if !decoded {
        bytes.fill(b'*');
    } else if kind == BodyType::Json {
        mask_json(rules, &mut bytes);
    } else {
        mask_form(rules, &mut bytes);
    }
    if bytes == before {
        return false;
    }
    if !identity {
        let coding = if transfer_coded {
            "transfer-coded"
        } else {
            encoding.trim()
        };
        warnings.push(format!(
            "redaction: fields masked in the decoded body; its stored packets carry the \
             {coding} body masked whole"
        ));
    }
    body.data = Some(BodyData::from_vec(bytes));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn rules() -> Rules {
        Rules::new(&RuleSet::default())
    }

    fn jwt(claims: &str) -> String {
        let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        format!(
            "{}.{}.c2lnbmF0dXJl",
            part(r#"{"alg":"HS256","typ":"JWT"}"#),
            part(claims)
        )
    }

    #[test]
    fn authorization_keeps_the_caller() {
        let rules = rules();
        let basic = |text: &str| format!("Basic {}", BASE64.encode(text));
        let header = |value: &str| header_value(&rules, "Authorization", value);
        assert_eq!(
            header(&basic("alice:s3cret")).as_deref(),
            Some("Basic alice:****")
        );
        assert_eq!(header(&basic("sk_live_1:")).as_deref(), Some("Basic ****"));
        assert_eq!(
            header(&format!("Bearer {}", jwt(r#"{"sub":"bob","exp":1}"#))).as_deref(),
            Some("Bearer <jwt sub=bob> ****")
        );
        assert_eq!(
            header("Bearer opaque-token").as_deref(),
            Some("Bearer ****")
        );
        assert_eq!(
            header(r#"Digest username="carol", response="abc""#).as_deref(),
            Some(r#"Digest username="carol" ****"#)
        );
        assert_eq!(header("sk_live_abcdef").as_deref(), Some("****"));
        let without = Rules::new(&RuleSet {
            keep_identity: false,
            ..RuleSet::default()
        });
        assert_eq!(
            header_value(&without, "proxy-authorization", &basic("alice:s3cret")).as_deref(),
            Some("Basic ****")
        );
    }

    #[test]
    fn cookies_keep_their_names() {
        let rules = rules();
        assert_eq!(
            header_value(&rules, "Cookie", "session=abc; theme=dark").as_deref(),
            Some("session=****; theme=****")
        );
        assert_eq!(
            header_value(&rules, "set-cookie", "sid=xyz; Path=/; HttpOnly").as_deref(),
            Some("sid=****; Path=/; HttpOnly")
        );
        assert_eq!(
            header_value(&rules, "X-Api-Key", "k").as_deref(),
            Some("****")
        );
        assert_eq!(header_value(&rules, "Accept", "*/*"), None);
        assert_eq!(
            header_value(&rules, "Location", "/cb?code=1&access_token=zz").as_deref(),
            Some("/cb?code=1&access_token=**")
        );
    }

    #[test]
    fn compressed_bodies_warn_and_undecoded_ones_are_masked_whole() {
        let rules = rules();
        let mut warnings = Vec::new();
        let mut capture = BodyCapture {
            content_type: Some("application/json".into()),
            content_encoding: Some("gzip".into()),
            data: Some(BodyData::Utf8(r#"{"token":"t"}"#.into())),
            ..BodyCapture::default()
        };
        assert!(body(&rules, &mut capture, false, &mut warnings));
        assert_eq!(
            capture.data,
            Some(BodyData::Utf8(r#"{"token":"*"}"#.into()))
        );
        assert_eq!(warnings.len(), 1);
        capture.content_encoding = Some("zstd".into());
        capture.data = Some(BodyData::Utf8("abc".into()));
        assert!(body(&rules, &mut capture, false, &mut warnings));
        assert_eq!(capture.data, Some(BodyData::Utf8("***".into())));
        let mut plain = BodyCapture {
            content_type: Some("text/plain".into()),
            data: Some(BodyData::Utf8(r#"{"token":"t"}"#.into())),
            ..BodyCapture::default()
        };
        assert!(!body(&rules, &mut plain, false, &mut warnings));
    }
}
