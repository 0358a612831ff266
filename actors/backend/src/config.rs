//! The backend node's configuration: a TOML file, with environment overrides.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use spider_redact::RuleSet;

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
    /// Free bytes kept on each shard's disk (`SPIDER_BACKEND_MIN_FREE_BYTES`): below it, ingest
    /// is refused with `storage full:` (counted) so that RocksDB never meets a full disk, and
    /// taken again once space returns. Default 1 GiB.
    pub min_free_bytes: u64,
    /// How long data is kept (`[retention]`).
    pub retention: RetentionConfig,
    /// How fast each agent may push (`[limits]`): beyond it, answers are held back.
    pub limits: crate::throttle::IngestLimits,
    /// What of HTTP exchanges is searchable as text beyond hosts, paths and queries (`[index]`).
    pub index: IndexSettings,
    /// What is masked before anything is stored (`[redaction]`).
    pub redaction: RedactionConfig,
    /// Several nodes, placement kept in etcd (`[cluster]`); unset: one node owning everything.
    pub cluster: crate::cluster::ClusterSettings,
    /// TLS on the listener and towards the other nodes (`[tls]`); unset: plaintext, on
    /// loopback only unless `insecure_plaintext`.
    pub tls: crate::tls::TlsSettings,
}

/// `[retention]`: durations are written like `7d`, `12h`, `30m`, `90s`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Capture data (packets, sessions, HTTP, DNS, hosts) of Whisperers without their own entry
    /// (`SPIDER_BACKEND_RETENTION`). Default `7d`.
    #[serde(deserialize_with = "duration")]
    pub default: Duration,
    /// Per-minute usage counters. Default `30d`.
    #[serde(deserialize_with = "duration")]
    pub usage: Duration,
    /// How often expired data is purged. Default `1h`.
    #[serde(deserialize_with = "duration")]
    pub purge_interval: Duration,
    /// `[retention.whisperers]`: `name = "1d"` per Whisperer (Spider's data storage policies).
    /// A Whisperer's `retention_ttl` setting, when set through the agent registry, overrides it.
    #[serde(deserialize_with = "durations")]
    pub whisperers: BTreeMap<String, Duration>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            default: Duration::from_secs(7 * 24 * 3600),
            usage: Duration::from_secs(30 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
            whisperers: BTreeMap::new(),
        }
    }
}

/// Text indexing of one Whisperer's HTTP exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextIndexSettings {
    /// Index request and response header values. Default true.
    pub headers: bool,
    /// Index decoded textual bodies. Default true.
    pub bodies: bool,
    /// At most this many bytes of each body are indexed. Default 16384.
    pub body_bytes: usize,
}

impl Default for TextIndexSettings {
    fn default() -> Self {
        let defaults = spider_storage::TextIndexing::default();
        Self {
            headers: defaults.headers,
            bodies: defaults.bodies,
            body_bytes: defaults.body_bytes,
        }
    }
}

impl From<TextIndexSettings> for spider_storage::TextIndexing {
    fn from(settings: TextIndexSettings) -> Self {
        Self {
            headers: settings.headers,
            bodies: settings.bodies,
            body_bytes: settings.body_bytes,
        }
    }
}

/// `[index]`: the default text indexing, and `[index.whisperers.NAME]` per Whisperer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexSettings {
    #[serde(flatten)]
    pub default: TextIndexSettings,
    pub whisperers: BTreeMap<String, TextIndexSettings>,
    /// Width of one full-text index partition. Retention drops whole partitions, so an
    /// exchange stays searchable at most this much longer than its retention; keep it well
    /// under the shortest retention. Fixed when a shard's index is created. Default `1h`.
    #[serde(deserialize_with = "duration")]
    pub partition: Duration,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            default: TextIndexSettings::default(),
            whisperers: BTreeMap::new(),
            partition: spider_storage::IndexConfig::default().window,
        }
    }
}

/// `[redaction]`: secrets masked in HTTP exchanges, and in the raw frames that carry them, before
/// anything is stored or indexed (ARCHITECTURE.md, "Redaction"). Names match without regard to
/// ASCII case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Redact at all (`SPIDER_BACKEND_REDACTION`). Default true.
    pub enabled: bool,
    /// Headers whose values are masked, in requests, responses and chunked trailers. Default
    /// `authorization`, `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`, `api-key`,
    /// `x-auth-token`.
    pub headers: Vec<String>,
    /// Keys whose values are masked, at any depth, in `application/json` and
    /// `application/*+json` bodies. Default `password`, `token`, `access_token`,
    /// `refresh_token`, `secret`, `api_key`, `client_secret`.
    pub json_fields: Vec<String>,
    /// Parameters whose values are masked: in the request target's query, in `Referer`,
    /// `Location` and `Content-Location` URLs (query and fragment), and in
    /// `application/x-www-form-urlencoded` bodies. Default: the names of `json_fields`.
    pub query_params: Vec<String>,
    /// Keep who called in an exchange's `Authorization`/`Proxy-Authorization` value: the Basic
    /// user (`Basic alice:****`), a JWT claim (`Bearer <jwt sub=alice> ****`), the Digest
    /// username. The raw frames never keep it. Default true.
    pub keep_identity: bool,
    /// The JWT claims tried, in order, for a Bearer token's identity. Default `["sub"]`.
    pub identity_claims: Vec<String>,
    /// `[redaction.whisperers.NAME]`: any of the fields above for one Whisperer; what it leaves
    /// out is taken from `[redaction]`.
    pub whisperers: BTreeMap<String, RedactionOverride>,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        let rules = RuleSet::default();
        Self {
            enabled: true,
            headers: rules.headers,
            json_fields: rules.json_fields,
            query_params: rules.query_params,
            keep_identity: rules.keep_identity,
            identity_claims: rules.identity_claims,
            whisperers: BTreeMap::new(),
        }
    }
}

