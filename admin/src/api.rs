//! The entity endpoints: one dispatcher over [`Endpoint`] and the HTTP method (kong-compat §1.2).
//!
//! Order of checks, as in Kong: duplicate `Content-Type` (400 text), unknown path (404),
//! `OPTIONS` (204), method not allowed (405), body size (413), body decoding (415/400), then the
//! store call whose [`ApiError`] is rendered unchanged.

use axum::{
    body::to_bytes,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::Response,
};
use gateway_core::store::{ApiError, EntityKind, Input, InputFormat, ParentRef};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    body::{self, BodyError},
    endpoint::{self, Endpoint},
    info,
    list::{self, ListArgs},
    response,
    state::AppState,
};

/// The fallback handler serving every Admin API path.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    if req.headers().get_all(header::CONTENT_TYPE).iter().count() > 1 {
        return response::text(
            StatusCode::BAD_REQUEST,
            "Multiple Content-Type headers not allowed",
        );
    }
    let Some(ep) = endpoint::resolve(req.uri().path()) else {
        return response::not_found();
    };
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return options(&ep, req.headers());
    }
    if !ep.allowed().contains(&method) {
        return response::method_not_allowed();
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let path = req.uri().path().to_owned();

    let input = if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        match read_input(&state, req).await {
            Ok(input) => input,
            Err(res) => return res,
        }
    } else {
        Input {
            body: json!({}),
            format: InputFormat::Json,
        }
    };

    let result = match ep {
        Endpoint::Root => info::root(&state).await,
        Endpoint::Status => info::status(&state, &query).await,
        Endpoint::Collection { kind, parent } => {
            collection(&state, &method, kind, parent.as_ref(), &path, &query, input).await
        }
        Endpoint::Entity { kind, key, parent } => {
            entity(&state, &method, kind, &key, parent.as_ref(), input).await
        }
        Endpoint::Foreign {
            owner,
            owner_key,
            kind,
            field,
        } => foreign(&state, &method, owner, &owner_key, kind, field, input).await,
    };
    result.unwrap_or_else(|err| response::error(&err))
}

/// `OPTIONS`: 204 with `Allow` and the CORS method/header lists.
fn options(ep: &Endpoint, headers: &HeaderMap) -> Response {
    let allow = ep.allow_header();
    let mut res = response::empty(StatusCode::NO_CONTENT);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        h.insert(header::ALLOW, v.clone());
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("Content-Type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    res
}

/// Read and decode the body of a write, enforcing the size limit.
async fn read_input(state: &AppState, req: Request) -> Result<Input, Response> {
    let too_large = || response::message(413, "Request body too large");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > state.body_limit as u64) {
        return Err(too_large());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let bytes = to_bytes(req.into_body(), state.body_limit)
        .await
        .map_err(|_| too_large())?;
    body::decode(content_type.as_deref(), &bytes).map_err(|err| match err {
        BodyError::Unsupported => response::empty(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        BodyError::BadJson | BodyError::BadMultipart => response::message(400, &err.to_string()),
    })
}

/// `/{coll}` and nested collections: list or create.
async fn collection(
    state: &AppState,
    method: &Method,
    kind: EntityKind,
    parent: Option<&ParentRef>,
    path: &str,
    query: &str,
    input: Input,
) -> Result<Response, ApiError> {
    if *method == Method::POST {
        let created = state.store.create(kind, parent, input).await?;
        return Ok(response::json(201, &created));
    }
    let args = ListArgs::parse(kind, parent.is_some(), query)?;
    let page = state.store.list(kind, parent, &args.query).await?;
    Ok(response::json(200, &list::page_body(page, path, &args)))
}

/// `/{coll}/{key}` and nested entities: read, upsert, merge or delete.
async fn entity(
    state: &AppState,
    method: &Method,
    kind: EntityKind,
    key: &str,
    parent: Option<&ParentRef>,
    input: Input,
) -> Result<Response, ApiError> {
    let store = &state.store;
    Ok(match *method {
        Method::PUT => response::json(200, &store.upsert(kind, key, parent, input).await?),
        Method::PATCH => response::json(200, &store.update(kind, key, parent, input).await?),
        Method::DELETE => {
            store.delete(kind, key, parent).await?;
            response::empty(StatusCode::NO_CONTENT)
        }
        _ => response::json(200, &store.get(kind, key, parent).await?),
    })
}

/// The id in `owner[field]` (`{"id": ..}`), if set.
fn foreign_id(owner: &Value, field: &str) -> Option<String> {
    owner.get(field)?.get("id")?.as_str().map(str::to_owned)
}

/// `/routes/{r}/service`, `/jwts/{j}/consumer`: the entity the owner's foreign key points at.
async fn foreign(
    state: &AppState,
    method: &Method,
    owner_kind: EntityKind,
    owner_key: &str,
    kind: EntityKind,
    field: &str,
    input: Input,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let owner = store.get(owner_kind, owner_key, None).await?;
    let target = foreign_id(&owner, field);
    match (method, target) {
        (&Method::PUT, Some(id)) => Ok(response::json(
            200,
            &store.upsert(kind, &id, None, input).await?,
        )),
        (&Method::PUT, None) => {
            // Kong creates the entity under a fresh id and points the owner at it.
            let id = Uuid::new_v4().to_string();
            let created = store.upsert(kind, &id, None, input).await?;
            let owner_id = owner
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(owner_key)
                .to_owned();
            let link = Input {
                body: json!({ field: { "id": id } }),
                format: InputFormat::Json,
            };
            store.update(owner_kind, &owner_id, None, link).await?;
            Ok(response::json(200, &created))
        }
        (&Method::PATCH, Some(id)) => Ok(response::json(
            200,
            &store.update(kind, &id, None, input).await?,
        )),
        (_, Some(id)) => Ok(response::json(200, &store.get(kind, &id, None).await?)),
        (_, None) => Err(ApiError::not_found()),
    }
}
