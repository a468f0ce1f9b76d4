//! Router-level tests of the HTTP layer with an in-memory echo store (no sockets, no database).
//!
//! The echo store answers every call with a JSON description of the call, so each test can
//! check what reached the store (kind, key, parent, decoded body) and how it was rendered.

use std::sync::Arc;

use axum::{
    body::{to_bytes, Body},
    http::{header, Method, Request, StatusCode},
    response::Response,
    Router,
};
use gateway_core::store::{
    ApiError, EntityKind, Input, InputFormat, ListQuery, Page, ParentRef, TagFilter,
};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{
    app,
    backend::{Backend, BoxFut},
    AdminToken, AppState,
};

const TOKEN: &str = "test-token";

/// Describes each call; keys named `missing` are 404, `conflict` 409.
struct EchoStore;

fn describe(op: &str, kind: EntityKind, key: Option<&str>, parent: Option<&ParentRef>) -> Value {
    json!({
        "op": op,
        "kind": kind.table(),
        "key": key,
        "parent": parent.map(|p| json!({"kind": p.kind.table(), "key": p.key})),
    })
}

fn with_input(mut v: Value, input: Input) -> Value {
    v["body"] = input.body;
    v["format"] = json!(if input.format == InputFormat::Form {
        "form"
    } else {
        "json"
    });
    v
}

fn check(key: &str) -> Result<(), ApiError> {
    match key {
        "missing" => Err(ApiError::not_found()),
        "conflict" => Err(ApiError::dao(
            409,
            5,
            "unique constraint violation",
            "dup",
            None,
        )),
        _ => Ok(()),
    }
}

impl Backend for EchoStore {
    fn is_postgres(&self) -> bool {
        false
    }
    fn ping(&self) -> BoxFut<'_, bool> {
        Box::pin(async { true })
    }
    fn plugin_names(&self) -> BoxFut<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async { Ok(vec!["jwt".to_owned(), "cors".to_owned(), "jwt".to_owned()]) })
    }
    fn list<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        q: &'a ListQuery,
    ) -> BoxFut<'a, Result<Page, ApiError>> {
        Box::pin(async move {
            let mut d = describe("list", kind, None, parent);
            d["size"] = json!(q.size);
            d["offset"] = json!(q.offset);
            d["custom_id"] = json!(q.custom_id);
            d["tags"] = match &q.tags {
                Some(TagFilter::All(t)) => json!({"all": t}),
                Some(TagFilter::Any(t)) => json!({"any": t}),
                None => Value::Null,
            };
            // A second page exists unless the client already sent an offset.
            let offset = q.offset.is_none().then(|| "b2Zm+/=".to_owned());
            Ok(Page {
                data: vec![d],
                offset,
            })
        })
    }
    fn get<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            check(key)?;
            let mut d = describe("get", kind, Some(key), parent);
            d["id"] = json!(format!("id-of-{key}"));
            match (kind, key) {
                (EntityKind::Routes, "with-service") => d["service"] = json!({"id": "svc-id"}),
                (EntityKind::Routes, _) => d["service"] = Value::Null,
                (EntityKind::JwtSecrets, _) => d["consumer"] = json!({"id": "consumer-id"}),
                _ => {}
            }
            Ok(d)
        })
    }
    fn create<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move { Ok(with_input(describe("create", kind, None, parent), input)) })
    }
    fn upsert<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            check(key)?;
            Ok(with_input(
                describe("upsert", kind, Some(key), parent),
                input,
            ))
        })
    }
    fn update<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            check(key)?;
            Ok(with_input(
                describe("update", kind, Some(key), parent),
                input,
            ))
        })
    }
    fn delete<'a>(
        &'a self,
        _kind: EntityKind,
        key: &'a str,
        _parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<(), ApiError>> {
        Box::pin(async move { check(key) })
    }
}

fn router() -> Router {
    app(AppState::new(Arc::new(EchoStore), AdminToken::new(TOKEN)).with_body_limit(1024))
}

fn req(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("x-auth-token", TOKEN)
}

async fn send(r: Request<Body>) -> (StatusCode, Response, Value) {
    let res = router().oneshot(r).await.expect("router is infallible");
    let status = res.status();
    let (parts, body) = res.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, Response::from_parts(parts, Body::empty()), json)
}

async fn call(method: Method, uri: &str) -> (StatusCode, Response, Value) {
    send(req(method, uri).body(Body::empty()).expect("request")).await
}

async fn call_with(method: Method, uri: &str, ct: &str, body: &str) -> (StatusCode, Value) {
    let r = req(method, uri)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body.to_owned()))
        .expect("request");
    let (s, _, v) = send(r).await;
    (s, v)
}

