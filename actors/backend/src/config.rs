//! The backend node's configuration: a TOML file, with environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every setting of a backend node. In TOML, every field is optional and defaults as documented.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    /// Where the shards keep their data (`SPIDER_BACKEND_DATA_DIR`). Default `./spider-data`.
    pub data_dir: PathBuf,
    /// The Cap'n Proto RPC listener (`SPIDER_BACKEND_LISTEN`). Default `127.0.0.1:7070`.
    pub listen: SocketAddr,
    /// Storage shards on this node (`SPIDER_BACKEND_LOCAL_SHARDS`); virtual shard `v` is stored by
    /// local shard `v % local_shards`. Default 2.
    pub local_shards: u16,
    /// The admin token agents and users log in with (`SPIDER_BACKEND_ADMIN_TOKEN`). Required.
    pub admin_token: String,
    /// fsync the write-ahead log on every batch (`SPIDER_BACKEND_SYNC_WAL`): acknowledged batches
    /// then survive power loss, not only a crash of the process. Default false.
    pub sync_wal: bool,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./spider-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            local_shards: 2,
            admin_token: String::new(),
            sync_wal: false,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value {value:?} of {variable}: {reason}")]
    Env {
        variable: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl BackendConfig {
    /// Reads `path` (when given), then applies the `SPIDER_BACKEND_*` environment variables.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            variable: &'static str,
            value: String,
        ) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|error: T::Err| ConfigError::Env {
                variable,
                value,
                reason: error.to_string(),
            })
        }
        if let Some(value) = var("SPIDER_BACKEND_DATA_DIR") {
            self.data_dir = PathBuf::from(value);
        }
        if let Some(value) = var("SPIDER_BACKEND_LISTEN") {
            self.listen = parse("SPIDER_BACKEND_LISTEN", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_LOCAL_SHARDS") {
            self.local_shards = parse("SPIDER_BACKEND_LOCAL_SHARDS", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_ADMIN_TOKEN") {
            self.admin_token = value;
        }
        if let Some(value) = var("SPIDER_BACKEND_SYNC_WAL") {
            self.sync_wal = parse("SPIDER_BACKEND_SYNC_WAL", value)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.local_shards == 0 || self.local_shards > 256 {
            return Err(ConfigError::Invalid(format!(
                "local_shards must be 1 to 256, not {}",
                self.local_shards
            )));
        }
        if self.admin_token.len() < 16 {
            return Err(ConfigError::Invalid(
                "admin_token must be set, 16 characters at least".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_then_environment() {
        let mut config: BackendConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\nlocal_shards = 4\n").unwrap();
        assert_eq!(config.local_shards, 4);
        config
            .apply_env(|name| match name {
                "SPIDER_BACKEND_LOCAL_SHARDS" => Some("8".into()),
                "SPIDER_BACKEND_ADMIN_TOKEN" => Some("x".repeat(32)),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.local_shards, 8);
        assert_eq!(config.listen.port(), 9000);
        config.validate().unwrap();
    }

    #[test]
    fn bad_values_are_clear_errors() {
        assert!(
            toml::from_str::<BackendConfig>("shards = 3").is_err(),
            "unknown fields refused"
        );
        let mut config = BackendConfig::default();
        let error = config
            .apply_env(|name| (name == "SPIDER_BACKEND_LISTEN").then(|| "nowhere".into()))
            .unwrap_err();
        assert!(error.to_string().contains("SPIDER_BACKEND_LISTEN"));
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("admin_token"));
    }
}
