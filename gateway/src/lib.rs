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
//!
//! # Environment of the `gateway` binary
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `PORT` / `--listen ADDR` | proxy listener (HTTP/1.1 + h2c) | `0.0.0.0:8080` |
//! | `STATUS_LISTEN` / `--status-listen` | `/status`, `/status/ready` | `127.0.0.1:8100` |
//! | `DATABASE_URL` (+ `_FILE`, Secret Manager) | store; unset: embedded SQLite | `sqlite://$GATEWAY_DATA_DIR/gateway.db` |
//! | `GATEWAY_DATA_DIR` | embedded store and snapshot cache | `./data` |
//! | `SNAPSHOT_CACHE_PATH` | last good configuration (JSON) | `$GATEWAY_DATA_DIR/snapshot.json` |
//! | `CONFIG_POLL_INTERVAL_MS` | version poll period | 5000 (Postgres, plus NOTIFY), 250 (SQLite) |
//! | `GATEWAY_CA_BUNDLE` | extra trusted roots for upstream TLS (PEM) | none |
//! | `PROXY_SSL_VERIFY` | verify upstream certificates when a service's `tls_verify` is null | `on` |
//! | `TRUSTED_IPS` | clients whose `X-Forwarded-*` are believed (IPs/CIDRs) | none |
//! | `ACCESS_LOG` | `off` disables the per-request access log | on |
//! | `LOG_FORMAT` | `json` for JSON logs on stdout | text |
//! | `DRAIN_TIMEOUT_SECS` | in-flight drain bound after SIGTERM/SIGINT | 30 |

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
