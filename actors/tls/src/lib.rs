//! TLS for Spider's Cap'n Proto connections (rustls, ring).
//!
//! Owns: loading a server's certificate and key (PEM), the server side of a connection
//! ([`ServerTransport`]: plain TCP or TLS), the client side ([`ClientTransport`]: plain TCP, or TLS
//! verified against a CA file or pinned to the SHA-256 fingerprint of the server's certificate),
//! the rule that a plaintext listener stays on loopback unless asked otherwise
//! ([`check_plaintext_listener`]), and self-signed certificates for a quick start
//! ([`SelfSigned`]). Both sides hand back a boxed byte stream that the Cap'n Proto transport runs
//! over.
//!
//! Must not: speak Cap'n Proto, know Spider's roles or their configuration files.

mod cert;
mod client;
mod pin;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use cert::SelfSigned;
pub use client::{ClientTls, ClientTransport};
pub use pin::Fingerprint;
pub use server::{check_plaintext_listener, is_silent_close, ServerTls, ServerTransport};

/// A byte stream a Cap'n Proto connection runs over: a TCP stream, or TLS over one.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A connection's stream, whichever transport made it.
pub type Stream = Box<dyn Io>;

/// Why TLS settings could not be loaded or a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate in it")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{what}: not valid PEM: {message}")]
    Pem { what: String, message: String },
    #[error("tls settings refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("not a certificate pin: {0} (expected sha256:HEX, 64 hex digits)")]
    InvalidPin(String),
    #[error("not a server name: {0}")]
    InvalidServerName(String),
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(
        "refusing a plaintext listener on {addr}: give a certificate and key (TLS), listen on \
         loopback, or allow it explicitly (insecure plaintext)"
    )]
    PlaintextNotLoopback { addr: SocketAddr },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("tls handshake with {addr} failed: {source}")]
    Handshake {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The ring provider, explicitly: the process never depends on a process-wide default.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a file whole, naming it in the error.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}
