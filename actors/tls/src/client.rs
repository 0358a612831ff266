//! The client side: connecting over plain TCP, or TLS verified by a CA or a pin.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::pin::PinVerifier;
use crate::{Fingerprint, Stream, TlsError};

/// TLS towards a server: its trust (a CA file or pins) and the name its certificate must have.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    /// How the server is trusted, for logs: `ca FILE` or `pin sha256:…`.
    trust: String,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("trust", &self.trust)
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl ClientTls {
    /// Trusts the certificates a CA (or several, one PEM file) signed; the server's certificate
    /// must name the server (see [`ClientTls::server_name`]) and be valid now.
    pub fn with_ca_file(path: &Path) -> Result<Self, TlsError> {
        let pem = crate::read_file(path)?;
        let certs = crate::server::parse_certs(&pem, &path.display().to_string())?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate {
                path: path.to_owned(),
            });
        }
        Self::with_ca_certs(certs, path.display().to_string())
    }

    /// As [`ClientTls::with_ca_file`], from PEM text.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let certs = crate::server::parse_certs(pem, "ca certificate")?;
        Self::with_ca_certs(certs, "ca certificate".into())
    }

    fn with_ca_certs(
        certs: Vec<rustls_pki_types::CertificateDer<'static>>,
        what: String,
    ) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert)?;
        }
        let config = rustls::ClientConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            trust: format!("ca {what}"),
            server_name: None,
        })
    }

    /// Trusts exactly the certificates with these fingerprints (names and dates not checked).
    pub fn with_pins(pins: Vec<Fingerprint>) -> Result<Self, TlsError> {
        let config = rustls::ClientConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(PinVerifier::new(pins.clone()))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            trust: format!(
                "pin {}",
                pins.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            server_name: None,
        })
    }

    /// How the server is trusted (`ca FILE` or `pin sha256:…`), for logs and errors.
    pub fn trust(&self) -> &str {
        &self.trust
    }

    /// The name the server's certificate must have (a DNS name, or an IP address, which then
    /// must be an IP address entry of the certificate). Without it, the address connected to is
    /// the name: its IP.
    pub fn server_name(mut self, name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(name.trim().to_owned())
            .map_err(|_| TlsError::InvalidServerName(name.to_owned()))?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// Sets the server name from a `HOST:PORT` as given on a command line, unless one is set:
    /// a host name is the name to verify; an IP address leaves the default.
    pub fn server_name_from_target(self, target: &str) -> Result<Self, TlsError> {
        if self.server_name.is_some() {
            return Ok(self);
        }
        let host = match target.rsplit_once(':') {
            Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => target,
        };
        if host.parse::<std::net::IpAddr>().is_ok() || host.is_empty() {
            Ok(self)
        } else {
            self.server_name(host)
        }
    }
}

/// How a client reaches a server.
#[derive(Debug, Clone, Default)]
pub enum ClientTransport {
    /// Plain TCP.
    #[default]
    Plain,
    /// TLS, verified as the settings say.
    Tls(ClientTls),
}

impl ClientTransport {
    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The transport for a `HOST:PORT` target as written (a command line, a shard map): TLS
    /// verifies the host name when the target names one and no server name was set.
    pub fn for_target(&self, target: &str) -> Result<Self, TlsError> {
        match self {
            Self::Plain => Ok(Self::Plain),
            Self::Tls(tls) => Ok(Self::Tls(tls.clone().server_name_from_target(target)?)),
        }
    }

    /// Connects to `addr` (and does the TLS handshake, verifying the server).
    pub async fn connect(&self, addr: SocketAddr) -> Result<Stream, TlsError> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| TlsError::Connect { addr, source })?;
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set nodelay");
        }
        let Self::Tls(tls) = self else {
            return Ok(Box::new(tcp));
        };
        let name = tls
            .server_name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
        let stream = TlsConnector::from(tls.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| TlsError::Handshake {
                addr,
                source: readable(source),
            })?;
        Ok(Box::new(stream))
    }
}

/// rustls prints its own certificate errors well, but one of ours (a pin mismatch) only with
/// `Debug`: that one is given its message.
fn readable(error: std::io::Error) -> std::io::Error {
    let ours = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|rustls_error| match rustls_error {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                Some(format!("invalid peer certificate: {}", other.0))
            }
            _ => None,
        });
    match ours {
        Some(message) => std::io::Error::new(error.kind(), message),
        None => error,
    }
}
