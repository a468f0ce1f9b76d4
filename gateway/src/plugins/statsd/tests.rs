//! Unit tests of the statsd plugin: exact lines for known exchanges, identifiers, sample
//! rates, tag styles, and delivery through real UDP/TCP sockets (batching, dead endpoints).

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::model::{Consumer, Route, Service};
use gateway_core::plugin_config;
use gateway_core::store::InputFormat;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

fn plugin(config: Value) -> StatsdPlugin {
    let cfg =
        plugin_config::normalize("statsd", Some(&config), InputFormat::Json).expect("valid config");
    StatsdPlugin::build(&cfg).expect("builds")
}

fn service(name: Option<&str>, host: &str) -> Arc<Service> {
    let mut v = json!({"id": Uuid::new_v4(), "host": host});
    if let Some(n) = name {
        v["name"] = json!(n);
    }
    Arc::new(serde_json::from_value(v).unwrap())
}

fn route(name: Option<&str>) -> Arc<Route> {
    Arc::new(serde_json::from_value(json!({"id": Uuid::new_v4(), "name": name})).unwrap())
}

fn consumer(username: Option<&str>, custom_id: Option<&str>) -> Arc<Consumer> {
    Arc::new(
        serde_json::from_value(
            json!({"id": Uuid::new_v4(), "username": username, "custom_id": custom_id}),
        )
        .unwrap(),
    )
}

fn summary(
    svc: Option<Arc<Service>>,
    consumer: Option<Arc<Consumer>>,
    status: u16,
    proxied: bool,
) -> Summary {
    Summary {
        route: Some(route(Some("r1"))),
        service: svc,
        consumer,
        status,
        request_size: 120,
        response_size: 340,
        latency: Duration::from_millis(15),
        upstream_latency: proxied.then(|| Duration::from_millis(10)),
        gateway_latency: Duration::from_millis(5),
    }
}

/// A port nothing listens on (bound then released).
fn dead_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn default_metrics_lines() {
    let p = plugin(json!({"port": dead_port()}));
    let robert = consumer(Some("bob"), Some("robert"));
    let s = summary(
        Some(service(Some("statsd1"), "up.test")),
        Some(robert),
        200,
        true,
    );
    let rid = s.route.as_ref().expect("route").id;
    assert_eq!(
        p.lines(&s),
        vec![
            "kong.service.statsd1.request.count:1|c".to_string(),
            "kong.service.statsd1.latency:15|ms".into(),
            "kong.service.statsd1.request.size:120|c".into(),
            "kong.service.statsd1.status.200:1|c".into(),
            "kong.service.statsd1.response.size:340|c".into(),
            "kong.service.statsd1.user.uniques:robert|s".into(),
            "kong.service.statsd1.user.robert.request.count:1|c".into(),
            "kong.service.statsd1.upstream_latency:10|ms".into(),
            "kong.service.statsd1.kong_latency:5|ms".into(),
            "kong.service.statsd1.user.robert.status.200:1|c".into(),
            "kong.service.statsd1.workspace.default.status.200:1|c".into(),
            format!("kong.route.{rid}.user.robert.status.200:1|c"),
        ]
    );
}

#[test]
fn identifiers_and_scopes() {
    let p = plugin(json!({"port": dead_port()}));
    // No custom_id (default identifier): no per-user metrics; not proxied: no upstream latency.
    let s = summary(
        Some(service(None, "my.host.test")),
        Some(consumer(Some("bob"), None)),
        404,
        false,
    );
    let lines = p.lines(&s);
    assert!(lines.iter().all(|l| !l.contains(".user.")), "{lines:?}");
    assert!(
        lines.iter().all(|l| !l.contains("upstream_latency")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"kong.service.my_host_test.status.404:1|c".to_string()),
        "{lines:?}"
    );
    // No service: global.unmatched.
    let lines = p.lines(&summary(None, None, 404, false));
    assert_eq!(lines[0], "kong.global.unmatched.request.count:1|c");
    // Per-metric identifiers override the defaults.
    let svc = service(Some("svc.a"), "h.test");
    let c = consumer(Some("bob"), None);
    let p = plugin(
        json!({"port": dead_port(), "consumer_identifier_default": "username", "metrics": [
            {"name": "request_count", "stat_type": "counter", "sample_rate": 1, "service_identifier": "service_host"},
            {"name": "request_per_user", "stat_type": "counter", "sample_rate": 1, "consumer_identifier": "consumer_id"},
            {"name": "unique_users", "stat_type": "set"},
            {"name": "request_count", "stat_type": "counter", "sample_rate": 1, "service_identifier": "service_id"},
        ]}),
    );
    let lines = p.lines(&summary(Some(svc.clone()), Some(c.clone()), 200, true));
    assert_eq!(
        lines,
        vec![
            "kong.service.h_test.request.count:1|c".to_string(),
            format!("kong.service.svc_a.user.{}.request.count:1|c", c.id),
            "kong.service.svc_a.user.uniques:bob|s".into(),
            format!("kong.service.{}.request.count:1|c", svc.id),
        ]
    );
    // service_name of a nameless service: unnamed.
    let p = plugin(
        json!({"port": dead_port(), "service_identifier_default": "service_name",
                          "metrics": [{"name": "request_count", "stat_type": "counter", "sample_rate": 1}]}),
    );
    assert_eq!(
        p.lines(&summary(Some(service(None, "h")), None, 200, true)),
        vec!["kong.service.unnamed.request.count:1|c"]
    );
}

