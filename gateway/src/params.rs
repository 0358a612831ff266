//! Query-string parameters: times (RFC 3339 or epoch milliseconds), limits, opaque cursors.

use base64::Engine;
use serde::Deserialize;
use spider_backend::client::ListRequest;
use spider_query::RecordKind;

use crate::error::ApiError;

/// The most items one page may ask for (the backend's own bound).
pub const MAX_LIMIT: u32 = 1000;
/// Items per page when none is asked for.
pub const DEFAULT_LIMIT: u32 = 100;

/// The parameters of a listing, all as text so that bad values get a clear error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// One Whisperer, or several separated by commas.
    pub whisperer: Option<String>,
    /// Timeline only: how many buckets.
    pub buckets: Option<String>,
}

/// A time given as RFC 3339 or as epoch milliseconds, in epoch nanoseconds.
pub fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    if let Ok(millis) = text.parse::<i64>() {
        return millis.checked_mul(1_000_000).ok_or_else(|| {
            ApiError::bad_request(format!("{name}: {text} milliseconds is out of range"))
        });
    }
    spider_query::parse_rfc3339(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name}: expected RFC 3339 (2024-05-01T10:00:00Z) or epoch milliseconds, got {text:?}"
        ))
    })
}

/// A positive integer parameter with a bound.
pub fn parse_count(
    name: &str,
    text: Option<&str>,
    default: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(ApiError::bad_request(format!(
            "{name}: expected an integer from 1 to {max}, got {text:?}"
        ))),
    }
}

/// The backend's cursor as opaque URL-safe text.
pub fn encode_cursor(cursor: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor)
}

pub fn decode_cursor(text: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| ApiError::bad_request("cursor: not a cursor this API returned"))
}

/// Checks `q` against the grammar of `kind` (so the error has its column), or `None` when empty.
pub fn checked_query(q: Option<&str>, kind: RecordKind) -> Result<Option<String>, ApiError> {
    match q.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => {
            spider_query::parse(text, kind).map_err(|error| ApiError::query(&error))?;
            Ok(Some(text.to_owned()))
        }
    }
}

impl ListParams {
    /// The time range: both ends optional (the whole store), `from` before `to`.
    pub fn range(&self) -> Result<(i64, i64), ApiError> {
        let from = self
            .from
            .as_deref()
            .filter(|text| !text.trim().is_empty())
            .map(|text| parse_time("from", text))
            .transpose()?
            .unwrap_or(0);
        let to = self
            .to
            .as_deref()
            .filter(|text| !text.trim().is_empty())
            .map(|text| parse_time("to", text))
            .transpose()?
            .unwrap_or(i64::MAX);
        if from >= to {
            return Err(ApiError::bad_request("from: must be before to"));
        }
        Ok((from, to))
    }

    pub fn whisperers(&self) -> Vec<String> {
        self.whisperer
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The backend request of a listing of `kind`.
    pub fn list_request(&self, kind: RecordKind) -> Result<ListRequest, ApiError> {
        let (from, to) = self.range()?;
        Ok(ListRequest {
            from,
            to,
            whisperers: self.whisperers(),
            q: checked_query(self.q.as_deref(), kind)?,
            limit: parse_count("limit", self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?,
            cursor: self
                .cursor
                .as_deref()
                .filter(|text| !text.is_empty())
                .map(decode_cursor)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time("from", "1000").ok(), Some(1_000_000_000));
        assert_eq!(
            parse_time("from", "1970-01-01T00:00:01Z").ok(),
            Some(1_000_000_000)
        );
        assert!(parse_time("from", "yesterday").is_err());
    }

    #[test]
    fn cursors_round_trip() {
        let bytes = [0_u8, 255, 17, 3];
        assert_eq!(
            decode_cursor(&encode_cursor(&bytes)).ok(),
            Some(bytes.to_vec())
        );
        assert!(decode_cursor("not base64!").is_err());
    }

    #[test]
    fn bad_query_has_its_column() {
        let error = checked_query(Some("status:"), RecordKind::Http).err();
        assert_eq!(error.and_then(|error| error.column), Some(8));
    }
}
