//! Starting and stopping a gateway: the bridge thread and a server thread (multi-thread runtime).

use std::net::SocketAddr;
use std::thread::JoinHandle;

use crate::bridge::Bridge;
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::routes::{routes, State};

/// Starts gateways.
#[derive(Debug)]
pub struct Gateway;

/// A running gateway. Dropping it stops it.
#[derive(Debug)]
pub struct GatewayHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// How long a stop waits for the requests in flight before it lets the server thread go.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long open live sockets get to send their close frames when the gateway stops.
const LIVE_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Gateway {
    /// Binds `config.listen`, starts the backend bridge and serves until stopped.
    pub fn start(config: GatewayConfig) -> Result<GatewayHandle, GatewayError> {
        if config.accepted_tokens().is_empty() {
            return Err(GatewayError::NoToken);
        }
        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| GatewayError::Listen {
                addr: config.listen,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(GatewayError::Runtime)?;
        let addr = listener.local_addr().map_err(GatewayError::Runtime)?;
        let (bridge, bridge_thread) = Bridge::start(
            config.backend,
            config.backend_tls.clone(),
            config.token.clone(),
            config.request_timeout,
        )?;
        let state = State::new(bridge, config);
        let live = state.clone();
        let closing = state.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("spider-gateway")
            .enable_all()
            .build()
            .map_err(GatewayError::Runtime)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        let server = std::thread::Builder::new()
            .name("spider-gateway-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => {
                            tracing::error!(%error, "gateway cannot use its listener");
                            return;
                        }
                    };
                    tracing::info!(%addr, "gateway listening");
                    warp::serve(routes(state))
                        .incoming(listener)
                        .graceful(async move {
                            let _stopped = stopped.await;
                            live.stop_live();
                        })
                        .run()
                        .await;
                    // Live sockets are told to close as the server stops: let them send their
                    // close frames before the runtime goes.
                    closing.live_closed(LIVE_CLOSE_GRACE).await;
                });
                // Open WebSockets and their tasks end with the runtime, which drops here with the
                // last bridge handle: the bridge ends too.
                drop(runtime);
                let _sent = done_tx.send(());
            })
            .map_err(GatewayError::Runtime)?;
        Ok(GatewayHandle {
            addr,
            stop: Some(stop),
            done: Some(done),
            threads: vec![server, bridge_thread],
        })
    }
}

impl GatewayHandle {
    /// The address the gateway serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the requests in flight and waits for the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Blocks until the gateway stops (it stops only through `stop` from elsewhere or on drop).
    pub fn wait(mut self) {
        for thread in self.threads.drain(..) {
            let _joined = thread.join();
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _sent = stop.send(());
        }
        if let Some(done) = self.done.take() {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(STOP_GRACE) {
                tracing::warn!(
                    "gateway connections still open after the grace period: not waiting"
                );
                self.threads.clear();
                return;
            }
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a gateway thread panicked");
            }
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
