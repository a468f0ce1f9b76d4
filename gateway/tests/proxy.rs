//! End-to-end proxy behaviour of the real `gateway` binary against in-process upstreams.
//!
//! Configuration comes from the snapshot cache with an unreachable database (the "DB down:
//! serve from disk" path), so these tests exercise that path too.

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, TestCa, Upstream};
use futures_util::{SinkExt, StreamExt};
use gateway_core::model::ConfigData;
use serde_json::{json, Value};
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A configuration from service and route JSON documents.
fn config(services: Vec<Value>, routes: Vec<Value>) -> ConfigData {
    serde_json::from_value(json!({
        "version": 1, "services": services, "routes": routes,
        "consumers": [], "plugins": [], "jwt_secrets": [],
    }))
    .expect("config json")
}

fn service(n: u128, up: &Upstream, extra: Value) -> Value {
    let mut v =
        json!({"id": id(n), "host": "127.0.0.1", "port": up.addr.port(), "protocol": "http"});
    merge(&mut v, extra);
    v
}

fn route(n: u128, svc: Option<u128>, extra: Value) -> Value {
    let mut v =
        json!({"id": id(n), "name": format!("r{n}"), "service": svc.map(|s| json!({"id": id(s)}))});
    merge(&mut v, extra);
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn get_json(gw: &Gateway, path: &str, host: Option<&str>) -> (u16, Value) {
    let mut rb = client().get(format!("{}{path}", gw.url));
    if let Some(h) = host {
        rb = rb.header("host", h);
    }
    let res = rb.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

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

/// Peak resident memory of a process, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn large_bodies_stream_both_ways_without_buffering() {
    const SIZE: u64 = 64 * 1024 * 1024;
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/big"]}))],
        ),
        &[("ACCESS_LOG", "off")],
    )
    .await;
    let baseline = peak_rss_kib(gw.pid());

    // Upload: a generated stream, no content-length (chunked).
    let chunk = bytes::Bytes::from(vec![b'u'; 256 * 1024]);
    let chunks = (SIZE / chunk.len() as u64) as usize;
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let res = client()
        .post(format!("{}/big/up", gw.url))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["body_len"], SIZE);

    // Download: streamed by the upstream.
    let mut res = client()
        .get(format!("{}/big/down", gw.url))
        .header("x-test-stream-bytes", SIZE.to_string())
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), 200);
    let mut got = 0u64;
    while let Some(c) = res.chunk().await.expect("chunk") {
        got += c.len() as u64;
    }
    assert_eq!(got, SIZE);
    let peak = peak_rss_kib(gw.pid());
    // Buffering either body would add >= 64 MiB.
    assert!(
        peak < baseline + 32 * 1024,
        "gateway peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}

#[tokio::test]
async fn read_timeout_is_504_and_refused_connection_is_502() {
    let up = Upstream::http().await;
    let dead_port = common::CLOSED_PORT;
    let services = vec![
        service(1, &up, json!({"read_timeout": 300})),
        json!({"id": id(2), "host": "127.0.0.1", "port": dead_port, "retries": 2, "connect_timeout": 500}),
    ];
    let routes = vec![
        route(1, Some(1), json!({"paths": ["/slow"]})),
        route(2, Some(2), json!({"paths": ["/dead"]})),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(dir.path(), &config(services, routes), &[]).await;

    // No Accept and no Content-Type: nginx's default text/plain.
    let started = Instant::now();
    let raw = common::raw_request(
        gw.addr,
        "GET /slow HTTP/1.1\r\nHost: a.test\r\nx-test-delay-ms: 3000\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert!(raw.starts_with("HTTP/1.1 504"), "{raw}");
    assert!(
        raw.contains("content-type: text/plain; charset=utf-8\r\n"),
        "{raw}"
    );
    assert!(
        raw.ends_with("\r\n\r\nThe upstream server is timing out\nrequest_id: ")
            || raw.contains("\r\n\r\nThe upstream server is timing out\nrequest_id: "),
        "{raw}"
    );
    // `Accept: */*` (reqwest's default) is Kong's default type: JSON.
    let res = client()
        .get(format!("{}/slow", gw.url))
        .header("x-test-delay-ms", "3000")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 504);
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );

    let res = client()
        .get(format!("{}/dead", gw.url))
        .header("accept", "text/plain")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 502);
    let rid = res.headers()["x-kong-request-id"]
        .to_str()
        .expect("rid")
        .to_owned();
    assert_eq!(
        res.text().await.expect("body"),
        format!("An invalid response was received from the upstream server\nrequest_id: {rid}\n")
    );
    assert!(
        gw.log_text().contains("3 attempt(s)"),
        "log:\n{}",
        gw.log_text()
    );

    // Accept: application/json switches the body format.
    let res = client()
        .get(format!("{}/dead", gw.url))
        .header("accept", "application/json")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["message"],
        "An invalid response was received from the upstream server"
    );
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/"]}))],
        ),
        &[],
    )
    .await;
    let res = client()
        .get(format!("{}/ok", gw.url))
        .header("x-big", "a".repeat(16 * 1024))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let res = client()
        .get(format!("{}/ok", gw.url))
        .header("x-big", "a".repeat(40 * 1024))
        .send()
        .await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(431), 431);
    let mut rb = client().get(format!("{}/ok", gw.url));
    for i in 0..120 {
        rb = rb.header(format!("x-h{i}"), "v");
    }
    let res = rb.send().await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 431);
}

