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
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.header("content-type"), None);

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

/// The Admin API stores plugin configs filled with Kong's defaults (JSON and form bodies) and
/// rejects invalid ones with Kong's field map under `config`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_configs_through_the_admin_api() {
    let s = Stack::start().await;
    let cors = s
        .admin(Method::POST, "/plugins", json!({"name": "cors"}))
        .await;
    assert_eq!(
        cors["config"],
        json!({"origins": null, "headers": null, "exposed_headers": null,
               "methods": ["GET","HEAD","PUT","PATCH","POST","DELETE","OPTIONS","TRACE","CONNECT"],
               "max_age": null, "credentials": false, "private_network": false,
               "preflight_continue": false, "allow_origin_absent": true})
    );
    // PATCH merges into the stored config (Kong merges records).
    let id = cors["id"].as_str().expect("id").to_string();
    s.admin(
        Method::PATCH,
        &format!("/plugins/{id}"),
        json!({"config": {"origins": ["http://a.test"]}}),
    )
    .await;
    let patched = s
        .admin(
            Method::PATCH,
            &format!("/plugins/{id}"),
            json!({"config": {"credentials": true}}),
        )
        .await;
    assert_eq!(patched["config"]["origins"], json!(["http://a.test"]));
    assert_eq!(patched["config"]["credentials"], json!(true));
    assert_eq!(patched["config"]["allow_origin_absent"], json!(true));
    let (status, jwt) = s
        .admin_raw(
            Method::POST,
            "/plugins",
            "application/x-www-form-urlencoded",
            "name=jwt&config.claims_to_verify=exp&config.maximum_expiration=60&config.run_on_preflight=false"
                .into(),
        )
        .await;
    assert_eq!(status, 201, "{jwt}");
    assert_eq!(jwt["config"]["claims_to_verify"], json!(["exp"]));
    assert_eq!(jwt["config"]["maximum_expiration"], json!(60));
    assert_eq!(jwt["config"]["run_on_preflight"], json!(false));
    assert_eq!(jwt["config"]["uri_param_names"], json!(["jwt"]));
    assert_eq!(jwt["config"]["key_claim_name"], json!("iss"));
    let statsd = s
        .admin(
            Method::POST,
            "/plugins",
            json!({"name": "statsd", "config": {"port": 8125, "prefix": "kong"}}),
        )
        .await;
    assert_eq!(statsd["config"]["host"], json!("localhost"));
    assert_eq!(
        statsd["config"]["metrics"].as_array().map(Vec::len),
        Some(13)
    );
    assert_eq!(
        statsd["config"]["service_identifier_default"],
        json!("service_name_or_host")
    );
    let (status, err) = s
        .admin_raw(
            Method::POST,
            "/services",
            "application/json",
            json!({"name": "x", "url": "http://x.test"}).to_string(),
        )
        .await;
    assert_eq!(status, 201, "{err}");
    let (status, err) = s
        .admin_raw(
            Method::POST,
            "/services/x/plugins",
            "application/json",
            json!({"name": "cors", "config": {"origins": ["(bad"], "nope": 1}}).to_string(),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["name"], "schema violation");
    assert_eq!(
        err["fields"]["config"],
        json!({"origins": ["'(bad' is not a valid regex"], "nope": "unknown field"})
    );
}
