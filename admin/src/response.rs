//! Response builders: every Admin API body is JSON in Kong's shapes.

use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use gateway_core::error::ApiError;
use serde_json::{json, Value};

/// Kong's Admin API content type.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON response with Kong's content type.
pub fn json(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Serializing a `Value` cannot fail (all keys are strings).
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = Response::new(Body::from(bytes));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    res
}

/// A `{"message": ...}` response.
pub fn message(status: u16, text: &str) -> Response {
    json(status, &json!({ "message": text }))
}

/// An [`ApiError`] rendered as-is.
pub fn error(err: &ApiError) -> Response {
    json(err.status, &err.body)
}

/// 404 `{"message":"Not found"}`.
pub fn not_found() -> Response {
    message(404, "Not found")
}

/// 405 `{"message":"Method not allowed"}`.
pub fn method_not_allowed() -> Response {
    message(405, "Method not allowed")
}

/// A response with a status and no body.
pub fn empty(status: StatusCode) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res
}

/// A plain-text response (Kong's few nginx-level errors).
pub fn text(status: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
