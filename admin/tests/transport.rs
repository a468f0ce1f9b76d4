//! Transport rules of the real `admin` binary (kong-compat §1.1), auth refusals and
//! `GET /` / `GET /status`, each test run on Postgres and on SQLite.

mod common;

use common::Server;
use reqwest::Method;
use serde_json::json;

async fn transport_rules(s: Server) {
    // Two Content-Type headers: plain-text 400 (raw request: clients merge headers).
    let raw = s
        .raw(&format!(
            "POST /consumers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\nContent-Type: application/json\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            s.token
        ))
        .await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(
        raw.ends_with("Multiple Content-Type headers not allowed"),
        "{raw}"
    );

    let broken = s
        .send(
            s.req(Method::POST, "/consumers")
                .header("content-type", "application/json")
                .body("{\"username\":"),
        )
        .await;
    assert_eq!(
        broken.expect(400),
        &json!({"message": "Cannot parse JSON body"})
    );
    let other = s
        .send(
            s.req(Method::POST, "/consumers")
                .header("content-type", "text/plain")
                .body("username=x"),
        )
        .await;
    other.expect(415);
    let huge = format!("{{\"username\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let too_large = s
        .send(
            s.req(Method::POST, "/consumers")
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert!(too_large.expect(413)["message"].is_string());

    assert_eq!(
        s.delete("/consumers").await.expect(405),
        &json!({"message": "Method not allowed"})
    );
    assert_eq!(
        s.send(s.req(Method::from_bytes(b"PURGE").expect("method"), "/routes/x"))
            .await
            .expect(405),
        &json!({"message": "Method not allowed"})
    );
    assert_eq!(
        s.get("/nope").await.expect(404),
        &json!({"message": "Not found"})
    );
    assert_eq!(
        s.get("/consumers/a/b/c/d").await.expect(404),
        &json!({"message": "Not found"})
    );

    let options = s.send(s.req(Method::OPTIONS, "/consumers")).await;
    options.expect(204);
    assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
    assert_eq!(
        options.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS, POST")
    );
    let options = s.send(s.req(Method::OPTIONS, "/consumers/x")).await;
    assert_eq!(
        options.header("allow"),
        Some("DELETE, GET, HEAD, OPTIONS, PATCH, PUT")
    );

    // Trailing slashes and percent-encoded keys.
    let created = s
        .json(Method::PUT, "/consumers/j%C3%B6rg%20x/", json!({}))
        .await
        .expect(200)
        .clone();
    assert_eq!(created["username"], "jörg x");
    assert_eq!(
        s.get("/consumers/j%C3%B6rg%20x").await.expect(200)["id"],
        created["id"]
    );
    assert_eq!(
        s.get("/consumers/").await.expect(200)["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let head = s
        .send(s.req(Method::HEAD, "/consumers/j%C3%B6rg%20x"))
        .await;
    head.expect(200);
    assert!(head.text.is_empty());

    // Response headers.
    let res = s.get("/consumers").await;
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(res.header("server"), Some("kong/3.10.0"));
    assert!(res
        .header("x-kong-admin-latency")
        .is_some_and(|v| v.parse::<u64>().is_ok()));
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    let res = s
        .send(
            s.req(Method::GET, "/consumers")
                .header("origin", "https://ui.test"),
        )
        .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://ui.test")
    );

    // List argument errors.
    assert_eq!(
        s.get("/consumers?size=0").await.expect(400),
        &json!({"code": 9, "name": "invalid size", "message": "size must be an integer between 1 and 1000"})
    );
    assert_eq!(
        s.get("/consumers?size=1001").await.expect(400)["message"],
        "size must be an integer between 1 and 1000"
    );
    assert_eq!(
        s.get("/consumers?size=abc").await.expect(400)["message"],
        "size must be a number"
    );
    assert_eq!(
        s.get("/consumers?offset=%21%21%21").await.expect(400)["code"],
        7
    );
    assert_eq!(
        s.get("/routes").await.expect(200),
        &json!({"data": [], "next": null})
    );
}

async fn auth_refusals(s: Server) {
    let unauthorized = json!({"message": "Unauthorized"});
    for path in ["/", "/status", "/consumers", "/nope"] {
        let res = s.send(s.client.get(format!("{}{path}", s.base))).await;
        assert_eq!(res.expect(401), &unauthorized, "{path}");
        assert_eq!(
            res.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
    let url = format!("{}/consumers", s.base);
    let wrong = [
        ("x-auth-token", "wrong".to_owned()),
        ("x-auth-token", format!("{}x", s.token)),
        ("apikey", s.token.clone()),
        ("authorization", s.token.clone()),
        ("authorization", format!("Basic {}", s.token)),
        ("authorization", "Bearer wrong".to_owned()),
    ];
    for (name, value) in wrong {
        let res = s.send(s.client.get(&url).header(name, &value)).await;
        assert_eq!(res.expect(401), &unauthorized, "{name}: {value}");
    }
    // Writes are refused before anything is stored.
    let res = s
        .send(s.client.post(&url).json(&json!({"username": "eve"})))
        .await;
    res.expect(401);
    s.send(s.client.get(&url).header("x-auth-token", &s.token))
        .await
        .expect(200);
    let res = s
        .send(
            s.client
                .get(&url)
                .header("authorization", format!("Bearer {}", s.token)),
        )
        .await;
    assert_eq!(res.expect(200), &json!({"data": [], "next": null}));
}

async fn root_and_status(s: Server) {
    s.json(Method::POST, "/plugins", json!({"name": "cors"}))
        .await
        .expect(201);
    let root = s.get("/").await.expect(200).clone();
    assert_eq!(root["tagline"], "Welcome to kong");
    assert_eq!(root["version"], "3.10.0");
    assert_eq!(root["edition"], "community");
    assert!(root["hostname"].is_string());
    assert!(uuid::Uuid::parse_str(root["node_id"].as_str().unwrap_or_default()).is_ok());
    let available = &root["plugins"]["available_on_server"];
    assert_eq!(
        available["jwt"],
        json!({"version": "3.10.0", "priority": 1450})
    );
    assert_eq!(available["cors"]["priority"], 2000);
    assert_eq!(available["statsd"]["priority"], 11);
    assert_eq!(root["plugins"]["enabled_in_cluster"], json!(["cors"]));
    let conf = root["configuration"].to_string();
    assert!(!conf.contains(&s.token), "configuration leaks the token");
    assert!(
        !conf.contains("postgres://"),
        "configuration leaks the database URL"
    );
    let expected_db = if s.db == common::Db::Postgres {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(root["configuration"]["database"], expected_db);

    let status = s.get("/status").await.expect(200).clone();
    assert_eq!(status["database"], json!({"reachable": true}));
    let server = &status["server"];
    assert!(server["total_requests"].as_u64().is_some_and(|n| n >= 3));
    assert!(server["connections_accepted"]
        .as_u64()
        .is_some_and(|n| n >= 1));
    assert!(server["connections_active"]
        .as_u64()
        .is_some_and(|n| n >= 1));
    assert!(status["memory"]["workers_lua_vms"][0]["http_allocated_gc"]
        .as_str()
        .is_some_and(|m| m.ends_with(" MiB")));
    let bytes = s.get("/status?unit=b").await.expect(200).clone();
    assert!(bytes["memory"]["workers_lua_vms"][0]["http_allocated_gc"]
        .as_u64()
        .is_some_and(|b| b > 0));
    assert!(s.get("/status?unit=x").await.expect(400)["message"].is_string());
    assert_eq!(
        s.send(s.req(Method::POST, "/status")).await.expect(405),
        &json!({"message": "Method not allowed"})
    );
}

both_stores!(transport_rules, auth_refusals, root_and_status);

/// A database that goes away: `/status` still answers 200 with `reachable: false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_unreachable_database() {
    let s = Server::start(common::Db::Postgres).await;
    s.drop_database().await;
    let status = s.get("/status").await.expect(200).clone();
    assert_eq!(status["database"], json!({"reachable": false}));
    // Entity reads fail as Kong's opaque 500, never leaking the cause.
    let res = s.get("/consumers").await;
    assert_eq!(
        res.expect(500),
        &json!({"message": "An unexpected error occurred"})
    );
}
