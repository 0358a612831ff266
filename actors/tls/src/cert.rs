//! Self-signed certificates, for a quick start (`spider cert`) and for tests.

use std::net::IpAddr;

use crate::{Fingerprint, TlsError};

/// A self-signed certificate and its key, as PEM, with its pin.
#[derive(Clone)]
pub struct SelfSigned {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PEM, PKCS#8).
    pub key_pem: String,
    /// What clients pin: the SHA-256 of the certificate's DER.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SelfSigned {
    /// A certificate (ECDSA P-256) for these names: each is a DNS name, or an IP address entry
    /// when it parses as one. Valid from now for `days` days.
    pub fn generate(names: &[String], days: u32) -> Result<Self, TlsError> {
        let now = std::time::SystemTime::now();
        let until = now + std::time::Duration::from_secs(u64::from(days) * 86_400);
        Self::generate_valid(names, now, until)
    }

    /// As [`SelfSigned::generate`], valid between two instants (an expired one, for tests).
    pub fn generate_valid(
        names: &[String],
        not_before: std::time::SystemTime,
        not_after: std::time::SystemTime,
    ) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let common = names.first().map_or("spider", String::as_str);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common);
        // A name of its own (from its key), so that a client trusting another self-signed
        // certificate for the same host says "unknown issuer", not "bad signature".
        let digest = ring::digest::digest(&ring::digest::SHA256, &key.public_key_der());
        let unit: String = digest.as_ref()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        params.distinguished_name.push(
            rcgen::DnType::OrganizationalUnitName,
            format!("spider {unit}"),
        );
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => Ok(rcgen::SanType::IpAddress(ip)),
                Err(_) => rcgen::Ia5String::try_from(name.as_str()).map(rcgen::SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let cert = params.self_signed(&key)?;
        Ok(Self {
            fingerprint: Fingerprint::of_der(cert.der()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
