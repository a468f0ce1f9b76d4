//! Store behaviour beyond single-entity CRUD, on Postgres and SQLite: pagination, tag filters,
//! concurrent writers, version bumps and notifications, consistent loads, concurrent migration.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{json, parent, TestDb};
use gateway_core::store::{EntityKind::*, ListQuery, Store, TagFilter, NOTIFY_CHANNEL};
use serde_json::json;

both!(
    pagination_over_1000,
    tag_filters,
    concurrent_upserts_make_one_row,
    versions_bump_on_writes_only,
    load_config_is_typed_and_complete,
    concurrent_migrations,
);

/// Create `n` consumers with 8 concurrent writers.
async fn many_consumers(s: &Store, n: usize) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                s.create(
                    Consumers,
                    None,
                    json(json!({"username": format!("user-{i:05}")})),
                )
                .await
                .expect("create consumer");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

async fn pagination_over_1000(db: &TestDb) {
    let s = &db.store;
    many_consumers(s, 1005).await;

    let first = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.data.len(), 1000);
    let offset = first.offset.clone().expect("more pages");
    let second = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 1000,
                offset: Some(offset),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.data.len(), 5);
    assert!(second.offset.is_none());

    // Walk with the default size: every consumer exactly once, in id order.
    let mut seen = Vec::new();
    let mut offset = None;
    loop {
        let page = s
            .list(
                Consumers,
                None,
                &ListQuery {
                    size: 100,
                    offset: offset.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.data.iter().map(common::id));
        match page.offset {
            Some(o) => offset = Some(o),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1005);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1005);

    // Exactly one full page: no offset.
    let exact = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 5,
                offset: Some(gateway_core::store::encode_offset(&seen[999])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(exact.data.len(), 5);
    assert!(exact.offset.is_none());

    let e = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 10,
                offset: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad base64 encoding"})
    );
    assert_eq!(e.status, 400);
}

