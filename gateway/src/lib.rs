//! The gateway: what users and integrations talk to.
//!
//! It owns the REST/JSON API under `/api/v1` (records, timeline, exports, query completion and
//! validation, agents), the WebSocket of live updates, the OpenAPI document, `/metrics`, bearer
//! token auth, and serving the built frontend with an SPA fallback. Every query goes to the backend
//! over Cap'n Proto through one [`bridge`] thread (Cap'n Proto clients are not `Send`).
//!
//! It must not parse protocols, store anything or merge shards itself: the backend's query service
//! does that. Record JSON is the model's serde form (the same as `spider analyze --format ndjson`).

pub mod bridge;
mod config;
mod error;
mod har;
mod metrics;
mod openapi;
mod params;
pub mod routes;
mod server;
mod ui;

pub use config::{AttachDefaults, GatewayConfig};
pub use error::{ApiError, GatewayError};
pub use server::{Gateway, GatewayHandle};
