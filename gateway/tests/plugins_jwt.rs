//! End-to-end jwt: tokens signed by PyJWT for every accepted algorithm, credentials created
//! through the Admin API while the gateway runs, Kong's 401 bodies through the real binaries.

#[path = "plugins_harness/mod.rs"]
mod harness;

use harness::{fixture, pyjwt, Stack};
use reqwest::Method;
use serde_json::json;

/// (credential key = algorithm, public material for the credential, signing key for PyJWT).
fn credentials() -> Vec<(&'static str, Option<String>, String)> {
    let mut v: Vec<(&'static str, Option<String>, String)> = vec![
        ("HS256", None, "secret-256".into()),
        ("HS384", None, "secret-384".into()),
        ("HS512", None, "secret-512".into()),
    ];
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        v.push((
            alg,
            Some(fixture("rsa_public.pem")),
            fixture("rsa_private.pem"),
        ));
    }
    v.push((
        "ES256",
        Some(fixture("ec256_public.pem")),
        fixture("ec256_private.pem"),
    ));
    v.push((
        "ES384",
        Some(fixture("ec384_public.pem")),
        fixture("ec384_private.pem"),
    ));
    v.push((
        "ES512",
        Some(fixture("ec521_public.pem")),
        fixture("ec521_private.pem"),
    ));
    v.push((
        "EdDSA",
        Some(fixture("ed25519_public.pem")),
        fixture("ed25519_private.pem"),
    ));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_every_algorithm_signed_by_pyjwt() {
    let s = Stack::start().await;
    s.service_route("jwtsvc", "/jwt").await;
    s.admin(
        Method::POST,
        "/routes/jwtsvc-route/plugins",
        json!({"name": "jwt", "config": {"realm": "gw"}}),
    )
    .await;
    s.admin(
        Method::POST,
        "/consumers",
        json!({"username": "alice", "custom_id": "alice-cid"}),
    )
    .await;

    // The plugin applies: Kong's exact 401.
    let r = s.until(Method::GET, "/jwt", &[], |r| r.status == 401).await;
    assert_eq!(r.text, r#"{"message":"Unauthorized"}"#);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"gw\""));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    for (alg, public, private) in credentials() {
        let token = pyjwt(alg, &private, &json!({"iss": alg, "sub": "x"}));
        let auth = format!("Bearer {token}");
        // Unknown key until the credential exists.
        let r = s
            .call(Method::GET, "/jwt", &[("authorization", &auth)])
            .await;
        assert_eq!(r.status, 401, "{alg}: {}", r.text);
        assert_eq!(
            r.text, r#"{"message":"No credentials found for given 'iss'"}"#,
            "{alg}"
        );
        let mut body = json!({"key": alg, "algorithm": alg});
        match public {
            Some(pem) => body["rsa_public_key"] = json!(pem),
            None => body["secret"] = json!(private),
        }
        s.admin(Method::POST, "/consumers/alice/jwt", body).await;
        // Works without restarting anything.
        let r = s
            .until(Method::GET, "/jwt", &[("authorization", &auth)], |r| {
                r.status == 200
            })
            .await;
        let h = &r.json["headers"];
        assert_eq!(h["x-consumer-username"], "alice", "{alg}");
        assert_eq!(h["x-consumer-custom-id"], "alice-cid", "{alg}");
        assert_eq!(h["x-credential-identifier"], alg, "{alg}");
        assert!(
            h["x-consumer-id"].as_str().is_some_and(|id| id.len() == 36),
            "{alg}"
        );
        assert_eq!(
            h["authorization"],
            auth.as_str(),
            "{alg}: token kept upstream"
        );
        // Query-string token too.
        let r = s.call(Method::GET, &format!("/jwt?jwt={token}"), &[]).await;
        assert_eq!(r.status, 200, "{alg} via ?jwt: {}", r.text);
    }

    // Tampered, wrong algorithm and alg:none tokens.
    let good = pyjwt("HS256", "secret-256", &json!({"iss": "HS256"}));
    let (hp, sig) = good.rsplit_once('.').expect("jws");
    let (h, _) = hp.split_once('.').expect("jws");
    let forged_payload = base64_url(&json!({"iss": "HS256", "admin": true}).to_string());
    let tampered = format!("{h}.{forged_payload}.{sig}");
    let r = s
        .call(
            Method::GET,
            "/jwt",
            &[("authorization", &format!("Bearer {tampered}"))],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.text.as_str()),
        (401, r#"{"message":"Invalid signature"}"#)
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"gw\", error=\"invalid_token\"")
    );
    let wrong_alg = pyjwt("HS512", "secret-256", &json!({"iss": "HS256"}));
    let r = s
        .call(
            Method::GET,
            "/jwt",
            &[("authorization", &format!("Bearer {wrong_alg}"))],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.text.as_str()),
        (401, r#"{"message":"Invalid algorithm"}"#)
    );
    let none = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none"}"#),
        base64_url(r#"{"iss":"HS256"}"#)
    );
    let r = s
        .call(
            Method::GET,
            "/jwt",
            &[("authorization", &format!("Bearer {none}"))],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.text.as_str()),
        (401, r#"{"message":"Bad token; invalid alg"}"#)
    );
    // Confusion: HS256 token keyed with the RS256 credential's public key.
    let confused = pyjwt_hs_with_pem(&fixture("rsa_public.pem"));
    let r = s
        .call(
            Method::GET,
            "/jwt",
            &[("authorization", &format!("Bearer {confused}"))],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.text.as_str()),
        (401, r#"{"message":"Invalid algorithm"}"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_claims_and_anonymous() {
    let s = Stack::start().await;
    s.service_route("claims", "/claims").await;
    s.service_route("anon", "/anon").await;
    s.admin(Method::POST, "/consumers", json!({"username": "bob"}))
        .await;
    let guest = s
        .admin(Method::POST, "/consumers", json!({"username": "guest"}))
        .await;
    s.admin(
        Method::POST,
        "/consumers/bob/jwt",
        json!({"key": "bob-key", "secret": "bob-secret"}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/claims-route/plugins",
        json!({"name": "jwt", "config": {"claims_to_verify": ["exp"], "maximum_expiration": 600}}),
    )
    .await;
    s.admin(
        Method::POST,
        "/routes/anon-route/plugins",
        json!({"name": "jwt", "config": {"anonymous": guest["id"]}}),
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expired = pyjwt(
        "HS256",
        "bob-secret",
        &json!({"iss": "bob-key", "exp": now - 10}),
    );
    let r = s
        .until(
            Method::GET,
            "/claims",
            &[("authorization", &format!("Bearer {expired}"))],
            |r| r.status == 401,
        )
        .await;
    assert_eq!(r.text, r#"{"exp":"token expired"}"#);
    let too_long = pyjwt(
        "HS256",
        "bob-secret",
        &json!({"iss": "bob-key", "exp": now + 3600}),
    );
    let r = s
        .call(
            Method::GET,
            "/claims",
            &[("authorization", &format!("Bearer {too_long}"))],
        )
        .await;
    assert_eq!(r.text, r#"{"exp":"exceeds maximum allowed expiration"}"#);
    let ok = pyjwt(
        "HS256",
        "bob-secret",
        &json!({"iss": "bob-key", "exp": now + 60}),
    );
    let r = s
        .call(
            Method::GET,
            "/claims",
            &[("authorization", &format!("Bearer {ok}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["headers"]["x-consumer-username"], "bob");

    // Anonymous: no token -> the guest consumer, flagged.
    let r = s
        .until(Method::GET, "/anon", &[], |r| r.status == 200)
        .await;
    assert_eq!(r.json["headers"]["x-consumer-username"], "guest");
    assert_eq!(r.json["headers"]["x-anonymous-consumer"], "true");
    let r = s
        .call(
            Method::GET,
            "/anon",
            &[("authorization", &format!("Bearer {ok}"))],
        )
        .await;
    assert_eq!(r.json["headers"]["x-consumer-username"], "bob");
    assert!(r.json["headers"].get("x-anonymous-consumer").is_none());

    // A configured anonymous consumer that does not exist: Kong's 500 error template.
    s.service_route("ghost", "/ghost").await;
    s.admin(
        Method::POST,
        "/routes/ghost-route/plugins",
        json!({"name": "jwt", "config": {"anonymous": "ghost"}}),
    )
    .await;
    let r = s
        .until(Method::GET, "/ghost", &[], |r| r.status == 500)
        .await;
    let rid = r
        .header("x-kong-request-id")
        .expect("request id header")
        .to_string();
    assert_eq!(
        r.text,
        format!(
            "{{\n  \"message\":\"anonymous consumer ghost is configured but doesn't exist\",\n  \"request_id\":\"{rid}\"\n}}"
        )
    );
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// An HS256 token whose HMAC key is a PEM text (PyJWT refuses that, so sign it here).
fn pyjwt_hs_with_pem(pem: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(pem.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": "RS256"}),
        &key,
    )
    .expect("sign")
}

/// On Postgres (LISTEN/NOTIFY reloads): a credential created while the gateway runs is used
/// at once, and deleting it stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_credentials_live_on_postgres() {
    let s = Stack::start_pg().await;
    s.service_route("pgjwt", "/pgjwt").await;
    s.admin(
        Method::POST,
        "/routes/pgjwt-route/plugins",
        json!({"name": "jwt"}),
    )
    .await;
    s.admin(Method::POST, "/consumers", json!({"username": "carol"}))
        .await;
    let token = pyjwt(
        "RS256",
        &fixture("rsa_private.pem"),
        &json!({"iss": "carol-rs"}),
    );
    let auth = format!("Bearer {token}");
    let r = s
        .until(Method::GET, "/pgjwt", &[("authorization", &auth)], |r| {
            r.status == 401
        })
        .await;
    assert_eq!(
        r.text,
        r#"{"message":"No credentials found for given 'iss'"}"#
    );
    s.admin(
        Method::POST,
        "/consumers/carol/jwt",
        json!({"key": "carol-rs", "algorithm": "RS256", "rsa_public_key": fixture("rsa_public.pem")}),
    )
    .await;
    let r = s
        .until(Method::GET, "/pgjwt", &[("authorization", &auth)], |r| {
            r.status == 200
        })
        .await;
    assert_eq!(r.json["headers"]["x-consumer-username"], "carol");
    s.admin(Method::DELETE, "/consumers/carol/jwt/carol-rs", json!({}))
        .await;
    s.until(Method::GET, "/pgjwt", &[("authorization", &auth)], |r| {
        r.status == 401
    })
    .await;
}
