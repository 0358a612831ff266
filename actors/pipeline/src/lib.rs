//! The pipeline from a capture to Spider records.
