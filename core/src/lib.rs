//! Shared core of the gateway and its admin API.
//!
//! * [`model`] — the configuration entities (services, routes, consumers, plugins, JWT
//!   credentials) with Kong's field names, as the gateway reads them.
//! * [`error`] — the Admin API error type, rendered in Kong's error shapes.
//! * [`schema`] — Kong-compatible validation and defaulting of entity input.
//! * [`plugin_config`] — schemas, defaults and typed configs of the `jwt`, `cors` and `statsd` plugins.
//! * [`store`] — the configuration store: PostgreSQL or the embedded SQLite file, one code path.
//! * [`secrets`] — credentials from env, files or Scaleway Secret Manager.

pub mod error;
pub mod model;
pub mod plugin_config;
pub mod schema;
pub mod secrets;
pub mod store;

/// Kong version this gateway speaks the dialect of (reported by `GET /` and in `Via`).
pub const KONG_VERSION: &str = "3.10.0";