#[tokio::test]
async fn sigterm_drains_an_in_flight_request() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/"]}))],
        ),
        &[],
    )
    .await;
    let url = format!("{}/slow", gw.url);
    let inflight = tokio::spawn(async move {
        client()
            .get(url)
            .header("x-test-delay-ms", "1500")
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    gw.sigterm();
    let res = inflight
        .await
        .expect("join")
        .expect("in-flight request completes");
    assert_eq!(res.status(), 200);
    let exit = gw.wait_exit(Duration::from_secs(10)).await.expect("exited");
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        client()
            .get(format!("{}/after", gw.url))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn websocket_echo_through_the_gateway() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/ws"]}))],
        ),
        &[],
    )
    .await;
    let (mut ws, res) = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat", gw.addr))
        .await
        .expect("ws connect");
    assert_eq!(res.status(), 101);
    for i in 0..3 {
        let text = format!("hello {i}");
        ws.send(tokio_tungstenite::tungstenite::Message::Text(text.clone()))
            .await
            .expect("send");
        let msg = ws.next().await.expect("message").expect("ok");
        assert_eq!(msg.into_text().expect("text"), text);
    }
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn https_and_h2_upstreams_with_a_test_ca() {
    let ca = TestCa::generate();
    let up = Upstream::https(&ca).await;
    let services = vec![
        json!({"id": id(1), "host": "localhost", "port": up.addr.port(), "protocol": "https"}),
        json!({"id": id(2), "host": "localhost", "port": up.addr.port(), "protocol": "https", "tls_verify": false}),
    ];
    let routes = vec![
        route(1, Some(1), json!({"paths": ["/tls"]})),
        route(2, Some(2), json!({"paths": ["/noverify"]})),
    ];
    let cfg = config(services, routes);

    // Trusted through GATEWAY_CA_BUNDLE: h2 negotiated by ALPN.
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = ca.ca_pem_path.to_string_lossy().into_owned();
    let gw =
        Gateway::with_config(dir.path(), &cfg, &[("GATEWAY_CA_BUNDLE", bundle.as_str())]).await;
    let (status, body) = get_json(&gw, "/tls/x", None).await;
    assert_eq!(status, 200, "{body}\n{}", gw.log_text());
    assert_eq!(body["version"], "HTTP/2.0");
    assert_eq!(body["path"], "/x");
    // Large streamed response over h2.
    let res = client()
        .get(format!("{}/tls/big", gw.url))
        .header("x-test-stream-bytes", "3000000")
        .send()
        .await
        .expect("req");
    assert_eq!(res.bytes().await.expect("body").len(), 3_000_000);

    // Without the CA the certificate is refused (502), unless tls_verify is false.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let gw2 = Gateway::with_config(dir2.path(), &cfg, &[]).await;
    let (status, _) = get_json(&gw2, "/tls/x", None).await;
    assert_eq!(status, 502);
    let (status, body) = get_json(&gw2, "/noverify/x", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["path"], "/x");
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/h2"]}))],
        ),
        &[],
    )
    .await;
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let res = c
        .get(format!("{}/h2/x", gw.url))
        .send()
        .await
        .expect("h2c request");
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["path"], "/x");
    assert_eq!(body["headers"]["via"][0], "2 kong/3.10.0");
}

#[tokio::test]
async fn drain_is_bounded_by_the_drain_timeout() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/"]}))],
        ),
        &[("DRAIN_TIMEOUT_SECS", "1")],
    )
    .await;
    let url = format!("{}/stuck", gw.url);
    let stuck = tokio::spawn(async move {
        client()
            .get(url)
            .header("x-test-delay-ms", "20000")
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    gw.sigterm();
    let exit = gw.wait_exit(Duration::from_secs(10)).await.expect("exited");
    assert!(exit.success());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "drain took {:?}",
        t0.elapsed()
    );
    assert!(
        stuck.await.expect("join").is_err(),
        "the stuck request was cut"
    );
}

#[tokio::test]
async fn json_access_log_has_one_line_per_request() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({}))],
            vec![route(1, Some(1), json!({"paths": ["/logged"]}))],
        ),
        &[("LOG_FORMAT", "json")],
    )
    .await;
    let res = client()
        .post(format!("{}/logged/x", gw.url))
        .body("12345")
        .send()
        .await
        .expect("req");
    let rid = res.headers()["x-kong-request-id"]
        .to_str()
        .expect("rid")
        .to_owned();
    assert!(!res.bytes().await.expect("body").is_empty());
    let line = common::wait_for(Duration::from_secs(5), || async {
        gw.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["request_id"] == rid.as_str())
    })
    .await
    .expect("access log line");
    assert_eq!(line["status"], 200);
    assert_eq!(line["method"], "POST");
    assert_eq!(line["uri"], "/logged/x");
    assert_eq!(line["route_id"], id(1).to_string());
    assert!(line["request_size"].as_u64().expect("size") > 5);
}

#[tokio::test]
async fn stalled_request_body_hits_the_write_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({"write_timeout": 300}))],
            vec![route(1, Some(1), json!({"paths": ["/"]}))],
        ),
        &[],
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789",
        )
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("answered before the client finished")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 504"), "{head}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
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
