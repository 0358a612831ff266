//! Label and field selectors, as list and watch requests carry them.

use serde_json::Value;

use crate::store::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    /// Field selectors look up dotted paths in the object; label selectors look up labels.
    fields: bool,
}

/// Splits on commas outside parentheses.
fn split_top(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn set(values: &str) -> Result<Vec<String>, ApiError> {
    let inner = values
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| ApiError::bad_request(format!("bad set in selector: {values}")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn requirement(part: &str, fields: bool) -> Result<Requirement, ApiError> {
    let part = part.trim();
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key.trim().into(),
            value.trim().into(),
        ));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    if fields {
        return Err(ApiError::bad_request(format!(
            "invalid field selector: {part}"
        )));
    }
    if let Some((key, values)) = part.split_once(" notin ") {
        return Ok(Requirement::NotIn(key.trim().into(), set(values)?));
    }
    if let Some((key, values)) = part.split_once(" in ") {
        return Ok(Requirement::In(key.trim().into(), set(values)?));
    }
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(key.trim().into()));
    }
    if part.is_empty() || part.contains(char::is_whitespace) {
        return Err(ApiError::bad_request(format!(
            "invalid label selector: {part}"
        )));
    }
    Ok(Requirement::Exists(part.into()))
}

impl Selector {
    /// Parses a label selector (`labelSelector`).
    pub fn labels(input: &str) -> Result<Self, ApiError> {
        Self::parse(input, false)
    }

    /// Parses a field selector (`fieldSelector`).
    pub fn fields(input: &str) -> Result<Self, ApiError> {
        Self::parse(input, true)
    }

    fn parse(input: &str, fields: bool) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        if !input.trim().is_empty() {
            for part in split_top(input) {
                requirements.push(requirement(part, fields)?);
            }
        }
        Ok(Self {
            requirements,
            fields,
        })
    }

    fn value<'a>(&self, object: &'a Value, key: &str) -> Option<&'a str> {
        if self.fields {
            let mut value = object;
            for part in key.split('.') {
                value = value.get(part)?;
            }
            value.as_str()
        } else {
            object.get("metadata")?.get("labels")?.get(key)?.as_str()
        }
    }

    /// Whether `object` matches.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| match r {
            // A field that is absent compares as the empty string (as the API server does).
            Requirement::Equals(k, v) => self.value(object, k).unwrap_or_default() == v,
            Requirement::NotEquals(k, v) => self.value(object, k).unwrap_or_default() != v,
            Requirement::In(k, vs) => self
                .value(object, k)
                .is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => self
                .value(object, k)
                .is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => self.value(object, k).is_some(),
            Requirement::NotExists(k) => self.value(object, k).is_none(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::Selector;

    #[test]
    fn labels_and_fields() {
        let pod = json!({"metadata": {"name": "web-1", "labels": {"app": "web", "tier": "front"}},
                         "spec": {"nodeName": "node-1"}});
        assert!(Selector::labels("app=web,tier in (front, back)")
            .unwrap()
            .matches(&pod));
        assert!(!Selector::labels("app!=web").unwrap().matches(&pod));
        assert!(Selector::labels("!missing,tier").unwrap().matches(&pod));
        assert!(
            Selector::fields("metadata.name=web-1,spec.nodeName==node-1")
                .unwrap()
                .matches(&pod)
        );
        assert!(!Selector::fields("spec.nodeName=node-2")
            .unwrap()
            .matches(&pod));
        assert!(Selector::fields("bogus").is_err());
    }
}
