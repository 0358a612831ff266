//! The query language of Spider's search box, shared by the REST API, the Cap'n Proto API and the UI.
//!
//! This crate owns the grammar and what a query means: [`parse`] turns the text into a typed
//! [`Query`] (or a [`QueryError`] that names the column), `Display` prints a query in its
//! canonical form (which parses back to the same tree), [`matches()`] evaluates a query on a
//! `spider-model` record (the storage post-filters with it and tests use it as the oracle), and
//! [`complete`] proposes field names and values at a cursor. The field registry ([`fields`]) says
//! which fields each record kind has and their types. It must not know about storage or indexes:
//! turning a `Query` into index lookups is the storage's job.
//!
//! # Grammar
//!
//! ```text
//! query    = { space } [ or ] { space } ;               (* empty: every record *)
//! or       = and { "OR" and } ;
//! and      = unary { [ "AND" ] unary } ;                (* juxtaposition is AND *)
//! unary    = "NOT" unary | "-" unary | primary ;        (* "-" right before its term *)
//! primary  = "(" or ")" | term | quoted | word ;        (* quoted, word: full text *)
//! term     = field ":" value ;                          (* no space around ":" *)
//! field    = ( letter | "_" ) { letter | digit | "_" | "." | "-" } ;   (* any case *)
//! value    = compare | range | quoted | bare ;          (* bare "*" on an ordered field:
//!                                                          has a value *)
//! compare  = ( ">=" | ">" | "<=" | "<" ) ( quoted | bare ) ;
//! range    = ( "[" | "{" ) bound "TO" bound ( "]" | "}" ) ;   (* [ ] inclusive, { } exclusive *)
//! bound    = "*" | quoted | bare ;                      (* bare, ending also at "]" "}" *)
//! quoted   = '"' { any char but '"' and "\" | "\" any char } '"' ;
//! bare     = char { char } ;  word = bare - ( "AND" | "OR" | "NOT" ) ;
//! char     = any char but space, "(", ")", '"' and "\" | "\" any char ;
//! ```
//!
//! Precedence: `NOT` over `AND` over `OR`; `AND`, `OR`, `NOT` and `TO` are operators only in
//! capitals. `*` is a wildcard in text values, words and phrases (`\*` is a literal star); a
//! backslash escapes any character. Comparisons and ranges apply to integer, duration, size and
//! time fields, and `field:*` on those means "has a value". Values by type:
//!
//! - text (`body`, headers): the value occurs anywhere in the field, ignoring case;
//! - keyword (`host`, `path`, `method`, …): the value matches the whole field, ignoring case;
//! - integer: `404`, `-1`; `status` also takes classes `1xx` … `5xx`;
//! - duration: a number (decimals allowed) and a unit `ns`, `us`, `ms`, `s`, `m`, `h`: `1.5s`;
//! - size: a number and an optional unit `b`, `kb`, `mb`, `gb`, 1024-based (`1kb` = 1024 bytes);
//! - ip: `10.0.0.1`, `10.0.0.0/8`, `10.0.0.1:443`, `::1`, `[::1]:443`;
//! - time: RFC 3339 (`2024-05-01T10:00:00Z`, `2024-05-01T12:00:00+02:00`, `2024-05-01`) or epoch
//!   milliseconds; a date alone is its midnight UTC, except right after `:` where it is the
//!   whole day (`time:2024-05-01` is `time:[2024-05-01T00:00:00Z TO 2024-05-02T00:00:00Z}`);
//! - bool: `true`, `false`.
//!
//! Words and phrases outside a term search the record's text (see [`matches_in`]).

mod ast;
mod complete;
mod error;
mod eval;
mod fields;
mod parser;
mod pattern;
mod scan;
mod time;
mod values;

pub use ast::{Expr, IpFilter, Op, Query, Value, ValueRange};
pub use complete::{complete, Completion, CompletionKind};
pub use error::QueryError;
pub use eval::{matches, matches_in, matches_record, Origin, Searchable};
pub use fields::{fields, Field, FieldSpec, FieldType, RecordKind};
pub use parser::{parse, MAX_DEPTH, MAX_QUERY_BYTES};
pub use pattern::Pattern;
pub use time::{format_rfc3339, format_rfc3339_millis, parse_rfc3339};
