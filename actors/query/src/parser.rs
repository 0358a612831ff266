//! The recursive-descent parser: text in, `Query` or a located `QueryError` out.

use std::ops::Bound;

use crate::ast::{Expr, Op, Query, Value, ValueRange};
use crate::error::QueryError;
use crate::fields::{self, Field, FieldSpec, FieldType, RecordKind};
use crate::scan::{Cursor, Token};
use crate::values::{self, NumberError};

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// How deep parentheses and `NOT`s may nest.
pub const MAX_DEPTH: usize = 64;

/// Parses `input` as a query over records of `kind`.
///
/// Whitespace-only input is the empty query (it matches everything). Errors name the column;
/// see [`QueryError`].
pub fn parse(input: &str, kind: RecordKind) -> Result<Query, QueryError> {
    let mut parser = Parser {
        cur: Cursor::new(input),
        kind,
        depth: 0,
    };
    if input.len() > MAX_QUERY_BYTES {
        return Err(parser.cur.error(MAX_QUERY_BYTES..input.len(), |column| {
            format!(
                "the query is too long: {} bytes, at most {MAX_QUERY_BYTES} (from column {column})",
                input.len()
            )
        }));
    }
    parser.cur.skip_whitespace();
    if parser.cur.peek().is_none() {
        return Ok(Query { kind, expr: None });
    }
    let expr = parser.or(After::Start)?;
    parser.cur.skip_whitespace();
    if parser.cur.peek().is_some() {
        // `or` stops only at the end or at a `)`.
        return Err(parser.cur.error_here(|column| {
            format!("unexpected \")\" at column {column}: no parenthesis is open")
        }));
    }
    Ok(Query {
        kind,
        expr: Some(expr),
    })
}

/// What came before the term being parsed, for the message when the term is missing.
#[derive(Debug, Clone, Copy)]
enum After {
    Start,
    /// An opening parenthesis at this byte offset.
    Open(usize),
    /// An operator (`AND`, `OR`, `NOT`, `-`).
    Operator(&'static str),
    /// Another term (an implicit AND).
    Term,
}

#[derive(Debug)]
struct Parser<'a> {
    cur: Cursor<'a>,
    kind: RecordKind,
    depth: usize,
}

type Parsed<T> = Result<T, QueryError>;

