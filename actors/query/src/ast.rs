//! The parsed query, and its canonical spelling (`Display`), which parses back to the same tree.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::ops::Bound;

use crate::fields::{Field, RecordKind};
use crate::pattern::Pattern;
use crate::values;

/// A parsed query for one kind of record. An empty query (`expr == None`) matches every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub kind: RecordKind,
    pub expr: Option<Expr>,
}

/// A boolean expression over a record.
///
/// `And` and `Or` hold at least two operands in a tree `parse` builds: a run of terms at one
/// level is one `And` (`a b c`), a parenthesised group stays a separate node (`a (b c)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field:value`, `field:>value`, `field:[low TO high]`.
    Term {
        field: Field,
        op: Op,
        value: Value,
    },
    /// A bare word or a quoted phrase, searched in the record's text (see `matches`).
    FullText(Pattern),
}

/// How a term compares the field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `:`: equal to the value, matching the pattern, in the range or in the status class.
    Match,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A term's value, typed by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// For text fields: the pattern may occur anywhere in the field.
    Text(Pattern),
    /// For keyword fields: the pattern must match the whole field.
    Keyword(Pattern),
    Integer(i64),
    /// Nanoseconds.
    Duration(i64),
    /// Bytes.
    Size(u64),
    Ip(IpFilter),
    /// Epoch nanoseconds.
    Time(i64),
    Bool(bool),
    /// A status class by its first digit: `5xx` is `StatusClass(5)`.
    StatusClass(u8),
    /// `[low TO high]` (inclusive), `{low TO high}` (exclusive), mixed, `*` for an open end;
    /// `field:*` on an ordered field is the range open at both ends ("has a value").
    Range(Box<ValueRange>),
}

/// The bounds of a range; both hold a scalar of the field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRange {
    pub low: Bound<Value>,
    pub high: Bound<Value>,
}

/// An address, a block of addresses, either with or without a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpFilter {
    pub addr: IpAddr,
    /// The CIDR prefix length: 32 (IPv4) or 128 (IPv6) for one address.
    pub prefix: u8,
    pub port: Option<u16>,
}

impl IpFilter {
    pub fn addr(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: full_prefix(addr),
            port: None,
        }
    }

    /// True when `ip` (and `port`, when the filter has one) is in the filter.
    pub fn contains(&self, ip: IpAddr, port: u16) -> bool {
        if self.port.is_some_and(|wanted| wanted != port) {
            return false;
        }
        let prefix = u32::from(self.prefix);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

pub(crate) fn full_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

impl fmt::Display for IpFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut net = self.addr.to_string();
        if self.prefix != full_prefix(self.addr) {
            let _ = write!(net, "/{}", self.prefix);
        }
        match (self.port, self.addr) {
            (None, _) => f.write_str(&net),
            (Some(port), IpAddr::V4(_)) => write!(f, "{net}:{port}"),
            (Some(port), IpAddr::V6(_)) => write!(f, "[{net}]:{port}"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(expr) => fmt::Display::fmt(expr, f),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical spelling: `NOT`, ` OR `, a space for AND, parentheses only where the tree
    /// needs them, values bare unless they must be quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Or(operands) => join(f, operands, " OR ", |e| matches!(e, Self::Or(_))),
            Self::And(operands) => join(f, operands, " ", |e| {
                matches!(e, Self::Or(_) | Self::And(_))
            }),
            Self::Not(inner) => {
                f.write_str("NOT ")?;
                group(f, inner, matches!(**inner, Self::Or(_) | Self::And(_)))
            }
            Self::Term { field, op, value } => {
                write!(f, "{field}:{}", op.as_str())?;
                write_value(f, value)
            }
            Self::FullText(pattern) => pattern.write(f, |text| {
                !matches!(text, "AND" | "OR" | "NOT")
                    && !text.starts_with('-')
                    && !text.contains(':')
            }),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    operands: &[Expr],
    separator: &str,
    needs_parens: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    if operands.is_empty() {
        // Not built by `parse`; printed so that it reads as what it is and does not parse.
        return f.write_str("()");
    }
    for (index, operand) in operands.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        group(f, operand, operands.len() > 1 && needs_parens(operand))?;
    }
    Ok(())
}

fn group(f: &mut fmt::Formatter<'_>, expr: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({expr})")
    } else {
        fmt::Display::fmt(expr, f)
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Text(pattern) | Value::Keyword(pattern) => pattern.write(f, |_| true),
        Value::Range(range) => match (&range.low, &range.high) {
            (Bound::Unbounded, Bound::Unbounded) => f.write_char('*'),
            (low, high) => {
                let (open, low) = match low {
                    Bound::Included(v) => ('[', Some(v)),
                    Bound::Excluded(v) => ('{', Some(v)),
                    Bound::Unbounded => ('[', None),
                };
                let (close, high) = match high {
                    Bound::Included(v) => (']', Some(v)),
                    Bound::Excluded(v) => ('}', Some(v)),
                    Bound::Unbounded => (']', None),
                };
                f.write_char(open)?;
                write_bound(f, low)?;
                f.write_str(" TO ")?;
                write_bound(f, high)?;
                f.write_char(close)
            }
        },
        scalar => f.write_str(&values::format_scalar(scalar)),
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, value: Option<&Value>) -> fmt::Result {
    match value {
        None => f.write_char('*'),
        Some(value) => write_value(f, value),
    }
}
