//! End-to-end cors: Kong's preflight answer (the scw-gateway client's expectation), headers on
//! proxied responses and on plugin-made (jwt 401) responses of the same route.

#[path = "plugins_harness/mod.rs"]
mod harness;

use harness::Stack;
use reqwest::Method;
use serde_json::json;

const ORIGIN: &str = "https://www.dummy-url.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_actual_requests() {
    let s = Stack::start().await;
    s.service_route("corssvc", "/cors").await;
    s.admin(
        Method::POST,
        "/routes/corssvc-route/plugins",
        json!({"name": "cors", "config": {"origins": ["*"], "headers": ["*"], "credentials": true}}),
    )
    .await;
    let pre = [
        ("origin", ORIGIN),
        ("access-control-request-method", "POST"),
    ];
    let r = s
        .until(Method::OPTIONS, "/cors", &pre, |r| {
            r.header("access-control-allow-methods").is_some()
        })
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "");
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-headers"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert!(r.json.is_null(), "preflight must not reach the upstream");

    let r = s.call(Method::GET, "/cors", &[("origin", ORIGIN)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["method"], "GET", "proxied");
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    // Without Origin: `*` and no credentials.
    let r = s.call(Method::GET, "/cors", &[]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_runs_before_jwt_and_decorates_its_401() {
    let s = Stack::start().await;
    s.service_route("both", "/both").await;
    s.admin(
        Method::POST,
        "/routes/both-route/plugins",
        json!({"name": "jwt"}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/both-route/plugins",
        json!({"name": "cors", "config": {"origins": ["https://app\\.example\\.test", "http://other.test"], "exposed_headers": ["X-Total"]}}),
    )
    .await;
    // The preflight is answered by cors (priority 2000) before jwt could reject it.
    let pre = [
        ("origin", "https://app.example.test"),
        ("access-control-request-method", "GET"),
    ];
    let r = s
        .until(Method::OPTIONS, "/both", &pre, |r| r.status == 200)
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.test")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    // The jwt 401 carries the CORS headers too.
    let r = s
        .call(
            Method::GET,
            "/both",
            &[("origin", "https://app.example.test")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, r#"{"message":"Unauthorized"}"#);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.test")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("X-Total"));
    // A non-matching origin gets no ACAO.
    let r = s
        .call(Method::GET, "/both", &[("origin", "https://evil.test")])
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("Origin"));
}
