//! Kong-compatible API gateway data plane.
//!
//! * [`server`] — the proxy listener (HTTP/1.1 + h2c, limits, graceful drain).
//! * [`proxy`] — the request handler: route, plugins, upstream exchange, response.
//! * [`router`] — Kong `traditional_compatible` route matching.
//! * [`path`] — request path normalization and upstream path joining.
//! * [`headers`] — header rewriting between client and upstream.
//! * [`upstream`] — pooled upstream clients (HTTP/1.1, h2, TLS, retries).
//! * [`body`] — streaming body wrappers (byte counting, idle timeout, log hook).
//! * [`error`] — gateway-made error responses in Kong's shapes.
//! * [`snapshot`] — one compiled configuration version.
//! * [`reload`] — keeping the snapshot current (NOTIFY, polling, disk cache).
//! * [`state`] — what the listeners and the reload task share.
//! * [`status`] — the status listener.
//! * [`trusted`] — `trusted_ips`.
//! * [`plugins`] — the per-route plugin pipeline contract and the plugins.

pub mod body;
pub mod error;
pub mod headers;
pub mod path;
pub mod plugins;
pub mod proxy;
pub mod reload;
pub mod router;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod trusted;
pub mod upstream;
