//! Store CRUD of every entity with Kong's exact bodies, on Postgres and SQLite.

mod common;

use common::{form, id, json, parent, TestDb};
use gateway_core::store::{ApiError, EntityKind::*, ListQuery};
use serde_json::{json, Value};

const MISSING: &str = "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11";

fn q() -> ListQuery {
    ListQuery {
        size: 100,
        ..Default::default()
    }
}

both!(
    services_crud,
    service_url_shorthand,
    routes_and_nesting,
    service_delete_refused_and_cascades,
    consumers_unique_and_filters,
    plugins_scopes_and_errors,
    jwt_credentials,
    common_errors,
    form_input,
    python_client_flow,
);

async fn services_crud(db: &TestDb) {
    let s = &db.store;
    let svc = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "host": "upstream.test"})),
        )
        .await
        .unwrap();
    let keys: Vec<&String> = svc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "created_at",
            "updated_at",
            "name",
            "retries",
            "protocol",
            "host",
            "port",
            "path",
            "connect_timeout",
            "write_timeout",
            "read_timeout",
            "tags",
            "client_certificate",
            "tls_verify",
            "tls_verify_depth",
            "ca_certificates",
            "enabled"
        ]
    );
    assert_eq!(svc["port"], 80);
    assert_eq!(svc["path"], Value::Null);
    let sid = id(&svc);
    assert_eq!(s.get(Services, &sid, None).await.unwrap(), svc);
    assert_eq!(s.get(Services, "svc", None).await.unwrap(), svc);
    assert_eq!(
        s.get(Services, "nope", None).await.unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.get(Services, MISSING, None).await.unwrap_err(),
        ApiError::not_found()
    );

    // PUT by name replaces: same id/created_at, omitted fields revert to defaults.
    let patched = s
        .update(
            Services,
            "svc",
            None,
            json(json!({"retries": 9, "path": "/p"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&patched["retries"], &patched["path"], &patched["host"]),
        (&json!(9), &json!("/p"), &json!("upstream.test"))
    );
    let put = s
        .upsert(Services, "svc", None, json(json!({"host": "other.test"})))
        .await
        .unwrap();
    assert_eq!(id(&put), sid);
    assert_eq!(put["created_at"], svc["created_at"]);
    assert_eq!(
        (&put["retries"], &put["path"], &put["name"]),
        (&json!(5), &Value::Null, &json!("svc"))
    );

    // PUT of a new name creates; PUT by id creates with that id.
    let created = s
        .upsert(
            Services,
            "svc2",
            None,
            json(json!({"url": "http://u.test:8080/x"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&created["name"], &created["port"], &created["path"]),
        (&json!("svc2"), &json!(8080), &json!("/x"))
    );
    let by_id = s
        .upsert(Services, MISSING, None, json(json!({"host": "h.test"})))
        .await
        .unwrap();
    assert_eq!(id(&by_id), MISSING);
    assert_eq!(by_id["name"], Value::Null);

    // PATCH url rewrites protocol/host/port/path; a path-less url clears path.
    let p = s
        .update(
            Services,
            &sid,
            None,
            json(json!({"url": "https://new.test"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&p["protocol"], &p["host"], &p["port"], &p["path"]),
        (
            &json!("https"),
            &json!("new.test"),
            &json!(443),
            &Value::Null
        )
    );
    assert!(p.get("url").is_none());

    // PATCH on missing entities: the DAO 404 bodies.
    let e = s
        .update(
            Services,
            MISSING.replace('6', "7").as_str(),
            None,
            json(json!({})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.body["code"], 6);
    let e = s
        .update(Services, "ghost", None, json(json!({"retries": 1})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":6,"name":"not found","message":"could not find the entity with '{name=\"ghost\"}'","fields":{"name":"ghost"}})
    );

    let page = s.list(Services, None, &q()).await.unwrap();
    assert_eq!(page.data.len(), 3);
    assert!(page.offset.is_none());
    let ids: Vec<String> = page.data.iter().map(id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ordered by id");

    s.delete(Services, "svc", None).await.unwrap();
    s.delete(Services, "svc", None).await.unwrap();
    s.delete(Services, MISSING.replace('6', "8").as_str(), None)
        .await
        .unwrap();
    assert_eq!(
        s.get(Services, &sid, None).await.unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(s.list(Services, None, &q()).await.unwrap().data.len(), 2);
}

async fn service_url_shorthand(db: &TestDb) {
    let s = &db.store;
    let cases = [
        ("http://example.test:443", "http", 443, Value::Null),
        ("https://example2.test:80/", "https", 80, json!("/")),
        ("https://service.test/", "https", 443, json!("/")),
    ];
    for (url, protocol, port, path) in cases {
        let svc = s
            .create(Services, None, json(json!({"url": url})))
            .await
            .unwrap();
        assert_eq!(
            (&svc["protocol"], &svc["port"], &svc["path"]),
            (&json!(protocol), &json!(port), &path),
            "{url}"
        );
    }
    let e = s
        .create(Services, None, json(json!({"url": "invalid url"})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation",
               "message":"2 schema violations (host: required field missing; path: should start with: /)",
               "fields":{"host":"required field missing","path":"should start with: /"}})
    );
    let e = s
        .create(Services, None, json(json!({"url": ""})))
        .await
        .unwrap_err();
    assert_eq!(e.status, 400);
    let e = s.create(Services, None, json(json!({}))).await.unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation","message":"schema violation (host: required field missing)","fields":{"host":"required field missing"}})
    );
}

async fn routes_and_nesting(db: &TestDb) {
    let s = &db.store;
    let svc = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "url": "http://u.test"})),
        )
        .await
        .unwrap();
    let other = s
        .create(
            Services,
            None,
            json(json!({"name": "other", "url": "http://o.test"})),
        )
        .await
        .unwrap();
    let sid = id(&svc);

    let r = s
        .create(
            Routes,
            None,
            json(json!({"name": "r1", "paths": ["/a"], "service": {"name": "svc"}})),
        )
        .await
        .unwrap();
    assert_eq!(r["service"], json!({"id": sid}));
    assert_eq!(r["protocols"], json!(["http", "https"]));
    assert_eq!(r["methods"], Value::Null);
    let r2 = s
        .create(
            Routes,
            None,
            json(json!({"name": "r2", "paths": ["/b"], "service": {"id": sid}})),
        )
        .await
        .unwrap();
    assert_eq!(r2["service"], json!({"id": sid}));

    // Unknown service id / name.
    let e = s
        .create(
            Routes,
            None,
            json(json!({"paths": ["/c"], "service": {"id": MISSING}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":4,"name":"foreign key violation",
               "message":format!("the foreign key '{{id=\"{MISSING}\"}}' does not reference an existing 'services' entity."),
               "fields":{"service":{"id":MISSING}}})
    );
    let e = s
        .create(
            Routes,
            None,
            json(json!({"paths": ["/c"], "service": {"name": "x"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":13,"name":"foreign keys unresolved",
               "message":"foreign key unresolved (service.name: the foreign key cannot be resolved with '{name=\"x\"}' for an existing 'services' entity)",
               "fields":{"service":{"name":"the foreign key cannot be resolved with '{name=\"x\"}' for an existing 'services' entity"}}})
    );

    // Nested: /services/other/routes forces the service, even over the body.
    let nested = s
        .create(
            Routes,
            Some(&parent(Services, "other")),
            json(json!({"name": "n1", "paths": ["/n"], "service": {"id": sid}})),
        )
        .await
        .unwrap();
    assert_eq!(nested["service"], json!({"id": id(&other)}));
    let list = s
        .list(Routes, Some(&parent(Services, "other")), &q())
        .await
        .unwrap();
    assert_eq!(list.data, vec![nested.clone()]);
    let list = s
        .list(Routes, Some(&parent(Services, &sid)), &q())
        .await
        .unwrap();
    assert_eq!(list.data.len(), 2);
    assert_eq!(
        s.get(Routes, "n1", Some(&parent(Services, "other")))
            .await
            .unwrap(),
        nested
    );
    assert_eq!(
        s.get(Routes, "r1", Some(&parent(Services, "other")))
            .await
            .unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.list(Routes, Some(&parent(Services, "ghost")), &q())
            .await
            .unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.create(
            Routes,
            Some(&parent(Services, "ghost")),
            json(json!({"paths": ["/z"]}))
        )
        .await
        .unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.update(
            Routes,
            "r1",
            Some(&parent(Services, "other")),
            json(json!({}))
        )
        .await
        .unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.delete(Routes, "r1", Some(&parent(Services, "other")))
            .await
            .unwrap_err(),
        ApiError::not_found()
    );
    // Nested PUT creates under the parent.
    let put = s
        .upsert(
            Routes,
            "n2",
            Some(&parent(Services, "other")),
            json(json!({"hosts": ["*.example.test"]})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&put["name"], &put["service"]),
        (&json!("n2"), &json!({"id": id(&other)}))
    );
    assert_eq!(
        s.upsert(
            Routes,
            "r1",
            Some(&parent(Services, "other")),
            json(json!({"paths": ["/q"]}))
        )
        .await
        .unwrap_err(),
        ApiError::not_found()
    );

    // Route validation errors go through the store unchanged.
    let e = s.create(Routes, None, json(json!({}))).await.unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation",
               "message":"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')",
               "fields":{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}})
    );
    let e = s
        .create(Routes, None, json(json!({"paths": ["/a/../b"]})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body["fields"]["paths"],
        json!(["non-normalized path, consider use '/b' instead"])
    );

    // PATCH keeps created_at and moves the route; a null service detaches it.
    let moved = s
        .update(
            Routes,
            "r1",
            None,
            json(json!({"service": {"name": "other"}, "methods": ["GET"]})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&moved["service"], &moved["created_at"]),
        (&json!({"id": id(&other)}), &r["created_at"])
    );
    assert_eq!(moved["methods"], json!(["GET"]));
    let detached = s
        .update(Routes, "r1", None, json(json!({"service": null})))
        .await
        .unwrap();
    assert_eq!(detached["service"], Value::Null);
}

async fn service_delete_refused_and_cascades(db: &TestDb) {
    let s = &db.store;
    s.create(
        Services,
        None,
        json(json!({"name": "svc", "url": "http://u.test"})),
    )
    .await
    .unwrap();
    let route = s
        .create(
            Routes,
            Some(&parent(Services, "svc")),
            json(json!({"name": "r", "paths": ["/a"]})),
        )
        .await
        .unwrap();
    s.create(
        Plugins,
        Some(&parent(Services, "svc")),
        json(json!({"name": "cors"})),
    )
    .await
    .unwrap();
    s.create(
        Plugins,
        Some(&parent(Routes, "r")),
        json(json!({"name": "jwt"})),
    )
    .await
    .unwrap();
    assert_eq!(s.list(Plugins, None, &q()).await.unwrap().data.len(), 2);

    let e = s.delete(Services, "svc", None).await.unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}})
    );
    assert_eq!(e.status, 400);

    // Route delete cascades its plugin; then the service can go, cascading its own.
    s.delete(Routes, &id(&route), None).await.unwrap();
    let left = s.list(Plugins, None, &q()).await.unwrap();
    assert_eq!(left.data.len(), 1);
    assert_eq!(left.data[0]["name"], "cors");
    s.delete(Services, "svc", None).await.unwrap();
    assert!(s.list(Plugins, None, &q()).await.unwrap().data.is_empty());
}

