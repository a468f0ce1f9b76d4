//! `GET /` (node information) and `GET /status` (health and counters), kong-compat §1.8.

use std::time::Duration;

use axum::response::Response;
use gateway_core::{plugin_config::PLUGINS, store::ApiError, KONG_VERSION};
use serde_json::{json, Map, Value};

use crate::{
    response,
    state::{AppState, Counters},
};

/// How long `GET /status` waits for the database before reporting it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /`: tagline, version, node facts, plugins and the sanitized configuration.
pub async fn root(state: &AppState) -> Result<Response, ApiError> {
    let mut available = Map::new();
    for p in PLUGINS {
        available.insert(
            p.name.into(),
            json!({ "version": KONG_VERSION, "priority": p.priority }),
        );
    }
    let mut enabled = state.store.plugin_names().await?;
    enabled.sort();
    enabled.dedup();
    let pid = std::process::id();
    let body = json!({
        "tagline": "Welcome to kong",
        "version": KONG_VERSION,
        "edition": "community",
        "hostname": state.node.hostname,
        "node_id": state.node.node_id.to_string(),
        "timers": { "running": 0, "pending": 0 },
        "plugins": { "available_on_server": available, "enabled_in_cluster": enabled },
        "configuration": configuration(state),
        "pids": { "master": pid, "workers": [pid] },
    });
    Ok(response::json(200, &body))
}

/// The sanitized configuration: no database URL, no token, nothing secret.
fn configuration(state: &AppState) -> Value {
    let names: Vec<&str> = PLUGINS.iter().map(|p| p.name).collect();
    let loaded: Map<String, Value> = names
        .iter()
        .map(|n| ((*n).to_owned(), Value::Bool(true)))
        .collect();
    json!({
        "database": if state.store.is_postgres() { "postgres" } else { "sqlite" },
        "role": "traditional",
        "router_flavor": "traditional_compatible",
        "admin_listen": state.node.admin_listen,
        "plugins": names,
        "loaded_plugins": loaded,
        "admin_auth": "token",
    })
}

/// A memory unit of `GET /status?unit=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    B,
    K,
    M,
    G,
}

fn parse_unit_args(query: &str) -> Result<(Unit, usize), ApiError> {
    let mut unit = Unit::M;
    let mut scale = 2usize;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "unit" => {
                unit = match v.as_ref() {
                    "b" | "B" => Unit::B,
                    "k" | "K" => Unit::K,
                    "m" | "M" => Unit::M,
                    "g" | "G" => Unit::G,
                    other => {
                        return Err(ApiError::message(
                            400,
                            format!("invalid unit '{other}' (expected 'k/K', 'm/M', or 'g/G')"),
                        ))
                    }
                }
            }
            "scale" => {
                scale = v
                    .parse::<usize>()
                    .map_err(|_| ApiError::message(400, "scale must be equal or greater than 0"))?
                    .min(10)
            }
            _ => {}
        }
    }
    Ok((unit, scale))
}

/// Kong's `bytes_to_str`: a number for bytes, otherwise `"<n> KiB|MiB|GiB"`.
fn format_bytes(bytes: u64, unit: Unit, scale: usize) -> Value {
    let (div, suffix) = match unit {
        Unit::B => return json!(bytes),
        Unit::K => (1024f64, "KiB"),
        Unit::M => (1024f64 * 1024.0, "MiB"),
        Unit::G => (1024f64 * 1024.0 * 1024.0, "GiB"),
    };
    Value::String(format!("{:.*} {suffix}", scale, bytes as f64 / div))
}

/// Resident memory of this process (Linux `/proc`), 0 when unknown.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `GET /status`: database reachability, memory and server counters (always 200).
pub async fn status(state: &AppState, query: &str) -> Result<Response, ApiError> {
    let (unit, scale) = parse_unit_args(query)?;
    // A database that hangs must not hang the health endpoint.
    let reachable = tokio::time::timeout(PING_TIMEOUT, state.store.ping())
        .await
        .unwrap_or(false);
    let c = &state.counters;
    let active = Counters::get(&c.connections_active);
    let writing = Counters::get(&c.requests_active);
    let body = json!({
        "database": { "reachable": reachable },
        "memory": {
            "workers_lua_vms": [{
                "http_allocated_gc": format_bytes(resident_bytes(), unit, scale),
                "pid": std::process::id(),
            }],
            "lua_shared_dicts": {},
        },
        "server": {
            "connections_accepted": Counters::get(&c.connections_accepted),
            "connections_active": active,
            "connections_handled": Counters::get(&c.connections_handled),
            "connections_reading": 0,
            "connections_waiting": active.saturating_sub(writing),
            "connections_writing": writing,
            "total_requests": Counters::get(&c.total_requests),
        },
    });
    Ok(response::json(200, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_unit_args(""), Ok((Unit::M, 2)));
        assert_eq!(parse_unit_args("unit=k&scale=0"), Ok((Unit::K, 0)));
        assert_eq!(parse_unit_args("unit=x").map_err(|e| e.status), Err(400));
        assert_eq!(parse_unit_args("scale=-1").map_err(|e| e.status), Err(400));
        assert_eq!(format_bytes(2 * 1024 * 1024, Unit::M, 2), json!("2.00 MiB"));
        assert_eq!(format_bytes(1536, Unit::K, 1), json!("1.5 KiB"));
        assert_eq!(format_bytes(7, Unit::B, 2), json!(7));
    }

    #[test]
    fn rss_is_known_on_linux() {
        assert!(resident_bytes() > 0);
    }
}
