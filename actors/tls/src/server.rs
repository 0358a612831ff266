//! The server side: a certificate and key, and accepting a connection as plain TCP or TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::{Fingerprint, Stream, TlsError};

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's certificate chain and key, ready to accept TLS connections.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl ServerTls {
    /// Reads a PEM certificate chain (the server's certificate first) and its PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let certs = crate::read_file(cert)?;
        let keys = crate::read_file(key)?;
        let chain = parse_certs(&certs, &cert.display().to_string())?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.to_owned(),
            });
        }
        let key_der = PrivateKeyDer::from_pem_slice(&keys).map_err(|_| TlsError::NoKey {
            path: key.to_owned(),
        })?;
        Self::new(chain, key_der)
    }

    /// From PEM text in memory (a certificate chain, then a key).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = parse_certs(cert_pem, "certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| TlsError::Pem {
            what: "private key".into(),
            message: error.to_string(),
        })?;
        Self::new(chain, key)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let leaf = chain.first().ok_or_else(|| TlsError::Pem {
            what: "certificate".into(),
            message: "no certificate".into(),
        })?;
        let fingerprint = Fingerprint::of_der(leaf.as_ref());
        let config = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            fingerprint,
        })
    }

    /// The pin of the server's certificate (what `--tls-pin` takes).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

/// Every certificate of a PEM text.
pub(crate) fn parse_certs(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            what: what.to_owned(),
            message: error.to_string(),
        })
}

/// How a listener takes its connections.
#[derive(Debug, Clone, Default)]
pub enum ServerTransport {
    /// Plain TCP (loopback, `spider up`, tests; or explicitly allowed).
    #[default]
    Plain,
    /// TLS with this certificate.
    Tls(ServerTls),
}

impl ServerTransport {
    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// Takes an accepted TCP connection: as it is, or after the TLS handshake (which fails for a
    /// client that does not speak TLS, or does not trust this certificate, or takes longer than
    /// 10 s). A client that closes without sending a byte (a port check, a load balancer's
    /// probe) is an error too, one [`is_silent_close`] recognises.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<Stream> {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set nodelay");
        }
        let Self::Tls(tls) = self else {
            return Ok(Box::new(tcp));
        };
        let handshake = async {
            let mut first = [0u8; 1];
            if tcp.peek(&mut first).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    SilentClose,
                ));
            }
            tls.acceptor.accept(tcp).await
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(stream) => Ok(Box::new(stream?)),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not finish the tls handshake in time",
            )),
        }
    }
}

/// The client closed the connection without sending anything.
#[derive(Debug, thiserror::Error)]
#[error("the client closed the connection without sending anything")]
struct SilentClose;

/// Whether an error of [`ServerTransport::accept`] is a client that closed without sending a
/// byte (a TCP port check), rather than a refused handshake.
pub fn is_silent_close(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<SilentClose>().is_some())
}

/// A plaintext listener is allowed on loopback; anywhere else only when `insecure_plaintext`
/// says so (TLS listeners are always allowed).
pub fn check_plaintext_listener(
    transport: &ServerTransport,
    addr: SocketAddr,
    insecure_plaintext: bool,
) -> Result<(), TlsError> {
    if transport.is_tls() || addr.ip().is_loopback() || insecure_plaintext {
        if !transport.is_tls() && !addr.ip().is_loopback() {
            tracing::warn!(%addr, "listening in plaintext (insecure plaintext allowed)");
        }
        Ok(())
    } else {
        Err(TlsError::PlaintextNotLoopback { addr })
    }
}
