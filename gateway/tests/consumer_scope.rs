//! Plugin precedence with consumer scoping, end to end: a statsd instance scoped to one
//! consumer applies once jwt has authenticated that consumer, and only then.

mod common;

use std::time::Duration;

use common::{wait_for, Admin, Gateway, GatewayOpts, UdpSink, Upstream};
use serde_json::json;

fn token(key: &str, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "iss": key }),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

#[tokio::test]
async fn consumer_scoped_statsd_applies_to_its_consumer_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Upstream::http().await;
    let sink = UdpSink::bind().await;
    let admin = Admin::start(None, &dir.path().join("admin")).await;
    admin
        .create(
            "/services",
            json!({"name": "svc", "url": format!("http://127.0.0.1:{}", up.addr.port())}),
        )
        .await;
    admin
        .create(
            "/services/svc/routes",
            json!({"name": "r", "paths": ["/scoped"]}),
        )
        .await;
    admin
        .create("/routes/r/plugins", json!({"name": "jwt"}))
        .await;
    let mut consumer_ids = Vec::new();
    for name in ["alice", "bob"] {
        let c = admin
            .create("/consumers", json!({ "username": name }))
            .await;
        consumer_ids.push(c["id"].clone());
        admin
            .create(
                &format!("/consumers/{name}/jwt"),
                json!({"key": format!("{name}-key"), "secret": format!("{name}-secret")}),
            )
            .await;
    }
    admin
        .create(
            "/plugins",
            json!({
                "name": "statsd",
                "consumer": {"id": consumer_ids[0]},
                "config": {"host": "127.0.0.1", "port": sink.addr.port()},
            }),
        )
        .await;
    let gw = Gateway::start(GatewayOpts {
        database_url: Some(admin.database_url.clone()),
        data_dir: dir.path().join("gw"),
        env: Vec::new(),
    })
    .await;
    gw.wait_ready().await;
    let version = admin.store_version().await;
    assert!(gw.wait_version(version, Duration::from_secs(10)).await);

    let client = reqwest::Client::new();
    let call = |who: &str| {
        let t = token(&format!("{who}-key"), &format!("{who}-secret"));
        client
            .get(format!("{}/scoped", gw.url))
            .header("authorization", format!("Bearer {t}"))
            .send()
    };
    // bob: authenticated, but no statsd instance applies to him.
    for _ in 0..3 {
        assert_eq!(call("bob").await.expect("bob").status(), 200);
    }
    assert!(
        sink.lines(Duration::from_millis(800)).await.is_empty(),
        "statsd fired for a consumer it is not scoped to"
    );
    // alice: her instance applies.
    assert_eq!(call("alice").await.expect("alice").status(), 200);
    let lines = wait_for(Duration::from_secs(5), || async {
        let l = sink.lines(Duration::from_millis(300)).await;
        (!l.is_empty()).then_some(l)
    })
    .await
    .expect("statsd lines for alice");
    assert!(
        lines.iter().any(|l| l.contains("request.count:1|c")),
        "{lines:?}"
    );
    // Unauthenticated requests are refused by jwt and never reach a consumer's instance.
    let res = client
        .get(format!("{}/scoped", gw.url))
        .send()
        .await
        .expect("anon");
    assert_eq!(res.status(), 401);
    assert!(sink.lines(Duration::from_millis(500)).await.is_empty());
}
