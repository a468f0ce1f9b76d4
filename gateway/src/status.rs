//! The status listener (separate port, never shadowed by user routes).
//!
//! * `GET /status` — 200 with the configuration version, readiness and database reachability.
//! * `GET /status/ready` — 200 `{"message":"ready"}` once a configuration is loaded, else 503.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;

use crate::state::Shared;

/// Answer one status request.
pub fn respond(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/status" => (
            StatusCode::OK,
            json!({
                "ready": shared.is_ready(),
                "configuration_version": shared.version(),
                "database": { "reachable": shared.db_reachable() },
                "reload_failures": shared.reload_failures(),
                "server": { "version": gateway_core::KONG_VERSION },
            }),
        ),
        "/status/ready" if shared.is_ready() => (StatusCode::OK, json!({ "message": "ready" })),
        "/status/ready" => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "message": "no configuration loaded yet" }),
        ),
        _ => (StatusCode::NOT_FOUND, json!({ "message": "Not found" })),
    };
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

/// Serve the status endpoints forever.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let res = respond(&shared, &req);
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
