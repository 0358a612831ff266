//! From a `spider_query` expression to a tantivy query that finds a superset of what
//! `spider_query::matches_in` accepts, with a flag saying when it finds exactly that set.
//!
//! Exact: keyword terms (`method`, `host`, `path`, `uri`, `query`, `whisperer`, `state`,
//! `version`), numbers (`status`, `duration`, `session`, `port`, `time`) and addresses. Superset
//! only (the caller reads the record and checks it with `matches_in`): full text, headers and
//! bodies (words of the search text must be words, or parts of words, of the field), query
//! parameters by name, and fields the index does not hold (sizes). Under `NOT` only exact
//! translations can be used; an inexact one makes the whole `NOT` match everything.
//!
//! Headers and bodies are found only where they were indexed (per-whisperer `TextIndexing`, up to
//! `body_bytes` of each body): the index decides what full text can reach.

use std::ops::Bound;

use spider_query::{Expr, Field as QField, IpFilter, Op, Pattern, Value};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, Query, RangeQuery, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Term};

use super::schema::{ip6, text_analyzer, Fields};

/// A translated expression.
#[derive(Debug)]
pub(crate) struct Translation {
    pub query: Box<dyn Query>,
    /// True when the query matches exactly the records the expression matches.
    pub exact: bool,
}

impl Translation {
    fn exact(query: Box<dyn Query>) -> Self {
        Self { query, exact: true }
    }

    fn all() -> Self {
        Self {
            query: Box::new(AllQuery),
            exact: false,
        }
    }

    fn none() -> Self {
        Self::exact(Box::new(EmptyQuery))
    }

    fn is_all(&self) -> bool {
        !self.exact && self.query.is::<AllQuery>()
    }
}

/// Translates `expr` (an HTTP query's expression).
pub(crate) fn translate(fields: &Fields, expr: &Expr) -> Translation {
    match expr {
        Expr::And(operands) => {
            let parts: Vec<Translation> = operands.iter().map(|e| translate(fields, e)).collect();
            let exact = parts.iter().all(|p| p.exact);
            let clauses: Vec<(Occur, Box<dyn Query>)> = parts
                .into_iter()
                .filter(|p| !p.is_all())
                .map(|p| (Occur::Must, p.query))
                .collect();
            if clauses.is_empty() {
                return Translation {
                    query: Box::new(AllQuery),
                    exact,
                };
            }
            Translation {
                query: Box::new(BooleanQuery::new(clauses)),
                exact,
            }
        }
        Expr::Or(operands) => {
            let parts: Vec<Translation> = operands.iter().map(|e| translate(fields, e)).collect();
            if parts.iter().any(Translation::is_all) {
                return Translation::all();
            }
            let exact = parts.iter().all(|p| p.exact);
            let clauses = parts
                .into_iter()
                .map(|p| (Occur::Should, p.query))
                .collect();
            Translation {
                query: Box::new(BooleanQuery::new(clauses)),
                exact,
            }
        }
        Expr::Not(inner) => {
            let inner = translate(fields, inner);
            if !inner.exact {
                return Translation::all();
            }
            Translation::exact(Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, inner.query),
            ])))
        }
        Expr::Term { field, op, value } => term(fields, field, *op, value),
        Expr::FullText(pattern) => {
            // Host, path and query values are whole lowercased values: a regex on them.
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for field in [fields.host, fields.path, fields.query_value] {
                match occurs_regex(field, pattern) {
                    Some(query) => clauses.push((Occur::Should, query)),
                    None => return Translation::all(),
                }
            }
            for field in [fields.headers, fields.body] {
                match words(field, pattern) {
                    Some(query) => clauses.push((Occur::Should, query)),
                    None => return Translation::all(),
                }
            }
            Translation {
                query: Box::new(BooleanQuery::new(clauses)),
                exact: false,
            }
        }
    }
}

