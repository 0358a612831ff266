use spider_decode::{DecodeStats, DecoderConfig, ReassemblyConfig, TrackerConfig, TrackerStats};
use spider_protocols::ParserLimits;

/// Every bound and setting of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    pub decoder: DecoderConfig,
    pub tracker: TrackerConfig,
    pub reassembly: ReassemblyConfig,
    pub parser: ParserLimits,
    /// Out-of-order bytes held across all sessions; beyond it, holes are declared gaps.
    pub max_total_buffered_bytes: usize,
    /// Distinct (ip, name, source) host entries kept.
    pub max_hosts: usize,
    /// DNS queries waiting for their response (for latency).
    pub max_pending_dns: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            decoder: DecoderConfig::default(),
            tracker: TrackerConfig::default(),
            reassembly: ReassemblyConfig::default(),
            parser: ParserLimits::default(),
            max_total_buffered_bytes: 256 * 1024 * 1024,
            max_hosts: 100_000,
            max_pending_dns: 10_000,
        }
    }
}

/// What the pipeline did, and what its limits cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalyzerStats {
    pub decode: DecodeStats,
    pub tracker: TrackerStats,
    pub tcp_gaps: u64,
    pub tcp_lost_bytes: u64,
    /// Holes declared early because `max_total_buffered_bytes` was reached.
    pub gaps_forced_by_memory: u64,
    pub http_exchanges: u64,
    pub dns_responses: u64,
    pub dns_malformed: u64,
    pub tls_server_names: u64,
    pub hosts_dropped_by_limit: u64,
    /// Bytes held right now in reassembly buffers.
    pub buffered_bytes: u64,
}
