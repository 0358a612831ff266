//! `spider cert`: a self-signed certificate and key for a listener, and the pin clients give
//! (`--tls-pin`), so that TLS is one command away.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use spider_tls::SelfSigned;

#[derive(Debug, clap::Args)]
pub struct CertArgs {
    /// A name the certificate is for: a DNS name or an IP address (repeat; clients connecting
    /// by one of them verify it with --tls-ca). Default: localhost, 127.0.0.1 and the host name.
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// Where the certificate (PEM) goes.
    #[arg(long, default_value = "spider-tls.crt")]
    pub cert: PathBuf,
    /// Where the private key (PEM, mode 0600) goes.
    #[arg(long, default_value = "spider-tls.key")]
    pub key: PathBuf,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 825)]
    pub days: u32,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CertArgs) -> anyhow::Result<ExitCode> {
    let names = if args.names.is_empty() {
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let host = crate::common::host_name("");
        if !host.is_empty() && !names.contains(&host) {
            names.push(host);
        }
        names
    } else {
        args.names.clone()
    };
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    for path in [&args.cert, &args.key] {
        anyhow::ensure!(
            args.force || !path.exists(),
            "{} exists (--force replaces it)",
            path.display()
        );
    }
    let cert = SelfSigned::generate(&names, args.days).context("cannot make a certificate")?;
    write(&args.key, cert.key_pem.as_bytes(), 0o600)?;
    write(&args.cert, cert.cert_pem.as_bytes(), 0o644)?;
    println!("{}", cert.fingerprint);
    eprintln!(
        "spider cert: {} and {} for {} ({} days)\n  \
         serve:   --tls-cert {} --tls-key {}   (backend: [tls] cert/key)\n  \
         connect: --tls-pin {}   or   --tls-ca {}",
        args.cert.display(),
        args.key.display(),
        names.join(", "),
        args.days,
        args.cert.display(),
        args.key.display(),
        cert.fingerprint,
        args.cert.display(),
    );
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
