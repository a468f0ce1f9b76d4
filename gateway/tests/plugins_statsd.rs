//! End-to-end statsd: a UDP listener receives Kong's metric lines for a known request
//! sequence, including per-consumer and status metrics.

#[path = "plugins_harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harness::{normalize_metric, pyjwt, statsd_lines, Stack};
use reqwest::Method;
use serde_json::json;
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statsd_lines_for_a_known_sequence() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let port = sock.local_addr().expect("addr").port();
    let s = Stack::start().await;
    let (_, route) = s.service_route("statsd1", "/metrics").await;
    s.admin(
        Method::POST,
        "/consumers",
        json!({"username": "bob", "custom_id": "robert"}),
    )
    .await;
    s.admin(
        Method::POST,
        "/consumers/bob/jwt",
        json!({"key": "bob-key", "secret": "bob-secret"}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/statsd1-route/plugins",
        json!({"name": "jwt"}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/statsd1-route/plugins",
        json!({"name": "statsd", "config": {"host": "127.0.0.1", "port": port}}),
    )
    .await;

    // Wait until metrics flow, then drain what the waiting produced.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        s.call(Method::GET, "/metrics", &[]).await;
        if !statsd_lines(&sock, Duration::from_millis(300))
            .await
            .is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no metrics arrived\n{}",
            s.logs()
        );
    }
    statsd_lines(&sock, Duration::from_millis(500)).await;

    // Known sequence: one rejected request, two authenticated ones.
    let token = pyjwt("HS256", "bob-secret", &json!({"iss": "bob-key"}));
    let auth = format!("Bearer {token}");
    assert_eq!(s.call(Method::GET, "/metrics", &[]).await.status, 401);
    assert_eq!(
        s.call(Method::GET, "/metrics", &[("authorization", &auth)])
            .await
            .status,
        200
    );
    assert_eq!(
        s.call(Method::GET, "/metrics", &[("authorization", &auth)])
            .await
            .status,
        200
    );

    let got = statsd_lines(&sock, Duration::from_millis(1500)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in &got {
        *counts.entry(normalize_metric(l)).or_default() += 1;
    }
    let rid = route["id"].as_str().expect("route id");
    let p = "kong.service.statsd1";
    let expected: BTreeMap<String, usize> = [
        (format!("{p}.request.count:1|c"), 3),
        (format!("{p}.latency:N|ms"), 3),
        (format!("{p}.request.size:N|c"), 3),
        (format!("{p}.response.size:N|c"), 3),
        (format!("{p}.kong_latency:N|ms"), 3),
        (format!("{p}.upstream_latency:N|ms"), 2),
        (format!("{p}.status.401:1|c"), 1),
        (format!("{p}.status.200:1|c"), 2),
        (format!("{p}.workspace.default.status.401:1|c"), 1),
        (format!("{p}.workspace.default.status.200:1|c"), 2),
        (format!("{p}.user.uniques:robert|s"), 2),
        (format!("{p}.user.robert.request.count:1|c"), 2),
        (format!("{p}.user.robert.status.200:1|c"), 2),
        (format!("kong.route.{rid}.user.robert.status.200:1|c"), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected, "raw lines: {got:#?}");
}
