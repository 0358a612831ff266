//! A Cap'n Proto network that counts the messages refused on reading: a message over the size
//! limit ends its connection inside `capnp-rpc` (the peer gets the reason in an abort) without
//! the `RpcSystem` reporting it; this wrapper sees the read fail and counts it.

use capnp::capability::Promise;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{Connection, FlowController, IncomingMessage, OutgoingMessage, VatNetwork};
use futures::TryFutureExt;

use crate::limits::LimitCounters;

/// `inner` with its connections' read errors counted.
pub(crate) struct Counted<N> {
    pub inner: N,
    pub counters: LimitCounters,
    pub peer: std::net::SocketAddr,
}

impl<N: VatNetwork<Side>> VatNetwork<Side> for Counted<N> {
    fn connect(&mut self, host_id: Side) -> Option<Box<dyn Connection<Side>>> {
        let connection = self.inner.connect(host_id)?;
        Some(self.wrap(connection))
    }

    fn accept(&mut self) -> Promise<Box<dyn Connection<Side>>, capnp::Error> {
        let counters = self.counters.clone();
        let peer = self.peer;
        Promise::from_future(self.inner.accept().map_ok(move |inner| {
            Box::new(CountedConnection {
                inner,
                counters,
                peer,
            }) as Box<dyn Connection<Side>>
        }))
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), capnp::Error> {
        self.inner.drive_until_shutdown()
    }
}

impl<N> Counted<N> {
    fn wrap(&self, inner: Box<dyn Connection<Side>>) -> Box<dyn Connection<Side>> {
        Box::new(CountedConnection {
            inner,
            counters: self.counters.clone(),
            peer: self.peer,
        })
    }
}

struct CountedConnection {
    inner: Box<dyn Connection<Side>>,
    counters: LimitCounters,
    peer: std::net::SocketAddr,
}

impl Connection<Side> for CountedConnection {
    fn get_peer_vat_id(&self) -> Side {
        self.inner.get_peer_vat_id()
    }

    fn new_outgoing_message(&mut self, first_segment_word_size: u32) -> Box<dyn OutgoingMessage> {
        self.inner.new_outgoing_message(first_segment_word_size)
    }

    fn receive_incoming_message(
        &mut self,
    ) -> Promise<Option<Box<dyn IncomingMessage>>, capnp::Error> {
        let counters = self.counters.clone();
        let peer = self.peer;
        Promise::from_future(self.inner.receive_incoming_message().inspect_err(
            move |error| {
                if counters.count_capnp(error) {
                    tracing::warn!(%peer, %error, "a message over the limits ended the connection");
                }
            },
        ))
    }

    fn new_stream(&mut self) -> (Box<dyn FlowController>, Promise<(), capnp::Error>) {
        self.inner.new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), capnp::Error> {
        self.inner.shutdown(result)
    }
}
