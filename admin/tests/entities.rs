//! Entity endpoints of the real `admin` binary, each test run on Postgres and on SQLite:
//! every verb, nested and foreign-key endpoints, form bodies, pagination and concurrent PUTs.

mod common;

use std::collections::HashSet;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("entity has an id").to_owned()
}

async fn services_crud(s: Server) {
    let svc = s
        .json(
            Method::POST,
            "/services",
            json!({"name": "svc1", "url": "http://upstream.test:8080/api"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(svc["name"], "svc1");
    assert_eq!(svc["host"], "upstream.test");
    assert_eq!(svc["port"], 8080);
    assert_eq!(svc["path"], "/api");
    assert_eq!(svc["protocol"], "http");
    assert_eq!(svc["retries"], 5);
    assert_eq!(svc["connect_timeout"], 60000);
    assert_eq!(svc["enabled"], true);
    let sid = id(&svc);

    assert_eq!(s.get("/services/svc1").await.expect(200), &svc);
    assert_eq!(s.get(&format!("/services/{sid}")).await.expect(200), &svc);

    let patched = s
        .json(Method::PATCH, "/services/svc1", json!({"retries": 3}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (patched["retries"].clone(), patched["host"].clone()),
        (json!(3), json!("upstream.test"))
    );

    // PUT replaces: omitted fields go back to their defaults; the id stays.
    let put = s
        .json(Method::PUT, "/services/svc1", json!({"host": "other.test"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(id(&put), sid);
    assert_eq!(
        (
            put["retries"].clone(),
            put["port"].clone(),
            put["name"].clone()
        ),
        (json!(5), json!(80), json!("svc1"))
    );

    let created = s
        .json(Method::PUT, "/services/svc2", json!({"host": "new.test"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(created["name"], "svc2");
    let list = s.get("/services").await.expect(200).clone();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["next"], Value::Null);

    let del = s.delete("/services/svc2").await;
    del.expect(204);
    assert!(del.text.is_empty());
    assert_eq!(
        s.get("/services/svc2").await.expect(404),
        &json!({"message": "Not found"})
    );
    s.delete("/services/svc2").await.expect(204);

    assert_eq!(
        s.json(Method::PATCH, "/services/nope", json!({"retries": 1}))
            .await
            .expect(404)["code"],
        6
    );
    let dup = s
        .json(
            Method::POST,
            "/services",
            json!({"name": "svc1", "host": "x.test"}),
        )
        .await;
    assert_eq!(dup.expect(409)["code"], 5);
    assert_eq!(
        s.json(Method::POST, "/services", json!({}))
            .await
            .expect(400)["code"],
        2
    );
}

async fn routes_nested_and_foreign(s: Server) {
    let s1 = s
        .json(
            Method::POST,
            "/services",
            json!({"name": "s1", "host": "a.test"}),
        )
        .await
        .expect(201)
        .clone();
    s.json(
        Method::POST,
        "/services",
        json!({"name": "s2", "host": "b.test"}),
    )
    .await
    .expect(201);

    let r1 = s
        .json(
            Method::POST,
            "/services/s1/routes",
            json!({"name": "r1", "paths": ["/r1"]}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(r1["service"], json!({"id": id(&s1)}));
    assert_eq!(r1["protocols"], json!(["http", "https"]));

    let nested = s.get("/services/s1/routes").await.expect(200).clone();
    assert_eq!(nested["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        s.get("/services/s1/routes/r1").await.expect(200)["id"],
        r1["id"]
    );
    s.get("/services/s2/routes/r1").await.expect(404);
    assert_eq!(
        s.get("/services/s2/routes").await.expect(200),
        &json!({"data": [], "next": null})
    );
    s.get("/services/nope/routes").await.expect(404);

    // /routes/{r}/service
    assert_eq!(
        s.get("/routes/r1/service").await.expect(200)["id"],
        s1["id"]
    );
    let patched = s
        .json(Method::PATCH, "/routes/r1/service", json!({"port": 8081}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (patched["id"].clone(), patched["port"].clone()),
        (s1["id"].clone(), json!(8081))
    );
    let put = s
        .json(
            Method::PUT,
            "/routes/r1/service",
            json!({"name": "s1", "host": "c.test"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (put["id"].clone(), put["host"].clone()),
        (s1["id"].clone(), json!("c.test"))
    );
    assert_eq!(
        s.delete("/routes/r1/service").await.expect(405),
        &json!({"message": "Method not allowed"})
    );

    let r1b = s
        .json(
            Method::PATCH,
            "/services/s1/routes/r1",
            json!({"paths": ["/x"]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(r1b["paths"], json!(["/x"]));
    let r2 = s
        .json(
            Method::PUT,
            "/services/s1/routes/r2",
            json!({"paths": ["/r2"]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(r2["service"], json!({"id": id(&s1)}));
    assert_eq!(r2["name"], "r2");

    // A service still referenced by routes cannot go.
    assert_eq!(s.delete("/services/s1").await.expect(400)["code"], 4);
    s.delete("/services/s1/routes/r1").await.expect(204);
    s.delete(&format!("/routes/{}", id(&r2))).await.expect(204);
    s.delete("/services/s1").await.expect(204);
    assert_eq!(
        s.get("/routes").await.expect(200),
        &json!({"data": [], "next": null})
    );
}

async fn plugins_nested(s: Server) {
    s.json(
        Method::POST,
        "/services",
        json!({"name": "s1", "host": "a.test"}),
    )
    .await
    .expect(201);
    let r1 = s
        .json(
            Method::POST,
            "/routes",
            json!({"name": "r1", "paths": ["/p"], "service": {"name": "s1"}}),
        )
        .await
        .expect(201)
        .clone();
    let c1 = s
        .json(Method::POST, "/consumers", json!({"username": "c1"}))
        .await
        .expect(201)
        .clone();

    let cors = s
        .json(
            Method::POST,
            "/routes/r1/plugins",
            json!({"name": "cors", "config": {"origins": ["*"], "headers": ["*"], "credentials": true}}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(cors["route"], json!({"id": id(&r1)}));
    assert_eq!(cors["config"]["credentials"], true);
    assert_eq!(cors["enabled"], true);
    let dup = s
        .json(Method::POST, "/routes/r1/plugins", json!({"name": "cors"}))
        .await;
    assert_eq!(dup.expect(409)["code"], 5);
    s.json(Method::POST, "/routes/r1/plugins", json!({"name": "jwt"}))
        .await
        .expect(201);
    let svc_jwt = s
        .json(Method::POST, "/services/s1/plugins", json!({"name": "jwt"}))
        .await
        .expect(201)
        .clone();
    assert!(svc_jwt["service"]["id"].is_string());
    let statsd = s
        .json(
            Method::POST,
            "/consumers/c1/plugins",
            json!({"name": "statsd"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(statsd["consumer"], json!({"id": id(&c1)}));

    let count = |v: &Value| v["data"].as_array().map(Vec::len);
    assert_eq!(
        count(s.get("/routes/r1/plugins").await.expect(200)),
        Some(2)
    );
    assert_eq!(
        count(s.get("/services/s1/plugins").await.expect(200)),
        Some(1)
    );
    assert_eq!(
        count(s.get("/consumers/c1/plugins").await.expect(200)),
        Some(1)
    );
    assert_eq!(count(s.get("/plugins").await.expect(200)), Some(4));

    let pid = id(&cors);
    assert_eq!(
        s.get(&format!("/routes/r1/plugins/{pid}"))
            .await
            .expect(200)["name"],
        "cors"
    );
    s.get(&format!("/services/s1/plugins/{pid}"))
        .await
        .expect(404);
    let off = s
        .json(
            Method::PATCH,
            &format!("/plugins/{pid}"),
            json!({"enabled": false}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(off["enabled"], false);
    assert_eq!(
        s.json(Method::POST, "/plugins", json!({"name": "nope"}))
            .await
            .expect(400)["code"],
        2
    );

    s.delete(&format!("/routes/r1/plugins/{pid}"))
        .await
        .expect(204);
    s.get(&format!("/plugins/{pid}")).await.expect(404);
    // Deleting the route cascades to its plugins.
    s.delete("/routes/r1").await.expect(204);
    assert_eq!(count(s.get("/plugins").await.expect(200)), Some(2));
}

async fn consumers_and_jwt(s: Server) {
    let alice = s
        .json(
            Method::POST,
            "/consumers",
            json!({"username": "alice", "custom_id": "c-1"}),
        )
        .await
        .expect(201)
        .clone();
    let by_custom = s.get("/consumers?custom_id=c-1").await.expect(200).clone();
    assert_eq!(by_custom["data"][0]["username"], "alice");
    assert_eq!(by_custom["next"], Value::Null);
    assert_eq!(
        s.get("/consumers?custom_id=zzz").await.expect(200),
        &json!({"data": [], "next": null})
    );

    // The scw client: form content type and no body at all.
    let generated = s
        .send(
            s.req(Method::POST, "/consumers/alice/jwt")
                .header("content-type", "application/x-www-form-urlencoded"),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(generated["key"].as_str().map(str::len), Some(32));
    assert_eq!(generated["secret"].as_str().map(str::len), Some(32));
    assert_eq!(generated["algorithm"], "HS256");
    assert_eq!(generated["consumer"], json!({"id": id(&alice)}));

    s.json(
        Method::POST,
        "/consumers/alice/jwt",
        json!({"key": "my-iss", "secret": "s3"}),
    )
    .await
    .expect(201);
    let count = |v: &Value| v["data"].as_array().map(Vec::len);
    assert_eq!(
        count(s.get("/consumers/alice/jwt").await.expect(200)),
        Some(2)
    );
    assert_eq!(count(s.get("/jwts").await.expect(200)), Some(2));
    assert_eq!(
        s.get("/consumers/alice/jwt/my-iss").await.expect(200)["secret"],
        "s3"
    );
    assert_eq!(s.get("/jwts/my-iss").await.expect(200)["key"], "my-iss");
    assert_eq!(
        s.get("/jwts/my-iss/consumer").await.expect(200)["username"],
        "alice"
    );
    let patched = s
        .json(
            Method::PATCH,
            "/consumers/alice/jwt/my-iss",
            json!({"secret": "s4"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(patched["secret"], "s4");
    let put = s
        .json(Method::PUT, "/consumers/alice/jwt/other-iss", json!({}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (put["key"].clone(), put["consumer"].clone()),
        (json!("other-iss"), json!({"id": id(&alice)}))
    );

    s.json(Method::POST, "/consumers", json!({"username": "bob"}))
        .await
        .expect(201);
    s.get("/consumers/bob/jwt/my-iss").await.expect(404);
    assert_eq!(
        s.json(Method::POST, "/consumers", json!({"username": "bob"}))
            .await
            .expect(409)["code"],
        5
    );
    s.delete("/consumers/alice/jwt/other-iss").await.expect(204);
    s.delete("/jwts/other-iss/consumer").await.expect(405);

    // Deleting a consumer cascades to its credentials.
    s.delete("/consumers/alice").await.expect(204);
    assert_eq!(
        s.get("/jwts").await.expect(200),
        &json!({"data": [], "next": null})
    );
    s.get("/jwts/my-iss").await.expect(404);
}

async fn form_bodies(s: Server) {
    let svc = s
        .form(
            Method::POST,
            "/services",
            "name=fsvc&host=f.test&port=8080&retries=2&tags[]=a&tags[]=b",
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        (svc["port"].clone(), svc["retries"].clone()),
        (json!(8080), json!(2))
    );
    assert_eq!(svc["tags"], json!(["a", "b"]));

    let route = s
        .form(
            Method::POST,
            "/routes",
            "name=fr&paths[]=/a&paths[]=/b&methods=GET&methods=POST&service.name=fsvc&headers[x-foo]=v&strip_path=false",
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(route["paths"], json!(["/a", "/b"]));
    assert_eq!(route["methods"], json!(["GET", "POST"]));
    assert_eq!(route["service"], json!({"id": id(&svc)}));
    assert_eq!(route["headers"], json!({"x-foo": ["v"]}));
    assert_eq!(route["strip_path"], false);

    let indexed = s
        .form(
            Method::POST,
            "/routes",
            &format!("name=fr2&paths[1]=/c&paths[2]=/d&service.id={}", id(&svc)),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(indexed["paths"], json!(["/c", "/d"]));

    let cors = s
        .form(
            Method::POST,
            "/routes/fr/plugins",
            "name=cors&config.origins=*&config.credentials=true&config.max_age=60",
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(cors["config"]["origins"], json!(["*"]));
    assert_eq!(cors["config"]["credentials"], true);
    assert_eq!(cors["config"]["max_age"], 60);

    assert_eq!(
        s.form(Method::PATCH, "/services/fsvc", "path=/p")
            .await
            .expect(200)["path"],
        "/p"
    );
    assert_eq!(
        s.form(Method::PATCH, "/services/fsvc", "path=")
            .await
            .expect(200)["path"],
        Value::Null
    );

    let boundary = "XbOuNdArY";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nmp\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"custom_id\"\r\n\r\nmp-1\r\n--{boundary}--\r\n"
    );
    let consumer = s
        .send(
            s.req(Method::POST, "/consumers")
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(multipart),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        (consumer["username"].clone(), consumer["custom_id"].clone()),
        (json!("mp"), json!("mp-1"))
    );
    let jwt = s
        .form(Method::POST, "/consumers/mp/jwt", "algorithm=HS512")
        .await
        .expect(201)
        .clone();
    assert_eq!(jwt["algorithm"], "HS512");
}

/// Follow `next` from `first` until null; return every id seen and the number of pages.
async fn walk(s: &Server, first: &str) -> (Vec<String>, usize, Vec<String>) {
    let mut ids = Vec::new();
    let mut links = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let page = s.get(&path).await.expect(200).clone();
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        for e in page["data"].as_array().expect("data array") {
            ids.push(id(e));
        }
        next = page["next"].as_str().map(str::to_owned);
        if let Some(n) = &next {
            assert!(page["offset"].is_string(), "a page with next has an offset");
            links.push(n.clone());
        }
    }
    (ids, pages, links)
}

async fn pagination_walks_every_entity(s: Server) {
    const N: usize = 1030;
    let mut tasks = tokio::task::JoinSet::new();
    let mut created = HashSet::new();
    for i in 0..N {
        let client = s.client.clone();
        let url = format!("{}/consumers", s.base);
        let token = s.token.clone();
        let tags = if i % 3 == 0 {
            json!(["all", "three"])
        } else {
            json!(["all"])
        };
        tasks.spawn(async move {
            let res = client
                .post(url)
                .header("x-auth-token", token)
                .json(&json!({"username": format!("user{i:05}"), "tags": tags}))
                .send()
                .await
                .expect("create consumer");
            assert_eq!(res.status().as_u16(), 201);
            let v: Value = res.json().await.expect("json");
            id(&v)
        });
        if tasks.len() >= 16 {
            if let Some(r) = tasks.join_next().await {
                created.insert(r.expect("task"));
            }
        }
    }
    while let Some(r) = tasks.join_next().await {
        created.insert(r.expect("task"));
    }
    assert_eq!(created.len(), N);

    let (ids, pages, links) = walk(&s, "/consumers").await;
    assert_eq!(ids.len(), N, "every consumer listed once");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), created);
    assert_eq!(pages, N.div_ceil(100));
    assert!(links.iter().all(|l| l.starts_with("/consumers?offset=")));

    let (ids, pages, links) = walk(&s, "/consumers?size=1000").await;
    assert_eq!((ids.len(), pages), (N, 2));
    assert!(links[0].ends_with("&size=1000"), "{}", links[0]);

    let three = (0..N).filter(|i| i % 3 == 0).count();
    let (ids, _, links) = walk(&s, "/consumers?tags=three&size=100").await;
    assert_eq!(ids.len(), three);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), three);
    assert!(
        links.iter().all(|l| l.contains("&tags=three&size=100")),
        "{links:?}"
    );
    assert_eq!(walk(&s, "/consumers?tags=all,three").await.0.len(), three);
    assert_eq!(
        walk(&s, "/consumers?tags=three/nothing").await.0.len(),
        three
    );
    assert_eq!(walk(&s, "/consumers?tags=all").await.0.len(), N);
}

async fn concurrent_puts_make_one_row(s: Server) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = s.client.clone();
        let base = s.base.clone();
        let token = s.token.clone();
        tasks.spawn(async move {
            let svc = client
                .put(format!("{base}/services/same"))
                .header("x-auth-token", &token)
                .json(&json!({"host": format!("h{i}.test")}))
                .send()
                .await
                .expect("put service");
            let consumer = client
                .put(format!("{base}/consumers/same"))
                .header("x-auth-token", &token)
                .json(&json!({"custom_id": format!("c{i}")}))
                .send()
                .await
                .expect("put consumer");
            (svc.status().as_u16(), consumer.status().as_u16())
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task"), (200, 200));
    }
    let services = s.get("/services").await.expect(200).clone();
    assert_eq!(services["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(services["data"][0]["name"], "same");
    let consumers = s.get("/consumers").await.expect(200).clone();
    assert_eq!(consumers["data"].as_array().map(Vec::len), Some(1));
}

both_stores!(
    services_crud,
    routes_nested_and_foreign,
    plugins_nested,
    consumers_and_jwt,
    form_bodies,
    pagination_walks_every_entity,
    concurrent_puts_make_one_row,
);