/// `[redaction.whisperers.NAME]`: the fields of `[redaction]` this Whisperer has its own; each
/// means what it means there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionOverride {
    /// Redact this Whisperer's data at all.
    pub enabled: Option<bool>,
    /// Headers whose values are masked.
    pub headers: Option<Vec<String>>,
    /// JSON keys whose values are masked.
    pub json_fields: Option<Vec<String>>,
    /// Query, URL and form parameters whose values are masked.
    pub query_params: Option<Vec<String>>,
    /// Keep who called in the exchange's Authorization value.
    pub keep_identity: Option<bool>,
    /// The JWT claims tried for a Bearer token's identity.
    pub identity_claims: Option<Vec<String>>,
}

impl RedactionConfig {
    /// The rules for `whisperer`; `None` when redaction is off for it.
    pub fn rules_for(&self, whisperer: &str) -> Option<RuleSet> {
        let own = self.whisperers.get(whisperer).cloned().unwrap_or_default();
        let enabled = own.enabled.unwrap_or(self.enabled);
        enabled.then(|| self.merged(own))
    }

    fn merged(&self, own: RedactionOverride) -> RuleSet {
        RuleSet {
            headers: own.headers.unwrap_or_else(|| self.headers.clone()),
            json_fields: own.json_fields.unwrap_or_else(|| self.json_fields.clone()),
            query_params: own
                .query_params
                .unwrap_or_else(|| self.query_params.clone()),
            keep_identity: own.keep_identity.unwrap_or(self.keep_identity),
            identity_claims: own
                .identity_claims
                .unwrap_or_else(|| self.identity_claims.clone()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base = std::iter::once(("redaction".to_owned(), RedactionOverride::default()));
        let own = self
            .whisperers
            .iter()
            .map(|(name, own)| (format!("redaction.whisperers.{name}"), own.clone()));
        for (section, own) in base.chain(own) {
            self.merged(own)
                .validate()
                .map_err(|source| ConfigError::Redaction { section, source })?;
        }
        Ok(())
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| format!("{text:?} is not a duration: {error}"))
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn durations<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Duration>, D::Error> {
    BTreeMap::<String, String>::deserialize(deserializer)?
        .into_iter()
        .map(|(name, text)| {
            Ok((
                name,
                parse_duration(&text).map_err(serde::de::Error::custom)?,
            ))
        })
        .collect()
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./spider-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            local_shards: 2,
            admin_token: String::new(),
            sync_wal: false,
            min_free_bytes: spider_storage::DEFAULT_MIN_FREE_BYTES,
            retention: RetentionConfig::default(),
            limits: crate::throttle::IngestLimits::default(),
            index: IndexSettings::default(),
            redaction: RedactionConfig::default(),
            cluster: crate::cluster::ClusterSettings::default(),
            tls: crate::tls::TlsSettings::default(),
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
    #[error("invalid [{section}]: {source}")]
    Redaction {
        section: String,
        source: spider_redact::RuleError,
    },
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
        if let Some(value) = var("SPIDER_BACKEND_MIN_FREE_BYTES") {
            self.min_free_bytes = parse("SPIDER_BACKEND_MIN_FREE_BYTES", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_AGENT_BYTES_PER_SECOND") {
            self.limits.agent_bytes_per_second =
                parse("SPIDER_BACKEND_AGENT_BYTES_PER_SECOND", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_AGENT_BURST_BYTES") {
            self.limits.agent_burst_bytes = parse("SPIDER_BACKEND_AGENT_BURST_BYTES", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_ETCD") {
            self.cluster.etcd = Some(value);
        }
        if let Some(value) = var("SPIDER_BACKEND_NODE") {
            self.cluster.node = value;
        }
        if let Some(value) = var("SPIDER_BACKEND_ADVERTISE") {
            self.cluster.advertise = Some(value);
        }
        if let Some(value) = var("SPIDER_BACKEND_REDACTION") {
            self.redaction.enabled = parse("SPIDER_BACKEND_REDACTION", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_TLS_CERT") {
            self.tls.cert = Some(PathBuf::from(value));
        }
        if let Some(value) = var("SPIDER_BACKEND_TLS_KEY") {
            self.tls.key = Some(PathBuf::from(value));
        }
        if let Some(value) = var("SPIDER_BACKEND_TLS_PEER_CA") {
            self.tls.peer_ca = Some(PathBuf::from(value));
        }
        if let Some(value) = var("SPIDER_BACKEND_INSECURE_PLAINTEXT") {
            self.tls.insecure_plaintext = parse("SPIDER_BACKEND_INSECURE_PLAINTEXT", value)?;
        }
        if let Some(value) = var("SPIDER_BACKEND_RETENTION") {
            self.retention.default = parse_duration(&value).map_err(|reason| ConfigError::Env {
                variable: "SPIDER_BACKEND_RETENTION",
                value,
                reason,
            })?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.cluster.etcd.is_some() && self.cluster.groups != self.local_shards {
            return Err(ConfigError::Invalid(format!(
                "in a cluster a node keeps one local shard per shard group: local_shards ({}) \
                 must equal cluster.groups ({})",
                self.local_shards, self.cluster.groups
            )));
        }
        if self.local_shards == 0 || self.local_shards > 256 {
            return Err(ConfigError::Invalid(format!(
                "local_shards must be 1 to 256, not {}",
                self.local_shards
            )));
        }
        if self.retention.purge_interval.is_zero() {
            return Err(ConfigError::Invalid(
                "retention.purge_interval must be more than zero".into(),
            ));
        }
        if self.index.partition < Duration::from_secs(1) {
            return Err(ConfigError::Invalid(
                "index.partition must be one second at least".into(),
            ));
        }
        self.redaction.validate()?;
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
                "SPIDER_BACKEND_AGENT_BYTES_PER_SECOND" => Some("0".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.local_shards, 8);
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.limits.rate_of("any"), None, "0: unlimited");
        config.validate().unwrap();
    }

    #[test]
    fn retention_and_index_sections() {
        let config: BackendConfig = toml::from_str(
            "[retention]\ndefault = \"2d\"\npurge_interval = \"10s\"\n\
             [retention.whisperers]\nedge = \"1h 30m\"\n\
             [index]\nbodies = false\npartition = \"5m\"\n[index.whisperers.edge]\nheaders = false\n",
        )
        .unwrap();
        assert_eq!(config.retention.default, Duration::from_secs(2 * 86400));
        assert_eq!(config.retention.purge_interval, Duration::from_secs(10));
        assert_eq!(
            config.retention.whisperers["edge"],
            Duration::from_secs(5400)
        );
        assert!(!config.index.default.bodies && config.index.default.headers);
        assert!(!config.index.whisperers["edge"].headers);
        assert_eq!(config.index.partition, Duration::from_secs(300));
        let error = toml::from_str::<BackendConfig>("[retention]\ndefault = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("soon"), "{error}");
    }

    #[test]
    fn redaction_section_with_defaults_and_overrides() {
        let config: BackendConfig = toml::from_str("admin_token = \"0123456789abcdef\"").unwrap();
        let rules = config.redaction.rules_for("any").unwrap();
        assert_eq!(rules, RuleSet::default());
        assert!(rules.headers.contains(&"set-cookie".to_owned()));
        assert!(rules.query_params.contains(&"api_key".to_owned()) && rules.keep_identity);

        let mut config: BackendConfig = toml::from_str(
            "admin_token = \"0123456789abcdef\"\n\
             [redaction]\nheaders = [\"X-Secret\"]\nkeep_identity = false\n\
             [redaction.whisperers.lab]\nenabled = false\n\
             [redaction.whisperers.edge]\njson_fields = [\"pin\"]\nidentity_claims = [\"email\"]\n",
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.redaction.rules_for("lab"), None);
        let edge = config.redaction.rules_for("edge").unwrap();
        assert_eq!(edge.headers, ["X-Secret"]);
        assert_eq!(edge.json_fields, ["pin"]);
        assert_eq!(edge.identity_claims, ["email"]);
        assert!(!edge.keep_identity, "left out: from [redaction]");
        assert_eq!(edge.query_params, RuleSet::default().query_params);

        config
            .apply_env(|name| (name == "SPIDER_BACKEND_REDACTION").then(|| "false".into()))
            .unwrap();
        assert_eq!(config.redaction.rules_for("edge"), None);
        config
            .redaction
            .whisperers
            .entry("edge".into())
            .or_default()
            .enabled = Some(true);
        assert!(config.redaction.rules_for("edge").is_some());
    }

    #[test]
    fn redaction_names_that_cannot_match_are_refused() {
        let config: BackendConfig = toml::from_str(
            "admin_token = \"0123456789abcdef\"\n[redaction.whisperers.w]\nheaders = [\"bad name\"]\n",
        )
        .unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("redaction.whisperers.w") && error.contains("bad name"),
            "{error}"
        );
        assert!(toml::from_str::<BackendConfig>("[redaction]\nheader = []\n").is_err());
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
