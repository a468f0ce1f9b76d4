//! Configuration flow through the real `admin` and `gateway` binaries: propagation latency to
//! two gateways, the embedded store, database outages and the disk cache.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{percentile, wait_for, Admin, Gateway, GatewayOpts, PgDb, TcpRelay, Upstream};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn status_of(gw: &Gateway, path: &str) -> u16 {
    match client().get(format!("{}{path}", gw.url)).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Wait until `gw` answers `want` on `path`.
async fn serves(gw: &Gateway, path: &str, want: u16, within: Duration) -> bool {
    wait_for(within, || async {
        (status_of(gw, path).await == want).then_some(())
    })
    .await
    .is_some()
}

async fn create_service(admin: &Admin, up: &Upstream, name: &str) -> Value {
    admin
        .create(
            "/services",
            json!({"name": name, "url": format!("http://127.0.0.1:{}", up.addr.port())}),
        )
        .await
}

fn gateway_opts(database_url: Option<&str>, dir: &Path, env: &[(&str, &str)]) -> GatewayOpts {
    GatewayOpts {
        database_url: database_url.map(str::to_owned),
        data_dir: dir.to_path_buf(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Create `n` routes one by one and measure, for each, the time from the admin's 201 until
/// every gateway serves it. Returns sorted durations.
async fn measure_propagation(admin: &Admin, gateways: &[&Gateway], n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let path = format!("/prop{i}");
        admin
            .create(
                "/services/svc/routes",
                json!({"name": format!("prop{i}"), "paths": [path]}),
            )
            .await;
        let t0 = Instant::now();
        for gw in gateways {
            let ok = wait_for(Duration::from_secs(15), || async {
                (status_of(gw, &path).await == 200).then_some(())
            })
            .await;
            assert!(ok.is_some(), "{path} never served; log:\n{}", gw.log_text());
        }
        samples.push(t0.elapsed());
    }
    samples.sort();
    samples
}

async fn propagation(database_url: Option<String>, label: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Upstream::http().await;
    let admin = Admin::start(database_url.as_deref(), &dir.path().join("admin")).await;
    create_service(&admin, &up, "svc").await;
    // The embedded store lives in the admin's data dir; both gateways share it.
    let url = database_url
        .clone()
        .unwrap_or_else(|| admin.database_url.clone());
    let gw1 = Gateway::start(gateway_opts(Some(&url), &dir.path().join("gw1"), &[])).await;
    let gw2 = Gateway::start(gateway_opts(Some(&url), &dir.path().join("gw2"), &[])).await;
    gw1.wait_ready().await;
    gw2.wait_ready().await;
    let samples = measure_propagation(&admin, &[&gw1, &gw2], 20).await;
    let p50 = percentile(&samples, 50.0);
    let p99 = percentile(&samples, 99.0);
    println!(
        "propagation [{label}] admin 201 -> both gateways serving, n={}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    // NOTIFY (Postgres) and the 250 ms poll (SQLite) both beat Kong's 5-10 s by far.
    assert!(p99 < Duration::from_secs(2), "p99 {p99:?}");
}

#[tokio::test]
async fn propagation_to_two_gateways_postgres() {
    let db = PgDb::create().await;
    propagation(Some(db.url.clone()), "postgres LISTEN/NOTIFY").await;
}

#[tokio::test]
async fn propagation_to_two_gateways_sqlite() {
    propagation(None, "sqlite poll 250ms").await;
}

async fn lifecycle(database_url: Option<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Upstream::http().await;
    let admin = Admin::start(database_url.as_deref(), &dir.path().join("admin")).await;
    let url = database_url
        .clone()
        .unwrap_or_else(|| admin.database_url.clone());
    let gw = Gateway::start(gateway_opts(
        Some(&url),
        &dir.path().join("gw"),
        &[("CONFIG_POLL_INTERVAL_MS", "200")],
    ))
    .await;
    gw.wait_ready().await;

    let svc = create_service(&admin, &up, "life").await;
    let route = admin
        .create(
            "/services/life/routes",
            json!({"name": "life", "paths": ["/life"]}),
        )
        .await;
    assert!(
        serves(&gw, "/life/x", 200, Duration::from_secs(10)).await,
        "{}",
        gw.log_text()
    );
    let version = admin.store_version().await;
    assert!(gw.wait_version(version, Duration::from_secs(5)).await);

    // Disabling the service drops its routes.
    admin
        .patch(
            &format!("/services/{}", svc["id"].as_str().expect("id")),
            json!({"enabled": false}),
        )
        .await;
    assert!(serves(&gw, "/life/x", 404, Duration::from_secs(10)).await);
    admin
        .patch("/services/life", json!({"enabled": true}))
        .await;
    assert!(serves(&gw, "/life/x", 200, Duration::from_secs(10)).await);

    // Route changes: methods now restrict.
    admin
        .patch(
            &format!("/routes/{}", route["id"].as_str().expect("id")),
            json!({"methods": ["POST"]}),
        )
        .await;
    assert!(serves(&gw, "/life/x", 404, Duration::from_secs(10)).await);
    let (status, _) = admin
        .send(reqwest::Method::DELETE, "/routes/life", None)
        .await;
    assert_eq!(status, 204);
    let res = client()
        .post(format!("{}/life/x", gw.url))
        .send()
        .await
        .expect("req");
    let ok = wait_for(Duration::from_secs(10), || async {
        let r = client()
            .post(format!("{}/life/x", gw.url))
            .send()
            .await
            .ok()?;
        (r.status() == 404).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "deleted route still served (first answer {})",
        res.status()
    );

    // The last good configuration is on disk.
    let cache =
        std::fs::read(dir.path().join("gw").join("snapshot.json")).expect("snapshot cache written");
    let cached: Value = serde_json::from_slice(&cache).expect("json");
    let version = admin.store_version().await;
    assert!(gw.wait_version(version, Duration::from_secs(5)).await);
    let ok = wait_for(Duration::from_secs(5), || async {
        let cache = std::fs::read(dir.path().join("gw").join("snapshot.json")).ok()?;
        let cached: Value = serde_json::from_slice(&cache).ok()?;
        (cached["version"].as_i64() == Some(version)).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "cache at {} but store at {version}",
        cached["version"]
    );
}

#[tokio::test]
async fn admin_changes_reach_the_gateway_postgres() {
    let db = PgDb::create().await;
    lifecycle(Some(db.url.clone())).await;
}

#[tokio::test]
async fn admin_changes_reach_the_gateway_sqlite() {
    lifecycle(None).await;
}

/// A running gateway keeps serving through a database outage, a fresh gateway starts from the
/// disk copy, and changes made during the outage arrive once the database is back.
#[tokio::test]
async fn database_outage_serves_last_good_configuration() {
    let db = PgDb::create().await;
    let relay = TcpRelay::start(common::pg_addr(&db.url)).await;
    let via_relay = db.url_via(relay.addr);
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Upstream::http().await;
    let admin = Admin::start(Some(&db.url), &dir.path().join("admin")).await;
    create_service(&admin, &up, "svc").await;
    admin
        .create(
            "/services/svc/routes",
            json!({"name": "one", "paths": ["/one"]}),
        )
        .await;

    let env = [("CONFIG_POLL_INTERVAL_MS", "200")];
    let gw_a = Gateway::start(gateway_opts(Some(&via_relay), &dir.path().join("a"), &env)).await;
    gw_a.wait_ready().await;
    assert!(serves(&gw_a, "/one", 200, Duration::from_secs(10)).await);

    relay.cut();
    let down = wait_for(Duration::from_secs(15), || async {
        let s = gw_a.status().await?;
        (s["database"]["reachable"] == false).then_some(())
    })
    .await;
    assert!(
        down.is_some(),
        "gateway never noticed the outage; log:\n{}",
        gw_a.log_text()
    );
    assert_eq!(
        status_of(&gw_a, "/one").await,
        200,
        "keeps serving during the outage"
    );

    // A change made while the gateways cannot see the database.
    admin
        .create(
            "/services/svc/routes",
            json!({"name": "two", "paths": ["/two"]}),
        )
        .await;

    // A fresh gateway with no database serves the disk copy.
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&b_dir).expect("dir");
    std::fs::copy(
        dir.path().join("a").join("snapshot.json"),
        b_dir.join("snapshot.json"),
    )
    .expect("copy cache");
    let gw_b = Gateway::start(gateway_opts(Some(&via_relay), &b_dir, &env)).await;
    gw_b.wait_ready().await;
    assert_eq!(
        status_of(&gw_b, "/one").await,
        200,
        "fresh gateway serves from disk; log:\n{}",
        gw_b.log_text()
    );
    assert_eq!(status_of(&gw_b, "/two").await, 404);
    assert_eq!(status_of(&gw_a, "/two").await, 404);

    // The database returns: the outage-time change reaches both.
    relay.restore();
    for gw in [&gw_a, &gw_b] {
        assert!(
            serves(gw, "/two", 200, Duration::from_secs(20)).await,
            "change never arrived; log:\n{}",
            gw.log_text()
        );
        let s = gw.status().await.expect("status");
        assert_eq!(s["database"]["reachable"], true);
    }
    // And later changes flow as usual (NOTIFY or poll).
    admin
        .create(
            "/services/svc/routes",
            json!({"name": "three", "paths": ["/three"]}),
        )
        .await;
    for gw in [&gw_a, &gw_b] {
        assert!(serves(gw, "/three", 200, Duration::from_secs(10)).await);
    }
}

/// A gateway started with neither database nor disk copy is not ready and answers 404, then
/// becomes ready once the database appears.
#[tokio::test]
async fn not_ready_until_a_configuration_exists() {
    let db = PgDb::create().await;
    let relay = TcpRelay::start(common::pg_addr(&db.url)).await;
    relay.cut();
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(gateway_opts(Some(&db.url_via(relay.addr)), dir.path(), &[])).await;
    let ready = reqwest::get(format!("{}/status/ready", gw.status_url))
        .await
        .expect("status");
    assert_eq!(ready.status(), 503);
    assert_eq!(status_of(&gw, "/anything").await, 404);
    relay.restore();
    gw.wait_ready().await;
    let body: Value = reqwest::get(format!("{}/status/ready", gw.status_url))
        .await
        .expect("s")
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!({"message": "ready"}));
}

/// A configuration that does not compile (here: a route regex the router rejects, written
/// behind the admin's back) is refused; the gateway keeps serving the last good one.
#[tokio::test]
async fn invalid_configuration_is_refused_keeping_the_last_good_one() {
    use sqlx::{Connection, Row};
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Upstream::http().await;
    let admin = Admin::start(None, &dir.path().join("admin")).await;
    create_service(&admin, &up, "svc").await;
    admin
        .create(
            "/services/svc/routes",
            json!({"name": "good", "paths": ["/good"]}),
        )
        .await;
    let gw = Gateway::start(gateway_opts(
        Some(&admin.database_url),
        &dir.path().join("gw"),
        &[],
    ))
    .await;
    gw.wait_ready().await;
    assert!(serves(&gw, "/good", 200, Duration::from_secs(10)).await);
    let good_version = admin.store_version().await;
    assert!(gw.wait_version(good_version, Duration::from_secs(5)).await);

    let mut conn = sqlx::SqliteConnection::connect(&admin.database_url)
        .await
        .expect("sqlite");
    let row = sqlx::query("SELECT id, doc FROM routes WHERE name = 'good'")
        .fetch_one(&mut conn)
        .await
        .expect("route row");
    let id: String = row.get("id");
    let mut doc: Value = serde_json::from_str(&row.get::<String, _>("doc")).expect("doc json");
    doc["paths"] = json!(["~/(unclosed"]);
    sqlx::query("UPDATE routes SET doc = $1 WHERE id = $2")
        .bind(doc.to_string())
        .bind(&id)
        .execute(&mut conn)
        .await
        .expect("update");
    sqlx::query("UPDATE config_version SET version = version + 1 WHERE id = 1")
        .execute(&mut conn)
        .await
        .expect("bump");
    let refused = wait_for(Duration::from_secs(10), || async {
        let s = gw.status().await?;
        (s["reload_failures"].as_i64()? >= 1).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "bad configuration not refused; log:\n{}",
        gw.log_text()
    );
    assert_eq!(
        gw.status().await.expect("status")["configuration_version"],
        good_version
    );
    assert_eq!(
        status_of(&gw, "/good").await,
        200,
        "last good configuration still served"
    );
    assert!(gw.log_text().contains("configuration refused"));

    // A later good write is taken again.
    doc["paths"] = json!(["/fixed"]);
    sqlx::query("UPDATE routes SET doc = $1 WHERE id = $2")
        .bind(doc.to_string())
        .bind(&id)
        .execute(&mut conn)
        .await
        .expect("update");
    sqlx::query("UPDATE config_version SET version = version + 1 WHERE id = 1")
        .execute(&mut conn)
        .await
        .expect("bump");
    assert!(serves(&gw, "/fixed", 200, Duration::from_secs(10)).await);
    assert_eq!(status_of(&gw, "/good").await, 404);
}
