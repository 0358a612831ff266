//! `[tls]` of a node's configuration: the listener's certificate and key, how the node verifies
//! the other nodes of its cluster, and whether a plaintext listener may leave loopback.

use std::path::PathBuf;

use serde::Deserialize;
use spider_tls::{ClientTls, ClientTransport, Fingerprint, ServerTls, ServerTransport, TlsError};

/// `[tls]`: with `cert` and `key` the listener speaks only TLS. Without them it is plaintext,
/// which is refused on any address but loopback unless `insecure_plaintext = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// The listener's certificate chain, PEM, its own certificate first
    /// (`SPIDER_BACKEND_TLS_CERT`).
    pub cert: Option<PathBuf>,
    /// The certificate's private key, PEM (`SPIDER_BACKEND_TLS_KEY`).
    pub key: Option<PathBuf>,
    /// A CA file (PEM) the certificates of the other nodes of the cluster are verified with
    /// (`SPIDER_BACKEND_TLS_PEER_CA`); their advertised addresses are the names checked.
    pub peer_ca: Option<PathBuf>,
    /// Pins (`sha256:HEX`) of the other nodes' certificates, instead of `peer_ca`. Without
    /// either, a TLS node pins its own certificate (every node sharing one certificate).
    pub peer_pins: Vec<String>,
    /// Allow a plaintext listener on an address other than loopback
    /// (`SPIDER_BACKEND_INSECURE_PLAINTEXT`). Default false.
    pub insecure_plaintext: bool,
}

impl TlsSettings {
    /// The listener's transport, from `cert` and `key` (both or neither).
    pub fn server(&self) -> Result<ServerTransport, TlsError> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                Ok(ServerTransport::Tls(ServerTls::from_pem_files(cert, key)?))
            }
            (None, None) => Ok(ServerTransport::Plain),
            (Some(cert), None) => Err(TlsError::NoKey { path: cert.clone() }),
            (None, Some(key)) => Err(TlsError::NoCertificate { path: key.clone() }),
        }
    }

    /// How this node connects to the other nodes of its cluster.
    pub fn peers(&self, server: &ServerTransport) -> Result<ClientTransport, TlsError> {
        if let Some(ca) = &self.peer_ca {
            return Ok(ClientTransport::Tls(ClientTls::with_ca_file(ca)?));
        }
        if !self.peer_pins.is_empty() {
            let pins = self
                .peer_pins
                .iter()
                .map(|pin| Fingerprint::parse(pin))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(ClientTransport::Tls(ClientTls::with_pins(pins)?));
        }
        match server {
            ServerTransport::Tls(tls) => Ok(ClientTransport::Tls(ClientTls::with_pins(vec![
                tls.fingerprint()
            ])?)),
            ServerTransport::Plain => Ok(ClientTransport::Plain),
        }
    }
}