#[test]
fn rates_types_prefix_and_status_filter() {
    let p = plugin(json!({"port": dead_port(), "prefix": "gw", "metrics": [
        {"name": "request_count", "stat_type": "counter", "sample_rate": 0.5},
        {"name": "latency", "stat_type": "histogram"},
        {"name": "request_size", "stat_type": "gauge", "sample_rate": 2},
        {"name": "response_size", "stat_type": "meter"},
        {"name": "shdict_usage", "stat_type": "gauge", "sample_rate": 1},
    ]}));
    let s = summary(Some(service(Some("s"), "h")), None, 200, true);
    assert_eq!(
        p.lines(&s),
        vec![
            "gw.service.s.request.count:1|c|@0.5".to_string(),
            "gw.service.s.latency:15|h".into(),
            "gw.service.s.request.size:120|g|@2".into(),
            "gw.service.s.response.size:340|m".into(),
        ]
    );
    let p = plugin(
        json!({"port": dead_port(), "prefix": null, "hostname_in_prefix": false,
                          "metrics": [{"name": "request_count", "stat_type": "counter", "sample_rate": 1}]}),
    );
    assert_eq!(p.lines(&s), vec!["kong.service.s.request.count:1|c"]);
    let p = plugin(json!({"port": dead_port(), "hostname_in_prefix": true,
                          "metrics": [{"name": "request_count", "stat_type": "counter", "sample_rate": 1}]}));
    assert_eq!(
        p.lines(&s),
        vec![format!(
            "kong.node.{}.service.s.request.count:1|c",
            hostname()
        )]
    );
    let p = plugin(json!({"port": dead_port(), "allow_status_codes": ["200-204", "500-599"]}));
    assert!(!p.lines(&summary(None, None, 204, false)).is_empty());
    assert!(p.lines(&summary(None, None, 404, false)).is_empty());
    assert!(!p.lines(&summary(None, None, 503, false)).is_empty());
}

#[test]
fn tag_styles() {
    let svc = service(Some("s"), "h");
    let c = consumer(None, Some("cid"));
    let s = summary(Some(svc), Some(c), 201, true);
    let node = hostname();
    let metrics = json!([
        {"name": "request_count", "stat_type": "counter", "sample_rate": 1},
        {"name": "status_count", "stat_type": "counter", "sample_rate": 1},
        {"name": "unique_users", "stat_type": "set"},
        {"name": "latency", "stat_type": "timer"},
    ]);
    let tags_colon =
        format!("service:s,route:r1,workspace:default,consumer:cid,node:{node},status:201");
    let tags_eq =
        format!("service=s,route=r1,workspace=default,consumer=cid,node={node},status=201");
    let cases = [
        (
            "dogstatsd",
            vec![
                format!("kong.request.count:1|c|#{tags_colon}"),
                format!("kong.latency:15|ms|#{tags_colon}"),
            ],
        ),
        (
            "influxdb",
            vec![
                format!("kong.request.count,{tags_eq}:1|c"),
                format!("kong.latency,{tags_eq}:15|ms"),
            ],
        ),
        (
            "librato",
            vec![
                format!("kong.request.count#{tags_eq}:1|c"),
                format!("kong.latency#{tags_eq}:15|ms"),
            ],
        ),
        (
            "signalfx",
            vec![
                format!("kong.request.count[{tags_eq}]:1|c"),
                format!("kong.latency[{tags_eq}]:15|ms"),
            ],
        ),
    ];
    for (style, expected) in cases {
        let p = plugin(
            json!({"port": dead_port(), "tag_style": style, "hostname_in_prefix": true, "metrics": metrics}),
        );
        assert_eq!(p.lines(&s), expected, "{style}");
    }
}

