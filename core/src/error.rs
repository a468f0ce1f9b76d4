//! Admin API errors in Kong's shapes (kong-compat §1.3).
//!
//! Every error the Admin API returns is an [`ApiError`]: an HTTP status plus the exact JSON body
//! Kong would send. The store and the schema layer build them; the admin renders them as-is.

use serde_json::{json, Value};

/// An Admin API error: HTTP status and Kong's JSON body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status}: {body}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Response body, already in Kong's shape.
    pub body: Value,
}

impl ApiError {
    /// An error with a `{"message": ...}` body.
    pub fn message(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "message": message.into() }),
        }
    }

    /// 404 `{"message":"Not found"}`.
    pub fn not_found() -> Self {
        Self::message(404, "Not found")
    }

    /// A DAO error `{"code":..,"name":..,"message":..,"fields":..}`; `fields` omitted when `None`.
    pub fn dao(
        status: u16,
        code: u16,
        name: &str,
        message: impl Into<String>,
        fields: Option<Value>,
    ) -> Self {
        let mut body = json!({ "code": code, "name": name, "message": message.into() });
        if let Some(fields) = fields {
            body["fields"] = fields;
        }
        Self { status, body }
    }

    /// 500 `{"message":"An unexpected error occurred"}`; the cause is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "admin internal error");
        Self::message(500, "An unexpected error occurred")
    }
}
