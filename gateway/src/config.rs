//! The gateway's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a gateway needs to start. Its `Debug` form leaves the tokens out.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where the HTTP API, the WebSocket and the UI are served (port 0 picks one).
    pub listen: SocketAddr,
    /// The backend node whose query service answers.
    pub backend: SocketAddr,
    /// The token the bridge logs in to the backend with (the backend's admin token).
    pub token: String,
    /// How the backend is reached: plain TCP (default), or TLS verifying its certificate.
    pub backend_tls: spider_backend::client::ClientTransport,
    /// Bearer tokens accepted from users; each has every scope (admin). Empty: only `token`.
    pub api_tokens: Vec<String>,
    /// The built frontend (`frontend/dist`), served at `/` with an SPA fallback.
    pub ui_dir: Option<PathBuf>,
    /// The longest a request may wait for the backend before a 504.
    pub request_timeout: Duration,
    /// The largest request body accepted (a capture upload), in bytes.
    pub max_body_bytes: u64,
    /// Other roles' metrics served on this `/metrics` too (`spider up`: the node, the Whisperer).
    pub extra_metrics: spider_telemetry::Sources,
    /// How often the live WebSocket looks for new exchanges.
    pub live_interval: Duration,
    /// The Whisperer container that attachments add, unless the request says otherwise.
    pub attach: AttachDefaults,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("backend", &self.backend)
            .field("api_tokens", &self.api_tokens.len())
            .field("ui_dir", &self.ui_dir)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// The container an attachment adds to each pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachDefaults {
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
}

impl Default for AttachDefaults {
    /// Spider's image, capturing on the pod's `eth0` and sending to the backend service of the
    /// `spider` namespace (deploy/kubernetes), logging in with the token mounted from the
    /// `spider-agent-token` secret.
    fn default() -> Self {
        Self {
            image: format!("spider:{}", env!("CARGO_PKG_VERSION")),
            command: vec!["spider".into(), "whisperer".into()],
            args: vec![
                "--iface".into(),
                "eth0".into(),
                "--backend".into(),
                "spider-backend.spider.svc:7070".into(),
                "--token-file".into(),
                "/var/run/secrets/spider/token".into(),
            ],
        }
    }
}

impl GatewayConfig {
    /// Defaults around the three things that have none.
    pub fn new(listen: SocketAddr, backend: SocketAddr, token: impl Into<String>) -> Self {
        Self {
            listen,
            backend,
            token: token.into(),
            backend_tls: spider_backend::client::ClientTransport::Plain,
            api_tokens: Vec::new(),
            ui_dir: None,
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 256 * 1024 * 1024,
            extra_metrics: spider_telemetry::Sources::default(),
            live_interval: Duration::from_secs(2),
            attach: AttachDefaults::default(),
        }
    }

    /// The tokens users may present.
    pub(crate) fn accepted_tokens(&self) -> Vec<String> {
        let mut tokens: Vec<String> = self
            .api_tokens
            .iter()
            .filter(|token| !token.is_empty())
            .cloned()
            .collect();
        if tokens.is_empty() && !self.token.is_empty() {
            tokens.push(self.token.clone());
        }
        tokens
    }
}
