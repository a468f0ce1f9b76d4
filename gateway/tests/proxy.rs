//! End-to-end proxy behaviour of the real `gateway` binary: routing, upstream paths and
//! headers, gateway-made errors, https-only routes.
//!
//! Configuration comes from the snapshot cache with an unreachable database (the "DB down:
//! serve from disk" path), so these tests exercise that path too.

mod common;

use common::config::{client, config, get_json, id, route, service};
use common::{Gateway, Upstream};
use serde_json::{json, Value};

/// (service path, route path, strip_path, request, expected upstream path).
type JoinRow = (
    Option<&'static str>,
    Option<&'static str>,
    bool,
    &'static str,
    &'static str,
);

/// (method, path, request headers, expected status).
type RouteCase = (
    reqwest::Method,
    &'static str,
    Vec<(&'static str, &'static str)>,
    u16,
);

#[tokio::test]
async fn path_joins_follow_kong_fixtures() {
    let up = Upstream::http().await;
    // (service path, route path, strip_path, request, expected upstream path)
    let rows: &[JoinRow] = &[
        (Some("/"), Some("/route"), true, "/routereq", "/req"),
        (Some("/srv"), Some("/rou"), false, "/roureq", "/srv/roureq"),
        (Some("/srv"), Some("/rou"), true, "/roureq", "/srv/req"),
        (Some("/srv/"), Some("/rou"), true, "/rou", "/srv"),
        (
            Some("/service"),
            Some("/route"),
            true,
            "/route/",
            "/service/",
        ),
        (
            Some("/service"),
            Some("/route"),
            true,
            "/route%2E%2E/req",
            "/service/req",
        ),
        (Some("/service"), None, true, "/route", "/service/route"),
        (
            None,
            Some("/api"),
            true,
            "/api/v1/items?x=1&y=%20",
            "/v1/items?x=1&y=%20",
        ),
        (None, Some("/api"), false, "/api/a%20b?", "/api/a%20b?"),
        (
            Some("/base"),
            Some("~/items/\\d+"),
            true,
            "/items/42/rest",
            "/base/rest",
        ),
    ];
    let mut services = Vec::new();
    let mut routes = Vec::new();
    for (i, (svc_path, route_path, strip, _, _)) in rows.iter().enumerate() {
        let n = i as u128 + 1;
        services.push(service(n, &up, json!({"path": svc_path})));
        let mut r = json!({"hosts": [format!("row{n}.test")], "strip_path": strip});
        if let Some(p) = route_path {
            r["paths"] = json!([p]);
        }
        routes.push(route(100 + n, Some(n), r));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(dir.path(), &config(services, routes), &[]).await;
    for (i, (_, _, _, req, want)) in rows.iter().enumerate() {
        let host = format!("row{}.test", i + 1);
        let (status, body) = get_json(&gw, req, Some(&host)).await;
        assert_eq!(status, 200, "row {i}: {body}");
        assert_eq!(body["path"], *want, "row {i}: request {req}");
    }
}

#[tokio::test]
async fn routing_rules_methods_hosts_headers_and_priorities() {
    let up = Upstream::http().await;
    let routes = vec![
        route(1, Some(1), json!({"paths": ["/m"], "methods": ["POST"]})),
        route(
            2,
            Some(1),
            json!({"hosts": ["*.wild.test"], "paths": ["/w"]}),
        ),
        route(
            3,
            Some(1),
            json!({"headers": {"x-version": ["v2"]}, "paths": ["/h"]}),
        ),
        route(4, Some(1), json!({"paths": ["/tie"]})),
        route(5, Some(1), json!({"paths": ["/tie"]})),
        route(6, Some(1), json!({"paths": ["/p"]})),
        route(7, Some(1), json!({"paths": ["~/p\\d+$"]})),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(vec![service(1, &up, json!({}))], routes),
        &[],
    )
    .await;
    let c = client();
    let send = |method: reqwest::Method, path: &str, headers: &[(&str, &str)]| {
        let mut rb = c.request(method, format!("{}{path}", gw.url));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send()
    };
    // Each case: (method, path, headers, expected status, expected route id header or None)
    let cases: Vec<RouteCase> = vec![
        (reqwest::Method::POST, "/m", vec![], 200),
        (reqwest::Method::GET, "/m", vec![], 404),
        (
            reqwest::Method::GET,
            "/w",
            vec![("host", "a.wild.test")],
            200,
        ),
        (reqwest::Method::GET, "/w", vec![("host", "wild.test")], 404),
        (reqwest::Method::GET, "/h", vec![("x-version", "V2")], 200),
        (reqwest::Method::GET, "/h", vec![("x-version", "v3")], 404),
        (reqwest::Method::GET, "/nothing", vec![], 404),
    ];
    for (method, path, headers, want) in cases {
        let res = send(method.clone(), path, &headers).await.expect("request");
        assert_eq!(res.status().as_u16(), want, "{method} {path} {headers:?}");
        if want == 404 {
            assert_eq!(
                res.headers()["content-type"],
                "application/json; charset=utf-8"
            );
            assert_eq!(res.headers()["server"], "kong/3.10.0");
            let rid = res.headers()["x-kong-request-id"]
                .to_str()
                .expect("id")
                .to_owned();
            let body = res.text().await.expect("body");
            assert_eq!(
                body,
                format!("{{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"{rid}\"\n}}")
            );
        }
    }
}

#[tokio::test]
async fn route_without_service_is_503_and_broken_plugin_is_500() {
    let up = Upstream::http().await;
    let mut cfg = config(
        vec![service(1, &up, json!({}))],
        vec![
            route(1, None, json!({"paths": ["/nosvc"]})),
            route(2, Some(1), json!({"paths": ["/broken"]})),
        ],
    );
    cfg.plugins = vec![serde_json::from_value(json!({
        "id": id(9), "name": "no-such-plugin", "route": {"id": id(2)}, "config": {}
    }))
    .expect("plugin")];
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(dir.path(), &cfg, &[]).await;
    let res = client()
        .get(format!("{}/nosvc", gw.url))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["message"], "no Service found with those values");
    let res = client()
        .get(format!("{}/broken", gw.url))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 500);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["message"], "An unexpected error occurred");
}