impl Parser<'_> {
    fn or(&mut self, after: After) -> Parsed<Expr> {
        let mut operands = vec![self.and(after)?];
        loop {
            self.cur.skip_whitespace();
            if !self.cur.at_word("OR") {
                break;
            }
            self.cur.pos += 2;
            operands.push(self.and(After::Operator("OR"))?);
        }
        Ok(single_or(operands, Expr::Or))
    }

    fn and(&mut self, after: After) -> Parsed<Expr> {
        let mut operands = vec![self.unary(after)?];
        loop {
            self.cur.skip_whitespace();
            match self.cur.peek() {
                None | Some(')') => break,
                _ if self.cur.at_word("OR") => break,
                _ if self.cur.at_word("AND") => {
                    self.cur.pos += 3;
                    operands.push(self.unary(After::Operator("AND"))?);
                }
                _ => operands.push(self.unary(After::Term)?),
            }
        }
        Ok(single_or(operands, Expr::And))
    }

    fn unary(&mut self, after: After) -> Parsed<Expr> {
        self.cur.skip_whitespace();
        let start = self.cur.pos;
        let operator = if self.cur.at_word("NOT") {
            self.cur.pos += 3;
            "NOT"
        } else if self.cur.peek() == Some('-')
            && self
                .cur
                .peek_second()
                .is_some_and(|c| !c.is_whitespace() && c != ')')
        {
            self.cur.pos += 1;
            "-"
        } else {
            return self.primary(after);
        };
        self.enter(start)?;
        let inner = self.unary(After::Operator(operator))?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn primary(&mut self, after: After) -> Parsed<Expr> {
        self.cur.skip_whitespace();
        match (self.cur.peek(), after) {
            (None, After::Open(open)) => Err(self.unclosed(open)),
            (Some(')'), After::Open(_)) => Err(self
                .cur
                .error_here(|column| format!("empty parentheses at column {column}"))),
            (Some(')'), After::Start) => Err(self.cur.error_here(|column| {
                format!("unexpected \")\" at column {column}: no parenthesis is open")
            })),
            (None | Some(')'), _) => Err(self.cur.error_here(|column| match after {
                After::Operator("-") => {
                    format!("expected a term right after \"-\" at column {column}")
                }
                After::Operator(op) => format!("expected a term after \"{op}\" at column {column}"),
                _ => format!("expected a term at column {column}"),
            })),
            (Some('-'), _) => {
                let after = self.cur.pos + 1;
                Err(self.cur.error(after..after, |column| {
                    format!("expected a term right after \"-\" at column {column}")
                }))
            }
            (Some('('), _) => self.group(),
            (Some('"'), _) => Ok(Expr::FullText(self.cur.quoted()?.pattern())),
            _ if self.cur.field_name_end().is_some() => self.term(),
            _ => {
                let word = self.cur.bare(|_| false)?;
                if word.is_plain("AND") || word.is_plain("OR") {
                    return Err(self.cur.error(word.span.clone(), |column| {
                        format!(
                            "\"{}\" at column {column} needs a term on each side",
                            word.text
                        )
                    }));
                }
                Ok(Expr::FullText(word.pattern()))
            }
        }
    }

    fn group(&mut self) -> Parsed<Expr> {
        let open = self.cur.pos;
        self.enter(open)?;
        self.cur.bump();
        let inner = self.or(After::Open(open))?;
        self.cur.skip_whitespace();
        if self.cur.peek() != Some(')') {
            return Err(self.unclosed(open));
        }
        self.cur.bump();
        self.depth -= 1;
        Ok(inner)
    }

    fn enter(&mut self, at: usize) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.cur.error(at..at + 1, |column| {
                format!(
                    "the query nests too deeply at column {column} \
                     (at most {MAX_DEPTH} levels of parentheses and NOT)"
                )
            }));
        }
        Ok(())
    }

    fn unclosed(&self, open: usize) -> QueryError {
        self.cur.error(open..open + 1, |column| {
            format!("unclosed parenthesis opened at column {column}")
        })
    }

    fn term(&mut self) -> Parsed<Expr> {
        let start = self.cur.pos;
        let end = self.cur.field_name_end().unwrap_or(start);
        let name = &self.cur.src[start..end];
        let Some((field, spec)) = fields::resolve(name, self.kind) else {
            return Err(self.unknown_field(start, end));
        };
        self.cur.pos = end + 1;
        let written = format!("{name}:");
        if let Some(expected) = self.missing_value(&written) {
            return Err(expected);
        }
        if self.cur.peek() == Some('(') {
            return Err(self.cur.error_here(|column| {
                format!(
                    "a group of values after \"{written}\" at column {column} is not supported: \
                     write {name}:a OR {name}:b"
                )
            }));
        }
        let op = self.operator();
        if op != Op::Match {
            let op_start = self.cur.pos;
            self.cur.pos += op.as_str().len();
            if !spec.ty.is_ordered() {
                return Err(self.cur.error(op_start..self.cur.pos, |column| {
                    format!(
                        "\"{}\" at column {column} needs a number, duration, size or time, \
                         and {name} is a {} field",
                        op.as_str(),
                        spec.ty.as_str()
                    )
                }));
            }
            if let Some(expected) = self.missing_value(&format!("{written}{}", op.as_str())) {
                return Err(expected);
            }
            let token = self.value_token(|_| false)?;
            let value = self.scalar(&token, &field, spec, false)?;
            return Ok(Expr::Term { field, op, value });
        }
        if matches!(self.cur.peek(), Some('[' | '{')) && spec.ty != FieldType::Ip {
            if !spec.ty.is_ordered() {
                return Err(self.cur.error_here(|column| {
                    format!(
                        "a range at column {column} needs a number, duration, size or time, \
                         and {name} is a {} field (quote the value to search for it)",
                        spec.ty.as_str()
                    )
                }));
            }
            let value = self.range(&field, spec)?;
            return Ok(Expr::Term { field, op, value });
        }
        let token = self.value_token(|_| false)?;
        let day = (spec.ty == FieldType::Time)
            .then(|| values::parse_day(&token.text))
            .flatten();
        let value = if spec.ty.is_ordered() && token.is_plain("*") {
            Value::Range(Box::new(ValueRange {
                low: Bound::Unbounded,
                high: Bound::Unbounded,
            }))
        } else if let Some((start, end)) = day {
            // `time:2024-05-01` is that whole day.
            Value::Range(Box::new(ValueRange {
                low: Bound::Included(Value::Time(start)),
                high: Bound::Excluded(Value::Time(end)),
            }))
        } else {
            self.scalar(&token, &field, spec, true)?
        };
        Ok(Expr::Term { field, op, value })
    }

    /// The error when no value follows `written` (`status:`, `status:>=`), if none does.
    fn missing_value(&self, written: &str) -> Option<QueryError> {
        match self.cur.peek() {
            Some(c) if !c.is_whitespace() && c != ')' => None,
            _ => Some(self.cur.error_here(|column| {
                format!("expected a value after \"{written}\" at column {column}")
            })),
        }
    }

    fn operator(&self) -> Op {
        let rest = self.cur.rest();
        if rest.starts_with(">=") {
            Op::Ge
        } else if rest.starts_with("<=") {
            Op::Le
        } else if rest.starts_with('>') {
            Op::Gt
        } else if rest.starts_with('<') {
            Op::Lt
        } else {
            Op::Match
        }
    }

    fn value_token(&mut self, stop: impl Fn(char) -> bool) -> Parsed<Token> {
        if self.cur.peek() == Some('"') {
            self.cur.quoted()
        } else {
            self.cur.bare(stop)
        }
    }

    /// `[low TO high]`, `{low TO high}` or mixed; `*` for an open end. The cursor is on the bracket.
    fn range(&mut self, field: &Field, spec: &FieldSpec) -> Parsed<Value> {
        let open = self.cur.pos;
        let inclusive_low = self.cur.bump() == Some('[');
        let unclosed = |cur: &Cursor<'_>| {
            cur.error(open..open + 1, |column| {
                format!("unclosed range opened at column {column}")
            })
        };
        let low = self.bound(field, spec, inclusive_low, open)?;
        self.cur.skip_whitespace();
        let to = self.cur.rest().strip_prefix("TO").is_some_and(|after| {
            after
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || matches!(c, ']' | '}' | '"'))
        });
        if !to {
            return Err(match self.cur.peek() {
                None => unclosed(&self.cur),
                Some(_) => self.cur.error_here(|column| {
                    format!("expected \"TO\" between the ends of the range at column {column}")
                }),
            });
        }
        self.cur.pos += 2;
        let high = self.bound(field, spec, true, open)?;
        self.cur.skip_whitespace();
        let high = match self.cur.peek() {
            Some(']') => high,
            Some('}') => match high {
                Bound::Included(value) => Bound::Excluded(value),
                other => other,
            },
            None => return Err(unclosed(&self.cur)),
            Some(_) => {
                return Err(self.cur.error_here(|column| {
                    format!("expected \"]\" or \"}}\" to close the range at column {column}")
                }))
            }
        };
        self.cur.bump();
        Ok(Value::Range(Box::new(ValueRange { low, high })))
    }

    fn bound(
        &mut self,
        field: &Field,
        spec: &FieldSpec,
        inclusive: bool,
        open: usize,
    ) -> Parsed<Bound<Value>> {
        self.cur.skip_whitespace();
        match self.cur.peek() {
            None => {
                return Err(self.cur.error(open..open + 1, |column| {
                    format!("unclosed range opened at column {column}")
                }))
            }
            Some(']' | '}' | '(' | ')') => {
                return Err(self.cur.error_here(|column| {
                    format!("expected a value in the range at column {column}")
                }))
            }
            Some(_) => {}
        }
        let token = self.value_token(|c| c == ']' || c == '}')?;
        if token.is_plain("*") {
            return Ok(Bound::Unbounded);
        }
        let value = self.scalar(&token, field, spec, false)?;
        Ok(if inclusive {
            Bound::Included(value)
        } else {
            Bound::Excluded(value)
        })
    }

    /// The value of `token` for `field`. `class` allows a status class (`5xx`).
    fn scalar(&self, token: &Token, field: &Field, spec: &FieldSpec, class: bool) -> Parsed<Value> {
        let text = token.text.as_str();
        let name = field.name();
        let shown = shown(text);
        // "<value> <what> for <field> at column N<tail>"
        let fail = |what: &str, tail: &str| {
            self.cur.error(token.span.clone(), |column| {
                format!("{shown} {what} for {name} at column {column}{tail}")
            })
        };
        let number = |error: NumberError, kind: &str, units: &str, example: &str| match error {
            NumberError::MissingUnit => fail("needs a unit", &format!(": {units}")),
            NumberError::UnknownUnit => fail("has an unknown unit", &format!("; use {units}")),
            NumberError::TooLarge => fail(&format!("is too large a {kind}"), ""),
            NumberError::Malformed => {
                fail(&format!("is not a {kind}"), &format!(" (e.g. {example})"))
            }
        };
        Ok(match spec.ty {
            FieldType::Text => Value::Text(token.pattern()),
            FieldType::Keyword => {
                let pattern = token.pattern();
                if let Some(exact) = pattern.as_exact() {
                    if spec.closed && !spec.values.iter().any(|v| v.eq_ignore_ascii_case(exact)) {
                        let expected = spec.values.join(", ");
                        return Err(fail(
                            "is not a valid value",
                            &format!("; expected {expected}"),
                        ));
                    }
                }
                Value::Keyword(pattern)
            }
            FieldType::Integer => {
                match (
                    values::parse_status_class(text),
                    values::parse_integer(text),
                ) {
                    (Some(c), _) if class && *field == Field::Status => Value::StatusClass(c),
                    (Some(_), _) if *field == Field::Status => {
                        return Err(self.cur.error(token.span.clone(), |column| {
                            format!(
                                "{shown} at column {column} is a status class, \
                                 which takes no comparison or range"
                            )
                        }))
                    }
                    (_, Some(n)) => Value::Integer(n),
                    _ => return Err(fail("is not a number", "")),
                }
            }
            FieldType::Duration => values::parse_duration(text)
                .map(Value::Duration)
                .map_err(|e| number(e, "duration", "ns, us, ms, s, m or h", "250ms or 1.5s"))?,
            FieldType::Size => values::parse_size(text)
                .map(Value::Size)
                .map_err(|e| number(e, "size", "b, kb, mb or gb", "512b or 10kb"))?,
            FieldType::Time => values::parse_time(text).map(Value::Time).ok_or_else(|| {
                fail(
                    "is not a time",
                    "; use 2024-05-01T10:00:00Z, 2024-05-01 or epoch milliseconds",
                )
            })?,
            FieldType::Ip => values::parse_ip(text).map(Value::Ip).ok_or_else(|| {
                fail(
                    "is not an IP address",
                    "; use 10.0.0.1, 10.0.0.0/8, 10.0.0.1:443 or [::1]:443",
                )
            })?,
            FieldType::Bool => values::parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| fail("is not true or false", ""))?,
        })
    }

    fn unknown_field(&self, start: usize, end: usize) -> QueryError {
        let name = &self.cur.src[start..end];
        let word_end = self.cur.src[start..]
            .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .map_or(self.cur.src.len(), |at| start + at);
        let word = &self.cur.src[start..word_end];
        let elsewhere = RecordKind::ALL
            .into_iter()
            .find(|kind| fields::resolve(name, *kind).is_some());
        let hint = match (fields::suggest(name, self.kind), elsewhere) {
            (Some(suggestion), _) => format!("; did you mean \"{suggestion}\"?"),
            (None, Some(kind)) => format!("; {name} is a field of {kind} records"),
            (None, None) => format!(
                "; to search for the text itself, quote it: \"{}\"",
                word.replace('\\', "\\\\").replace('"', "\\\"")
            ),
        };
        self.cur.error(start..end, |column| {
            format!(
                "unknown field {} for {} records at column {column}{hint} \
                 (fields: {})",
                shown(name),
                self.kind,
                fields::list(self.kind)
            )
        })
    }
}

/// The one operand, or the operands joined by `join`.
fn single_or(mut operands: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    match operands.pop() {
        Some(only) if operands.is_empty() => only,
        Some(last) => {
            operands.push(last);
            join(operands)
        }
        None => join(operands),
    }
}

/// User text in a message: quoted, shortened when long.
fn shown(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        format!("\"{text}\"")
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("\"{head}…\"")
    }
}