/// A request no route matched: global plugins log it without route, service or consumer.
#[test]
fn unmatched_request_lines() {
    let mut s = summary(None, None, 404, false);
    s.route = None;
    let p = plugin(json!({"port": dead_port()}));
    assert_eq!(
        p.lines(&s),
        vec![
            "kong.global.unmatched.request.count:1|c".to_string(),
            "kong.global.unmatched.latency:15|ms".into(),
            "kong.global.unmatched.request.size:120|c".into(),
            "kong.global.unmatched.status.404:1|c".into(),
            "kong.global.unmatched.response.size:340|c".into(),
            "kong.global.unmatched.kong_latency:5|ms".into(),
            "kong.global.unmatched.workspace.default.status.404:1|c".into(),
        ]
    );
    // Without a route the per-route metric is skipped even with a consumer.
    s.consumer = Some(consumer(Some("bob"), Some("robert")));
    let lines = p.lines(&s);
    assert!(
        lines.contains(&"kong.global.unmatched.user.robert.status.404:1|c".to_string()),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains("route.")), "{lines:?}");
    // Tag styles leave the route tag out.
    let p = plugin(
        json!({"port": dead_port(), "tag_style": "dogstatsd", "metrics": [
            {"name": "request_count", "stat_type": "counter", "sample_rate": 1},
        ]}),
    );
    s.consumer = None;
    assert_eq!(
        p.lines(&s),
        vec![format!(
            "kong.request.count:1|c|#workspace:default,node:{},status:404",
            hostname()
        )]
    );
}

fn recv_all(rx: &UdpSocket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    for _ in 0..n {
        let len = rx.recv(&mut buf).expect("datagram");
        out.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    out
}

#[test]
fn udp_receives_exact_lines() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let p = plugin(json!({"host": "127.0.0.1", "port": port}));
    let s = summary(
        Some(service(Some("statsd1"), "h")),
        Some(consumer(None, Some("robert"))),
        200,
        true,
    );
    let expected = p.lines(&s);
    assert_eq!(expected.len(), 12);
    p.log(&s);
    let got = recv_all(&rx, 12);
    assert_eq!(got, expected);
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(rx.recv(&mut [0u8; 10]).is_err(), "no extra datagram");
}

#[test]
fn udp_packet_batching() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let p = plugin(json!({"host": "127.0.0.1", "port": port, "udp_packet_size": 120}));
    let s = summary(
        Some(service(Some("statsd1"), "h")),
        Some(consumer(None, Some("robert"))),
        200,
        true,
    );
    let expected = p.lines(&s);
    p.log(&s);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let packet = recv_all(&rx, 1).remove(0);
        assert!(packet.len() <= 120, "{packet}");
        got.extend(packet.split('\n').map(String::from));
    }
    assert_eq!(got, expected);
    // A big packet size carries everything in one datagram.
    let big = plugin(json!({"host": "127.0.0.1", "port": port, "udp_packet_size": 65507}));
    big.log(&s);
    assert_eq!(recv_all(&rx, 1)[0], expected.join("\n"));
}

#[test]
fn tcp_delivery() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = plugin(json!({"host": "127.0.0.1", "port": port, "use_tcp": true,
                          "metrics": [{"name": "request_count", "stat_type": "counter", "sample_rate": 1},
                                      {"name": "status_count", "stat_type": "counter", "sample_rate": 1}]}));
    let s = summary(Some(service(Some("t"), "h")), None, 200, true);
    p.log(&s);
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let want = "kong.service.t.request.count:1|c\nkong.service.t.status.200:1|c\n";
    let mut buf = vec![0u8; want.len()];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), want);
}

#[test]
fn dead_endpoints_never_block() {
    let s = summary(
        Some(service(Some("d"), "h")),
        Some(consumer(None, Some("c"))),
        200,
        true,
    );
    // A stalled TCP endpoint: it accepts connections (the kernel does, from the backlog) but
    // never reads, so the sender's buffers fill up. Loopback only: tests send nothing elsewhere.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_port = stalled.local_addr().unwrap().port();
    for config in [
        json!({"host": "127.0.0.1", "port": dead_port()}),
        json!({"host": "127.0.0.1", "port": dead_port(), "use_tcp": true, "queue": {"max_entries": 10}}),
        json!({"host": "127.0.0.1", "port": stalled_port, "use_tcp": true, "queue": {"max_entries": 10}}),
        json!({"host": "no-such-host.invalid", "port": 8125}),
    ] {
        let p = plugin(config.clone());
        let start = Instant::now();
        for _ in 0..2000 {
            p.log(&s);
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{config} blocked: {:?}",
            start.elapsed()
        );
    }
}
