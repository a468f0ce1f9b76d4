//! Kong-compatible Admin API (kong-compat §1): the HTTP layer over the configuration store.
//!
//! [`app`] builds the axum [`Router`]; the `admin` binary only wires CLI, env, the store and
//! the listener around it.
//!
//! * [`endpoint`] — which endpoint a path names; [`api`] — the entity verbs;
//!   [`list`] — list arguments and pages; [`info`] — `GET /` and `GET /status`.
//! * [`body`], [`form`], [`multipart`] — request-body decoding.
//! * [`auth`] — the admin token; [`decorate`] — Kong's response headers and the access log.
//! * [`backend`] — the store operations the API needs; [`state`] — shared state;
//!   [`listener`] — connection counting.

pub mod api;
pub mod auth;
pub mod backend;
pub mod body;
pub mod decorate;
pub mod endpoint;
pub mod form;
pub mod info;
pub mod list;
pub mod listener;
pub mod multipart;
pub mod response;
pub mod state;

use axum::{middleware, Router};

pub use backend::Backend;
pub use state::{AdminToken, AppState, Counters, NodeInfo};

/// The Admin API router.
///
/// Layers, outermost first (axum runs the layer added last first): `decorate` adds Kong's
/// headers to every response, 401s included, and counts requests; `require_token` refuses
/// unauthenticated requests before any path or body is looked at; `api::dispatch` serves
/// every path itself so that 404/405/OPTIONS/trailing slashes follow Kong exactly.
pub fn app(state: AppState) -> Router {
    Router::new()
        .fallback(api::dispatch)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            decorate::decorate,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;