fn hdr<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn auth_is_required_everywhere() {
    for uri in ["/", "/status", "/services", "/nope"] {
        let r = Request::get(uri).body(Body::empty()).expect("request");
        let (s, res, v) = send(r).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(v, json!({"message": "Unauthorized"}));
        assert_eq!(
            hdr(&res, "content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(hdr(&res, "server"), Some("kong/3.10.0"));
    }
    let refused = [
        ("x-auth-token", "wrong"),
        ("apikey", TOKEN),
        ("authorization", "Basic dGVzdC10b2tlbg=="),
        ("authorization", TOKEN),
    ];
    for (name, value) in refused {
        let r = Request::get("/services")
            .header(name, value)
            .body(Body::empty())
            .expect("request");
        assert_eq!(send(r).await.0, StatusCode::UNAUTHORIZED, "{name}: {value}");
    }
    let r = Request::get("/services")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(r).await.0, StatusCode::OK);
}

#[tokio::test]
async fn kong_response_headers() {
    let (_, res, _) = call(Method::GET, "/services").await;
    assert_eq!(
        hdr(&res, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(hdr(&res, "server"), Some("kong/3.10.0"));
    assert!(hdr(&res, "x-kong-admin-latency").is_some_and(|v| v.parse::<u64>().is_ok()));
    assert_eq!(hdr(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(hdr(&res, "access-control-allow-credentials"), Some("true"));
    let r = req(Method::GET, "/")
        .header("origin", "https://ui.test")
        .body(Body::empty())
        .expect("request");
    let (_, res, _) = send(r).await;
    assert_eq!(
        hdr(&res, "access-control-allow-origin"),
        Some("https://ui.test")
    );
}

#[tokio::test]
async fn unknown_paths_methods_and_options() {
    let (s, _, v) = call(Method::GET, "/upstreams").await;
    assert_eq!(
        (s, v),
        (StatusCode::NOT_FOUND, json!({"message": "Not found"}))
    );
    let (s, _, v) = call(Method::DELETE, "/services").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "Method not allowed"})
        )
    );
    let (s, _, v) = call(Method::DELETE, "/routes/r/service").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "Method not allowed"})
        )
    );
    let (s, _, _) = call(Method::from_bytes(b"PURGE").expect("method"), "/services/x").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, res, _) = call(Method::OPTIONS, "/services").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(hdr(&res, "allow"), Some("GET, HEAD, OPTIONS, POST"));
    assert_eq!(
        hdr(&res, "access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS, POST")
    );
    let (_, res, _) = call(Method::OPTIONS, "/consumers/c/jwt/k").await;
    assert_eq!(
        hdr(&res, "allow"),
        Some("DELETE, GET, HEAD, OPTIONS, PATCH, PUT")
    );
    let (s, _, _) = call(Method::HEAD, "/services/x").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn entity_verbs_reach_the_store() {
    let (s, _, v) = call(Method::GET, "/services/sv%20c/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["op"].clone(), v["kind"].clone(), v["key"].clone()),
        (json!("get"), json!("services"), json!("sv c"))
    );
    let (s, v) = call_with(Method::POST, "/consumers/bob/jwt", "application/json", "{}").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["parent"], json!({"kind": "consumers", "key": "bob"}));
    assert_eq!(v["kind"], json!("jwt_secrets"));
    let (s, v) = call_with(
        Method::PUT,
        "/services/s/routes/r",
        "application/json",
        r#"{"paths":["/a"]}"#,
    )
    .await;
    assert_eq!(
        (s, v["op"].clone(), v["body"].clone()),
        (StatusCode::OK, json!("upsert"), json!({"paths": ["/a"]}))
    );
    let (s, v) = call_with(
        Method::PATCH,
        "/plugins/p",
        "application/json",
        r#"{"enabled":false}"#,
    )
    .await;
    assert_eq!((s, v["op"].clone()), (StatusCode::OK, json!("update")));
    let (s, _, v) = call(Method::DELETE, "/jwts/k").await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, json!("")));
    let (s, _, v) = call(Method::GET, "/routes/missing").await;
    assert_eq!(
        (s, v),
        (StatusCode::NOT_FOUND, json!({"message": "Not found"}))
    );
    let (s, v) = call_with(Method::PUT, "/consumers/conflict", "application/json", "{}").await;
    assert_eq!((s, v["code"].clone()), (StatusCode::CONFLICT, json!(5)));
}

#[tokio::test]
async fn bodies_by_content_type() {
    let (s, v) = call_with(
        Method::POST,
        "/plugins",
        "application/x-www-form-urlencoded",
        "name=cors&config.origins[]=*&config.credentials=true&route.id=r1",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["format"], json!("form"));
    assert_eq!(
        v["body"],
        json!({"name": "cors", "config": {"origins": ["*"], "credentials": "true"}, "route": {"id": "r1"}})
    );
    // The scw client: form type, no body.
    let (s, v) = call_with(
        Method::POST,
        "/consumers/x/jwt",
        "application/x-www-form-urlencoded",
        "",
    )
    .await;
    assert_eq!(
        (s, v["body"].clone(), v["format"].clone()),
        (StatusCode::CREATED, json!({}), json!("form"))
    );
    let mp = "--B\r\nContent-Disposition: form-data; name=\"hosts[]\"\r\n\r\na.test\r\n--B--\r\n";
    let (s, v) = call_with(
        Method::POST,
        "/routes",
        "multipart/form-data; boundary=B",
        mp,
    )
    .await;
    assert_eq!(
        (s, v["body"].clone()),
        (StatusCode::CREATED, json!({"hosts": ["a.test"]}))
    );
    let (s, v) = call_with(Method::POST, "/routes", "application/json", "{\"a\":").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Cannot parse JSON body"})
        )
    );
    let (s, v) = call_with(Method::POST, "/routes", "text/plain", "hello").await;
    assert_eq!((s, v), (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!("")));
    let (s, _, v) = call(Method::POST, "/consumers").await;
    assert_eq!((s, v["body"].clone()), (StatusCode::CREATED, json!({})));
}

