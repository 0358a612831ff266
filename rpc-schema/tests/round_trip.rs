//! Every record kind survives model → Cap'n Proto message bytes → model unchanged.

mod common;

use common::{decode, encode};
use proptest::prelude::*;
use spider_model::{BodyCapture, Endpoint, HttpExchange, HttpTiming, ParseState};
use spider_rpc_schema::records_capnp::{
    dns_record, host_record, http_exchange, packet_record, tcp_session_record, usage_record,
};
use spider_rpc_schema::{
    read_dns, read_frame, read_host, read_http, read_packet, read_tcp_session, read_usage,
    write_dns, write_frame, write_host, write_http, write_packet, write_tcp_session, write_usage,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn http_round_trips(exchange in common::http()) {
        let bytes = encode::<http_exchange::Owned>(|b| write_http(b, &exchange));
        let back = decode::<http_exchange::Owned, _>(&bytes, read_http);
        prop_assert_eq!(back.ok(), Some(exchange));
    }

    #[test]
    fn tcp_session_round_trips(session in common::tcp_session()) {
        let bytes = encode::<tcp_session_record::Owned>(|b| write_tcp_session(b, &session));
        let back = decode::<tcp_session_record::Owned, _>(&bytes, read_tcp_session);
        prop_assert_eq!(back.ok(), Some(session));
    }

    #[test]
    fn host_round_trips(host in common::host()) {
        let bytes = encode::<host_record::Owned>(|b| write_host(b, &host));
        let back = decode::<host_record::Owned, _>(&bytes, read_host);
        prop_assert_eq!(back.ok(), Some(host));
    }

    #[test]
    fn dns_round_trips(dns in common::dns()) {
        let bytes = encode::<dns_record::Owned>(|b| write_dns(b, &dns));
        let back = decode::<dns_record::Owned, _>(&bytes, read_dns);
        prop_assert_eq!(back.ok(), Some(dns));
    }

    #[test]
    fn packet_round_trips_whole_and_as_a_frame(packet in common::packet()) {
        let bytes = encode::<packet_record::Owned>(|b| write_packet(b, &packet));
        let back = decode::<packet_record::Owned, _>(&bytes, read_packet);
        prop_assert_eq!(back.ok(), Some(packet.clone()));

        // A frame leaves the Whisperer out; the batch gives it back.
        let bytes = encode::<packet_record::Owned>(|b| write_frame(b, &packet));
        let whisperer = decode::<packet_record::Owned, _>(&bytes, |r| Ok(r.has_whisperer()));
        prop_assert_eq!(whisperer.ok(), Some(false));
        let back = decode::<packet_record::Owned, _>(&bytes, |r| read_frame(r, &packet.whisperer));
        prop_assert_eq!(back.ok(), Some(packet));
    }

    #[test]
    fn usage_round_trips(usage in common::usage()) {
        let bytes = encode::<usage_record::Owned>(|b| write_usage(b, &usage));
        let back = decode::<usage_record::Owned, _>(&bytes, read_usage);
        prop_assert_eq!(back.ok(), Some(usage));
    }
}

/// An empty `Host` header is not the absence of one; nor is an empty body text the absence of data.
#[test]
fn empty_values_stay_distinct_from_absent_ones() {
    let mut exchange = minimal_http();
    for host in [
        None,
        Some(String::new()),
        Some("example.com:8080".to_owned()),
    ] {
        exchange.host = host;
        let bytes = encode::<http_exchange::Owned>(|b| write_http(b, &exchange));
        let back = decode::<http_exchange::Owned, _>(&bytes, read_http);
        assert_eq!(back.ok().as_ref(), Some(&exchange));
    }
}

/// Query results carry the Whisperer beside the model record.
#[test]
fn whisperer_travels_beside_the_record() {
    let exchange = minimal_http();
    let bytes = encode::<http_exchange::Owned>(|mut b| {
        write_http(b.reborrow(), &exchange)?;
        b.set_whisperer("whisperer-a");
        Ok(())
    });
    let whisperer =
        decode::<http_exchange::Owned, _>(&bytes, |r| Ok(r.get_whisperer()?.to_string().ok()));
    assert_eq!(whisperer.ok().flatten().as_deref(), Some("whisperer-a"));
}

pub fn minimal_http() -> HttpExchange {
    let endpoint = |text: &str| Endpoint::from(text.parse::<std::net::SocketAddr>().expect("addr"));
    HttpExchange {
        session_id: 7,
        index: 0,
        client: endpoint("10.0.0.1:40000"),
        server: endpoint("[2001:db8::1]:80"),
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