async fn tag_filters(db: &TestDb) {
    let s = &db.store;
    for (name, tags) in [
        ("a", json!(["red", "big"])),
        ("b", json!(["red"])),
        ("c", json!(["blue", "big"])),
        ("d", json!(null)),
        ("e", json!(["Red", "r_d"])),
    ] {
        s.create(
            Services,
            None,
            json(json!({"name": name, "host": "h.test", "tags": tags})),
        )
        .await
        .unwrap();
    }
    let names = |tags: TagFilter| {
        let s = s.clone();
        async move {
            let page = s
                .list(
                    Services,
                    None,
                    &ListQuery {
                        size: 100,
                        tags: Some(tags),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let mut n: Vec<String> = page
                .data
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            n.sort();
            n
        }
    };
    assert_eq!(names(TagFilter::All(vec!["red".into()])).await, ["a", "b"]);
    assert_eq!(
        names(TagFilter::All(vec!["red".into(), "big".into()])).await,
        ["a"]
    );
    assert_eq!(
        names(TagFilter::Any(vec!["red".into(), "blue".into()])).await,
        ["a", "b", "c"]
    );
    assert_eq!(
        names(TagFilter::Any(vec!["nope".into()])).await,
        Vec::<String>::new()
    );
    // Case-sensitive and no LIKE wildcards.
    assert_eq!(names(TagFilter::All(vec!["Red".into()])).await, ["e"]);
    assert_eq!(names(TagFilter::All(vec!["r_d".into()])).await, ["e"]);
    // Tags filter nested lists and paginate too.
    let page = s
        .list(
            Services,
            None,
            &ListQuery {
                size: 1,
                tags: Some(TagFilter::All(vec!["big".into()])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    let rest = s
        .list(
            Services,
            None,
            &ListQuery {
                size: 1,
                offset: page.offset,
                tags: Some(TagFilter::All(vec!["big".into()])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.data.len(), 1);
    assert!(rest.offset.is_none());
    assert_ne!(page.data[0]["name"], rest.data[0]["name"]);
}

async fn concurrent_upserts_make_one_row(db: &TestDb) {
    let s = &db.store;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.upsert(
                Services,
                "same",
                None,
                json(json!({"url": format!("http://u{i}.test")})),
            )
            .await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let doc = t.await.unwrap().expect("every PUT succeeds");
        ids.insert(common::id(&doc));
    }
    assert_eq!(ids.len(), 1, "all PUTs hit the same entity");
    let page = s
        .list(
            Services,
            None,
            &ListQuery {
                size: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);

    // Same for routes under a service, and for concurrent POSTs of one name: one wins.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.create(Consumers, None, json(json!({"username": "racer"})))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.status, 409, "{e}"),
        }
    }
    assert_eq!(ok, 1);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.upsert(
                Routes,
                "r",
                Some(&parent(Services, "same")),
                json(json!({"paths": ["/x"]})),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("route PUT");
    }
    assert_eq!(
        s.list(
            Routes,
            None,
            &ListQuery {
                size: 100,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .data
        .len(),
        1
    );
}

async fn versions_bump_on_writes_only(db: &TestDb) {
    let s = &db.store;
    let mut listener = if s.is_postgres() {
        let mut l = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
        l.listen(NOTIFY_CHANNEL).await.unwrap();
        Some(l)
    } else {
        None
    };
    let v0 = s.version().await.unwrap();
    assert_eq!(v0, 0);
    assert!(s.ping().await);

    s.create(
        Services,
        None,
        json(json!({"name": "svc", "host": "h.test"})),
    )
    .await
    .unwrap();
    assert_eq!(s.version().await.unwrap(), 1);
    s.upsert(Services, "svc", None, json(json!({"host": "h2.test"})))
        .await
        .unwrap();
    assert_eq!(s.version().await.unwrap(), 2);
    s.update(Services, "svc", None, json(json!({"retries": 1})))
        .await
        .unwrap();
    assert_eq!(s.version().await.unwrap(), 3);
    // Failed writes and no-op deletes leave the version alone.
    s.create(
        Services,
        None,
        json(json!({"name": "svc", "host": "h.test"})),
    )
    .await
    .unwrap_err();
    s.update(Services, "ghost", None, json(json!({})))
        .await
        .unwrap_err();
    s.delete(Services, "ghost", None).await.unwrap();
    assert_eq!(s.version().await.unwrap(), 3);
    s.delete(Services, "svc", None).await.unwrap();
    assert_eq!(s.version().await.unwrap(), 4);
    assert_eq!(s.load_config().await.unwrap().version, 4);

    if let Some(l) = listener.as_mut() {
        let mut got = Vec::new();
        for _ in 0..4 {
            let n = tokio::time::timeout(Duration::from_secs(5), l.recv())
                .await
                .expect("notification in time")
                .unwrap();
            assert_eq!(n.channel(), NOTIFY_CHANNEL);
            got.push(n.payload().to_string());
        }
        assert_eq!(got, ["1", "2", "3", "4"]);
        // Nothing for the failed writes.
        assert!(tokio::time::timeout(Duration::from_millis(300), l.recv())
            .await
            .is_err());
    }
}

async fn load_config_is_typed_and_complete(db: &TestDb) {
    let s = &db.store;
    let empty = s.load_config().await.unwrap();
    assert_eq!(empty.version, 0);
    assert!(empty.services.is_empty() && empty.routes.is_empty());

    let svc = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "url": "https://u.test:8443/base", "tags": ["t"]})),
        )
        .await
        .unwrap();
    s.create(
        Routes,
        Some(&parent(Services, "svc")),
        json(json!({"name": "r", "paths": ["/a"], "methods": ["GET"], "headers": {"x-v": ["1"]}})),
    )
    .await
    .unwrap();
    s.create(Consumers, None, json(json!({"username": "bob"})))
        .await
        .unwrap();
    s.create(
        Plugins,
        Some(&parent(Routes, "r")),
        json(json!({"name": "jwt"})),
    )
    .await
    .unwrap();
    s.create(Plugins, None, json(json!({"name": "statsd"})))
        .await
        .unwrap();
    s.create(
        JwtSecrets,
        Some(&parent(Consumers, "bob")),
        json(json!({"key": "iss", "secret": "sec"})),
    )
    .await
    .unwrap();

    let cfg = s.load_config().await.unwrap();
    assert_eq!(cfg.version, 6);
    assert_eq!(cfg.services.len(), 1);
    let service = &cfg.services[0];
    assert_eq!(service.id.to_string(), common::id(&svc));
    assert_eq!(
        (
            service.protocol.as_str(),
            service.host.as_str(),
            service.port
        ),
        ("https", "u.test", 8443)
    );
    assert_eq!(service.path.as_deref(), Some("/base"));
    assert_eq!(service.tags, Some(vec!["t".to_string()]));
    let route = &cfg.routes[0];
    assert_eq!(route.service.map(|f| f.id), Some(service.id));
    assert_eq!(route.paths, Some(vec!["/a".to_string()]));
    assert_eq!(
        route.headers.as_ref().unwrap()["x-v"],
        vec!["1".to_string()]
    );
    assert!(route.strip_path);
    assert_eq!(cfg.consumers[0].username.as_deref(), Some("bob"));
    assert_eq!(cfg.plugins.len(), 2);
    let jwt = cfg.plugins.iter().find(|p| p.name == "jwt").unwrap();
    assert_eq!(jwt.route.map(|f| f.id), Some(route.id));
    assert!(jwt.config.is_object());
    assert_eq!(cfg.jwt_secrets[0].key, "iss");
    assert_eq!(cfg.jwt_secrets[0].consumer.id, cfg.consumers[0].id);
    assert_eq!(cfg.jwt_secrets[0].algorithm, "HS256");
}

async fn concurrent_migrations(db: &TestDb) {
    // Two more processes' worth of stores starting at once on the same (already migrated)
    // database, then on a brand-new one.
    let (a, b) = tokio::join!(Store::connect(&db.url), Store::connect(&db.url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.close().await;
    b.close().await;

    if !db.store.is_postgres() {
        // The file was switched to WAL by the store's connection setup (persistent per file).
        let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/fresh.db?mode=rwc", dir.path().display());
        let (a, b) = tokio::join!(Store::connect(&url), Store::connect(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
        ra.unwrap();
        rb.unwrap();
        a.create(Consumers, None, json(json!({"username": "x"})))
            .await
            .unwrap();
        assert_eq!(b.version().await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_fresh_postgres() {
    // A fresh database without migrations: create it bare, then race two migrators.
    let name = format!("gwtest_{}", uuid::Uuid::new_v4().simple());
    let admin = common::admin_url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let (a, b) = tokio::join!(Store::connect(&url), Store::connect(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let ok = ra.is_ok() && rb.is_ok();
    a.close().await;
    b.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .ok();
    assert!(ok, "{ra:?} {rb:?}");
}