async fn consumers_unique_and_filters(db: &TestDb) {
    let s = &db.store;
    let bob = s
        .create(
            Consumers,
            None,
            json(json!({"username": "bob", "custom_id": "c-bob"})),
        )
        .await
        .unwrap();
    assert_eq!(
        bob.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "id",
            "created_at",
            "updated_at",
            "username",
            "custom_id",
            "tags"
        ]
    );
    let e = s
        .create(Consumers, None, json(json!({"username": "bob"})))
        .await
        .unwrap_err();
    assert_eq!(e.status, 409);
    assert_eq!(
        e.body,
        json!({"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{username=\"bob\"}'","fields":{"username":"bob"}})
    );
    let e = s
        .create(Consumers, None, json(json!({"custom_id": "c-bob"})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body["message"],
        "UNIQUE violation detected on '{custom_id=\"c-bob\"}'"
    );
    let e = s
        .create(Consumers, None, json(json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation",
               "message":"schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')",
               "fields":{"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]}})
    );
    s.create(Consumers, None, json(json!({"username": "alice"})))
        .await
        .unwrap();
    let by_custom = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 100,
                custom_id: Some("c-bob".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_custom.data, vec![bob.clone()]);
    let none = s
        .list(
            Consumers,
            None,
            &ListQuery {
                size: 100,
                custom_id: Some("zzz".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.data.is_empty());
    // Renaming onto a taken username conflicts; renaming itself is fine.
    let e = s
        .update(Consumers, "alice", None, json(json!({"username": "bob"})))
        .await
        .unwrap_err();
    assert_eq!(e.status, 409);
    s.update(Consumers, "bob", None, json(json!({"username": "bob"})))
        .await
        .unwrap();
}

async fn plugins_scopes_and_errors(db: &TestDb) {
    let s = &db.store;
    let svc = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "url": "http://u.test"})),
        )
        .await
        .unwrap();
    let route = s
        .create(
            Routes,
            Some(&parent(Services, "svc")),
            json(json!({"name": "r", "paths": ["/a"]})),
        )
        .await
        .unwrap();
    s.create(Consumers, None, json(json!({"username": "bob"})))
        .await
        .unwrap();

    let cors = s
        .create(
            Plugins,
            Some(&parent(Routes, "r")),
            json(json!({"name": "cors", "config": {"origins": ["*"], "headers": ["*"], "credentials": true}})),
        )
        .await
        .unwrap();
    assert_eq!(
        cors.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "id",
            "name",
            "instance_name",
            "created_at",
            "updated_at",
            "route",
            "service",
            "consumer",
            "config",
            "protocols",
            "enabled",
            "tags"
        ]
    );
    assert_eq!(
        (&cors["route"], &cors["service"], &cors["consumer"]),
        (&json!({"id": id(&route)}), &Value::Null, &Value::Null)
    );
    assert_eq!(cors["config"]["credentials"], true);
    assert_eq!(cors["protocols"], json!(["grpc", "grpcs", "http", "https"]));

    // Same plugin on the same scope: Kong's 409.
    let e = s
        .create(
            Plugins,
            Some(&parent(Routes, "r")),
            json(json!({"name": "cors"})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status, 409);
    let rid = id(&route);
    assert_eq!(
        e.body,
        json!({"code":5,"name":"unique constraint violation",
               "message":format!("UNIQUE violation detected on '{{consumer=null,name=\"cors\",route={{id=\"{rid}\"}},service=null}}'"),
               "fields":{"consumer":null,"name":"cors","route":{"id":rid},"service":null}})
    );
    // Another scope is fine.
    let on_svc = s
        .create(
            Plugins,
            Some(&parent(Services, &id(&svc))),
            json(json!({"name": "cors"})),
        )
        .await
        .unwrap();
    assert_eq!(on_svc["service"], json!({"id": id(&svc)}));

    let e = s
        .create(Plugins, None, json(json!({"name": "basic-auth"})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation",
               "message":"schema violation (name: plugin 'basic-auth' not enabled; add it to the 'plugins' configuration property)",
               "fields":{"name":"plugin 'basic-auth' not enabled; add it to the 'plugins' configuration property"}})
    );
    let e = s
        .create(
            Plugins,
            Some(&parent(Consumers, "bob")),
            json(json!({"name": "jwt"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation","message":"schema violation (consumer: value must be null)","fields":{"consumer":"value must be null"}})
    );
    let statsd = s
        .create(
            Plugins,
            Some(&parent(Consumers, "bob")),
            json(json!({"name": "statsd", "instance_name": "metrics"})),
        )
        .await
        .unwrap();
    assert_eq!(statsd["instance_name"], "metrics");
    assert_eq!(s.get(Plugins, "metrics", None).await.unwrap(), statsd);
    assert_eq!(
        s.get(Plugins, "metrics", Some(&parent(Consumers, "bob")))
            .await
            .unwrap(),
        statsd
    );
    assert_eq!(
        s.get(Plugins, &id(&cors), Some(&parent(Consumers, "bob")))
            .await
            .unwrap_err(),
        ApiError::not_found()
    );

    // Config errors sit under fields.config.
    let e = s
        .create(
            Plugins,
            None,
            json(json!({"name": "statsd", "config": {"port": "x"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.body["code"], 2);
    assert!(e.body["fields"]["config"].is_object(), "{}", e.body);
    assert!(
        e.body["message"].as_str().unwrap().contains("config."),
        "{}",
        e.body
    );

    // PATCH merges config.
    let patched = s
        .update(
            Plugins,
            &id(&cors),
            None,
            json(json!({"config": {"max_age": 10}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            &patched["config"]["max_age"],
            &patched["config"]["credentials"]
        ),
        (&json!(10), &json!(true))
    );

    assert_eq!(s.plugin_names().await.unwrap(), ["cors", "statsd"]);
    let nested = s
        .list(Plugins, Some(&parent(Routes, "r")), &q())
        .await
        .unwrap();
    assert_eq!(nested.data.len(), 1);

    // Consumer delete cascades its plugins.
    s.delete(Consumers, "bob", None).await.unwrap();
    assert_eq!(s.plugin_names().await.unwrap(), ["cors"]);

    // Direct deletes, by instance name and by id, nested and not.
    let named = s
        .create(
            Plugins,
            None,
            json(json!({"name": "statsd", "instance_name": "gone"})),
        )
        .await
        .unwrap();
    s.delete(Plugins, "gone", None).await.unwrap();
    assert_eq!(
        s.get(Plugins, &id(&named), None).await.unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(
        s.delete(Plugins, &id(&on_svc), Some(&parent(Routes, "r")))
            .await
            .unwrap_err(),
        ApiError::not_found()
    );
    s.delete(Plugins, &id(&on_svc), Some(&parent(Services, "svc")))
        .await
        .unwrap();
    s.delete(Plugins, &id(&cors), None).await.unwrap();
    assert!(s.plugin_names().await.unwrap().is_empty());
}

const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvUJp9+fuklNgz/+oCpUR
pVo/L+1tAs9doe99iRpq5Iwu7/97LcMW60i1MfGaHvVHI3+PovZQwbEQM7NbDFpo
liGHfxq3sOZA5dfo3XpzzcJQv1SPhWU5g6tMg2AIYj3cZQHtRQox72/iD4q3jEvZ
noPdhrhxt+nkpCtQGMoKZGiKLZ0IgeSxr5zIyHSwnSs1WtC40WFyyzp4xWP63ewL
14cRjI8eS3WN61uJKdHPKQMArVXJUoae6RaUBG5OHE6fBm+eJAUqjkk3E/LKWHgf
6U8yAU/zr4BT/qh5/+IAZ88YCJFYGTUa7Y9lQ0Nqt4KkMS6rjbpNFIKzfRWt4IcU
kwIDAQAB
-----END PUBLIC KEY-----
";

async fn jwt_credentials(db: &TestDb) {
    let s = &db.store;
    let bob = s
        .create(Consumers, None, json(json!({"username": "bob"})))
        .await
        .unwrap();
    let bob_scope = parent(Consumers, "bob");
    // The Python client POSTs an empty form body.
    let cred = s
        .create(JwtSecrets, Some(&bob_scope), form(json!({})))
        .await
        .unwrap();
    assert_eq!(
        cred.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "id",
            "created_at",
            "consumer",
            "key",
            "secret",
            "rsa_public_key",
            "algorithm",
            "tags"
        ]
    );
    assert_eq!(cred["consumer"], json!({"id": id(&bob)}));
    assert_eq!(cred["algorithm"], "HS256");
    let key = cred["key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(cred["secret"].as_str().unwrap().len(), 32);
    assert_eq!(
        s.get(JwtSecrets, key, Some(&bob_scope)).await.unwrap(),
        cred
    );
    assert_eq!(s.get(JwtSecrets, key, None).await.unwrap(), cred);

    let e = s
        .create(
            JwtSecrets,
            Some(&bob_scope),
            json(json!({"algorithm": "RS256"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body["fields"],
        json!({"rsa_public_key":"required field missing","@entity":["failed conditional validation given value of field 'algorithm'"]})
    );
    let e = s
        .create(
            JwtSecrets,
            Some(&bob_scope),
            json(json!({"algorithm": "RS256", "rsa_public_key": "junk"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body["fields"],
        json!({"rsa_public_key": "invalid key", "@entity": ["failed conditional validation given value of field 'algorithm'"]})
    );
    let rs = s
        .create(
            JwtSecrets,
            Some(&bob_scope),
            json(json!({"key": "bob-iss", "algorithm": "RS256", "rsa_public_key": RSA_PEM})),
        )
        .await
        .unwrap();
    assert_eq!(rs["rsa_public_key"], RSA_PEM);
    let e = s
        .create(
            JwtSecrets,
            Some(&bob_scope),
            json(json!({"key": "bob-iss"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body["message"],
        "UNIQUE violation detected on '{key=\"bob-iss\"}'"
    );
    // Not nested: the consumer is required.
    let e = s
        .create(JwtSecrets, None, json(json!({"key": "k"})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body["fields"],
        json!({"consumer": "required field missing"})
    );
    let c = s
        .create(
            JwtSecrets,
            None,
            json(json!({"consumer": {"username": "bob"}})),
        )
        .await
        .unwrap();
    assert_eq!(c["consumer"], json!({"id": id(&bob)}));

    let list = s.list(JwtSecrets, Some(&bob_scope), &q()).await.unwrap();
    assert_eq!(list.data.len(), 3);
    s.create(Consumers, None, json(json!({"username": "eve"})))
        .await
        .unwrap();
    assert!(s
        .list(JwtSecrets, Some(&parent(Consumers, "eve")), &q())
        .await
        .unwrap()
        .data
        .is_empty());
    assert_eq!(
        s.get(JwtSecrets, "bob-iss", Some(&parent(Consumers, "eve")))
            .await
            .unwrap_err(),
        ApiError::not_found()
    );

    // PUT by key keeps id and created_at; no updated_at on credentials.
    let put = s
        .upsert(
            JwtSecrets,
            "bob-iss",
            Some(&bob_scope),
            json(json!({"secret": "s3"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (id(&put), &put["created_at"], &put["secret"]),
        (id(&rs), &rs["created_at"], &json!("s3"))
    );
    assert!(put.get("updated_at").is_none());

    // Direct delete by key under the owner; the consumer itself by id.
    s.delete(JwtSecrets, "bob-iss", Some(&bob_scope))
        .await
        .unwrap();
    assert_eq!(
        s.get(JwtSecrets, "bob-iss", None).await.unwrap_err(),
        ApiError::not_found()
    );
    assert_eq!(s.list(JwtSecrets, None, &q()).await.unwrap().data.len(), 2);
    assert_eq!(
        s.get(Consumers, &id(&bob), None).await.unwrap(),
        s.get(Consumers, "bob", None).await.unwrap()
    );
    s.delete(Consumers, &id(&bob), None).await.unwrap();
    assert!(s
        .list(JwtSecrets, None, &q())
        .await
        .unwrap()
        .data
        .is_empty());
}

async fn common_errors(db: &TestDb) {
    let s = &db.store;
    let e = s
        .create(Services, None, json(json!({"host": "h.test", "foo": 1})))
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation","message":"schema violation (foo: unknown field)","fields":{"foo":"unknown field"}})
    );
    let e = s
        .create(
            Services,
            None,
            json(json!({"host": "h.test", "port": "x", "protocol": "ftp", "connect_timeout": 0})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body["message"],
        "3 schema violations (connect_timeout: value should be between 1 and 2147483646; port: expected an integer; protocol: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)"
    );
    // A client-supplied id is kept; POSTing it again is a primary key violation.
    let svc = s
        .create(
            Services,
            None,
            json(json!({"id": MISSING, "host": "h.test"})),
        )
        .await
        .unwrap();
    assert_eq!(id(&svc), MISSING);
    let e = s
        .create(
            Services,
            None,
            json(json!({"id": MISSING, "host": "h.test"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":3,"name":"primary key violation","message":format!("primary key violation on key '{{id=\"{MISSING}\"}}'"),"fields":{"id":MISSING}})
    );
    let e = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "host": "h.test"})),
        )
        .await;
    assert!(e.is_ok());
    let e = s
        .create(
            Services,
            None,
            json(json!({"name": "svc", "host": "h.test"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body["message"],
        "UNIQUE violation detected on '{name=\"svc\"}'"
    );
    let e = s
        .create(
            Services,
            None,
            json(json!({"host": "h.test", "path": "/a//b"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.body,
        json!({"code":2,"name":"schema violation","message":"schema violation (path: must not have empty segments)","fields":{"path":"must not have empty segments"}})
    );
    let ghost = MISSING.replace('6', "9");
    let e = s
        .update(Services, &ghost, None, json(json!({})))
        .await
        .unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(
        e.body,
        json!({"code":6,"name":"not found","message":format!("could not find the entity with primary key '{{id=\"{ghost}\"}}'"),"fields":{"id":ghost}})
    );
    // A parent kind the child has no foreign key to is not a route.
    let e = s
        .list(Services, Some(&parent(Consumers, "x")), &q())
        .await
        .unwrap_err();
    assert_eq!(e, ApiError::not_found());
    let e = s
        .create(Services, None, json(json!([1, 2])))
        .await
        .unwrap_err();
    assert_eq!(e.status, 400);
}

async fn form_input(db: &TestDb) {
    let s = &db.store;
    let svc = s
        .create(
            Services,
            None,
            form(json!({"name": "svc", "url": "http://u.test", "retries": "3", "enabled": "false", "tags": "t1", "path": ""})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&svc["retries"], &svc["enabled"], &svc["tags"]),
        (&json!(3), &json!(false), &json!(["t1"]))
    );
    let route = s
        .create(
            Routes,
            None,
            form(json!({"paths": "/a", "methods": {"1": "GET", "2": "POST"}, "service": {"name": "svc"}, "strip_path": "false", "headers": {"x-a": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            &route["paths"],
            &route["methods"],
            &route["strip_path"],
            &route["headers"]
        ),
        (
            &json!(["/a"]),
            &json!(["GET", "POST"]),
            &json!(false),
            &json!({"x-a": ["1"]})
        )
    );
    let p = s
        .create(
            Plugins,
            None,
            form(json!({"name": "statsd", "config": {"port": "9125"}, "enabled": "true"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&p["config"]["port"], &p["enabled"]),
        (&json!(9125), &json!(true))
    );
}

/// The exact calls of the `scw-gateway` client (gateway.py): add a route with CORS and JWT,
/// list, add a consumer with a JWT credential, install statsd, delete everything.
async fn python_client_flow(db: &TestDb) {
    let s = &db.store;
    let name = "_api_v1";
    let svc = s
        .upsert(
            Services,
            name,
            None,
            json(json!({"name": name, "url": "http://backend.test:8080"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (&svc["host"], &svc["port"], &svc["protocol"]),
        (&json!("backend.test"), &json!(8080), &json!("http"))
    );
    let route_body =
        json!({"name": name, "paths": ["/api/v1"], "service": {"name": name}, "methods": null});
    let route = s
        .upsert(Routes, name, None, json(route_body.clone()))
        .await
        .unwrap();
    assert_eq!(route["service"], json!({"id": id(&svc)}));
    // Re-running add_route is idempotent: same ids, 409 on the plugins (ignored by the client).
    let again = s
        .upsert(
            Services,
            name,
            None,
            json(json!({"name": name, "url": "http://backend.test:8080"})),
        )
        .await
        .unwrap();
    assert_eq!(id(&again), id(&svc));
    assert_eq!(
        id(&s
            .upsert(Routes, name, None, json(route_body))
            .await
            .unwrap()),
        id(&route)
    );
    let scope = parent(Routes, name);
    let cors = json!({"name": "cors", "config": {"origins": ["*"], "headers": ["*"], "credentials": true}});
    s.create(Plugins, Some(&scope), json(cors.clone()))
        .await
        .unwrap();
    s.create(Plugins, Some(&scope), json(json!({"name": "jwt"})))
        .await
        .unwrap();
    assert_eq!(
        s.create(Plugins, Some(&scope), json(cors))
            .await
            .unwrap_err()
            .status,
        409
    );
    assert_eq!(
        s.create(Plugins, Some(&scope), json(json!({"name": "jwt"})))
            .await
            .unwrap_err()
            .status,
        409
    );

    // get_routes: every plugin carries its route id.
    let plugins = s.list(Plugins, None, &q()).await.unwrap();
    assert_eq!(plugins.data.len(), 2);
    assert!(plugins
        .data
        .iter()
        .all(|p| p["route"]["id"] == json!(id(&route))));
    let routes = s.list(Routes, None, &q()).await.unwrap();
    assert_eq!(routes.data[0]["paths"][0], "/api/v1");
    assert_eq!(routes.data[0]["methods"], Value::Null);

    s.create(Consumers, None, json(json!({"username": "alice"})))
        .await
        .unwrap();
    let cred = s
        .create(
            JwtSecrets,
            Some(&parent(Consumers, "alice")),
            form(Value::Null),
        )
        .await
        .unwrap();
    let creds = s
        .list(JwtSecrets, Some(&parent(Consumers, "alice")), &q())
        .await
        .unwrap();
    assert_eq!(creds.data, vec![cred]);

    let statsd = s
        .create(
            Plugins,
            None,
            json(json!({"name": "statsd", "config": {"port": 8125, "prefix": "kong"}})),
        )
        .await
        .unwrap();
    assert_eq!(statsd["config"]["prefix"], "kong");
    s.delete(Plugins, &id(&statsd), None).await.unwrap();

    s.delete(Routes, name, None).await.unwrap();
    s.delete(Services, name, None).await.unwrap();
    s.delete(Consumers, "alice", None).await.unwrap();
    let cfg = s.load_config().await.unwrap();
    assert!(cfg.services.is_empty() && cfg.routes.is_empty() && cfg.plugins.is_empty());
    assert!(cfg.consumers.is_empty() && cfg.jwt_secrets.is_empty());
}