#[tokio::test]
async fn upstream_and_response_headers_follow_kong() {
    let up = Upstream::http().await;
    let routes = vec![
        route(1, Some(1), json!({"paths": ["/hdr"]})),
        route(
            2,
            Some(1),
            json!({"paths": ["/keep"], "preserve_host": true}),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(vec![service(1, &up, json!({"host": "localhost"}))], routes),
        &[],
    )
    .await;
    let res = client()
        .get(format!("{}/hdr/x?q=1", gw.url))
        .header("host", "Client.Example:9999")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-forwarded-proto", "https")
        .header("connection", "keep-alive, x-drop-me")
        .header("x-drop-me", "secret")
        .header("via", "1.1 edge")
        .header("x-empty", "")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    for name in [
        "x-kong-upstream-latency",
        "x-kong-proxy-latency",
        "x-kong-request-id",
    ] {
        assert!(h.contains_key(name), "missing {name}");
    }
    assert_eq!(h["via"], "1.1 kong/3.10.0");
    assert_eq!(h["server"], "kong/3.10.0");
    let rid = h["x-kong-request-id"].to_str().expect("rid").to_owned();
    let body: Value = res.json().await.expect("json");
    let hv = |n: &str| body["headers"][n][0].as_str().map(str::to_owned);
    assert_eq!(body["path"], "/x?q=1");
    assert_eq!(
        hv("host").as_deref(),
        Some(format!("localhost:{}", up.addr.port()).as_str())
    );
    assert_eq!(
        hv("x-forwarded-for").as_deref(),
        Some("10.0.0.1, 127.0.0.1")
    );
    assert_eq!(hv("x-real-ip").as_deref(), Some("127.0.0.1"));
    // Not trusted: the client's proto is replaced.
    assert_eq!(hv("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(hv("x-forwarded-host").as_deref(), Some("client.example"));
    assert_eq!(
        hv("x-forwarded-port").as_deref(),
        Some(gw.addr.port().to_string().as_str())
    );
    assert_eq!(hv("x-forwarded-path").as_deref(), Some("/hdr/x"));
    assert_eq!(hv("x-forwarded-prefix").as_deref(), Some("/hdr"));
    assert_eq!(hv("via").as_deref(), Some("1.1 edge, 1.1 kong/3.10.0"));
    assert_eq!(hv("x-kong-request-id").as_deref(), Some(rid.as_str()));
    assert_eq!(hv("x-drop-me"), None);
    assert_eq!(hv("x-empty"), None);

    let (status, body) = get_json(&gw, "/keep", Some("client.example:9999")).await;
    assert_eq!(status, 200);
    assert_eq!(body["headers"]["host"][0], "client.example:9999");
    assert_eq!(body["headers"]["x-forwarded-prefix"][0], "/keep");
    assert_eq!(body["path"], "/");
}

#[tokio::test]
async fn https_only_routes_answer_426_or_redirect_unless_a_trusted_proxy_says_https() {
    let up = Upstream::http().await;
    let routes = vec![
        route(
            1,
            Some(1),
            json!({"paths": ["/secure"], "protocols": ["https"]}),
        ),
        route(
            2,
            Some(1),
            json!({"paths": ["/moved"], "protocols": ["https"], "https_redirect_status_code": 301}),
        ),
    ];
    let cfg = config(vec![service(1, &up, json!({}))], routes);
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(dir.path(), &cfg, &[]).await;
    let res = client()
        .get(format!("{}/secure", gw.url))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 426);
    assert_eq!(res.headers()["connection"], "Upgrade");
    assert_eq!(res.headers()["upgrade"], "TLS/1.2, HTTP/1.1");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["message"], "Please use HTTPS protocol");
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/moved/x?y=1", gw.url))
        .header("host", "api.example:8000")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "https://api.example/moved/x?y=1");
    // An untrusted X-Forwarded-Proto changes nothing.
    let res = client()
        .get(format!("{}/secure", gw.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 426);

    // Behind a trusted proxy (TRUSTED_IPS), its X-Forwarded-Proto counts and is kept.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let gw2 = Gateway::with_config(dir2.path(), &cfg, &[("TRUSTED_IPS", "127.0.0.1/32")]).await;
    let res = client()
        .get(format!("{}/secure", gw2.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["headers"]["x-forwarded-proto"][0], "https");
}