#[tokio::test]
async fn transport_errors() {
    let r = req(Method::POST, "/consumers")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .expect("request");
    let (s, res, v) = send(r).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!("Multiple Content-Type headers not allowed")
        )
    );
    assert_eq!(hdr(&res, "content-type"), Some("text/plain; charset=utf-8"));
    let big = format!("{{\"username\":\"{}\"}}", "x".repeat(2000));
    let (s, v) = call_with(Method::POST, "/consumers", "application/json", &big).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"message": "Request body too large"})
        )
    );
}

#[tokio::test]
async fn lists_and_next_links() {
    let (s, _, v) = call(Method::GET, "/consumers?size=5&tags=a/b&custom_id=c&x=y").await;
    assert_eq!(s, StatusCode::OK);
    let d = &v["data"][0];
    assert_eq!(
        (d["size"].clone(), d["custom_id"].clone()),
        (json!(5), json!("c"))
    );
    assert_eq!(d["tags"], json!({"any": ["a", "b"]}));
    assert_eq!(v["offset"], json!("b2Zm+/="));
    assert_eq!(
        v["next"],
        json!("/consumers?offset=b2Zm%2B%2F%3D&tags=a%2Fb&size=5")
    );
    let (_, _, v) = call(Method::GET, "/consumers/c/plugins?size=5").await;
    assert_eq!(
        v["next"],
        json!("/consumers/c/plugins?offset=b2Zm%2B%2F%3D")
    );
    let (_, _, v) = call(Method::GET, "/routes?offset=abc").await;
    assert_eq!(v["next"], Value::Null);
    assert_eq!(v["data"][0]["offset"], json!("abc"));
    let (s, _, v) = call(Method::GET, "/routes?size=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v,
        json!({"code": 9, "name": "invalid size", "message": "size must be an integer between 1 and 1000"})
    );
}

#[tokio::test]
async fn foreign_key_endpoints() {
    let (s, _, v) = call(Method::GET, "/routes/with-service/service").await;
    assert_eq!(
        (s, v["key"].clone(), v["kind"].clone()),
        (StatusCode::OK, json!("svc-id"), json!("services"))
    );
    let (s, _, _) = call(Method::GET, "/routes/plain/service").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = call_with(
        Method::PATCH,
        "/routes/with-service/service",
        "application/json",
        r#"{"port":81}"#,
    )
    .await;
    assert_eq!(
        (s, v["op"].clone(), v["key"].clone()),
        (StatusCode::OK, json!("update"), json!("svc-id"))
    );
    let (s, v) = call_with(
        Method::PUT,
        "/routes/plain/service",
        "application/json",
        r#"{"host":"h"}"#,
    )
    .await;
    assert_eq!(
        (s, v["op"].clone(), v["kind"].clone()),
        (StatusCode::OK, json!("upsert"), json!("services"))
    );
    assert!(v["key"]
        .as_str()
        .is_some_and(|k| uuid::Uuid::parse_str(k).is_ok()));
    let (s, _, v) = call(Method::GET, "/jwts/k/consumer").await;
    assert_eq!(
        (s, v["key"].clone()),
        (StatusCode::OK, json!("consumer-id"))
    );
    let (s, _, _) = call(Method::GET, "/routes/missing/service").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn root_and_status() {
    let (s, _, v) = call(Method::GET, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["tagline"], json!("Welcome to kong"));
    assert_eq!(v["version"], json!("3.10.0"));
    assert_eq!(
        v["plugins"]["available_on_server"]["jwt"],
        json!({"version": "3.10.0", "priority": 1450})
    );
    assert_eq!(v["plugins"]["enabled_in_cluster"], json!(["cors", "jwt"]));
    assert!(uuid::Uuid::parse_str(v["node_id"].as_str().unwrap_or("")).is_ok());
    let conf = v["configuration"].to_string();
    assert!(!conf.contains(TOKEN));
    let (s, _, v) = call(Method::GET, "/status").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["database"], json!({"reachable": true}));
    assert!(v["server"]["total_requests"]
        .as_u64()
        .is_some_and(|n| n >= 1));
    assert!(v["memory"]["workers_lua_vms"][0]["http_allocated_gc"]
        .as_str()
        .is_some_and(|m| m.ends_with(" MiB")));
}
