//! Completion at the cursor: field names, enumerated values, operators.

use std::ops::Range;

use crate::error::{byte_index, char_index};
use crate::fields::{self, FieldType, RecordKind};
use crate::pattern::{ends_bare_token, Pattern};

/// One proposal: replace the characters `replace` of the input with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// What to insert (`status:`, `req.header.`, `POST`, `AND`).
    pub text: String,
    /// A short explanation to show next to it.
    pub detail: String,
    pub kind: CompletionKind,
    /// The characters (0-based, end excluded, counted in Unicode scalar values like the cursor)
    /// that `text` replaces: the part of the word typed before the cursor.
    pub replace: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionKind {
    Field,
    Value,
    Operator,
}

/// Header names offered after `req.header.`, `resp.header.` and `header.`.
const COMMON_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "cache-control",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "location",
    "server",
    "set-cookie",
    "user-agent",
    "x-forwarded-for",
    "x-request-id",
];

/// Completions for the word before `cursor` (a character index into `input`, clamped to it).
///
/// Field names (and `AND`, `OR`, `NOT`) where a term starts, header names after a header family
/// prefix, and after `field:` the values the registry lists for it (methods, states, status
/// classes, booleans). Nothing inside a quoted string or after a comparison operator. Matching is
/// by prefix, ignoring case, in registry order.
pub fn complete(input: &str, cursor: usize, kind: RecordKind) -> Vec<Completion> {
    let end = byte_index(input, cursor);
    let before = &input[..end];
    if inside_quotes(before) {
        return Vec::new();
    }
    let mut start = before
        .char_indices()
        .rev()
        .find(|(_, c)| ends_bare_token(*c))
        .map_or(0, |(at, c)| at + c.len_utf8());
    if before[start..].starts_with('-') {
        start += 1;
    }
    let word = &before[start..];
    let span = |from: usize| char_index(input, from)..char_index(input, end);
    match word.split_once(':') {
        Some((name, value)) => {
            let value_start = start + name.len() + 1;
            values(name, value, kind)
                .map(|(text, detail)| Completion {
                    text,
                    detail,
                    kind: CompletionKind::Value,
                    replace: span(value_start),
                })
                .collect()
        }
        None => names(word, kind)
            .map(|(text, detail, kind)| Completion {
                text,
                detail,
                kind,
                replace: span(start),
            })
            .collect(),
    }
}

/// True when an odd number of unescaped quotes come before the cursor.
fn inside_quotes(before: &str) -> bool {
    let mut inside = false;
    let mut escaped = false;
    for c in before.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => inside = !inside,
            _ => {}
        }
    }
    inside
}

fn names(word: &str, kind: RecordKind) -> impl Iterator<Item = (String, String, CompletionKind)> {
    let lower = word.to_lowercase();
    let mut out = Vec::new();
    for spec in fields::fields(kind) {
        match spec.prefix() {
            Some(prefix) if lower.starts_with(prefix) => {
                let typed = &lower[prefix.len()..];
                if spec.ty == FieldType::Text && prefix.contains("header") {
                    for name in COMMON_HEADERS.iter().filter(|name| name.starts_with(typed)) {
                        out.push((
                            format!("{prefix}{name}:"),
                            spec.doc.replace("<name>", name),
                            CompletionKind::Field,
                        ));
                    }
                }
            }
            Some(prefix) if prefix.starts_with(lower.as_str()) => {
                out.push((
                    prefix.to_owned(),
                    spec.doc.to_owned(),
                    CompletionKind::Field,
                ));
            }
            None if spec.name.starts_with(lower.as_str()) => {
                out.push((
                    format!("{}:", spec.name),
                    spec.doc.to_owned(),
                    CompletionKind::Field,
                ));
            }
            _ => {}
        }
    }
    if !word.is_empty() {
        for op in ["AND", "OR", "NOT"] {
            if op.starts_with(word) {
                out.push((
                    op.to_owned(),
                    operator_doc(op).to_owned(),
                    CompletionKind::Operator,
                ));
            }
        }
    }
    out.into_iter()
}

fn operator_doc(op: &str) -> &'static str {
    match op {
        "AND" => "both sides match (also implied between terms)",
        "OR" => "either side matches",
        _ => "the next term does not match (also -term)",
    }
}

fn values(name: &str, typed: &str, kind: RecordKind) -> impl Iterator<Item = (String, String)> {
    let spec = fields::resolve(name, kind).map(|(_, spec)| spec);
    let lower = typed.to_lowercase();
    spec.into_iter().flat_map(move |spec| {
        let lower = lower.clone();
        spec.values
            .iter()
            .filter(move |value| value.to_lowercase().starts_with(&lower))
            .map(move |value| {
                let mut text = String::new();
                // Values in the registry never need quoting, but print them the canonical way.
                let _ = Pattern::exact(*value).write(&mut text, |_| true);
                (text, format!("{} value", spec.name))
            })
    })
}
