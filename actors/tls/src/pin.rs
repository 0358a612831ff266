//! Certificate pins: the SHA-256 fingerprint of a server's certificate (DER), and the verifier
//! that accepts exactly the pinned certificates.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::TlsError;

/// The SHA-256 digest of a certificate's DER bytes, written `sha256:` and 64 lowercase hex
/// digits (`openssl x509 -in cert.pem -outform der | sha256sum` gives the same digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// Parses `sha256:HEX`; colons between the hex pairs (as `openssl x509 -fingerprint` prints
    /// them) and upper case are accepted.
    pub fn parse(text: &str) -> Result<Self, TlsError> {
        let invalid = || TlsError::InvalidPin(text.to_owned());
        let hex = text
            .trim()
            .strip_prefix("sha256:")
            .or_else(|| text.trim().strip_prefix("SHA256:"))
            .ok_or_else(invalid)?;
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = TlsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The server's certificate was not one of the pinned ones.
#[derive(Debug, thiserror::Error)]
#[error("the server's certificate is {found}, not the pinned {expected}")]
struct PinMismatch {
    found: Fingerprint,
    expected: String,
}

/// Accepts a server whose end-entity certificate has one of the pinned fingerprints, and checks
/// that the server holds its key (the handshake's signature). Names, issuers and validity dates
/// are not looked at: the pin is the trust.
#[derive(Debug)]
pub(crate) struct PinVerifier {
    pins: Vec<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinVerifier {
    pub(crate) fn new(pins: Vec<Fingerprint>) -> Arc<Self> {
        Arc::new(Self {
            pins,
            algorithms: crate::provider().signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = Fingerprint::of_der(end_entity.as_ref());
        if self.pins.contains(&found) {
            return Ok(ServerCertVerified::assertion());
        }
        let expected = self
            .pins
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(PinMismatch { found, expected })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_print_and_parse_back() {
        let pin = Fingerprint::of_der(b"not really a certificate");
        let text = pin.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64);
        assert_eq!(Fingerprint::parse(&text).ok(), Some(pin));
        let colons = text.as_bytes()[7..]
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            Fingerprint::parse(&format!("sha256:{colons}")).ok(),
            Some(pin)
        );
        for bad in [
            "",
            "sha256:",
            "md5:00",
            "sha256:zz",
            &text[..text.len() - 1],
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
