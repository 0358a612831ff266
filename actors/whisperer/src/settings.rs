//! The capture settings the backend can change while the Whisperer runs (filter, limits, on/off),
//! their validation, and the cell the capture workers read them from.
//!
//! A change gets a new generation; workers compare generations once per ring block and reopen
//! their sockets only when the filter or on/off changed. An invalid setting is refused as a whole
//! (the settings in force stay) with a message that says what is wrong.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The live settings of a Whisperer.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// Capture on (true) or paused (false: the sockets are closed).
    pub capture: bool,
    /// A pcap filter expression run in the kernel; `None`: everything.
    pub filter: Option<String>,
    /// Bytes (on the wire) captured per minute at most; 0: no limit. Beyond it, frames are
    /// dropped until the minute ends, and counted (`limit_drops`).
    pub throughput_limit: u64,
    /// CPU the Whisperer's threads may use, in percent of one core; 0: no limit. Over it, frames
    /// are dropped (and counted) for a cool-down period.
    pub cpu_budget: f32,
    /// Do not send TCP segments that are bare ACKs (no data, no SYN/FIN/RST); they are still
    /// tracked, and counted (`skipped_empty_acks`).
    pub skip_empty_acks: bool,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            capture: true,
            filter: None,
            throughput_limit: 0,
            cpu_budget: 0.0,
            skip_empty_acks: false,
        }
    }
}

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Filter(String),
    #[error("cpu budget {0} must be a number of percent of one core, 0 or more")]
    CpuBudget(String),
}

impl CaptureSettings {
    /// Checks every field; the filter is compiled (for Ethernet) without opening anything.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(filter) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            spider_capture::check_filter(filter)
                .map_err(|error| SettingsError::Filter(error.to_string()))?;
        }
        if !self.cpu_budget.is_finite() || self.cpu_budget < 0.0 {
            return Err(SettingsError::CpuBudget(self.cpu_budget.to_string()));
        }
        Ok(())
    }

    /// The filter, with an empty expression meaning none.
    pub fn effective_filter(&self) -> Option<&str> {
        self.filter.as_deref().filter(|f| !f.trim().is_empty())
    }
}

/// The settings in force and their generation, shared by the workers and the control side.
#[derive(Debug)]
pub struct SettingsCell {
    current: RwLock<Arc<CaptureSettings>>,
    generation: AtomicU64,
}

impl SettingsCell {
    pub fn new(settings: CaptureSettings) -> Self {
        Self {
            current: RwLock::new(Arc::new(settings)),
            generation: AtomicU64::new(1),
        }
    }

    /// The generation in force (grows with every accepted change).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The settings in force and their generation.
    pub fn get(&self) -> (Arc<CaptureSettings>, u64) {
        let guard = match self.current.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        (guard.clone(), self.generation())
    }

    /// Validates and installs `settings`; returns the new generation, or why they were refused
    /// (the settings in force stay).
    pub fn apply(&self, settings: CaptureSettings) -> Result<u64, SettingsError> {
        settings.validate()?;
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(settings);
        Ok(self.generation.fetch_add(1, Ordering::AcqRel) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_refused_and_the_old_ones_stay() {
        let cell = SettingsCell::new(CaptureSettings::default());
        let bad = CaptureSettings {
            filter: Some("tcp port".into()),
            ..CaptureSettings::default()
        };
        let error = cell.apply(bad).expect_err("bad filter");
        assert!(error.to_string().contains("does not compile"), "{error}");
        assert_eq!(cell.generation(), 1);
        let good = CaptureSettings {
            filter: Some("tcp port 80".into()),
            ..CaptureSettings::default()
        };
        assert_eq!(cell.apply(good.clone()), Ok(2));
        assert_eq!(*cell.get().0, good);
        let negative = CaptureSettings {
            cpu_budget: -1.0,
            ..CaptureSettings::default()
        };
        assert!(cell.apply(negative).is_err());
    }
}
