//! The generated interfaces work with `capnp-rpc`: login, role-scoped capabilities, streaming pushes
//! and the flush that acknowledges them (local capabilities, no network).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use capnp::Error;
use spider_model::{Endpoint, PacketRecord};
use spider_rpc_schema::auth_capnp::{auth, credential, session};
use spider_rpc_schema::ingest_capnp::ingest;
use spider_rpc_schema::{read_frame, shard_of, write_frame};

const TOKEN: &str = "admin-token";

struct Auth {
    ingest: Rc<Ingest>,
}

impl auth::Server for Auth {
    async fn login(
        self: Rc<Self>,
        params: auth::LoginParams,
        mut results: auth::LoginResults,
    ) -> Result<(), Error> {
        let credential = params.get()?.get_credential()?;
        let admin = match credential.which()? {
            credential::AdminToken(token) => token?.to_str()? == TOKEN,
            credential::AgentToken(_) | credential::ApiToken(_) | credential::AccessToken(_) => {
                false
            }
        };
        if !admin {
            return Err(Error::failed("invalid credential".into()));
        }
        results.get().set_session(capnp_rpc::new_client(Session {
            ingest: self.ingest.clone(),
        }));
        Ok(())
    }
}

struct Session {
    ingest: Rc<Ingest>,
}

impl session::Server for Session {
    async fn ingest(
        self: Rc<Self>,
        _: session::IngestParams,
        mut results: session::IngestResults,
    ) -> Result<(), Error> {
        results
            .get()
            .set_ingest(capnp_rpc::new_client_from_rc(self.ingest.clone()));
        Ok(())
    }
}

/// Keeps, per (agent, incarnation, shard), the last sequence applied, and drops retries.
#[derive(Default)]
struct Ingest {
    applied: RefCell<BTreeMap<(String, u64, u16), u64>>,
    frames: RefCell<Vec<PacketRecord>>,
}

impl ingest::Server for Ingest {
    async fn push_capture(self: Rc<Self>, params: ingest::PushCaptureParams) -> Result<(), Error> {
        let batch = params.get()?.get_batch()?;
        let id = batch.get_id()?;
        let key = (
            id.get_agent()?.to_string()?,
            id.get_incarnation(),
            batch.get_shard(),
        );
        let mut applied = self.applied.borrow_mut();
        let last = applied.entry(key).or_default();
        if id.get_sequence() <= *last {
            return Ok(()); // a retry: stored already
        }
        if id.get_sequence() != *last + 1 {
            return Err(Error::failed("sequence gap".into()));
        }
        let whisperer = batch.get_whisperer()?.to_str()?;
        for frame in batch.get_frames()? {
            let frame = read_frame(frame, whisperer).map_err(|e| Error::failed(e.to_string()))?;
            self.frames.borrow_mut().push(frame);
        }
        *last = id.get_sequence();
        Ok(())
    }

    async fn flush(
        self: Rc<Self>,
        _: ingest::FlushParams,
        mut results: ingest::FlushResults,
    ) -> Result<(), Error> {
        let applied = self.applied.borrow();
        let len = u32::try_from(applied.len()).map_err(|_| Error::failed("too many".into()))?;
        let mut acked = results.get().init_acked(len);
        for (index, ((agent, incarnation, shard), sequence)) in (0..len).zip(applied.iter()) {
            let mut ack = acked.reborrow().get(index);
            ack.set_agent(agent);
            ack.set_incarnation(*incarnation);
            ack.set_shard(*shard);
            ack.set_sequence(*sequence);
        }
        Ok(())
    }
}

fn frame(session_id: u64) -> PacketRecord {
    let endpoint = Endpoint::new("192.0.2.1".parse().expect("address"), 80);
    PacketRecord {
        whisperer: "w1".into(),
        session_id,
        time: 1_700_000_000_000_000_000,
        interface: 0,
        link_type: 1,
        wire_len: 60,
        from_client: true,
        frame: endpoint.to_string().into_bytes(),
    }
}

async fn push(
    ingest: &ingest::Client,
    sequence: u64,
    frames: &[PacketRecord],
) -> Result<(), Error> {
    let mut request = ingest.push_capture_request();
    let mut batch = request.get().init_batch();
    let mut id = batch.reborrow().init_id();
    id.set_agent("w1");
    id.set_incarnation(7);
    id.set_sequence(sequence);
    batch.set_shard(shard_of("w1", frames[0].session_id));
    batch.set_whisperer("w1");
    let len = u32::try_from(frames.len()).map_err(|_| Error::failed("too many".into()))?;
    let mut list = batch.init_frames(len);
    for (index, frame) in (0..len).zip(frames) {
        write_frame(list.reborrow().get(index), frame).map_err(|e| Error::failed(e.to_string()))?;
    }
    request.send().await
}

#[test]
fn login_push_retry_and_flush() {
    let store = Rc::new(Ingest::default());
    let auth: auth::Client = capnp_rpc::new_client(Auth {
        ingest: store.clone(),
    });
    futures::executor::block_on(async {
        let mut login = auth.login_request();
        login.get().init_credential().set_admin_token("wrong");
        assert!(login.send().promise.await.is_err());

        let mut login = auth.login_request();
        login.get().init_credential().set_admin_token(TOKEN);
        let session = login.send().promise.await?.get()?.get_session()?;
        let ingest = session
            .ingest_request()
            .send()
            .promise
            .await?
            .get()?
            .get_ingest()?;

        let frames = [frame(1), frame(1)];
        push(&ingest, 1, &frames).await?;
        push(&ingest, 2, &frames).await?;
        push(&ingest, 2, &frames).await?; // retried: dropped
        assert!(push(&ingest, 4, &frames).await.is_err()); // gap
                                                           // A failed push fails the stream: the capability is done, the agent starts over.
        assert!(ingest.flush_request().send().promise.await.is_err());
        let ingest = session
            .ingest_request()
            .send()
            .promise
            .await?
            .get()?
            .get_ingest()?;

        let flushed = ingest.flush_request().send().promise.await?;
        let acked = flushed.get()?.get_acked()?;
        assert_eq!(acked.len(), 1);
        assert_eq!(acked.get(0).get_sequence(), 2);
        assert_eq!(acked.get(0).get_shard(), shard_of("w1", 1));
        assert_eq!(
            store.frames.borrow().as_slice(),
            [&frames[..], &frames[..]].concat()
        );
        Ok::<_, Error>(())
    })
    .expect("the rpc calls succeed");
}
