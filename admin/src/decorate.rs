//! Outermost middleware: Kong's response headers, request counters and one access-log line.
//!
//! Every response, including 401, 404 and 413, gets `Server`, `X-Kong-Admin-Latency` and the
//! CORS pair (`Access-Control-Allow-Origin` = request `Origin` or `*`,
//! `Access-Control-Allow-Credentials: true`).

use std::{sync::atomic::Ordering, time::Instant};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use gateway_core::KONG_VERSION;

use crate::state::AppState;

/// Decrements the in-flight counter even when the handler future is dropped.
struct InFlight<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware: count, time and decorate every response.
pub async fn decorate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    state
        .counters
        .total_requests
        .fetch_add(1, Ordering::Relaxed);
    state
        .counters
        .requests_active
        .fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(&state.counters.requests_active);

    let origin = req.headers().get(header::ORIGIN).cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();

    let mut res = next.run(req).await;

    let latency_ms = started.elapsed().as_millis();
    let headers = res.headers_mut();
    if let Ok(server) = HeaderValue::from_str(&server_header()) {
        headers.insert(header::SERVER, server);
    }
    headers.insert("x-kong-admin-latency", HeaderValue::from(latency_ms as u64));
    let acao = origin.unwrap_or_else(|| HeaderValue::from_static("*"));
    if acao != "*" {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, acao);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );

    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = res.status().as_u16(),
        latency_ms = latency_ms as u64,
        "admin request"
    );
    res
}

/// `kong/<version>`.
fn server_header() -> String {
    format!("kong/{KONG_VERSION}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_header_names_kong_version() {
        assert_eq!(server_header(), "kong/3.10.0");
    }
}
