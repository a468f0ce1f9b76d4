//! End-to-end global plugins on requests no route matches (Kong runs the global instances'
//! header_filter and log on the 404, never their access phase): a global statsd (installed as
//! the scw-gateway client does) reports `kong.global.unmatched.*`, a global cors decorates the
//! 404 (and an https-only route's 426, also made before plugins are collected), and
//! route-scoped instances stay off both.

#[path = "plugins_harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harness::{normalize_metric, statsd_lines, Stack};
use reqwest::Method;
use serde_json::json;
use tokio::net::UdpSocket;

const ORIGIN: &str = "https://www.dummy-url.com";
const NO_ROUTE: &str = "no Route matched with those values";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_statsd_reports_unmatched_requests() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let port = sock.local_addr().expect("addr").port();
    let s = Stack::start().await;
    s.service_route("statsd1", "/matched").await;
    // As the scw-gateway client installs it (plus a host the test can bind).
    s.admin(
        Method::POST,
        "/plugins",
        json!({"name": "statsd", "config": {"host": "127.0.0.1", "port": port, "prefix": "kong"}}),
    )
    .await;

    // Wait until unmatched requests produce metrics, then drain what the waiting produced.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert_eq!(s.call(Method::GET, "/nowhere", &[]).await.status, 404);
        if !statsd_lines(&sock, Duration::from_millis(300))
            .await
            .is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no metrics arrived for an unmatched request\n{}",
            s.logs()
        );
    }
    statsd_lines(&sock, Duration::from_millis(500)).await;

    // Known sequence: two unmatched requests, one matched.
    let r = s.call(Method::GET, "/nowhere", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["message"], NO_ROUTE);
    let r = s.call(Method::POST, "/also/nowhere?x=1", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(s.call(Method::GET, "/matched", &[]).await.status, 200);

    let got = statsd_lines(&sock, Duration::from_millis(1500)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in &got {
        *counts.entry(normalize_metric(l)).or_default() += 1;
    }
    let u = "kong.global.unmatched";
    let m = "kong.service.statsd1";
    let expected: BTreeMap<String, usize> = [
        // Unmatched: no upstream latency, no per-user or per-route metrics.
        (format!("{u}.request.count:1|c"), 2),
        (format!("{u}.latency:N|ms"), 2),
        (format!("{u}.request.size:N|c"), 2),
        (format!("{u}.status.404:1|c"), 2),
        (format!("{u}.response.size:N|c"), 2),
        (format!("{u}.kong_latency:N|ms"), 2),
        (format!("{u}.workspace.default.status.404:1|c"), 2),
        // The matched request: its service's scope, as before.
        (format!("{m}.request.count:1|c"), 1),
        (format!("{m}.latency:N|ms"), 1),
        (format!("{m}.request.size:N|c"), 1),
        (format!("{m}.status.200:1|c"), 1),
        (format!("{m}.response.size:N|c"), 1),
        (format!("{m}.upstream_latency:N|ms"), 1),
        (format!("{m}.kong_latency:N|ms"), 1),
        (format!("{m}.workspace.default.status.200:1|c"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected, "raw lines: {got:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_cors_decorates_the_no_route_404() {
    let s = Stack::start().await;
    s.service_route("corssvc", "/cors").await;
    // A route-scoped cors stays off unmatched requests.
    s.admin(
        Method::POST,
        "/routes/corssvc-route/plugins",
        json!({"name": "cors", "config": {"origins": ["https://route.test"]}}),
    )
    .await;
    // An https-only route with its own cors: its 426 is made before plugins are collected.
    s.admin(
        Method::POST,
        "/services/corssvc/routes",
        json!({"name": "secure", "paths": ["/secure"], "protocols": ["https"]}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/secure/plugins",
        json!({"name": "cors", "config": {"origins": ["https://route.test"]}}),
    )
    .await;
    s.until(Method::GET, "/cors", &[("origin", ORIGIN)], |r| {
        r.header("access-control-allow-origin") == Some("https://route.test")
    })
    .await;
    s.until(Method::GET, "/secure", &[], |r| r.status == 426)
        .await;
    let r = s.call(Method::GET, "/nowhere", &[("origin", ORIGIN)]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), None);
    let r = s.call(Method::GET, "/secure", &[("origin", ORIGIN)]).await;
    assert_eq!(r.status, 426);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // The scw-gateway client's cors config, installed globally, plus exposed headers.
    s.admin(
        Method::POST,
        "/plugins",
        json!({"name": "cors", "config": {"origins": ["*"], "headers": ["*"], "credentials": true,
                                          "exposed_headers": ["X-Trace"]}}),
    )
    .await;
    let r = s
        .until(Method::GET, "/nowhere", &[("origin", ORIGIN)], |r| {
            r.header("access-control-allow-origin").is_some()
        })
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["message"], NO_ROUTE);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(r.header("access-control-expose-headers"), Some("X-Trace"));
    assert!(r.header("x-kong-request-id").is_some());
    // The route's own (more specific) instance still wins on the route.
    let r = s.call(Method::GET, "/cors", &[("origin", ORIGIN)]).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://route.test")
    );
    // The 426 of the https-only route gets the global instance, not the route's.
    let r = s.call(Method::GET, "/secure", &[("origin", ORIGIN)]).await;
    assert_eq!(r.status, 426);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-expose-headers"), Some("X-Trace"));

    // A preflight to an unmatched path is not answered by cors (its access phase never runs
    // there, as in Kong): the 404 only gets the response headers.
    let pre = [
        ("origin", ORIGIN),
        ("access-control-request-method", "POST"),
    ];
    let r = s.call(Method::OPTIONS, "/nowhere", &pre).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["message"], NO_ROUTE);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-methods"), None);
    assert_eq!(r.header("access-control-allow-headers"), None);

    // Without Origin (allow_origin_absent defaults to true): `*`, no credentials.
    let r = s.call(Method::GET, "/nowhere", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
}
