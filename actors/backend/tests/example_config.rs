//! The backend configurations shipped in `deploy/` load with the node's own loader
//! (`BackendConfig::load`, as `spider backend --config FILE` does), and keep no admin token: that
//! comes from the environment (`SPIDER_BACKEND_ADMIN_TOKEN`, a Secret in Kubernetes).

use std::path::{Path, PathBuf};
use std::time::Duration;

use spider_backend::BackendConfig;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Loads `file` as the node would once the token is given: the file's text after an
/// `admin_token` line (TOML keys before any table), through `BackendConfig::load`.
fn load(file: &Path) -> BackendConfig {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let parsed: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not TOML: {e}", file.display()));
    assert!(
        !parsed.contains_key("admin_token"),
        "{} holds an admin token: it belongs in the environment or a Secret",
        file.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let with_token = dir.path().join("backend.toml");
    std::fs::write(
        &with_token,
        format!("admin_token = \"{}\"\n{text}", "t".repeat(32)),
    )
    .expect("write");
    BackendConfig::load(Some(&with_token))
        .unwrap_or_else(|e| panic!("{} does not load (line numbers +1): {e}", file.display()))
}

#[test]
fn every_shipped_backend_configuration_loads() {
    let files = [
        "config/backend.toml",
        "kubernetes/base/backend/backend.toml",
        "kubernetes/overlays/production/backend.toml",
    ];
    for file in files {
        let config = load(&deploy().join(file));
        // Where the images, the StatefulSet's volume and the unit's StateDirectory put the data,
        // unless the environment of this test overrides it.
        if std::env::var_os("SPIDER_BACKEND_DATA_DIR").is_none() {
            assert_eq!(config.data_dir, Path::new("/var/lib/spider"), "{file}");
        }
        if std::env::var_os("SPIDER_BACKEND_LISTEN").is_none() {
            assert_eq!(config.listen.port(), 7070, "{file}");
            assert!(
                config.listen.ip().is_unspecified(),
                "{file}: agents on other hosts and pods must reach {}",
                config.listen
            );
        }
        assert!(config.retention.purge_interval > Duration::ZERO, "{file}");
        if std::env::var_os("SPIDER_BACKEND_AGENT_BYTES_PER_SECOND").is_none() {
            assert!(
                config.limits.rate_of("any-agent").is_some(),
                "{file}: agents keep an ingest rate"
            );
        }
    }
    let production = load(&deploy().join("kubernetes/overlays/production/backend.toml"));
    if std::env::var_os("SPIDER_BACKEND_SYNC_WAL").is_none() {
        assert!(
            production.sync_wal,
            "production acknowledges batches after an fsync"
        );
    }
}

#[test]
fn a_broken_example_would_be_caught() {
    // The same loader refuses a misspelt field: the test above can fail.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("backend.toml");
    std::fs::write(
        &file,
        format!("admin_token = \"{}\"\nlocal_shard = 2\n", "t".repeat(32)),
    )
    .expect("write");
    let error = BackendConfig::load(Some(&file)).expect_err("an unknown field");
    assert!(error.to_string().contains("local_shard"), "{error}");
}
