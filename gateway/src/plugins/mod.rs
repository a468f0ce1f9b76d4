//! The per-route plugin pipeline: the [`Plugin`] trait and what a request carries through it.
//!
//! INTERFACE CONTRACT between the proxy (which runs the pipeline) and the plugins:
//! * Plugins are built once per snapshot by [`build`] from a stored [`model::Plugin`] row and
//!   the snapshot's [`Indexes`] (consumers and JWT credentials by key). A plugin that fails to
//!   build makes its route answer 500 (fail closed, never skip auth).
//! * Per request the proxy runs, in priority order (high first): `access` of each plugin; a
//!   [`Flow::Respond`] ends the access phase and that response is sent instead of proxying.
//! * `header_filter` runs on EVERY response of the route — proxied, plugin-made (e.g. the jwt
//!   401, the cors preflight) or gateway-made (502/504) — in priority order.
//! * `log` runs once the response body has been fully sent (or the exchange failed), with the
//!   [`Summary`]. It must never block or fail.
//! * A request no route matches runs the GLOBAL instances (no route, service or consumer) like
//!   Kong's `get_collected_iterator` falling back to the globals: `header_filter` and `log` on
//!   the 404, never `access` (Kong's router miss exits before plugins are collected). Their
//!   [`Summary`] has no route, service or consumer. The same holds for the 426 / HTTPS redirect
//!   of an https-only route reached over HTTP (Kong answers it in the router step too).

pub mod cors;
pub mod jwt;
pub mod statsd;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::model;
use http::{request, response, Response};
use http_body_util::Full;

/// Outcome of a plugin's access phase.
pub enum Flow {
    /// Go on with the next plugin, then proxy.
    Continue,
    /// Stop and answer this (still passed through `header_filter` of every plugin).
    Respond(Response<Full<Bytes>>),
}

/// The authenticated consumer of a request, set by an auth plugin.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The consumer.
    pub consumer: Arc<model::Consumer>,
    /// The credential's identifier (jwt: its `key`); `None` for the anonymous consumer.
    pub credential: Option<Arc<str>>,
}

/// Per-request state shared by the phases of one request.
#[derive(Debug, Default)]
pub struct RequestCx {
    /// Set by an auth plugin on success (or to the anonymous consumer).
    pub authenticated: Option<Authenticated>,
    /// Whether the request is a CORS preflight (set by cors: answered by it, or proxied with
    /// `preflight_continue`; either way its header_filter then adds nothing).
    pub preflight: bool,
    /// The request id (`X-Kong-Request-Id`), used in error-template bodies made by plugins;
    /// empty when unknown (plugins then fall back to the request's `X-Kong-Request-Id`).
    pub request_id: String,
}

/// What the log phase knows of a finished exchange.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The matched route; `None` when no route matched (global plugins on the 404).
    pub route: Option<Arc<model::Route>>,
    /// The route's service, `None` for a route without one.
    pub service: Option<Arc<model::Service>>,
    /// The consumer, when authenticated.
    pub consumer: Option<Arc<model::Consumer>>,
    /// Status sent to the client.
    pub status: u16,
    /// Bytes received from the client: request line + headers + body.
    pub request_size: u64,
    /// Bytes sent to the client: status line + headers + body.
    pub response_size: u64,
    /// Whole exchange, request received to last byte sent.
    pub latency: Duration,
    /// Upstream request sent to upstream response headers; `None` when not proxied.
    pub upstream_latency: Option<Duration>,
    /// Time spent in the gateway itself (latency minus upstream time).
    pub gateway_latency: Duration,
}

/// A compiled per-route plugin. Every phase is a no-op unless overridden.
pub trait Plugin: Send + Sync {
    /// Plugin name (`jwt`, `cors`, `statsd`).
    fn name(&self) -> &'static str;
    /// Kong's PRIORITY; the pipeline runs higher first.
    fn priority(&self) -> u32;
    /// Before the upstream is contacted. May rewrite the request or answer it.
    fn access(&self, _req: &mut request::Parts, _cx: &mut RequestCx) -> Flow {
        Flow::Continue
    }
    /// Response headers are about to be sent (any response of the route).
    fn header_filter(&self, _req: &request::Parts, _res: &mut response::Parts, _cx: &RequestCx) {}
    /// The exchange is over. Metrics and logs only; never blocks, never fails.
    fn log(&self, _summary: &Summary) {}
}

/// Lookups built once per snapshot and shared by the plugins of that snapshot.
#[derive(Debug, Default)]
pub struct Indexes {
    /// Consumers by id.
    pub consumers_by_id: HashMap<uuid::Uuid, Arc<model::Consumer>>,
    /// Consumers by username.
    pub consumers_by_username: HashMap<String, Arc<model::Consumer>>,
    /// JWT credentials by `key`.
    pub jwt_by_key: HashMap<String, Arc<model::JwtSecret>>,
    /// JWT credentials compiled (keys parsed) on first use by a jwt plugin of the snapshot;
    /// owned by the jwt plugin, leave it `Default`.
    pub jwt_credentials: OnceLock<Arc<jwt::keys::Credentials>>,
}

/// Compile one stored plugin row into a runnable plugin for a snapshot.
///
/// Called once per plugin row per snapshot (never per request). An `Err` makes every route the
/// instance applies to answer 500 (fail closed).
pub fn build(plugin: &model::Plugin, indexes: &Arc<Indexes>) -> Result<Arc<dyn Plugin>, String> {
    // Normalizing again fills defaults of configs written by older versions (or by hand) and
    // re-checks them; it is idempotent on what the admin stored.
    let config = gateway_core::plugin_config::normalize(
        &plugin.name,
        Some(&plugin.config),
        gateway_core::store::InputFormat::Json,
    )
    .map_err(|e| {
        format!(
            "invalid {} config: {}",
            plugin.name,
            serde_json::Value::Object(e)
        )
    })?;
    let built: Arc<dyn Plugin> = match plugin.name.as_str() {
        "jwt" => Arc::new(jwt::JwtPlugin::build(&config, indexes)?),
        "cors" => Arc::new(cors::CorsPlugin::build(&config)?),
        "statsd" => Arc::new(statsd::StatsdPlugin::build(&config)?),
        other => return Err(format!("plugin '{other}' not available")),
    };
    Ok(built)
}

#[cfg(test)]
mod build_tests;
