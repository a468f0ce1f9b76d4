//! End-to-end transport behaviour of the real `gateway` binary: streaming bodies, timeouts,
//! refused connections, header limits, graceful drain, WebSocket, TLS/h2 upstreams, h2c
//! clients and the access log.

mod common;

use std::time::{Duration, Instant};

use common::config::{client, config, get_json, id, route, service};
use common::{Gateway, TestCa, Upstream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

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
async fn grpc_services_speak_h2c_to_the_upstream() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![service(1, &up, json!({"protocol": "grpc"}))],
            vec![route(
                1,
                Some(1),
                json!({"paths": ["/pkg.Service"], "protocols": ["grpc"], "strip_path": false}),
            )],
        ),
        &[],
    )
    .await;
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let res = c
        .post(format!("{}/pkg.Service/Method", gw.url))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["version"], "HTTP/2.0");
    assert_eq!(body["path"], "/pkg.Service/Method");
    assert_eq!(body["headers"]["te"][0], "trailers");
    assert_eq!(body["body_len"], 5);
}

#[tokio::test]
async fn unresolvable_service_host_is_503_name_resolution_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::with_config(
        dir.path(),
        &config(
            vec![json!({"id": id(1), "host": "no-such-host.invalid", "port": 80, "retries": 0})],
            vec![route(1, Some(1), json!({"paths": ["/dns"]}))],
        ),
        &[],
    )
    .await;
    let res = client()
        .get(format!("{}/dns", gw.url))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 503, "{}", gw.log_text());
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["message"], "name resolution failed");
}
