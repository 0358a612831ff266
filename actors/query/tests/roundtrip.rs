//! Properties: any query tree prints to text that parses back to it; no input makes the parser,
//! the printer, the evaluator or the completer panic; errors point inside the input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Bound;

use proptest::prelude::*;
use spider_query::{
    complete, fields, matches, parse, Expr, Field, FieldSpec, FieldType, IpFilter, Op, Pattern,
    Query, RecordKind, Value, ValueRange,
};

fn kind() -> impl Strategy<Value = RecordKind> {
    prop_oneof![
        Just(RecordKind::Http),
        Just(RecordKind::TcpSession),
        Just(RecordKind::Host)
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ./:*\"\\\\()\\[\\]{}<>=-]{0,8}",
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("TO".to_owned()),
        Just("-".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop::collection::vec(text(), 1..4).prop_map(Pattern::from_pieces)
}

fn ip() -> impl Strategy<Value = IpFilter> {
    let addr = prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        any::<u32>().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
    ];
    (addr, any::<u8>(), any::<Option<u16>>(), any::<bool>()).prop_map(
        |(addr, prefix, port, full)| {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = if full { max } else { prefix % (max + 1) };
            IpFilter { addr, prefix, port }
        },
    )
}

/// A scalar of an ordered type.
fn scalar(ty: FieldType) -> BoxedStrategy<Value> {
    match ty {
        FieldType::Duration => any::<i64>().prop_map(Value::Duration).boxed(),
        FieldType::Size => any::<u64>().prop_map(Value::Size).boxed(),
        FieldType::Time => any::<i64>().prop_map(Value::Time).boxed(),
        _ => any::<i64>().prop_map(Value::Integer).boxed(),
    }
}

fn bound(ty: FieldType) -> impl Strategy<Value = Bound<Value>> {
    prop_oneof![
        scalar(ty).prop_map(Bound::Included),
        scalar(ty).prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Match),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

/// A valid term for one field of the registry.
fn term(spec: &'static FieldSpec, field: Field) -> BoxedStrategy<Expr> {
    let ty = spec.ty;
    let value_and_op: BoxedStrategy<(Op, Value)> = match ty {
        FieldType::Text => pattern().prop_map(|p| (Op::Match, Value::Text(p))).boxed(),
        FieldType::Keyword if spec.closed => {
            let values = spec.values;
            let exact = (0..values.len(), any::<bool>()).prop_map(move |(index, upper)| {
                let value = values[index];
                let value = if upper {
                    value.to_uppercase()
                } else {
                    value.to_owned()
                };
                Pattern::exact(value)
            });
            let wild = pattern().prop_filter("has a wildcard", Pattern::has_wildcard);
            prop_oneof![exact, wild]
                .prop_map(|p| (Op::Match, Value::Keyword(p)))
                .boxed()
        }
        FieldType::Keyword => pattern()
            .prop_map(|p| (Op::Match, Value::Keyword(p)))
            .boxed(),
        FieldType::Ip => ip().prop_map(|f| (Op::Match, Value::Ip(f))).boxed(),
        FieldType::Bool => any::<bool>()
            .prop_map(|b| (Op::Match, Value::Bool(b)))
            .boxed(),
        ordered => {
            let compare = (op(), scalar(ordered));
            let range = (bound(ordered), bound(ordered)).prop_map(|(low, high)| {
                (Op::Match, Value::Range(Box::new(ValueRange { low, high })))
            });
            if field == Field::Status {
                let class = (1u8..=9).prop_map(|c| (Op::Match, Value::StatusClass(c)));
                prop_oneof![compare, range, class].boxed()
            } else {
                prop_oneof![compare, range].boxed()
            }
        }
    };
    value_and_op
        .prop_map(move |(op, value)| Expr::Term {
            field: field.clone(),
            op,
            value,
        })
        .boxed()
}

fn any_term(kind: RecordKind) -> BoxedStrategy<Expr> {
    let specs = fields(kind);
    (0..specs.len(), "[a-z0-9_][a-z0-9_.-]{0,8}")
        .prop_flat_map(move |(index, param)| {
            let spec = &specs[index];
            let name = match spec.prefix() {
                Some(prefix) => format!("{prefix}{param}"),
                None => spec.name.to_owned(),
            };
            let field = Field::named(&name, kind).expect("registry names resolve");
            term(spec, field)
        })
        .boxed()
}

fn expr(kind: RecordKind) -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![any_term(kind), pattern().prop_map(Expr::FullText)];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    kind().prop_flat_map(|kind| {
        prop::option::weighted(0.95, expr(kind)).prop_map(move |expr| Query { kind, expr })
    })
}

/// Strings built from pieces of the grammar, likelier to get deep into the parser than noise.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("status:"),
        Just("method:"),
        Just("host:"),
        Just("duration:"),
        Just("time:"),
        Just("client:"),
        Just("req.header.x:"),
        Just("rtt:"),
        Just("ip:"),
        Just("missed_syn:"),
        Just("stauts:"),
        Just("AND"),
        Just("OR"),
        Just("NOT"),
        Just("TO"),
        Just("-"),
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just("\""),
        Just("\\"),
        Just("*"),
        Just(">="),
        Just("<"),
        Just(" "),
        Just("5xx"),
        Just("404"),
        Just("1.5s"),
        Just("10kb"),
        Just("10.0.0.1"),
        Just("[::1]:80"),
        Just("2024-05-01"),
        Just("ok"),
        Just("é"),
        Just(":"),
        Just("true"),
        Just("\u{3000}"),
        Just("\u{0}"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn check_error(input: &str, error: &spider_query::QueryError) -> Result<(), TestCaseError> {
    let chars = input.chars().count();
    prop_assert!(
        error.column >= 1 && error.column <= chars + 1,
        "{:?}",
        error
    );
    prop_assert!(error.span.start + 1 == error.column, "{:?}", error);
    prop_assert!(
        error.span.end <= chars && error.span.start <= error.span.end,
        "{:?}",
        error
    );
    prop_assert!(
        error.message.contains(&format!("column {}", error.column)),
        "{:?}",
        error
    );
    Ok(())
}

/// Parses, and if it parses, the canonical form parses to the same tree and prints the same.
fn check_input(input: &str, kind: RecordKind) -> Result<(), TestCaseError> {
    match parse(input, kind) {
        Ok(query) => {
            let printed = query.to_string();
            let again = parse(&printed, kind);
            prop_assert_eq!(
                again.as_ref(),
                Ok(&query),
                "{:?} printed as {:?}",
                input,
                printed
            );
            prop_assert_eq!(query.to_string(), printed);
            let _ = matches(&query, &spider_query_test_records::exchange());
        }
        Err(error) => check_error(input, &error)?,
    }
    let chars = input.chars().count();
    for cursor in [0, chars / 2, chars, chars + 3] {
        for completion in complete(input, cursor, kind) {
            prop_assert!(completion.replace.start <= completion.replace.end);
            prop_assert!(completion.replace.end <= chars.min(cursor));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_tree_prints_to_text_that_parses_back_to_it(query in query()) {
        let printed = query.to_string();
        let parsed = parse(&printed, query.kind);
        prop_assert_eq!(parsed.as_ref(), Ok(&query), "printed as {:?}", printed);
    }

    #[test]
    fn random_strings_never_panic(input in any::<String>(), kind in kind()) {
        check_input(&input, kind)?;
    }

    #[test]
    fn grammar_soup_never_panics(input in soup(), kind in kind()) {
        check_input(&input, kind)?;
    }
}

#[test]
fn the_evaluator_takes_any_tree() {
    // Trees parse builds and trees it never builds (empty groups, values of the wrong type).
    let odd = [
        Expr::And(vec![]),
        Expr::Or(vec![]),
        Expr::Term {
            field: Field::Status,
            op: Op::Gt,
            value: Value::Keyword(Pattern::any()),
        },
        Expr::Term {
            field: Field::Rtt,
            op: Op::Match,
            value: Value::StatusClass(200),
        },
    ];
    let exchange = spider_query_test_records::exchange();
    for expr in odd {
        let query = Query {
            kind: RecordKind::Http,
            expr: Some(expr.clone()),
        };
        let _ = matches(&query, &exchange);
        let _ = query.to_string();
    }
}

mod spider_query_test_records {
    use spider_model::{BodyCapture, Endpoint, HttpExchange, HttpTiming, ParseState};

    pub fn exchange() -> HttpExchange {
        HttpExchange {
            session_id: 1,
            index: 0,
            client: Endpoint::new([10, 0, 0, 1].into(), 40000),
            server: Endpoint::new([10, 0, 0, 2].into(), 80),
            method: "GET".into(),
            host: None,
            uri: "/".into(),
            path: "/".into(),
            query: Vec::new(),
            version: "HTTP/1.1".into(),
            status: None,
            reason: None,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            request_body: BodyCapture::default(),
            response_body: None,
            interim_statuses: Vec::new(),
            timing: HttpTiming::default(),
            state: ParseState::Incomplete,
            warnings: Vec::new(),
        }
    }
}