fn term(fields: &Fields, field: &QField, op: Op, value: &Value) -> Translation {
    match field {
        QField::Method => keyword(fields.method, op, value),
        QField::Host => keyword(fields.host, op, value),
        QField::Path => keyword(fields.path, op, value),
        QField::Uri => keyword(fields.uri, op, value),
        QField::Whisperer => keyword(fields.whisperer, op, value),
        QField::State => keyword(fields.state, op, value),
        QField::Version => keyword(fields.version, op, value),
        QField::Query => {
            let names = keyword(fields.query_key, op, value);
            let values = keyword(fields.query_value, op, value);
            Translation {
                exact: names.exact && values.exact,
                query: Box::new(BooleanQuery::new(vec![
                    (Occur::Should, names.query),
                    (Occur::Should, values.query),
                ])),
            }
        }
        QField::QueryParam(name) => match (op, value) {
            (Op::Match, Value::Keyword(pattern)) => {
                let mut pieces = pattern.pieces().to_vec();
                if let Some(first) = pieces.first_mut() {
                    *first = format!("{name}={first}");
                }
                let prefixed = Pattern::from_pieces(pieces);
                Translation {
                    query: keyword(fields.query_param, op, &Value::Keyword(prefixed)).query,
                    exact: false,
                }
            }
            _ => Translation::none(),
        },
        QField::Status => number((fields.status, "status"), Kind::Unsigned, op, value),
        QField::Session => number((fields.session, "session"), Kind::Unsigned, op, value),
        QField::Port => number(
            (fields.server_port, "server_port"),
            Kind::Unsigned,
            op,
            value,
        ),
        QField::Duration => number((fields.duration, "duration"), Kind::Duration, op, value),
        QField::Time => number((fields.time, "time"), Kind::Time, op, value),
        QField::Client => address(fields.client_ip, fields.client_port, op, value),
        QField::Server => address(fields.server_ip, fields.server_port, op, value),
        QField::Header(_) | QField::RequestHeader(_) | QField::ResponseHeader(_) => {
            text_words(fields.headers, op, value)
        }
        QField::Body | QField::RequestBody | QField::ResponseBody => {
            text_words(fields.body, op, value)
        }
        // Not in the index (sizes): every document is a candidate.
        QField::RequestSize | QField::ResponseSize => Translation::all(),
        // Fields an HTTP exchange does not have never match.
        _ => Translation::none(),
    }
}

/// A keyword term: the whole lowercased value matches the pattern.
fn keyword(field: Field, op: Op, value: &Value) -> Translation {
    let (Op::Match, Value::Keyword(pattern)) = (op, value) else {
        return Translation::none();
    };
    if let Some(text) = pattern.as_exact() {
        let term = Term::from_field_text(field, &text.to_lowercase());
        return Translation::exact(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    let body: Vec<String> = pattern
        .pieces()
        .iter()
        .map(|piece| escape(&piece.to_lowercase()))
        .collect();
    match RegexQuery::from_pattern(&format!("(?s:{})", body.join(".*")), field) {
        Ok(query) => Translation::exact(Box::new(query)),
        Err(error) => {
            tracing::debug!(%error, "wildcard pattern not translated");
            Translation::all()
        }
    }
}

/// A regex matching whole values in which the pattern occurs.
fn occurs_regex(field: Field, pattern: &Pattern) -> Option<Box<dyn Query>> {
    let body: Vec<String> = pattern
        .pieces()
        .iter()
        .map(|piece| escape(&piece.to_lowercase()))
        .collect();
    let regex = format!("(?s:.*{}.*)", body.join(".*"));
    RegexQuery::from_pattern(&regex, field)
        .ok()
        .map(|query| Box::new(query) as Box<dyn Query>)
}

/// A text term (the value occurs in the field): every word of the value is in the field.
fn text_words(field: Field, op: Op, value: &Value) -> Translation {
    let (Op::Match, Value::Text(pattern)) = (op, value) else {
        return Translation::none();
    };
    match words(field, pattern) {
        Some(query) => Translation {
            query,
            exact: false,
        },
        None => Translation::all(),
    }
}

/// Documents whose `field` has every word of `pattern`: a word inside a piece of the pattern
/// must be a whole word of the field; a word at the start of a piece may be the end of a longer
/// word, one at its end the start of one. `None` when the pattern has no word at all.
fn words(field: Field, pattern: &Pattern) -> Option<Box<dyn Query>> {
    let mut analyzer = text_analyzer();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for piece in pattern.pieces() {
        let piece = piece.to_lowercase();
        let mut stream = analyzer.token_stream(&piece);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push((token.offset_from, token.offset_to, token.text.clone()));
        }
        for (from, to, text) in tokens {
            let open_start = from == 0;
            let open_end = to == piece.len();
            let query: Box<dyn Query> = if !open_start && !open_end {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &text),
                    IndexRecordOption::Basic,
                ))
            } else {
                let regex = format!(
                    "{}{}{}",
                    if open_start { ".*" } else { "" },
                    escape(&text),
                    if open_end { ".*" } else { "" }
                );
                Box::new(RegexQuery::from_pattern(&regex, field).ok()?)
            };
            clauses.push((Occur::Must, query));
        }
    }
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

#[derive(Clone, Copy)]
enum Kind {
    Unsigned,
    Duration,
    Time,
}

/// The number a value stands for in a field of `kind`; `None` when the types differ (the term
/// is then false, as in `matches`).
fn scalar(kind: Kind, value: &Value) -> Option<i128> {
    match (kind, value) {
        (Kind::Unsigned, Value::Integer(n)) => Some(i128::from(*n)),
        (Kind::Duration, Value::Duration(n)) | (Kind::Time, Value::Time(n)) => Some(i128::from(*n)),
        _ => None,
    }
}

fn number(field: (Field, &str), kind: Kind, op: Op, value: &Value) -> Translation {
    let bound = |value: &Value, include: bool| -> Option<Bound<i128>> {
        let n = scalar(kind, value)?;
        Some(if include {
            Bound::Included(n)
        } else {
            Bound::Excluded(n)
        })
    };
    let (low, high) = match (op, value) {
        (Op::Match, Value::Range(range)) => {
            let low = match &range.low {
                Bound::Unbounded => Some(Bound::Unbounded),
                Bound::Included(v) => bound(v, true),
                Bound::Excluded(v) => bound(v, false),
            };
            let high = match &range.high {
                Bound::Unbounded => Some(Bound::Unbounded),
                Bound::Included(v) => bound(v, true),
                Bound::Excluded(v) => bound(v, false),
            };
            match (low, high) {
                (Some(low), Some(high)) => (low, high),
                _ => return Translation::none(),
            }
        }
        (Op::Match, Value::StatusClass(class)) => match kind {
            Kind::Unsigned => {
                let start = i128::from(*class) * 100;
                (Bound::Included(start), Bound::Included(start + 99))
            }
            _ => return Translation::none(),
        },
        (op, value) => {
            let Some(n) = scalar(kind, value) else {
                return Translation::none();
            };
            match op {
                Op::Match => (Bound::Included(n), Bound::Included(n)),
                Op::Lt => (Bound::Unbounded, Bound::Excluded(n)),
                Op::Le => (Bound::Unbounded, Bound::Included(n)),
                Op::Gt => (Bound::Excluded(n), Bound::Unbounded),
                Op::Ge => (Bound::Included(n), Bound::Unbounded),
            }
        }
    };
    range_query(field, kind, low, high)
}

fn range_query(
    (field, name): (Field, &str),
    kind: Kind,
    low: Bound<i128>,
    high: Bound<i128>,
) -> Translation {
    // Normalise to inclusive bounds in the field's own domain.
    let (min, max) = match kind {
        Kind::Unsigned => (0i128, i128::from(u64::MAX)),
        Kind::Duration | Kind::Time => (i128::from(i64::MIN), i128::from(i64::MAX)),
    };
    let low = match low {
        Bound::Unbounded => min,
        Bound::Included(n) => n,
        Bound::Excluded(n) => n + 1,
    };
    let high = match high {
        Bound::Unbounded => max,
        Bound::Included(n) => n,
        Bound::Excluded(n) => n - 1,
    };
    let (low, high) = (low.max(min), high.min(max));
    if low > high {
        return Translation::none();
    }
    if low == min && high == max {
        // "Has a value".
        return Translation::exact(Box::new(ExistsQuery::new(name.to_owned(), false)));
    }
    let term = |n: i128| match kind {
        Kind::Unsigned => Term::from_field_u64(field, u64::try_from(n).unwrap_or(u64::MAX)),
        Kind::Duration | Kind::Time => {
            Term::from_field_i64(field, i64::try_from(n).unwrap_or(i64::MAX))
        }
    };
    Translation::exact(Box::new(RangeQuery::new(
        Bound::Included(term(low)),
        Bound::Included(term(high)),
    )))
}

/// Addresses (and ports) in an IP filter.
fn address(ip_field: Field, port_field: Field, op: Op, value: &Value) -> Translation {
    let (Op::Match, Value::Ip(filter)) = (op, value) else {
        return Translation::none();
    };
    let IpFilter { addr, prefix, port } = *filter;
    let base = u128::from(ip6(addr));
    let host_bits = match addr {
        std::net::IpAddr::V4(_) => 32u32.saturating_sub(u32::from(prefix)),
        std::net::IpAddr::V6(_) => 128u32.saturating_sub(u32::from(prefix)),
    };
    let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
    let low = base & mask;
    let high = low | !mask;
    let ip_range = RangeQuery::new(
        Bound::Included(Term::from_field_ip_addr(ip_field, low.into())),
        Bound::Included(Term::from_field_ip_addr(ip_field, high.into())),
    );
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(ip_range))];
    if let Some(port) = port {
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_u64(port_field, u64::from(port)),
                IndexRecordOption::Basic,
            )),
        ));
    }
    Translation::exact(Box::new(BooleanQuery::new(clauses)))
}

/// Escapes the characters that mean something in a regex.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
